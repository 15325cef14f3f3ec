package cli

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// mountBackground mounts with the CLI in the background and unmounts in
// cleanup, failing the test if the mount is left behind.
func mountBackground(t *testing.T, args ...string) string {
	t.Helper()
	mnt := t.TempDir()
	r := cli(t, append(append([]string{"mount", "--background"}, args...), mnt)...)
	if r.code != 0 || !strings.Contains(r.stdout, "mounted "+mnt) {
		t.Fatalf("mount: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Cleanup(func() {
		if harness.IsMounted(t, mnt) {
			if r := cli(t, "umount", mnt); r.code != 0 {
				t.Errorf("umount in cleanup: %s", r.stderr)
				exec.Command("umount", "-l", mnt).Run()
			}
		}
		waitUnmounted(t, mnt)
	})
	return mnt
}

func waitUnmounted(t *testing.T, mnt string) {
	t.Helper()
	for i := 0; i < 100 && harness.IsMounted(t, mnt); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if harness.IsMounted(t, mnt) {
		t.Errorf("%s still mounted", mnt)
	}
}

func TestCLIMountBackgroundReadUmount(t *testing.T) {
	harness.RequireFUSE(t)
	tree := sampleTree(t, nil)
	img := testimage.Mkfs(t, tree, 16)
	for _, src := range [][]string{{"--image", img}, {"--dir", tree}} {
		t.Run(src[0], func(t *testing.T) {
			mnt := mountBackground(t, src...)
			for _, name := range []string{".boot/kernel", ".boot/initrd", "urunc.json"} {
				want, _ := os.ReadFile(filepath.Join(tree, name))
				got, err := os.ReadFile(filepath.Join(mnt, name))
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s through the mount: %d bytes, %v; want %d identical bytes", name, len(got), err, len(want))
				}
			}
			if _, err := os.Stat(filepath.Join(mnt, "etc/secret")); !os.IsNotExist(err) {
				t.Fatalf("etc/secret visible through the mount: %v", err)
			}
			// A second mount on the busy mountpoint is refused cleanly.
			requireOneLineError(t, cli(t, append(append([]string{"mount"}, src...), mnt)...), 6, mnt)
			if r := cli(t, "umount", mnt); r.code != 0 {
				t.Fatalf("umount: %s", r.stderr)
			}
			waitUnmounted(t, mnt)
		})
	}
}

func TestCLIMountForegroundSIGTERM(t *testing.T) {
	harness.RequireFUSE(t)
	img := testimage.Mkfs(t, sampleTree(t, nil), 16)
	mnt := t.TempDir()
	cmd := exec.Command(artifactfsBin(t), "mount", "--image", img, mnt)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if harness.IsMounted(t, mnt) {
			exec.Command("umount", "-l", mnt).Run()
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !harness.IsMounted(t, mnt) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !harness.IsMounted(t, mnt) {
		cmd.Process.Kill()
		t.Fatalf("not mounted after 10s: %s", stderr.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("server did not exit 10s after SIGTERM")
	}
	if harness.IsMounted(t, mnt) {
		t.Fatal("still mounted after SIGTERM")
	}
	if !strings.Contains(stderr.String(), ` mode=server `) { // the text log line

		t.Errorf("the log does not report the mode:\n%s", stderr.String())
	}
}

// TestCLILargeFragmentedKernel is the acceptance case: a 256 MiB kernel in
// hundreds of extents reads back identical at every offset through the mount.
func TestCLILargeFragmentedKernel(t *testing.T) {
	harness.RequireFUSE(t)
	if testing.Short() {
		t.Skip("-short: skips the 256 MiB image")
	}
	data := testimage.Payload(42, 256<<20)
	img := testimage.Fragmented(t, map[string][]byte{"urunc.json": []byte(`{"com.urunc.unikernel.binary":"L2Jvb3Qva2VybmVs"}`)}, "/boot/kernel", data, 600)
	if n := testimage.Extents(t, img, "/boot/kernel"); n < 300 {
		t.Fatalf("kernel has only %d extents; the case needs hundreds", n)
	}
	mnt := mountBackground(t, "--image", img)
	f, err := os.Open(filepath.Join(mnt, "boot/kernel"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if n, err := io.Copy(h, f); err != nil || n != int64(len(data)) {
		t.Fatalf("read %d bytes, %v; want %d", n, err, len(data))
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("sha256 through the mount differs from the kernel written")
	}
	// Unaligned reads at random offsets, many crossing extent boundaries.
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 300_000)
	for i := 0; i < 2000; i++ {
		off := r.Int64N(int64(len(data)))
		n := 1 + r.IntN(len(buf))
		got, err := f.ReadAt(buf[:n], off)
		if err != nil && err != io.EOF {
			t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
		}
		if !bytes.Equal(buf[:got], data[off:off+int64(got)]) {
			t.Fatalf("bytes differ at offset %d (+%d)", off, got)
		}
	}
}
