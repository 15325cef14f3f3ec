package ctrtest

import (
	"context"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRestart kills the daemon (a crash) and starts it again: the same
// client answers, and a tmpfs state of a chosen size survives. It needs
// root and the cached binaries (it does not build them).
func TestRestart(t *testing.T) {
	ctx := context.Background()
	d, err := Start(ctx, Options{BinDir: cachedBinaries(t), StateOnTmpfs: true, StateTmpfsMiB: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	var st unix.Statfs_t
	if err := unix.Statfs(d.State, &st); err != nil {
		t.Fatal(err)
	}
	if got := st.Blocks * uint64(st.Bsize); got != 8<<20 {
		t.Errorf("state tmpfs of %d bytes; want 8 MiB", got)
	}
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		if err := d.Restart(ctx, sig, 0); err != nil {
			t.Fatalf("restart after %v: %v", sig, err)
		}
		if !d.Running() {
			t.Fatalf("not running after the restart after %v", sig)
		}
		if _, err := d.Client().Version(d.Context(ctx)); err != nil {
			t.Errorf("version after the restart after %v: %v", sig, err)
		}
	}
	if err := d.Kill(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if d.Running() {
		t.Error("running after Kill")
	}
}
