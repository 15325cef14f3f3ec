package view

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/mount"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
	"github.com/artifactfs/artifactfs/view"
)

// checkViewContent mounts v read-only on a temp dir, compares every file of
// the image with what the mount serves, checks that a write fails with
// EROFS, and unmounts.
func checkViewContent(t *testing.T, v *view.View, files map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	start := time.Now()
	if err := mount.All(v.Mounts, dir); err != nil {
		t.Fatalf("mount view %+v: %v", v.Mounts, err)
	}
	mounted := time.Since(start)
	defer func() {
		if err := mount.UnmountAll(dir, 0); err != nil {
			t.Errorf("unmount view: %v", err)
		}
	}()
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Errorf("read %s from the view: %v", p, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, sha256 %s; want %d bytes, sha256 %s",
				p, len(got), testimage.SHA256(got), len(want), testimage.SHA256(want))
		}
	}
	err := os.WriteFile(filepath.Join(dir, "written"), []byte("x"), 0o644)
	if !errors.Is(err, syscall.EROFS) {
		t.Errorf("write into the view: got %v, want EROFS", err)
	}
	t.Logf("mount of the view %s", mounted.Round(10*time.Microsecond))
}

// checkMounts checks the shape of the view's mounts for snapshotter sn.
func checkMounts(t *testing.T, d *ctrtest.Daemon, sn string, ms []mount.Mount) {
	t.Helper()
	if len(ms) != 1 {
		t.Fatalf("%s view: %d mounts %+v, want 1", sn, len(ms), ms)
	}
	m := ms[0]
	want := map[string][]string{"blockfile": {"ro", "loop"}, "overlayfs": {"ro", "rbind"}, "native": {"ro", "rbind"}}[sn]
	for _, o := range want {
		if !slices.Contains(m.Options, o) {
			t.Errorf("%s view mount %+v: option %q missing", sn, m, o)
		}
	}
	wantType, wantDir := "bind", filepath.Join(d.Root, "io.containerd.snapshotter.v1."+sn, "snapshots")
	if sn == "blockfile" {
		wantType = "ext4"
	}
	if m.Type != wantType || !strings.HasPrefix(m.Source, wantDir+"/") {
		t.Errorf("%s view mount %+v: want type %s from under %s", sn, m, wantType, wantDir)
	}
}

// TestViewSnapshotters prepares, reuses and releases the view of a
// container on each snapshotter, reading the artifacts through a kernel
// mount of it, and checks that containerd's collector leaves a leased view
// alone.
func TestViewSnapshotters(t *testing.T) {
	d := harness.SharedDaemon(t, repo)
	ti := harness.SharedImage(t, d)
	for _, sn := range harness.ViewSnapshotters {
		t.Run(sn, func(t *testing.T) {
			ctx := harness.DaemonContext(t, d)
			c := d.Client()
			id := "view-" + sn
			harness.PlainContainer(t, ctx, c, id, sn, ti.Image)

			start := time.Now()
			v, err := view.Prepare(ctx, c, d.Namespace, id)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("prepare %s", time.Since(start).Round(10*time.Microsecond))
			want := view.View{Namespace: d.Namespace, ContainerID: id, Snapshotter: sn,
				Key: view.Key(d.Namespace, id), LeaseID: view.LeaseID(d.Namespace, id), Parent: ti.ChainID}
			got := *v
			got.Mounts = nil
			if !equalViews(&got, &want) {
				t.Errorf("view\n got %+v\nwant %+v", got, want)
			}
			checkMounts(t, d, sn, v.Mounts)
			var decoded view.View
			if b, err := json.Marshal(v); err != nil || json.Unmarshal(b, &decoded) != nil || !equalViews(&decoded, v) {
				t.Errorf("JSON round trip of %+v: %+v, %v", v, decoded, err)
			}
			checkViewContent(t, v, ti.Files)
			harness.RequireNoMounts(t, d.Dir)

			// Again: the same view and lease, nothing duplicated.
			v2, err := view.Prepare(ctx, c, d.Namespace, id)
			if err != nil {
				t.Fatal(err)
			}
			if !equalViews(v2, v) {
				t.Errorf("second prepare: %+v, want %+v", v2, v)
			}
			wantObjs := []string{"lease:" + v.LeaseID, "view:" + v.Key}
			if objs := harness.ArtifactfsObjects(t, ctx, c, sn); !slices.Equal(objs, wantObjs) {
				t.Errorf("after two prepares: %v, want %v", objs, wantObjs)
			}

			// A GC pass keeps the leased view.
			if err := d.GC(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := c.SnapshotService(sn).Stat(ctx, v.Key); err != nil {
				t.Errorf("leased view after a GC pass: %v", err)
			}

			start = time.Now()
			if err := view.Release(ctx, c, d.Namespace, sn, id); err != nil {
				t.Fatal(err)
			}
			t.Logf("release %s", time.Since(start).Round(10*time.Microsecond))
			if objs := harness.ArtifactfsObjects(t, ctx, c, sn); len(objs) > 0 {
				t.Errorf("after release: %v left", objs)
			}
			if err := view.Release(ctx, c, d.Namespace, sn, id); err != nil {
				t.Errorf("second release: %v", err)
			}
			if err := view.Release(ctx, c, d.Namespace, "", id); err != nil {
				t.Errorf("release without snapshotter: %v", err)
			}
			harness.RequireNoMounts(t, d.Dir)
		})
	}
}

func equalViews(a, b *view.View) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
