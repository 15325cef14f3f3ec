package artifactbind

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestBindArtifacts(t *testing.T) {
	st := newContainerPath(t)
	monitor := t.TempDir()
	// urunc's monitor rootfs may already hold directories.
	if err := os.MkdirAll(filepath.Join(monitor, ".boot"), 0o755); err != nil {
		t.Fatal(err)
	}
	inPrivateMountNS(t, func() {
		if err := BindArtifacts(st, monitor); err != nil {
			t.Errorf("BindArtifacts: %v", err)
			return
		}
		mps := mountsUnder(t, monitor)
		if len(mps) != len(testArtifacts) {
			t.Errorf("mounts under the monitor rootfs: %v, want one per artifact", mps)
		}
		for rel, want := range testArtifacts {
			target := filepath.Join(monitor, rel)
			got, err := os.ReadFile(target)
			if err != nil || string(got) != want {
				t.Errorf("%s = %q, %v; want %q", rel, got, err, want)
			}
			opts, ok := mps[target]
			if !ok {
				t.Errorf("%s is not a mount point", rel)
				continue
			}
			for _, o := range []string{"ro", "nosuid", "nodev"} {
				if !strings.Contains(","+opts+",", ","+o+",") {
					t.Errorf("%s mounted %s, lacks %s", rel, opts, o)
				}
			}
			if err := os.WriteFile(target, []byte("x"), 0); !errors.Is(err, syscall.EROFS) {
				t.Errorf("write %s: %v, want EROFS", rel, err)
			}
		}
	})
	// The binds lived in the private namespace only.
	if mps := mountsUnder(t, monitor); len(mps) > 0 {
		t.Errorf("binds leaked into the test's namespace: %v", mps)
	}
}

func TestBindArtifactsNotReady(t *testing.T) {
	if err := BindArtifacts(nil, t.TempDir()); !errors.Is(err, ErrNotReady) {
		t.Errorf("BindArtifacts(nil) = %v, want ErrNotReady", err)
	}
	st := newContainerPath(t)
	st.Mode = ModePending
	if err := BindArtifacts(st, t.TempDir()); !errors.Is(err, ErrNotReady) {
		t.Errorf("BindArtifacts(pending) = %v, want ErrNotReady", err)
	}
}

// TestBindArtifactsRefuses: a symlink on the way, in the monitor rootfs or
// in the per-container path, is never followed, nothing is created or
// bound outside the monitor rootfs, and binds already made are undone.
func TestBindArtifactsRefuses(t *testing.T) {
	tests := []struct {
		name string
		// setup gets the monitor rootfs, a directory outside it, and the
		// state; it may edit the state.
		setup func(t *testing.T, monitor, outside string, st *State)
	}{
		{"symlinked parent", func(t *testing.T, m, out string, _ *State) {
			symlink(t, out, filepath.Join(m, ".boot"))
		}},
		{"symlink deep on the way", func(t *testing.T, m, out string, st *State) {
			// A real directory first, a symlink below it.
			writeFile(t, filepath.Join(st.Path, "opt/boot/initrd"), "initrd bytes")
			st.Artifacts[1].Path = "/opt/boot/initrd"
			os.MkdirAll(filepath.Join(m, "opt"), 0o755)
			symlink(t, out, filepath.Join(m, "opt/boot"))
		}},
		{"dangling symlink target", func(t *testing.T, m, out string, _ *State) {
			os.MkdirAll(filepath.Join(m, ".boot"), 0o755)
			symlink(t, filepath.Join(out, "initrd"), filepath.Join(m, ".boot/initrd"))
		}},
		{"symlink to an existing file", func(t *testing.T, m, out string, _ *State) {
			writeFile(t, filepath.Join(out, "victim"), "")
			os.MkdirAll(filepath.Join(m, ".boot"), 0o755)
			symlink(t, filepath.Join(out, "victim"), filepath.Join(m, ".boot/initrd"))
		}},
		{"directory target", func(t *testing.T, m, _ string, _ *State) {
			os.MkdirAll(filepath.Join(m, ".boot/initrd"), 0o755)
		}},
		{"symlink in the per-container path", func(t *testing.T, _, _ string, st *State) {
			p := filepath.Join(st.Path, ".boot/initrd")
			os.Remove(p)
			symlink(t, "kernel", p)
		}},
		{"second artifact missing", func(t *testing.T, _, _ string, st *State) {
			os.Remove(filepath.Join(st.Path, ".boot/initrd"))
		}},
		{"unclean path", func(t *testing.T, _, _ string, st *State) {
			st.Artifacts[1].Path = "/.boot/../../initrd"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newContainerPath(t)
			monitor, outside := t.TempDir(), t.TempDir()
			tt.setup(t, monitor, outside, st)
			before := listTree(t, outside)
			inPrivateMountNS(t, func() {
				err := BindArtifacts(st, monitor)
				if err == nil {
					t.Error("BindArtifacts succeeded")
				}
				t.Logf("BindArtifacts: %v", err)
				// The kernel, bound before the initrd failed, is unbound;
				// nothing is mounted outside.
				for _, dir := range []string{monitor, outside, st.Path} {
					if mps := mountsUnder(t, dir); len(mps) > 0 {
						t.Errorf("left mounted: %v", mps)
					}
				}
			})
			if after := listTree(t, outside); after != before {
				t.Errorf("outside the monitor rootfs: %s, was %s", after, before)
			}
		})
	}
}

