package rpc

import (
	"fmt"
	"strings"
	"time"

	"github.com/mtnode/mtnode/link"
	"github.com/mtnode/mtnode/sdk"
)

// DefaultBindAddr is the address RPC listens on when RPC.bindAddr is unset.
const DefaultBindAddr = "127.0.0.1:10100"

// settings are the RPC service's config values, read once in Start.
type settings struct {
	bindAddrs        []string
	token            string
	private          map[string]bool // services peers may not send requests to
	tls              link.TLS
	maxPending       int
	maxInflight      int
	maxMessage       int
	limits           link.Limits
	handshakeTimeout time.Duration
	dialTimeout      time.Duration
	reconnectMin     time.Duration
	reconnectMax     time.Duration
	idleAfter        time.Duration
	spin             time.Duration
	raised           []string // values raised to their minimum, for the log
}

func readSettings(c sdk.Config) settings {
	s := settings{
		bindAddrs: c.Addrs("bindAddr", DefaultBindAddr, "addresses RPC listens on for links from other nodes (comma-separated, IPv4 and IPv6; empty: do not listen)"),
		token:     c.String("token", "", "shared secret every peer must present (empty: none)"),
		private:   nameSet(c.String("private", "SocketIO,WebServer", "services that take no requests from other nodes or clients (comma-separated; they open ports and connections and serve files, so a peer must not drive them; empty: every service is reachable)")),
		tls: link.TLS{
			Cert: c.String("tlsCert", "", "PEM certificate for node links (enables TLS)"),
			Key:  c.String("tlsKey", "", "PEM private key of RPC.tlsCert"),
			CA:   c.String("tlsCA", "", "PEM CA bundle that verifies peers (with tlsCert: mutual TLS)"),
		},

		maxMessage:       int(c.Bytes("maxMessage", 16<<20, "largest link frame (a batch of events) this node takes; peers learn it at the handshake and keep within it, and an event larger on its own fails with an error event to its sender")),
		handshakeTimeout: c.Duration("handshakeTimeout", 5*time.Second, "time a peer has to complete the TLS and link handshake (a dial gets RPC.dialTimeout to connect, then this)"),
		dialTimeout:      c.Duration("dialTimeout", 5*time.Second, "time allowed to connect to a peer"),
		reconnectMax:     c.Duration("reconnectMax", 2*time.Second, "longest delay step between dials of a lost peer (±20% jitter)"),
		idleAfter:        c.Duration("idleAfter", time.Minute, "stop redialling an unreachable peer nobody sent to for this long"),
		spin:             c.Duration("linkSpin", 0, "how long a link's reader polls for the next batch before it sleeps: fewer thread wake-ups per request, for up to this much CPU after each batch (0 = never; see link.SocketStream.SetSpin)"),
	}
	// Values with a floor: below it, a node's config records a bad value
	// (with where it came from) and gives the default.
	if mc, ok := c.(minConfig); ok {
		s.maxPending = int(mc.IntMin("maxPending", 65536, 1, descMaxPending))
		s.maxInflight = int(mc.IntMin("maxInflight", 1<<20, 1, descMaxInflight))
		s.reconnectMin = mc.DurationMin("reconnectMin", 50*time.Millisecond, time.Millisecond, descReconnectMin)
	} else {
		s.maxPending = int(c.Int("maxPending", 65536, descMaxPending))
		s.maxInflight = int(c.Int("maxInflight", 1<<20, descMaxInflight))
		s.reconnectMin = c.Duration("reconnectMin", 50*time.Millisecond, descReconnectMin)
		atLeast(&s.maxPending, 1, "maxPending", "the least workable value", &s.raised)
		atLeast(&s.maxInflight, 1, "maxInflight", "the least workable value", &s.raised)
		atLeast(&s.reconnectMin, time.Millisecond, "reconnectMin", "the least workable value", &s.raised)
	}
	atLeast(&s.maxMessage, 64<<10, "maxMessage", "the least workable value", &s.raised)
	atLeast(&s.reconnectMax, s.reconnectMin, "reconnectMax", "RPC.reconnectMin", &s.raised)
	s.limits.MaxBatch = int(c.Int("maxBatch", 1024, "most envelopes written in one batch"))
	s.limits.MaxBytes = s.maxMessage / 2
	return s
}

const (
	descMaxPending   = "events queued per peer while its link connects or its writer is busy; beyond it senders get queue-full errors"
	descMaxInflight  = "requests awaiting answers per link (each is failed with ErrLinkLost if the link dies); beyond it senders get queue-full errors"
	descReconnectMin = "first delay before dialling a lost peer again (each delay is drawn within ±20% of its step, so peers do not dial in step)"
)

// minConfig is what a node's config section offers for values with a
// floor (config.Section): a value below it is a bad value, recorded and
// logged with where it came from, and gives the default.
type minConfig interface {
	IntMin(key string, def, min int64, desc string) int64
	DurationMin(key string, def, min time.Duration, desc string) time.Duration
}

// atLeast raises *v to min when it is below, and says so in raised, for
// the service to log: a value the node cannot work with is not taken
// silently. floor names min for the message.
func atLeast[T int | time.Duration](v *T, min T, key, floor string, raised *[]string) {
	if *v < min {
		*raised = append(*raised, fmt.Sprintf("RPC.%s=%v is below %s; using %v", key, *v, floor, min))
		*v = min
	}
}

// nameSet returns the comma-separated names of list as a set.
func nameSet(list string) map[string]bool {
	set := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		if name = strings.TrimSpace(name); name != "" {
			set[name] = true
		}
	}
	return set
}
