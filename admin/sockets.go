package admin

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/artifactfs/artifactfs/internal/shimsocket"
)

// DefaultShimSocketDir is where containerd's shims put their sockets
// (containerd's state directory /run/containerd, then s).
const DefaultShimSocketDir = "/run/containerd/s"

// deadSocketAge is how old a socket must be before GCSockets may call it
// dead: a shim binds its socket and listens on it a moment later, and in
// between a connection is refused too.
const deadSocketAge = 2 * time.Second

// GCSockets removes the shim sockets in dir that nothing listens on (a
// connection is refused) and that are older than a moment, and returns
// them (Kind "shim-socket"); with dryRun it only returns them. A shim that
// dies before it can remove its socket leaves it, and containerd removes
// it only when a shim of the same id starts again; when containerd cannot
// even run the shim's delete command (its bundle is gone: a Create that
// failed on a full disk), nothing else does. A socket a live shim listens
// on is never touched, whoever's it is.
func GCSockets(dir string, dryRun bool) ([]Removed, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gc sockets: %w", err)
	}
	var removed []Removed
	var errs []error
	for _, e := range entries {
		if e.Type()&iofs.ModeSocket == 0 {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if !shimsocket.Dead(p, deadSocketAge) {
			continue
		}
		if !dryRun {
			if err := os.Remove(p); err != nil && !errors.Is(err, iofs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("gc: remove dead shim socket: %w", err))
				continue
			}
		}
		removed = append(removed, Removed{Kind: "shim-socket", Name: p})
	}
	return removed, errors.Join(errs...)
}
