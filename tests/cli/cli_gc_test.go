package cli

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/mount"

	"github.com/artifactfs/artifactfs/internal/layout"
	"github.com/artifactfs/artifactfs/tests/harness"
	"github.com/artifactfs/artifactfs/view"
)

// TestCLIGCAfterCrash leaves behind what a crash between the shim's steps
// would — a leased view, the view mounted (with its loop device), a
// per-container FUSE mount whose server was killed — for a container that
// is then deleted, next to a live container, and checks that `artifactfs
// status` reports it stale and `artifactfs gc` removes exactly it.
func TestCLIGCAfterCrash(t *testing.T) {
	harness.RequireFUSE(t)
	d := harness.SharedDaemon(t, repo)
	img := harness.SharedImage(t, d)
	ctx := harness.DaemonContext(t, d)
	c := d.Client()
	root := t.TempDir()
	ns := d.Namespace

	live := harness.PlainContainer(t, ctx, c, "gc-live", "blockfile", img.Image)
	if _, err := view.Prepare(ctx, c, ns, live.ID()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { view.Release(ctx, c, ns, "blockfile", live.ID()) })

	orphan := harness.PlainContainer(t, ctx, c, "gc-orphan", "blockfile", img.Image)
	v, err := view.Prepare(ctx, c, ns, orphan.ID())
	if err != nil {
		t.Fatal(err)
	}
	// The directories as the shim makes them: marked as artifactfs's own.
	perContainer, viewDir, err := layout.MakeContainerDirs(root, ns, orphan.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := mount.All(v.Mounts, viewDir); err != nil {
		t.Fatal(err)
	}
	r := cli(t, "mount", "--background", "--dir", viewDir, perContainer)
	pid := regexp.MustCompile(`pid (\d+)`).FindStringSubmatch(r.stdout)
	if r.code != 0 || pid == nil {
		t.Fatalf("mount: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	n, _ := strconv.Atoi(pid[1])
	syscall.Kill(n, syscall.SIGKILL) // the crash: the server dies, the mount goes stale
	if err := orphan.Delete(ctx, client.WithSnapshotCleanup); err != nil {
		t.Fatal(err)
	}

	r = cli(t, "status", "--root", root)
	if r.code != 0 || !strings.Contains(r.stdout, "gc-orphan") || !strings.Contains(r.stdout, "stale") {
		t.Fatalf("status after the crash: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	gc := []string{"gc", "--address", d.Address, "--namespace", ns, "--root", root}
	r = cli(t, append(gc, "--dry-run")...)
	if r.code != 0 || strings.Count(r.stdout, "would remove") != 3 || strings.Contains(r.stdout, "gc-live") {
		t.Fatalf("gc --dry-run: exit %d, want 3 items of gc-orphan only\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !harness.IsMounted(t, viewDir) {
		t.Fatal("gc --dry-run unmounted the view")
	}

	r = cli(t, gc...)
	if r.code != 0 || strings.Count(r.stdout, "removed") != 3 {
		t.Fatalf("gc: exit %d, want 3 items removed\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, p := range []string{viewDir, perContainer} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s left after gc: %v", p, err)
		}
	}
	harness.RequireNoMounts(t, root, d.Dir)
	if got := harness.ArtifactfsObjects(t, ctx, c, "blockfile"); len(got) != 2 || !strings.Contains(strings.Join(got, " "), "gc-live") {
		t.Errorf("artifactfs objects after gc = %v; want the live container's lease and view only", got)
	}
	r = cli(t, gc...)
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to remove") {
		t.Fatalf("second gc: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
