package fuse

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/rs/zerolog"

	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/internal/source"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// fuseArtifacts is the image content the FUSE suites serve: the artifacts
// at their in-image paths, and files that must never appear in a mount.
var fuseArtifacts = map[string][]byte{
	".boot/kernel": testimage.Payload(11, 9<<20+123),
	".boot/initrd": testimage.Payload(12, 2<<20+4097),
	"urunc.json":   []byte(`{"com.urunc.unikernel.unikernelType":"dW5pa3JhZnQ=","com.urunc.unikernel.hypervisor":"cWVtdQ==","com.urunc.unikernel.binary":"Ly5ib290L2tlcm5lbA=="}`),
}

var fuseHidden = map[string][]byte{
	".boot/other":       []byte("not an artifact"),
	"etc/passwd":        []byte("root:x:0:0:root:/root:/bin/sh\n"),
	"usr/lib/libfoo.so": testimage.Payload(13, 5000),
}

var fuseArtifactPaths = []string{"/.boot/kernel", "/.boot/initrd", "/urunc.json"}

// fuseWantFind is what `find MOUNT` prints, relative to MOUNT, sorted.
var fuseWantFind = []string{"", "/.boot", "/.boot/initrd", "/.boot/kernel", "/urunc.json"}

// fuseImageRoot writes the artifacts and the hidden files under a new
// temp dir and returns it.
func fuseImageRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	testimage.WriteTree(t, dir, fuseArtifacts)
	testimage.WriteTree(t, dir, fuseHidden)
	return dir
}

// fuseDirSource opens dir as a Source, closed at the end of the test.
func fuseDirSource(t *testing.T, dir string) *source.Dir {
	t.Helper()
	src, err := source.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// fuseLogger returns a context whose zerolog logger writes into the test log.
func fuseLogger(t *testing.T) context.Context {
	return fuseLoggerTo(zerolog.NewTestWriter(t))
}

// fuseLoggerTo returns a context whose zerolog logger writes to w.
func fuseLoggerTo(w io.Writer) context.Context {
	l := zerolog.New(w).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	return l.WithContext(context.Background())
}

// fuseMount mounts the artifacts of src at a new temp dir. Cleanup
// unmounts and fails the test if the mount is still in the mount table.
func fuseMount(t *testing.T, src source.Source, opts fs.Options) (*fs.Mounted, string) {
	t.Helper()
	mnt := t.TempDir()
	return fuseMountAt(t, src, mnt, opts), mnt
}

func fuseMountAt(t *testing.T, src source.Source, mnt string, opts fs.Options) *fs.Mounted {
	t.Helper()
	root, err := fs.New(src, fuseArtifactPaths)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fs.Mount(fuseLogger(t), mnt, root, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil && !errors.Is(err, fs.ErrDetached) {
			t.Errorf("unmount %s: %v", mnt, err)
		}
		fuseRequireUnmounted(t, mnt)
	})
	return m
}

// fuseMountOptions returns the per-mount and super options of the topmost
// mount at mountpoint as "MOUNTOPTS SUPEROPTS FSTYPE", or "".
func fuseMountOptions(t *testing.T, mountpoint string) string {
	t.Helper()
	opts, err := fuseReadMountOptions(mountpoint)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// fuseReadMountOptions is fuseMountOptions for callers without a test.
func fuseReadMountOptions(mountpoint string) (string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	found := ""
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || f[4] != mountpoint {
			continue
		}
		for i := 6; i+3 < len(f); i++ {
			if f[i] == "-" {
				found = f[5] + " " + f[i+3] + " " + f[i+1]
			}
		}
	}
	return found, nil
}

func fuseRequireUnmounted(t *testing.T, mnt string) {
	t.Helper()
	if harness.IsMounted(t, mnt) {
		t.Errorf("%s left mounted; detaching", mnt)
		syscall.Unmount(mnt, syscall.MNT_DETACH)
	}
}

// fuseFind lists the mount with find(1), relative to it and sorted.
func fuseFind(t *testing.T, mnt string) []string {
	t.Helper()
	out := testimage.Run(t, "find", mnt)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		got = append(got, strings.TrimPrefix(line, mnt))
	}
	sort.Strings(got)
	return got
}

// fuseCheckContent reads every artifact through the mount and compares its
// sha256 with the original.
func fuseCheckContent(t *testing.T, mnt string) {
	t.Helper()
	if err := fuseReadArtifacts(mnt); err != nil {
		t.Error(err)
	}
}

// fuseReadArtifacts is fuseCheckContent for callers without a test: it
// returns every difference it finds.
func fuseReadArtifacts(mnt string) error {
	var errs []error
	for name, want := range fuseArtifacts {
		f, err := os.Open(filepath.Join(mnt, name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", name, err))
			continue
		}
		if got, want := fmt.Sprintf("%x", h.Sum(nil)), testimage.SHA256(want); got != want || n != int64(len(fuseArtifacts[name])) {
			errs = append(errs, fmt.Errorf("%s: read %d bytes sha256 %s; want %d bytes %s", name, n, got, len(fuseArtifacts[name]), want))
		}
	}
	return errors.Join(errs...)
}

// fuseConcurrentReads runs readers goroutines, each reading random ranges
// of random artifacts through its own descriptor, and compares the bytes.
func fuseConcurrentReads(t *testing.T, mnt string, readers, reads int) {
	t.Helper()
	names := []string{".boot/kernel", ".boot/initrd", "urunc.json"}
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for i := 0; i < readers; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 7))
			buf := make([]byte, 1<<20)
			for j := 0; j < reads; j++ {
				name := names[r.IntN(len(names))]
				want := fuseArtifacts[name]
				off := r.IntN(len(want))
				n := 1 + r.IntN(min(len(buf), len(want)-off+100))
				f, err := os.Open(filepath.Join(mnt, name))
				if err != nil {
					errs <- err
					return
				}
				got, err := f.ReadAt(buf[:n], int64(off))
				f.Close()
				if err != nil && err != io.EOF {
					errs <- fmt.Errorf("%s [%d +%d): %w", name, off, n, err)
					return
				}
				if end := min(off+n, len(want)); !bytes.Equal(buf[:got], want[off:end]) {
					errs <- fmt.Errorf("%s [%d +%d): %d bytes differ from the original", name, off, n, got)
					return
				}
			}
		}(uint64(i))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// fuseMountSource returns the source column of the topmost mount at
// mountpoint, or "".
func fuseMountSource(t *testing.T, mountpoint string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	found := ""
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || f[4] != mountpoint {
			continue
		}
		for i := 6; i+2 < len(f); i++ {
			if f[i] == "-" {
				found = f[i+2]
			}
		}
	}
	return found
}

// fuseLogBuffer collects log output from concurrent writers.
type fuseLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *fuseLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *fuseLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
