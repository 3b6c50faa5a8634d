package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/mtnode/mtnode/client"
	"github.com/mtnode/mtnode/internal/boot"
	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/proto/rpcpb"
	"github.com/mtnode/mtnode/sdk"

	// Event types TYPE can name: the core services' events and the
	// protobuf well-known types.
	_ "github.com/mtnode/mtnode/proto/telnetpb"
	_ "github.com/mtnode/mtnode/proto/timerpb"
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/emptypb"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

// newSendCmd is `mtnode send ADDR SERVICE TYPE JSON`: one request to a
// service on a running node, its reply printed as JSON.
func newSendCmd() *cobra.Command {
	var (
		token, cert, key, ca string
		timeout              time.Duration
		follow, noReply      bool
		count                int
	)
	cmd := &cobra.Command{
		Use:   "send ADDR SERVICE TYPE JSON",
		Short: "Send one event to a service on a node and print the reply as JSON",
		Long: `Send connects to the node whose RPC service listens at ADDR (host:port),
sends SERVICE one event of protobuf type TYPE (a full name, such as
google.protobuf.StringValue) built from JSON (protojson), and prints the reply
as JSON, with its type in "@type". An error event is printed on stderr and
the exit status is 1.

TYPE must be linked into mtnode: the events of RPC (mtnode.rpc.v1.*), Timer
(mtnode.timer.v1.*) and Telnet (mtnode.telnet.v1.*), and the protobuf
well-known types (google.protobuf.StringValue, Int64Value, BytesValue, Empty,
Struct, Value, Duration, Timestamp, ...).

With --follow, send prints every answer to the event, one JSON object per
line, for services that answer one request many times (a Timer's ticks, RPC's
link events): until --count answers, SIGINT or SIGTERM (exit 0), or the end of
the subscription (exit 1): the link's end, or an error event after which
nothing more can come (no such service, a lost link...). Error events go to
stderr; after a service's own failure the answers go on. --timeout then
bounds the connection only.

With --no-reply, send waits for no answer, for events a service does not
answer (a Timer's StopAlarm): it exits 0 once the node has received the
event (an RPC request sent after it on the same link has been answered).`,
		Example: `  mtnode send 127.0.0.1:10100 Echo google.protobuf.StringValue '"hello"'
  mtnode send 127.0.0.1:10100 RPC mtnode.rpc.v1.ListLinks '{}'
  mtnode send --follow 127.0.0.1:10100 RPC mtnode.rpc.v1.Subscribe '{}'
  mtnode send --follow --count 3 127.0.0.1:10100 Timer mtnode.timer.v1.SetTimer '{"id":1,"period":0.5}'
  mtnode send --no-reply 127.0.0.1:10100 Timer mtnode.timer.v1.StopAlarm '{"id":1}'`,
		Args: cobra.ExactArgs(4),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range []string{"conf", "set", "log-level"} {
				if cmd.Flags().Changed(f) {
					return &boot.UsageError{Err: fmt.Errorf("send: --%s does not apply: send talks to a running node and reads no config", f)}
				}
			}
			addr, service, typ, body := args[0], args[1], args[2], args[3]
			if _, _, err := net.SplitHostPort(addr); err != nil {
				return &boot.UsageError{Err: fmt.Errorf("send: ADDR %q: %w (give host:port of the node's RPC.bindAddr, such as 127.0.0.1:10100)", addr, err)}
			}
			if (cert == "") != (key == "") {
				return &boot.UsageError{Err: errors.New("send: --tls-cert and --tls-key go together: give both, or neither")}
			}
			mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(typ))
			if err != nil {
				return &boot.UsageError{Err: fmt.Errorf("send: event type %q is not linked into mtnode (see mtnode send --help for the list)", typ)}
			}
			msg := mt.New().Interface()
			if err := protojson.Unmarshal([]byte(body), msg); err != nil {
				return &boot.UsageError{Err: fmt.Errorf("send: JSON for %s: %w", typ, err)}
			}
			if count < 0 {
				return &boot.UsageError{Err: fmt.Errorf("send: --count %d: want 0 (no limit) or more", count)}
			}
			if count > 0 {
				follow = true
			}
			if noReply && follow {
				return &boot.UsageError{Err: errors.New("send: --no-reply and --follow (or --count) exclude each other")}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			opts := []client.Option{client.WithName("mtnode send")}
			if token != "" {
				opts = append(opts, client.WithToken(token))
			}
			if cert != "" || key != "" || ca != "" {
				opts = append(opts, client.WithTLS(cert, key, ca))
			}
			c, err := client.Dial(ctx, addr, opts...)
			if err != nil {
				return fmt.Errorf("send: %w%s", err, dialHint(err, token != "", ca != "", cert != ""))
			}
			defer c.Close()
			if follow {
				return followAnswers(cmd, c, sdk.To(service), msg, count)
			}
			if noReply {
				return sendOnly(ctx, c, sdk.To(service), msg)
			}
			reply, err := c.Request(ctx, sdk.To(service), msg)
			if err != nil {
				return fmt.Errorf("send: %w", err)
			}
			return printJSON(cmd, reply)
		},
	}
	f := cmd.Flags()
	f.StringVar(&token, "token", "", "the node's RPC.token")
	f.StringVar(&cert, "tls-cert", "", "client certificate (PEM) for mutual TLS")
	f.StringVar(&key, "tls-key", "", "key of --tls-cert (PEM)")
	f.StringVar(&ca, "tls-ca", "", "CA bundle (PEM) that verifies the node; enables TLS")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the connection and the reply")
	f.BoolVarP(&follow, "follow", "f", false, "print every answer, one JSON object per line, until --count, the link's end or Ctrl-C")
	f.IntVar(&count, "count", 0, "with --follow, stop after this many answers (0: no limit; implies --follow)")
	f.BoolVar(&noReply, "no-reply", false, "expect no answer: exit once the node has received the event")
	return cmd
}

