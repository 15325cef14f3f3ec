package view

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/artifactfs/artifactfs/tests/harness"
	"github.com/artifactfs/artifactfs/view"
)

// TestViewShared prepares the shared view of ten containers of one image
// at once, in each snapshotter: one view, held by ten leases. Releasing
// them in a random order keeps the view until the last lease goes, and
// containerd's collector removes it then. Another namespace never shares it.
func TestViewShared(t *testing.T) {
	d := harness.SharedDaemon(t, repo)
	ti := harness.SharedImage(t, d)
	ctx := harness.DaemonContext(t, d)
	c := d.Client()
	const n = 10
	for _, sn := range []string{"blockfile", "overlayfs"} {
		t.Run(sn, func(t *testing.T) {
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("shared-%s-%d", sn, i)
				harness.PlainContainer(t, ctx, c, ids[i], sn, ti.Image)
			}
			views := make([]*view.View, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i, id := range ids {
				wg.Go(func() { views[i], errs[i] = view.PrepareShared(ctx, c, d.Namespace, id) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("PrepareShared %s: %v", ids[i], err)
				}
			}
			key := views[0].Key
			if !view.IsShared(key) || key != view.SharedKey(d.Namespace, sn, views[0].Parent) {
				t.Fatalf("key %q is not the shared key of %s", key, views[0].Parent)
			}
			want := []string{"view:" + key}
			for i, v := range views {
				if v.Key != key || len(v.Mounts) == 0 {
					t.Errorf("view of %s: key %q, %d mounts; want %q", ids[i], v.Key, len(v.Mounts), key)
				}
				want = append(want, "lease:"+view.LeaseID(d.Namespace, ids[i]))
			}
			slices.Sort(want)
			if got := harness.ArtifactfsObjects(t, ctx, c, sn); !slices.Equal(got, want) {
				t.Fatalf("after %d prepares:\n got %v\nwant %v", n, got, want)
			}
			found, err := view.List(ctx, c, d.Namespace)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range found {
				if f.Snapshotter == sn && f.Key != key {
					t.Errorf("List: %+v; want every lease holding %s", f, key)
				}
			}
			order := rand.Perm(n)
			for j, i := range order {
				if err := view.Release(ctx, c, d.Namespace, sn, ids[i]); err != nil {
					t.Fatal(err)
				}
				_, err := c.SnapshotService(sn).Stat(ctx, key)
				if last := j == n-1; last != (err != nil) {
					t.Fatalf("after %d of %d releases: stat of the shared view: %v", j+1, n, err)
				}
			}
			if got := harness.ArtifactfsObjects(t, ctx, c, sn); len(got) > 0 {
				t.Errorf("after every release: %v", got)
			}
		})
	}
	harness.RequireNoMounts(t, d.Dir)
}

// TestViewSharedNotAcrossNamespaces: the same image in another namespace
// gets a view of its own.
func TestViewSharedNotAcrossNamespaces(t *testing.T) {
	a, b := view.SharedKey("ns1", "overlayfs", "sha256:p"), view.SharedKey("ns2", "overlayfs", "sha256:p")
	if a == b || a == view.SharedKey("ns1", "blockfile", "sha256:p") || a == view.SharedKey("ns1", "overlayfs", "sha256:q") {
		t.Errorf("shared keys collide across namespace, snapshotter or parent: %s %s", a, b)
	}
	if view.SharedName(a) == "" || view.SharedName(view.Key("ns1", "c")) != "" || !view.IsShared(a) {
		t.Errorf("SharedName/IsShared of %s", a)
	}
}
