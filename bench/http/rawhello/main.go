// Command rawhello is the reference row of make bench-http: the least an
// HTTP/1.1 keep-alive server written on Go's net package can do per
// request. One goroutine per connection reads into a buffer, counts the
// requests it holds (each ends with an empty line) and writes one fixed
// "Hello, World!" response for each, in one write. It parses nothing else,
// checks nothing and has no timeouts: it is not a server to use, but the
// ceiling that Go's runtime and the kernel leave on this machine, so that
// mt-test-http's ratio to nginx can be read beside what any Go server
// could reach here.
//
// Usage:
//
//	rawhello -addr 127.0.0.1:8080
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
)

const response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n\r\nHello, World!"

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rawhello: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("rawhello: listening on %s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "rawhello: accept: %v\n", err)
			os.Exit(1)
		}
		go serve(c)
	}
}

func serve(c net.Conn) {
	defer c.Close()
	in := make([]byte, 4096)
	var out []byte
	end := []byte("\r\n\r\n")
	have := 0
	for {
		n, err := c.Read(in[have:])
		if err != nil {
			return
		}
		have += n
		// Answer every complete request; keep a partial one's bytes.
		out = out[:0]
		start := 0
		for {
			i := bytes.Index(in[start:have], end)
			if i < 0 {
				break
			}
			start += i + len(end)
			out = append(out, response...)
		}
		have = copy(in, in[start:have])
		if have == len(in) {
			return // a head longer than the buffer: not what the benchmark sends
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}