// followAnswers sends msg to to and prints its answers, one per line, until
// count of them (0: no limit), the end of the link, or a signal.
func followAnswers(cmd *cobra.Command, c *client.Client, to sdk.Addr, msg proto.Message, count int) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sub, err := c.Subscribe(to, msg, 1024)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	defer sub.Close()
	var shown *sdk.DeliveryError // the last error event printed
	for n := 0; count == 0 || n < count; {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.Events():
			if !ok {
				err := sub.Err()
				if de, _ := err.(*sdk.DeliveryError); de != nil && de == shown {
					// The error event that ended it is printed already.
					return fmt.Errorf("send: the subscription ended on the error event above (%s)", de.Code)
				}
				return fmt.Errorf("send: the subscription ended: %w", err)
			}
			if ev.Kind == sdk.KindError {
				shown = ev.Err
				fmt.Fprintf(cmd.ErrOrStderr(), "error event: %v\n", ev.Err)
				continue
			}
			n++
			if err := printJSONLine(cmd, ev.Msg); err != nil {
				return err
			}
		}
	}
	return nil
}

// sendOnly sends msg to to, expecting no answer, and returns once the node
// has received it: the link keeps order, so when a request sent after it
// (RPC's ListLinks) has been answered, the event has arrived. What the
// service does with it is not known: an error event that comes back for
// it later is not waited for.
func sendOnly(ctx context.Context, c *client.Client, to sdk.Addr, msg proto.Message) error {
	if err := c.Send(to, msg); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if _, err := c.Request(ctx, sdk.To("RPC"), &rpcpb.ListLinks{}); err != nil {
		return fmt.Errorf("send: the event was queued, but the node did not confirm it arrived: %w", err)
	}
	return nil
}

// dialHint says which flags to change after a failed dial: token, tls and
// cert tell whether --token, --tls-ca and --tls-cert were given.
func dialHint(err error, token, tls, cert bool) string {
	switch {
	case errors.Is(err, link.ErrBadToken) && token:
		return "; give the node's RPC.token with --token"
	case errors.Is(err, link.ErrBadToken):
		return "; the node requires a token: give its RPC.token with --token"
	case !errors.Is(err, client.ErrHandshake):
		return ""
	case !tls:
		return "; if the node sets RPC.tlsCert it accepts only TLS: give --tls-ca (the CA that signed it), and --tls-cert and --tls-key if it also sets RPC.tlsCA"
	case !cert:
		return "; --tls-ca must have signed the node's RPC.tlsCert, and a node that sets RPC.tlsCA also needs --tls-cert and --tls-key signed by that CA"
	}
	return "; --tls-ca must have signed the node's RPC.tlsCert, and the node's RPC.tlsCA must have signed --tls-cert"
}

// printJSON prints m as JSON, wrapped in an Any so its type is shown.
func printJSON(cmd *cobra.Command, m proto.Message) error {
	return writeJSON(cmd, m, protojson.MarshalOptions{Multiline: true})
}

// printJSONLine prints m as printJSON does, on one line.
func printJSONLine(cmd *cobra.Command, m proto.Message) error {
	return writeJSON(cmd, m, protojson.MarshalOptions{})
}

func writeJSON(cmd *cobra.Command, m proto.Message, opts protojson.MarshalOptions) error {
	if m == nil {
		_, err := fmt.Fprintln(cmd.OutOrStdout(), "null")
		return err
	}
	a, err := anypb.New(m)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	b, err := opts.Marshal(a)
	if err != nil {
		return fmt.Errorf("send: printing the reply: %w", err)
	}
	_, err = fmt.Fprintln(cmd.OutOrStdout(), string(b))
	return err
}
