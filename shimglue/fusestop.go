package shimglue

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/fs"
)

// fuseStopTimeout bounds the wait for a FUSE server to stop after its
// mount was unmounted (a variable for tests).
var fuseStopTimeout = 5 * time.Second

// fusectlDir is where the fusectl file system lists FUSE connections.
const fusectlDir = "/sys/fs/fuse/connections"

// stopFUSE unmounts m and waits for its server to stop, at most
// fuseStopTimeout. The server stops only when the last mount of its file
// system is gone: a copy of the mount in another mount namespace (a
// process that outlived its container, a monitor namespace not torn down)
// keeps it serving. Then the connection is aborted through fusectl where
// that is mounted (every copy answers ENOTCONN), or left to serve until
// the copies go, with a warning; Delete never hangs on it.
func stopFUSE(m *fs.Mounted, log zerolog.Logger) error {
	conn := fuseConnection(m.Mountpoint())
	done := make(chan error, 1)
	go func() { done <- m.Unmount() }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, fs.ErrDetached) {
			return err
		}
		return nil
	case <-time.After(fuseStopTimeout):
	}
	if conn != "" {
		if err := os.WriteFile(filepath.Join(fusectlDir, conn, "abort"), []byte("1"), 0); err == nil {
			log.Warn().Str("connection", conn).Msg("FUSE mount still in use elsewhere after unmount; aborted its connection")
			return nil
		}
	}
	log.Warn().Str("mountpoint", m.Mountpoint()).
		Msg("FUSE mount still in use elsewhere after unmount (another mount namespace); it is served until that goes")
	return nil
}

// fuseConnection returns the fusectl name of the FUSE connection mounted at
// mp: the minor number of its device. "" when unknown.
func fuseConnection(mp string) string {
	var st unix.Stat_t
	if err := unix.Stat(mp, &st); err != nil {
		return ""
	}
	return strconv.FormatUint(uint64(unix.Minor(st.Dev)), 10)
}
