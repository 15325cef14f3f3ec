package memory

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/artifactfs/artifactfs/bench/internal/artifacttree"
	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/bench/internal/memserver"
)

// settle is how long the bench waits after a server reported ready before
// it reads the server's memory.
const settle = 500 * time.Millisecond

// sample is a process's memory at one moment, in KiB, and its number of
// threads.
type sample struct {
	rss, anon, hwm, pss float64
	threads             float64
}

// count starts a server with cfg.Mounts mounts, samples its memory once
// it is ready and has settled, and stops it.
func count(ctx context.Context, bin string, cfg memserver.Config) (_ sample, mode string, err error) {
	p, err := startServer(ctx, bin, cfg)
	if err != nil {
		return sample{}, "", err
	}
	defer func() { err = errors.Join(err, p.stop()) }()
	if err := host.Sleep(ctx, settle); err != nil {
		return sample{}, "", err
	}
	s, err := readMem(p.pid)
	return s, p.mode, err
}

// reading is what one cold read of the whole kernel did to a 1-mount
// server.
type reading struct {
	mode          string
	before        sample // after the server freed its garbage
	after         sample // right after the read; hwm is the peak during it
	freed         sample // after the server freed its garbage again
	alloc, allocs uint64 // bytes and objects the server allocated during the read
}

// read starts a 1-mount server, has it free its garbage, samples it, reads
// the whole kernel (size bytes) through the mount cold, samples again, has
// it free its garbage and samples a third time, then stops it.
func read(ctx context.Context, bin string, cfg memserver.Config, size int64) (_ *reading, err error) {
	p, err := startServer(ctx, bin, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, p.stop()) }()
	r := &reading{mode: p.mode}
	if err := host.Sleep(ctx, settle); err != nil {
		return nil, err
	}
	if err := p.free(ctx); err != nil {
		return nil, err
	}
	if r.before, err = readMem(p.pid); err != nil {
		return nil, err
	}
	if err := p.resetPeak(); err != nil {
		return nil, err
	}
	g0, err := p.goStats(ctx)
	if err != nil {
		return nil, err
	}
	if err := host.DropCaches(); err != nil {
		return nil, err
	}
	kernel := filepath.Join(memserver.Mountpoint(cfg.Dir, 0), artifacttree.KernelPath)
	if err := host.ReadSize(kernel, make([]byte, 1<<20), size); err != nil {
		return nil, err
	}
	if r.after, err = readMem(p.pid); err != nil {
		return nil, err
	}
	g1, err := p.goStats(ctx)
	if err != nil {
		return nil, err
	}
	r.alloc, r.allocs = g1.TotalAlloc-g0.TotalAlloc, g1.Mallocs-g0.Mallocs
	if err := p.free(ctx); err != nil {
		return nil, err
	}
	if r.freed, err = readMem(p.pid); err != nil {
		return nil, err
	}
	return r, nil
}

// readMem reads VmRSS, RssAnon, VmHWM and Threads from /proc/PID/status
// and Pss from /proc/PID/smaps_rollup.
func readMem(pid int) (sample, error) {
	var s sample
	status, err := host.ProcFields(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	rollup, err := host.ProcFields(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return s, err
	}
	for _, f := range []struct {
		m    map[string]float64
		key  string
		dest *float64
	}{{status, "VmRSS", &s.rss}, {status, "RssAnon", &s.anon}, {status, "VmHWM", &s.hwm}, {status, "Threads", &s.threads},
		{rollup, "Pss", &s.pss}} {
		v, ok := f.m[f.key]
		if !ok {
			return s, fmt.Errorf("no %s for process %d", f.key, pid)
		}
		*f.dest = v
	}
	return s, nil
}
