package fs

import (
	"fmt"
	"log"
	"runtime/debug"
	"strings"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/rs/zerolog"
)

// logWriter turns each line go-fuse logs into a zerolog event at debug level.
type logWriter struct {
	log zerolog.Logger
}

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Debug().Str("component", "go-fuse").Msg(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// goFuseLogger returns a standard logger for go-fuse that writes into l.
func goFuseLogger(l zerolog.Logger) *log.Logger {
	return log.New(logWriter{log: l}, "", 0)
}

// panicHandler logs a panic in a FUSE method with its stack and answers the
// request with EIO; the server carries on.
func panicHandler(l zerolog.Logger) func(any) fuse.Status {
	return func(v any) fuse.Status {
		l.Error().Str("panic", fmt.Sprint(v)).Bytes("stack", debug.Stack()).Msg("panic in FUSE request, answered EIO")
		return fuse.EIO
	}
}
