package shimglue

import (
	"io"

	"github.com/rs/zerolog"
)

// ShimLogger returns the logger a shim gives the Preparer: JSON lines with
// a timestamp to w (the shim's log, which containerd copies into its own),
// at info level and above.
func ShimLogger(w io.Writer) zerolog.Logger {
	return zerolog.New(w).Level(zerolog.InfoLevel).With().Timestamp().Str("component", "artifactfs").Logger()
}
