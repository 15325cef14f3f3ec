package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/layout"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/shimglue"
)

// TestCleanupBundleViewContainment hands `artifactfs ls --bundle` state
// files whose view mount point leads to host files: a symlink where the
// view mount point belongs, and a path outside the root. Both are refused;
// the host files are never read as an image.
func TestCleanupBundleViewContainment(t *testing.T) {
	testimage.RequireRoot(t, "marking the root takes a trusted.* xattr")
	root := t.TempDir()
	t.Setenv(shimglue.RootEnv, root)
	if _, _, err := layout.MakeContainerDirs(root, "other", "x"); err != nil {
		t.Fatal(err)
	}
	// A host directory that looks like an image: urunc.json and a kernel.
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, ".boot"), 0o755); err != nil {
		t.Fatal(err)
	}
	js, err := artifact.EncodeUruncJSON(ctrtest.SampleConfig())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"urunc.json": string(js), ".boot/kernel": "host secret", ".boot/initrd": "host initrd"}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(host, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	viewsNS := filepath.Join(root, ".views", "default")
	if err := os.MkdirAll(viewsNS, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(viewsNS, "c1")); err != nil {
		t.Fatal(err)
	}

	for name, viewMountpoint := range map[string]string{
		"symlinked view mount point": filepath.Join(viewsNS, "c1"),
		"view outside the root":      filepath.Join(host, ".views", "default", "c1"),
	} {
		t.Run(name, func(t *testing.T) {
			if name == "view outside the root" {
				if err := os.MkdirAll(filepath.Dir(viewMountpoint), 0o755); err != nil {
					t.Fatal(err)
				}
				os.Symlink(host, viewMountpoint)
			}
			bundle := t.TempDir()
			spec := map[string]any{"ociVersion": "1.0.2", "annotations": map[string]string{artifact.AnnotationSnapshotView: "true"}}
			state := map[string]any{
				"version": 1, "container_id": "c1", "namespace": "default", "mode": "fuse",
				"path": filepath.Join(root, "default", "c1"), "view_mountpoint": viewMountpoint,
			}
			for file, v := range map[string]any{"config.json": spec, artifactbind.StateFile: state} {
				data, _ := json.Marshal(v)
				if err := os.WriteFile(filepath.Join(bundle, file), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r := cli(t, "cat", "--bundle", bundle, "kernel")
			if r.code == 0 || r.stdout == "host secret" {
				t.Fatalf("cat --bundle read host files through the view mount point: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}
