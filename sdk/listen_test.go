package sdk

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestListenNetwork(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.1:80", "tcp4"},
		{"0.0.0.0:80", "tcp4"},
		{"[::1]:80", "tcp6"},
		{"[::]:80", "tcp6"},
		{"[::ffff:127.0.0.1]:80", "tcp4"},
		{"[fe80::1%eth0]:80", "tcp6"},
		{"localhost:80", "tcp"},
		{":80", "tcp"},
		{"not an address", "tcp"},
	} {
		if got := ListenNetwork(tc.addr); got != tc.want {
			t.Errorf("ListenNetwork(%q): got %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// TestListenWildcardsSideBySide binds the IPv4 and the IPv6 wildcard on one
// port, as "0.0.0.0:P,[::]:P" asks, and reaches each over loopback.
func TestListenWildcardsSideBySide(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback on this machine (%v); the IPv6 half cannot be tested", err)
	} else {
		ln.Close()
	}
	ctx := context.Background()
	// A port free on both families: take one from IPv4, then try it on IPv6.
	var l4, l6 net.Listener
	for range 20 {
		var err error
		if l4, err = Listen(ctx, "0.0.0.0:0"); err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(l4.Addr().(*net.TCPAddr).Port)
		if l6, err = Listen(ctx, "[::]:"+port); err == nil {
			break
		}
		l4.Close()
		l4 = nil
	}
	if l4 == nil {
		t.Fatal("found no port free on both 0.0.0.0 and [::] in 20 tries")
	}
	defer l4.Close()
	defer l6.Close()
	port := strconv.Itoa(l4.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct {
		dial string
		ln   net.Listener
	}{{"127.0.0.1:" + port, l4}, {"[::1]:" + port, l6}} {
		done := make(chan error, 1)
		go func() {
			c, err := tc.ln.Accept()
			if err == nil {
				c.Close()
			}
			done <- err
		}()
		c, err := net.Dial("tcp", tc.dial)
		if err != nil {
			t.Fatalf("dial %s: %v", tc.dial, err)
		}
		c.Close()
		if err := <-done; err != nil {
			t.Fatalf("accept on %s: %v", tc.ln.Addr(), err)
		}
	}
}

// TestListenAllOrNothing: when one address of a list cannot be bound, the
// others are closed again and the error names the address.
func TestListenAllOrNothing(t *testing.T) {
	ctx := context.Background()
	held, err := Listen(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	free, err := Listen(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()
	lns, err := ListenAll(ctx, []string{freeAddr, held.Addr().String()})
	if err == nil || lns != nil {
		t.Fatalf("got %v, %v; want an error for the address in use", lns, err)
	}
	if !strings.Contains(err.Error(), held.Addr().String()) {
		t.Errorf("error %q does not name %s", err, held.Addr())
	}
	// The first address was closed again: it can be bound now.
	again, err := Listen(ctx, freeAddr)
	if err != nil {
		t.Fatalf("%s still held after ListenAll failed: %v", freeAddr, err)
	}
	again.Close()
}

func TestSplitAddrs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"127.0.0.1:80", []string{"127.0.0.1:80"}},
		{"0.0.0.0:80, [::]:80 ,", []string{"0.0.0.0:80", "[::]:80"}},
	} {
		if got := SplitAddrs(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("SplitAddrs(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}
