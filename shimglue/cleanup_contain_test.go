package shimglue

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/layout"
	"github.com/artifactfs/artifactfs/internal/mounttable"
)

// writeRawState writes a hand-made state file into bundle, bypassing
// WriteState's checks.
func writeRawState(t *testing.T, bundle string, st map[string]any) {
	t.Helper()
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, artifactbind.StateFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// victimTree makes dir/<rel>/keep outside the root and returns keep's path.
func victimTree(t *testing.T, rel string) (dir, keep string) {
	t.Helper()
	dir = t.TempDir()
	keep = filepath.Join(dir, rel, "keep")
	if err := os.MkdirAll(filepath.Dir(keep), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keep, []byte("host data"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, keep
}

// TestCleanupStateContainment hands Cleanup (the shim's delete command)
// state files that point it outside the root, directly or through a
// symlinked namespace directory: it must refuse and touch nothing.
func TestCleanupStateContainment(t *testing.T) {
	tests := []struct {
		name string
		// state returns the state's path fields and makes whatever the
		// case needs under root.
		state func(t *testing.T, root, victim string) map[string]any
		rel   string // where the victim's file lives under victim
	}{
		{
			name: "path outside the root",
			rel:  "default/c1",
			state: func(t *testing.T, root, victim string) map[string]any {
				return map[string]any{"path": filepath.Join(victim, "default", "c1")}
			},
		},
		{
			name: "view mountpoint outside the root",
			rel:  ".views/default/c1",
			state: func(t *testing.T, root, victim string) map[string]any {
				return map[string]any{
					"path":            filepath.Join(root, "default", "c1"),
					"view_mountpoint": filepath.Join(victim, ".views", "default", "c1"),
				}
			},
		},
		{
			name: "symlinked namespace directory",
			rel:  "default/c1",
			state: func(t *testing.T, root, victim string) map[string]any {
				if err := os.Symlink(filepath.Join(victim, "default"), filepath.Join(root, "default")); err != nil {
					t.Fatal(err)
				}
				return map[string]any{"path": filepath.Join(root, "default", "c1")}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			// The root is marked as the shim marks it.
			if _, _, err := layout.MakeContainerDirs(e.root, "other", "x"); err != nil {
				t.Fatal(err)
			}
			victim, keep := victimTree(t, tt.rel)
			st := map[string]any{"version": 1, "container_id": "c1", "namespace": "default", "mode": "copy", "snapshotter": "blockfile"}
			for k, v := range tt.state(t, e.root, victim) {
				st[k] = v
			}
			writeRawState(t, e.bundle, st)
			err := e.preparer(newFakeViewer()).Cleanup(context.Background(), e.bundle)
			if _, serr := os.Stat(keep); serr != nil {
				t.Errorf("Cleanup removed a file outside the root: %v", serr)
			}
			if !errors.Is(err, artifactbind.ErrNotOwnedPath) && !errors.Is(err, layout.ErrNotOwned) {
				t.Errorf("Cleanup = %v, want a refusal (ErrNotOwnedPath or ErrNotOwned)", err)
			}
		})
	}
}

// TestFallbackReadOnlyMountPoint checks that in bind and copy modes the
// per-container path is a read-only mount point showing exactly the
// artifacts: nothing can be created in it, even by root.
func TestFallbackReadOnlyMountPoint(t *testing.T) {
	img := testImage(t, nil)
	want := wantFiles(t, img)
	for _, tt := range []struct {
		mode artifactbind.Mode
		fail []Step
	}{{artifactbind.ModeBind, []Step{StepFUSE}}, {artifactbind.ModeCopy, []Step{StepFUSE, StepBind}}} {
		t.Run(string(tt.mode), func(t *testing.T) {
			e := newTestEnv(t)
			v := newFakeViewer(blockfileMount(img))
			p := e.preparer(v, withFault(faults(tt.fail...)))
			ctx := context.Background()
			st, err := p.Prepare(ctx, "ns", "c1", e.bundle, gated)
			if err != nil || st == nil || st.Mode != tt.mode {
				t.Fatalf("Prepare = %+v, %v; want mode %s", st, err, tt.mode)
			}
			requireReadOnlyMountPoint(t, st.Path)
			checkServed(t, st.Path, want)
			if err := p.Release(ctx, "ns", "c1"); err != nil {
				t.Fatal(err)
			}
			e.requireClean(t, v, img)
		})
	}
}

// requireReadOnlyMountPoint fails unless path is a mount point whose file
// system is read-only, where creating a file or a directory fails with
// EROFS.
func requireReadOnlyMountPoint(t *testing.T, path string) {
	t.Helper()
	if _, ok, err := mounttable.Find(path); err != nil || !ok {
		t.Errorf("%s is not a mount point (%v)", path, err)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(path, &sfs); err != nil || sfs.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("%s: statfs flags %#x, %v; want read-only", path, sfs.Flags, err)
	}
	if err := os.WriteFile(filepath.Join(path, "planted"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("create a file in %s: %v, want EROFS", path, err)
	}
	if err := os.Mkdir(filepath.Join(path, "planted-dir"), 0o755); !errors.Is(err, syscall.EROFS) {
		t.Errorf("mkdir in %s: %v, want EROFS", path, err)
	}
}

// TestReleaseRemovesEmptyNamespaceDirs checks that the namespace
// directories stay while a container of the namespace does, and go with
// the last one.
func TestReleaseRemovesEmptyNamespaceDirs(t *testing.T) {
	img := testImage(t, nil)
	e := newTestEnv(t)
	v := newFakeViewer(blockfileMount(img))
	p := e.preparer(v, withFault(faults(StepFUSE)))
	ctx := context.Background()
	bundles := map[string]string{"c1": e.bundle, "c2": t.TempDir()}
	for id, b := range bundles {
		if st, err := p.Prepare(ctx, "ns", id, b, gated); err != nil || st == nil {
			t.Fatalf("Prepare %s = %v, %v", id, st, err)
		}
	}
	nsDirs := []string{filepath.Join(e.root, "ns"), filepath.Join(e.root, artifactbind.ImagesDir, "ns")}
	if err := p.Release(ctx, "ns", "c1"); err != nil {
		t.Fatal(err)
	}
	for _, d := range nsDirs {
		if _, err := os.Lstat(d); err != nil {
			t.Errorf("%s gone while c2 lives: %v", d, err)
		}
	}
	if err := p.Release(ctx, "ns", "c2"); err != nil {
		t.Fatal(err)
	}
	for _, d := range nsDirs {
		if _, err := os.Lstat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after the namespace's last container: %v", d, err)
		}
	}
	e.requireClean(t, v, img)
}

// TestPrepareAdoptsUnmarkedNamespaceDir: a namespace directory left by a
// version before the markers, still holding an entry of its own, does not
// fail later Creates; its unmarked entry stays untouched by Release.
func TestPrepareAdoptsUnmarkedNamespaceDir(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	v := newFakeViewer(blockfileMount(img))
	old := filepath.Join(e.root, "ns", "old-container")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	p := e.preparer(v)
	st, err := p.Prepare(context.Background(), "ns", "c1", e.bundle, gated)
	if err != nil || !st.Ready() {
		t.Fatalf("Prepare under an unmarked namespace dir = %+v, %v; want the artifacts served", st, err)
	}
	checkServed(t, st.Path, wantFiles(t, img))
	if err := p.Release(context.Background(), "ns", "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); err != nil {
		t.Errorf("the unmarked entry of the older version: %v; want it left alone", err)
	}
}