// TestBindPathsInRoot: the shim binds from a mounted image view, where a
// symlink is the image's own and resolves inside the view.
func TestBindPathsInRoot(t *testing.T) {
	view := t.TempDir()
	writeFile(t, filepath.Join(view, "boot/vmlinuz"), "kernel bytes")
	os.MkdirAll(filepath.Join(view, ".boot"), 0o755)
	// Absolute: the image root, not the host's.
	symlink(t, "/boot/vmlinuz", filepath.Join(view, ".boot/kernel"))
	dir := t.TempDir()
	inPrivateMountNS(t, func() {
		if err := BindPaths(view, dir, []string{"/.boot/kernel"}, NoSymlinks); err == nil {
			t.Error("BindPaths(NoSymlinks) followed a symlink")
		}
		if err := BindPaths(view, dir, []string{"/.boot/kernel", "/.boot/kernel"}, InRoot); err != nil {
			t.Errorf("BindPaths(InRoot): %v", err)
			return
		}
		if got, err := os.ReadFile(filepath.Join(dir, ".boot/kernel")); err != nil || string(got) != "kernel bytes" {
			t.Errorf("bound kernel = %q, %v", got, err)
		}
		if mps := mountsUnder(t, dir); len(mps) != 1 {
			t.Errorf("mounts: %v, want one (a path named twice is bound once)", mps)
		}
	})
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// listTree names every entry under dir, for comparing before and after.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		names = append(names, strings.TrimPrefix(p, dir))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(names, " ")
}

// TestBindThenRemount covers the fallback for kernels without the new
// mount API: a bind, then a read-only remount through the bind's root.
func TestBindThenRemount(t *testing.T) {
	st := newContainerPath(t)
	monitor := t.TempDir()
	writeFile(t, filepath.Join(monitor, "kernel"), "")
	inPrivateMountNS(t, func() {
		src, err := openSource(mustOpenDir(t, st.Path), "/.boot/kernel", NoSymlinks)
		if err != nil {
			t.Error(err)
			return
		}
		if err := bindThenRemount(src, mustOpenDir(t, monitor), "kernel"); err != nil {
			t.Errorf("bindThenRemount: %v", err)
			return
		}
		target := filepath.Join(monitor, "kernel")
		opts := mountsUnder(t, monitor)[target]
		for _, o := range []string{"ro", "nosuid", "nodev"} {
			if !strings.Contains(","+opts+",", ","+o+",") {
				t.Errorf("mounted %q, lacks %s", opts, o)
			}
		}
		if got, err := os.ReadFile(target); err != nil || string(got) != testArtifacts["/.boot/kernel"] {
			t.Errorf("bound kernel = %q, %v", got, err)
		}
	})
}

// mustOpenDir opens dir with O_PATH until the test ends.
func mustOpenDir(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}
