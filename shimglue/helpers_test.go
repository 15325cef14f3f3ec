package shimglue

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/rs/zerolog"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/mounttable"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/view"
)

// The test image: the artifacts at their in-image paths, and files that
// must never appear at a per-container path.
var (
	testKernel = testimage.Payload(21, 3<<20+77)
	testInitrd = testimage.Payload(22, 1<<20+5)
	testHidden = map[string][]byte{
		"etc/passwd":   []byte("root:x:0:0::/root:/bin/sh\n"),
		".boot/other":  []byte("not an artifact"),
		"usr/lib/a.so": testimage.Payload(23, 4096),
	}
)

// testConfig is the urunc.json of the test image; extra keys are added.
func testConfig(t testing.TB, extra map[string]string) []byte {
	cfg := map[string]string{
		artifact.AnnotationType:       "linux",
		artifact.AnnotationHypervisor: "qemu",
		artifact.AnnotationBinary:     "/.boot/kernel",
		artifact.AnnotationInitrd:     "/.boot/initrd",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return uruncJSON(t, cfg)
}

// gated are annotations that turn the view on.
var gated = map[string]string{annView: "true", annRootfs: "true"}

// testImage makes an ext4 image holding the artifacts, the hidden files and
// a urunc.json with the extra keys, and returns its path.
func testImage(t testing.TB, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		".boot/kernel": testKernel,
		".boot/initrd": testInitrd,
		"urunc.json":   testConfig(t, extra),
	}
	for k, v := range testHidden {
		files[k] = v
	}
	testimage.WriteTree(t, dir, files)
	return testimage.Mkfs(t, dir, 16)
}

// wantFiles is what a per-container path must hold, relative to it.
func wantFiles(t testing.TB, img string) map[string][]byte {
	return map[string][]byte{
		"/.boot/kernel": testKernel,
		"/.boot/initrd": testInitrd,
		"/urunc.json":   testimage.DebugfsCat(t, img, "/urunc.json"),
	}
}

// fakeViewer hands out a fixed view and records what is prepared.
type fakeViewer struct {
	mounts      []mount.Mount
	snapshotter string
	releaseErr  error

	mu       sync.Mutex
	live     map[string]bool
	prepares int
	releases int
}

var _ Viewer = (*fakeViewer)(nil)

func newFakeViewer(mounts ...mount.Mount) *fakeViewer {
	return &fakeViewer{mounts: mounts, snapshotter: "blockfile", live: map[string]bool{}}
}

func (f *fakeViewer) Prepare(_ context.Context, ns, id string, shared bool) (*view.View, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prepares++
	f.live[ns+"/"+id] = true
	v := &view.View{
		Namespace: ns, ContainerID: id, Snapshotter: f.snapshotter,
		Key: view.Key(ns, id), LeaseID: view.LeaseID(ns, id), Parent: "sha256:parent",
		Mounts: f.mounts,
	}
	if shared {
		v.Key = view.SharedKey(ns, v.Snapshotter, v.Parent)
	}
	return v, nil
}

func (f *fakeViewer) Release(_ context.Context, ns, _, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.releases++
	if f.releaseErr != nil {
		return f.releaseErr
	}
	delete(f.live, ns+"/"+id)
	return nil
}

func (f *fakeViewer) held() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.live {
		out = append(out, k)
	}
	return out
}

// blockfileMount is the mount a blockfile view of img returns.
func blockfileMount(img string) mount.Mount {
	return mount.Mount{Type: "ext4", Source: img, Options: []string{"loop", "ro"}}
}

// testEnv is a root for per-container paths and a bundle.
type testEnv struct {
	root, bundle string
	log          *lockedWriter
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	testimage.RequireRoot(t, "mounts views, FUSE and bind mounts")
	e := &testEnv{root: t.TempDir(), bundle: t.TempDir(), log: &lockedWriter{w: &bytes.Buffer{}}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", e.log)
		}
		// Never leave a mount behind, even when a test failed.
		_, _ = mounttable.UnmountTree(e.root)
	})
	return e
}

func (e *testEnv) preparer(v Viewer, opts ...Option) *Preparer {
	logger := zerolog.New(e.log).Level(zerolog.DebugLevel)
	return NewPreparer(v, append([]Option{WithRoot(e.root), WithLogger(logger)}, opts...)...)
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// requireClean fails unless nothing is left: no mount under the root, no
// loop device over img, no per-container or view directory, no state file,
// no view held.
func (e *testEnv) requireClean(t *testing.T, v *fakeViewer, img string) {
	t.Helper()
	mps, err := mounttable.Under(e.root)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mps {
		t.Errorf("left mounted: %s (%s)", m.Mountpoint, m.FSType)
	}
	if img != "" {
		for _, l := range loopDevicesOf(t, img) {
			t.Errorf("left a loop device: %s", l)
		}
	}
	for _, d := range []string{filepath.Join(e.root, "ns", "c1"), filepath.Join(e.root, artifactbind.ViewsDir, "ns", "c1")} {
		if _, err := os.Lstat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("left %s (%v)", d, err)
		}
	}
	if _, err := os.Lstat(artifactbind.StatePath(e.bundle)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("left the state file (%v)", err)
	}
	if v != nil {
		if held := v.held(); len(held) > 0 {
			t.Errorf("views not released: %v", held)
		}
	}
}

// loopDevicesOf lists the loop devices backed by file img.
func loopDevicesOf(t testing.TB, img string) []string {
	paths, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil && strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)") == img {
			out = append(out, p)
		}
	}
	return out
}

// treeOf returns the files under dir (relative, with a leading slash) and
// their content; directories are listed with nil content.
func treeOf(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, dir)
		if rel == "" {
			return nil
		}
		if d.IsDir() {
			out[rel] = nil
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkServed checks that dir holds exactly the artifacts (and their parent
// directories), with the image's bytes.
func checkServed(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	got := treeOf(t, dir)
	var names []string
	for name := range got {
		names = append(names, name)
	}
	sort.Strings(names)
	wantNames := []string{"/.boot", "/.boot/initrd", "/.boot/kernel", "/urunc.json"}
	if strings.Join(names, " ") != strings.Join(wantNames, " ") {
		t.Errorf("%s holds %v, want %v", dir, names, wantNames)
	}
	for name, data := range want {
		if !bytes.Equal(got[name], data) {
			t.Errorf("%s%s: %d bytes differ from the image's %d", dir, name, len(got[name]), len(data))
		}
	}
}
