package sdk

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Listen opens a TCP listener on one address of an address list (see
// Config.Addrs). A literal IPv4 host listens on IPv4 only and a literal IPv6
// host on IPv6 only, so a list such as "0.0.0.0:80,[::]:80" binds both
// wildcards side by side; net.Listen("tcp", "0.0.0.0:80") would take the
// dual-stack socket and make the second bind fail. A host name or an empty
// host ("localhost:80", ":80") listens as net.Listen("tcp", ...) does.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, ListenNetwork(addr), addr)
}

// ListenNetwork returns the network Listen uses for addr: "tcp4" for a
// literal IPv4 host, "tcp6" for a literal IPv6 host, "tcp" otherwise.
func ListenNetwork(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return "tcp"
	}
	ip, err := netip.ParseAddr(host)
	switch {
	case err != nil:
		return "tcp"
	case ip.Is4() || ip.Is4In6():
		return "tcp4"
	default:
		return "tcp6"
	}
}

// ListenAll opens a listener on every address, or none: when one fails, it
// closes those already open and returns an error naming the address.
func ListenAll(ctx context.Context, addrs []string) ([]net.Listener, error) {
	lns := make([]net.Listener, 0, len(addrs))
	for _, a := range addrs {
		ln, err := Listen(ctx, a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("listening on %s: %w", a, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// SplitAddrs splits a comma-separated address list, such as an event's
// address field, dropping blanks and spaces ("127.0.0.1:80, [::1]:80").
// Config.Addrs does the same for a config key, and checks each entry.
func SplitAddrs(list string) []string {
	var out []string
	for a := range strings.SplitSeq(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
