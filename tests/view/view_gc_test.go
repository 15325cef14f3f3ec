package view

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"

	"github.com/artifactfs/artifactfs/tests/harness"
	"github.com/artifactfs/artifactfs/view"
)

// TestViewGC leaves the view of a deleted container behind, as a crash
// would, and checks that List reports it as orphaned next to a live one,
// that a dry run removes nothing, and that GC removes exactly the orphan.
func TestViewGC(t *testing.T) {
	d := harness.SharedDaemon(t, repo)
	ti := harness.SharedImage(t, d)
	ctx := harness.DaemonContext(t, d)
	c := d.Client()
	const sn = "blockfile"

	gone := harness.PlainContainer(t, ctx, c, "gc-gone", sn, ti.Image)
	harness.PlainContainer(t, ctx, c, "gc-live", sn, ti.Image)
	for _, id := range []string{"gc-gone", "gc-live"} {
		if _, err := view.Prepare(ctx, c, d.Namespace, id); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = view.Release(context.WithoutCancel(ctx), c, d.Namespace, sn, "gc-live") })
	if err := gone.Delete(ctx, client.WithSnapshotCleanup); err != nil {
		t.Fatal(err)
	}

	orphan := view.Found{Namespace: d.Namespace, ContainerID: "gc-gone", Snapshotter: sn,
		Key: view.Key(d.Namespace, "gc-gone"), LeaseID: view.LeaseID(d.Namespace, "gc-gone")}
	live := view.Found{Namespace: d.Namespace, ContainerID: "gc-live", Snapshotter: sn,
		Key: view.Key(d.Namespace, "gc-live"), LeaseID: view.LeaseID(d.Namespace, "gc-live"), ContainerExists: true}
	found, err := view.List(ctx, c, d.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	if want := []view.Found{orphan, live}; !slices.Equal(found, want) {
		t.Fatalf("list:\n got %+v\nwant %+v", found, want)
	}

	removed, err := view.GC(ctx, c, d.Namespace, true)
	if err != nil || !slices.Equal(removed, []view.Found{orphan}) {
		t.Fatalf("gc dry run: %+v, %v; want %+v", removed, err, orphan)
	}
	if found, _ := view.List(ctx, c, d.Namespace); len(found) != 2 {
		t.Fatalf("a dry run removed something: %+v", found)
	}

	removed, err = view.GC(ctx, c, d.Namespace, false)
	if err != nil || !slices.Equal(removed, []view.Found{orphan}) {
		t.Fatalf("gc: %+v, %v; want %+v", removed, err, orphan)
	}
	if found, err := view.List(ctx, c, d.Namespace); err != nil || !slices.Equal(found, []view.Found{live}) {
		t.Fatalf("after gc: %+v, %v; want %+v", found, err, live)
	}
	if removed, err := view.GC(ctx, c, d.Namespace, false); err != nil || len(removed) > 0 {
		t.Errorf("second gc: %+v, %v; want nothing", removed, err)
	}
	if err := view.Release(ctx, c, d.Namespace, sn, "gc-live"); err != nil {
		t.Fatal(err)
	}
	if found, err := view.List(ctx, c, d.Namespace); err != nil || len(found) > 0 {
		t.Errorf("after release: %+v, %v", found, err)
	}
	harness.RequireNoMounts(t, d.Dir)
}

