//go:build !linux

package h1

import (
	"io"
	"net"
	"os"
)

// sendFile writes n bytes of f from off to nc without moving f's offset.
func sendFile(nc net.Conn, f *os.File, off, n int64) error {
	_, err := io.Copy(nc, io.NewSectionReader(f, off, n))
	return err
}
