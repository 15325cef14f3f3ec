// Package shimsocket tells whether a containerd shim's unix socket is dead:
// nothing listens on it any more. The shim's delete command and `artifactfs
// gc` remove such sockets; it imports only the standard library.
package shimsocket

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// Dead reports whether the unix socket at path is at least minAge old and
// refuses a connection: no process listens on it. A socket being born
// refuses connections too, for the moment between its bind and its listen:
// callers that cannot know the shim is gone ask for an age.
func Dead(path string, minAge time.Duration) bool {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || time.Since(fi.ModTime()) < minAge {
		return false
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}
