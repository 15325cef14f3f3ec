package scale

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/artifactfs/artifactfs/bench/internal/artifacttree"
	"github.com/artifactfs/artifactfs/bench/internal/mounts"
)

// roundTimes is what one round took: wall-clock time to create and to
// delete all its mounts, and in a sequential round each container's
// create + delete; and the serving mode of its mounts.
type roundTimes struct {
	create, del time.Duration
	single      []time.Duration
	mode        string
}

// round creates n mounts of the source at path under dir (open source,
// fs.New, fs.Mount, which returns once the mount serves), checks that each
// serves the kernel (of kernelSize bytes), deletes them (Unmount, Wait,
// close the source), and checks that nothing is left behind.
func round(ctx context.Context, src mounts.Source, path, dir string, kernelSize int64, n int, parallel bool, lc *leakCheck) (_ *roundTimes, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	before, err := lc.connections()
	if err != nil {
		return nil, err
	}
	mps := make([]string, n)
	for i := range mps {
		mps[i] = filepath.Join(dir, fmt.Sprintf("c%03d", i))
		if err := os.MkdirAll(mps[i], 0o755); err != nil {
			return nil, err
		}
	}
	ms := make([]*mounts.Mounted, n)
	defer func() {
		// On error, take down what is still mounted.
		for _, m := range ms {
			if m != nil {
				err = errors.Join(err, m.Close())
			}
		}
	}()

	t := &roundTimes{}
	each := make([]time.Duration, n) // per container, create + delete
	start := time.Now()
	err = forEach(n, parallel, func(i int) error {
		start := time.Now()
		m, err := mounts.MountKind(ctx, src.Kind, path, mps[i], src.Passthrough)
		each[i] += time.Since(start)
		ms[i] = m
		return err
	})
	t.create = time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}

	// Untimed: every mount serves the kernel; note its FUSE connection.
	mine := map[string]bool{}
	for i, m := range ms {
		fi, err := os.Stat(filepath.Join(mps[i], artifacttree.KernelPath))
		if err != nil {
			return nil, fmt.Errorf("mount %d does not serve: %w", i, err)
		}
		if fi.Size() != kernelSize {
			return nil, fmt.Errorf("mount %d: kernel of %d bytes, want %d", i, fi.Size(), kernelSize)
		}
		conn, err := connection(mps[i])
		if err != nil {
			return nil, err
		}
		mine[conn] = true
		t.mode = m.M.Mode()
	}

	start = time.Now()
	err = forEach(n, parallel, func(i int) error {
		start := time.Now()
		err := ms[i].Close()
		each[i] += time.Since(start)
		ms[i] = nil
		return err
	})
	t.del = time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("delete: %w", err)
	}
	if err := lc.check(dir, before, mine); err != nil {
		return nil, err
	}
	for _, mp := range mps {
		if err := os.Remove(mp); err != nil {
			return nil, fmt.Errorf("left behind: %w", err)
		}
	}
	if !parallel {
		t.single = each
	}
	return t, nil
}

// forEach runs f(0) … f(n-1), one after the other or all at once, and
// returns every error.
func forEach(n int, parallel bool, f func(i int) error) error {
	errs := make([]error, n)
	if !parallel {
		for i := range n {
			if errs[i] = f(i); errs[i] != nil {
				break
			}
		}
		return errors.Join(errs...)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