// TestViewConverges starts Prepare from the states a crash can leave (a
// lease without view, a view whose lease is gone, a view of an earlier
// container of the same id) and checks that it ends with exactly one view,
// held by its lease, of the right parent.
func TestViewConverges(t *testing.T) {
	d := harness.SharedDaemon(t, repo)
	ti := harness.SharedImage(t, d)
	var logs bytes.Buffer
	ctx := zerolog.New(&logs).WithContext(harness.DaemonContext(t, d))
	c := d.Client()
	const sn, id = "overlayfs", "converge"
	key, lid := view.Key(d.Namespace, id), view.LeaseID(d.Namespace, id)
	wantObjs := []string{"lease:" + lid, "view:" + key}
	t.Cleanup(func() { _ = view.Release(context.WithoutCancel(ctx), c, d.Namespace, sn, id) })

	check := func(stage string, parent string) {
		t.Helper()
		v, err := view.Prepare(ctx, c, d.Namespace, id)
		if err != nil {
			t.Fatalf("%s: prepare: %v", stage, err)
		}
		if v.Parent != parent {
			t.Errorf("%s: parent %s, want %s", stage, v.Parent, parent)
		}
		if objs := harness.ArtifactfsObjects(t, ctx, c, sn); !slices.Equal(objs, wantObjs) {
			t.Errorf("%s: %v, want %v", stage, objs, wantObjs)
		}
		// The lease must hold the view: a GC pass keeps it.
		if err := d.GC(ctx); err != nil {
			t.Fatal(err)
		}
		if info, err := c.SnapshotService(sn).Stat(ctx, key); err != nil || info.Parent != parent {
			t.Errorf("%s: view after a GC pass: %+v, %v", stage, info, err)
		}
	}

	// An earlier container of the same id, from another image, left its view.
	other, err := harness.ImportImage(t, d, "docker.io/library/artifactfs-other:latest", 7, sn)
	if err != nil {
		t.Fatal(err)
	}
	first := harness.PlainContainer(t, ctx, c, id, sn, other.Image)
	check("first container", other.ChainID)
	if err := first.Delete(ctx, client.WithSnapshotCleanup); err != nil {
		t.Fatal(err)
	}
	harness.PlainContainer(t, ctx, c, id, sn, ti.Image)
	check("stale view of an earlier container", ti.ChainID)
	if !strings.Contains(logs.String(), "replacing stale view") {
		t.Errorf("stale view: no warning logged; log:\n%s", logs.String())
	}

	// The lease is gone, the view is not. Deleting a lease schedules a GC
	// pass at once, so another lease holds the view meanwhile; Prepare must
	// reuse the view and make its new lease hold it.
	created := viewCreated(t, ctx, c, sn, key)
	holder, err := c.LeasesService().Create(ctx, leases.WithID("test-holder"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.LeasesService().AddResource(ctx, holder, leases.Resource{ID: key, Type: "snapshots/" + sn}); err != nil {
		t.Fatal(err)
	}
	if err := c.LeasesService().Delete(ctx, leases.Lease{ID: lid}, leases.SynchronousDelete); err != nil {
		t.Fatal(err)
	}
	if _, err := view.Prepare(ctx, c, d.Namespace, id); err != nil {
		t.Fatal(err)
	}
	if err := c.LeasesService().Delete(ctx, holder, leases.SynchronousDelete); err != nil {
		t.Fatal(err)
	}
	check("view without lease", ti.ChainID)
	if got := viewCreated(t, ctx, c, sn, key); !got.Equal(created) {
		t.Errorf("view without lease: view recreated (%s), want reused (%s)", got, created)
	}

	// The lease is there, the view is not.
	if err := c.SnapshotService(sn).Remove(ctx, key); err != nil {
		t.Fatal(err)
	}
	check("lease without view", ti.ChainID)
}

// viewCreated returns the creation time of snapshot key.
func viewCreated(t *testing.T, ctx context.Context, c *client.Client, sn, key string) time.Time {
	t.Helper()
	info, err := c.SnapshotService(sn).Stat(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	return info.Created
}

// TestViewErrors checks the error kinds of bad requests, and that a view
// taken without a lease does not survive a GC pass (why Prepare leases).
func TestViewErrors(t *testing.T) {
	d := harness.SharedDaemon(t, repo)
	ti := harness.SharedImage(t, d)
	ctx := harness.DaemonContext(t, d)
	c := d.Client()

	if _, err := view.Prepare(ctx, c, d.Namespace, "no-such-container"); !errdefs.IsNotFound(err) {
		t.Errorf("prepare of a missing container: %v, want not found", err)
	}
	if _, err := view.Prepare(ctx, c, d.Namespace, ""); !errdefs.IsInvalidArgument(err) {
		t.Errorf("prepare without id: %v, want invalid argument", err)
	}
	bare, err := c.NewContainer(ctx, "no-snapshot", client.WithNewSpec())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bare.Delete(context.WithoutCancel(ctx)) })
	if _, err := view.Prepare(ctx, c, d.Namespace, "no-snapshot"); !errdefs.IsFailedPrecondition(err) {
		t.Errorf("prepare of a container without snapshot: %v, want failed precondition", err)
	}
	if objs := harness.ArtifactfsObjects(t, ctx, c, "overlayfs"); len(objs) > 0 {
		t.Errorf("failed prepares left %v", objs)
	}

	sn := c.SnapshotService("blockfile")
	if _, err := sn.View(ctx, "unleased", ti.ChainID); err != nil {
		t.Fatal(err)
	}
	if err := d.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Stat(ctx, "unleased"); !errdefs.IsNotFound(err) {
		t.Errorf("unleased view after a GC pass: %v, want collected", err)
		_ = sn.Remove(ctx, "unleased")
	}
}

// TestViewConcurrent prepares the views of 10 containers concurrently, two
// Prepare calls racing for each, then releases them concurrently: one view
// and one lease per container, then nothing.
func TestViewConcurrent(t *testing.T) {
	d := harness.SharedDaemon(t, repo)
	ti := harness.SharedImage(t, d)
	ctx := harness.DaemonContext(t, d)
	c := d.Client()
	const sn, n = "overlayfs", 10
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("conc-%d", i)
		harness.PlainContainer(t, ctx, c, ids[i], sn, ti.Image)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	start := time.Now()
	for _, id := range ids {
		for range 2 {
			wg.Go(func() {
				if _, err := view.Prepare(ctx, c, d.Namespace, id); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	t.Logf("%d concurrent prepares: %s", 2*n, time.Since(start).Round(time.Millisecond))
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var want []string
	for _, id := range ids {
		want = append(want, "lease:"+view.LeaseID(d.Namespace, id), "view:"+view.Key(d.Namespace, id))
	}
	slices.Sort(want)
	if got := harness.ArtifactfsObjects(t, ctx, c, sn); !slices.Equal(got, want) {
		t.Errorf("after concurrent prepares:\n got %v\nwant %v", got, want)
	}
	errs = make(chan error, n)
	start = time.Now()
	for _, id := range ids {
		wg.Go(func() {
			if err := view.Release(ctx, c, d.Namespace, sn, id); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	t.Logf("%d concurrent releases: %s", n, time.Since(start).Round(time.Millisecond))
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := harness.ArtifactfsObjects(t, ctx, c, sn); len(got) > 0 {
		t.Errorf("after concurrent releases: %v", got)
	}
}
