package urunc

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/guest"
	"github.com/artifactfs/artifactfs/internal/shimtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/shimglue"
)

// repo is the repository's root, seen from this package's directory.
const repo = "../.."

// shimRuntime is the runtime type of the artifactfs shim.
const shimRuntime = "io.containerd.artifactfs.v2"

// bootImage is the name of the image holding the guest.
const bootImage = "docker.io/library/artifactfs-boot:latest"

// scratchMiB sizes blockfile's scratch file, which must hold the image: a
// Debian kernel (~14 MiB) and the initrd (~1 MiB).
const scratchMiB = 64

// requireGuest skips the test, saying why, when it cannot boot a guest,
// and returns the guest's files.
func requireGuest(t *testing.T) guest.Files {
	t.Helper()
	testimage.RequireRoot(t, "containerd, runc, FUSE and mounts")
	testimage.RequireTools(t, "mkfs.ext4", "runc")
	return guest.Require(t, repo, ctrtest.CacheDir())
}

// bootEnv is a private containerd started in a mount namespace of the
// given propagation, with the artifactfs test shim on its PATH and the
// boot image imported into blockfile.
type bootEnv struct {
	D       *ctrtest.Daemon
	NS      *shimtest.MountNS
	Prop    shimtest.Propagation
	Root    string // per-container paths' root
	Records string // where the runtime's hook writes <id>.json
	Runtime string // the urunc-shaped binary
	Image   client.Image
	Kernel  []byte
	Initrd  []byte
}

// newBootEnv starts the daemon; everything is stopped and checked for
// leftovers at cleanup.
func newBootEnv(t *testing.T, prop shimtest.Propagation) *bootEnv {
	t.Helper()
	g := requireGuest(t)
	kernel, initrd := g.Kernel, g.Initrd
	shimDir, err := shimtest.ShimDir(repo)
	if err != nil {
		t.Fatal(err)
	}
	runtimeBin, err := shimtest.UruncShaped(repo)
	if err != nil {
		t.Fatal(err)
	}
	e := &bootEnv{Prop: prop, Root: t.TempDir(), Records: t.TempDir(), Runtime: runtimeBin, Kernel: kernel, Initrd: initrd}
	if e.NS, err = shimtest.NewMountNS(prop, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.NS.Close) // after the daemon's stop, registered later
	// The daemon passes its environment on to the shims, and they to runc.
	t.Setenv(shimglue.RootEnv, e.Root)
	t.Setenv(guest.RecordsEnv, e.Records)
	e.NS.Do(func() {
		e.D, err = ctrtest.Start(context.Background(), ctrtest.Options{ExtraPath: []string{shimDir}, ScratchMiB: scratchMiB})
	})
	if err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("containerd log tail:\n%s", e.D.LogTail(8192))
		}
		e.checkNoLeftovers(t, "at the end")
		e.NS.Do(func() {
			if err := e.D.Stop(); err != nil {
				t.Errorf("stop containerd: %v", err)
			}
		})
	})
	spec, err := ctrtest.SampleImage(bootImage, kernel, initrd, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tarPath, err := ctrtest.BuildImage(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if e.Image, err = ctrtest.Import(e.ctx(t), e.D.Client(), tarPath, "blockfile"); err != nil {
		t.Fatal(err)
	}
	t.Logf("containerd up in a %s mount namespace, boot image (kernel %d bytes, initrd %d bytes) imported in %s",
		prop, len(kernel), len(initrd), time.Since(begin).Round(time.Millisecond))
	return e
}

func (e *bootEnv) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(e.D.Context(context.Background()), 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// path is the per-container path of id; bundle its bundle directory.
func (e *bootEnv) path(id string) string { return filepath.Join(e.Root, e.D.Namespace, id) }
func (e *bootEnv) bundle(id string) string {
	return filepath.Join(e.D.State, "io.containerd.runtime.v2.task", e.D.Namespace, id)
}

// checkNoLeftovers fails for anything artifactfs left (ctrtest.Leftovers),
// waiting a little: containerd runs the shim's delete after the shim exits.
func (e *bootEnv) checkNoLeftovers(t *testing.T, when string) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		left = e.D.Leftovers(ctx, e.Root, e.NS.Do)
		cancel()
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, l := range left {
		t.Errorf("%s: left behind: %s", when, l)
	}
}

// daemonMountNS is the daemon's mount namespace, as readlink shows it.
func (e *bootEnv) daemonMountNS(t *testing.T) string {
	var ns string
	var err error
	e.NS.Do(func() { ns, err = os.Readlink("/proc/thread-self/ns/mnt") })
	if err != nil {
		t.Fatal(err)
	}
	return ns
}
