package urunc

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/guest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// repo is the repository's root, seen from this package's directory.
const repo = "../.."

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
// given propagation, with the shipped shim on its PATH and the boot image
// (no entrypoint) imported into blockfile.
type bootEnv struct {
	*harness.Env
	Prop    harness.Propagation
	Records string // where the runtime's hook writes <id>.json
	Runtime string // the urunc-shaped binary
}

// newBootEnv starts the daemon; everything is stopped and checked for
// leftovers at cleanup (harness.NewEnv).
func newBootEnv(t *testing.T, prop harness.Propagation) *bootEnv {
	t.Helper()
	g := requireGuest(t)
	runtimeBin, err := harness.UruncShaped(repo)
	if err != nil {
		t.Fatal(err)
	}
	e := &bootEnv{Prop: prop, Records: t.TempDir(), Runtime: runtimeBin}
	// The daemon passes its environment on to the shims, and they to runc.
	e.Env = harness.NewEnv(t, harness.Options{
		Repo:   repo,
		NS:     harness.MountNSFor(t, prop, nil),
		Daemon: ctrtest.Options{ScratchMiB: scratchMiB, Env: []string{guest.RecordsEnv + "=" + e.Records}},
	}, harness.Sample{Name: bootImage, Kernel: g.Kernel, Initrd: g.Initrd, NoEntrypoint: true})
	t.Logf("containerd runs in a %s mount namespace; boot image: kernel %d bytes, initrd %d bytes", prop, len(g.Kernel), len(g.Initrd))
	return e
}

func (e *bootEnv) ctx(t *testing.T) context.Context { return e.Context(t, 4*time.Minute) }

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
