package fs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/mounttable"
)

// fusectlDir is where the fusectl file system lists FUSE connections.
const fusectlDir = "/sys/fs/fuse/connections"

// Stop unmounts m and waits at most timeout (DefaultTimeout when not
// positive) for its server to stop. The server stops only when the last
// mount of its file system is gone: a copy of the mount in another mount
// namespace (a process that outlived its container, a monitor namespace
// not torn down) keeps it serving. Then Stop aborts the connection through
// fusectl where fusectl is mounted (every copy answers ECONNABORTED), or
// leaves it serving until the copies go; both are logged as warnings and
// neither is an error: Stop never hangs on a copy. A busy mount detached
// lazily (ErrDetached) is no error either.
func (m *Mounted) Stop(timeout time.Duration) error {
	// Before the unmount: afterwards the mount table no longer names it.
	conn, connErr := connection(m.mountpoint)
	err := Within(timeout, "stop the server of "+m.mountpoint, m.Unmount)
	switch {
	case errors.Is(err, ErrDetached):
		return nil
	case !errors.Is(err, ErrHung):
		return err
	}
	if connErr == nil {
		if err := abortConnection(conn, m.mountpoint, false); err == nil {
			m.log.Warn().Str("connection", conn).Msg("FUSE mount still in use elsewhere after unmount; aborted its connection")
			return nil
		}
	}
	m.log.Warn().Msg("FUSE mount still in use elsewhere after unmount (another mount namespace); it is served until that goes")
	return nil
}

// connection returns the fusectl name of the FUSE connection of the
// topmost mount at mp: its device number as the kernel prints it
// (major<<20 | minor). It reads the mount table, never stats mp, which
// would hang on a server that does not answer.
func connection(mp string) (string, error) {
	e, ok, err := mounttable.Find(mp)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s: %w", mp, ErrNotMounted)
	}
	return strconv.FormatUint(uint64(e.Major)<<20|uint64(e.Minor), 10), nil
}

// abortConnection aborts FUSE connection conn, mounted at mp, through
// fusectl, so that every request waiting on its server fails with
// ECONNABORTED. When fusectl is not mounted (on no host by default), it is
// mounted for the purpose if mountFusectl is set (root only); otherwise
// the abort fails.
func abortConnection(conn, mp string, mountFusectl bool) error {
	p := filepath.Join(fusectlDir, conn, "abort")
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) && mountFusectl {
		if err := unix.Mount("fusectl", fusectlDir, "fusectl", 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("abort FUSE connection %s of %s: mount fusectl on %s: %w", conn, mp, fusectlDir, err)
		}
	}
	if err := os.WriteFile(p, []byte("1"), 0); err != nil {
		return fmt.Errorf("abort FUSE connection %s of %s: %w", conn, mp, err)
	}
	return nil
}

// abortMount aborts the FUSE connection mounted at mp, mounting fusectl
// when it is missing.
func abortMount(mp string) error {
	conn, err := connection(mp)
	if err != nil {
		return err
	}
	return abortConnection(conn, mp, true)
}
