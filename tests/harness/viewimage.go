package harness

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/image-spec/identity"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/view"
)

// ViewSnapshotters are the snapshotters the view tests run on, and
// SharedImage is unpacked into.
var ViewSnapshotters = []string{"blockfile", "overlayfs", "native"}

// Image is a sample image imported into a daemon.
type Image struct {
	// Image is containerd's image; ChainID the chain id of its one layer,
	// the parent of its containers' snapshots and views.
	Image   client.Image
	ChainID string
	// Files maps in-image paths to their content.
	Files map[string][]byte
}

var (
	sharedImgOnce sync.Once
	sharedImg     *Image
	sharedImgErr  error
)

// SharedImage imports the sample image (kernel, initrd, urunc.json) into
// d once per test binary, unpacked for every view snapshotter.
func SharedImage(tb testing.TB, d *ctrtest.Daemon) *Image {
	tb.Helper()
	sharedImgOnce.Do(func() {
		start := time.Now()
		sharedImg, sharedImgErr = ImportImage(tb, d, "docker.io/library/artifactfs-view:latest", 1, ViewSnapshotters...)
		tb.Logf("containerd start %s; build+import+unpack (%s) %s",
			sharedStart.Round(time.Millisecond), strings.Join(ViewSnapshotters, ", "), time.Since(start).Round(time.Millisecond))
	})
	if sharedImgErr != nil {
		tb.Fatal(sharedImgErr)
	}
	return sharedImg
}

// ImportImage builds a sample image whose artifacts derive from seed and
// imports it into d's namespace, unpacked into snapshotters.
func ImportImage(tb testing.TB, d *ctrtest.Daemon, name string, seed uint64, snapshotters ...string) (*Image, error) {
	kernel, initrd := testimage.Payload(seed, 3<<20+123), testimage.Payload(seed+1, 512<<10+7)
	spec, err := ctrtest.SampleImage(name, kernel, initrd, nil, nil)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "view-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	tarPath, err := ctrtest.BuildImage(dir, spec)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(d.Context(context.Background()), 2*time.Minute)
	defer cancel()
	start := time.Now()
	img, err := ctrtest.Import(ctx, d.Client(), tarPath, snapshotters...)
	if err != nil {
		return nil, err
	}
	tb.Logf("import+unpack %s into %v: %s", name, snapshotters, time.Since(start).Round(time.Millisecond))
	diffIDs, err := img.RootFS(ctx)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for p, f := range spec.Files {
		files[p] = f.Data
	}
	return &Image{Image: img, ChainID: identity.ChainID(diffIDs).String(), Files: files}, nil
}

// PlainContainer creates container id on snapshotter sn from img with the
// default runtime and no task, deleted with its snapshot at cleanup when
// the test has not done it.
func PlainContainer(tb testing.TB, ctx context.Context, c *client.Client, id, sn string, img client.Image) client.Container {
	tb.Helper()
	ctr, err := c.NewContainer(ctx, id,
		client.WithSnapshotter(sn),
		client.WithNewSnapshot(id+"-rootfs", img),
		client.WithNewSpec(oci.WithImageConfig(img)))
	if err != nil {
		tb.Fatalf("new container %s on %s: %v", id, sn, err)
	}
	tb.Cleanup(func() {
		if err := ctr.Delete(context.WithoutCancel(ctx), client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
			tb.Errorf("delete container %s: %v", id, err)
		}
	})
	return ctr
}

// ArtifactfsObjects lists the leases and views labelled by artifactfs in
// snapshotter sn, as "lease:<id>" and "view:<key>", sorted.
func ArtifactfsObjects(tb testing.TB, ctx context.Context, c *client.Client, sn string) []string {
	tb.Helper()
	filter := `labels."` + view.LabelContainer + `"`
	ls, err := c.LeasesService().List(ctx, filter)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		out = append(out, "lease:"+l.ID)
	}
	err = c.SnapshotService(sn).Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		out = append(out, "view:"+info.Name)
		return nil
	}, filter, `labels."`+view.LabelShared+`"`) // filters are or'ed
	if err != nil {
		tb.Fatal(err)
	}
	slices.Sort(out)
	return out
}
