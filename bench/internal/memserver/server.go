package memserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/artifactfs/artifactfs/bench/internal/mounts"
)

// Serve mounts the trees cfg asks for, each from its own source as the
// shim does per container, prints "ready pid PID mode MODE" on out, and
// serves until in ends or ctx is done; then it unmounts everything.
// Meanwhile it answers the commands "stats" and "free" on in, one line
// each on out.
func Serve(ctx context.Context, cfg Config, in io.Reader, out io.Writer) (err error) {
	var mounted []*mounts.Mounted
	defer func() {
		for i := len(mounted) - 1; i >= 0; i-- {
			err = errors.Join(err, mounted[i].Close())
		}
	}()
	mode := "-"
	for i := range cfg.Mounts {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := mounts.MountKind(ctx, cfg.Source, cfg.Path, Mountpoint(cfg.Dir, i), cfg.Passthrough)
		if err != nil {
			return err
		}
		mounted = append(mounted, m)
		mode = m.M.Mode()
	}
	fmt.Fprintf(out, "ready pid %d mode %s\n", os.Getpid(), mode)

	eof := make(chan struct{})
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			fmt.Fprintln(out, answer(sc.Text()))
		}
	}()
	select {
	case <-eof:
	case <-ctx.Done():
	}
	return nil
}

// answer returns the one-line answer to command.
func answer(command string) string {
	switch command {
	case CmdStats:
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		line, _ := json.Marshal(GoMem{TotalAlloc: ms.TotalAlloc, Mallocs: ms.Mallocs, HeapAlloc: ms.HeapAlloc, NumGC: ms.NumGC})
		return string(line)
	case CmdFree:
		debug.FreeOSMemory()
		return Freed
	}
	return "unknown command"
}
