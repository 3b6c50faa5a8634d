package sdk

import (
	"context"
	"net"
	"net/netip"
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
