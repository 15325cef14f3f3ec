package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// TestCLIBundleSource reads a bundle without an artifactfs state file: its
// config.json annotations choose the artifacts (they name an
// /unikernel/app.hvt that urunc.json does not), from its rootfs as a plain
// directory and as a loop-mounted block device read directly.
func TestCLIBundleSource(t *testing.T) {
	testimage.RequireRoot(t, "loop-mounts the bundle's rootfs")
	tree := sampleTree(t, map[string][]byte{"unikernel/app.hvt": testimage.Payload(5, 40_000)})
	spec := specs.Spec{Annotations: map[string]string{
		artifact.AnnotationType:       "solo5",
		artifact.AnnotationHypervisor: "hvt",
		artifact.AnnotationBinary:     "/unikernel/app.hvt",
	}}
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	newBundle := func() string {
		b := t.TempDir()
		if err := os.WriteFile(filepath.Join(b, "config.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		return b
	}

	dirBundle := newBundle()
	if err := os.Symlink(tree, filepath.Join(dirBundle, "rootfs")); err != nil {
		t.Fatal(err)
	}
	blockBundle := newBundle()
	rootfs := filepath.Join(blockBundle, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	testimage.Run(t, "mount", "-o", "loop,ro", testimage.Mkfs(t, tree, 16), rootfs)
	t.Cleanup(func() { testimage.Run(t, "umount", rootfs) })

	for name, bundle := range map[string]string{"dir": dirBundle, "block": blockBundle} {
		t.Run(name, func(t *testing.T) {
			r := cli(t, "ls", "--bundle", bundle)
			if r.code != 0 || !strings.Contains(r.stdout, "kernel  /unikernel/app.hvt  40000") || strings.Contains(r.stdout, "initrd") {
				t.Fatalf("ls --bundle: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			r = cli(t, "stat", "--bundle", bundle)
			wantSource := map[string]string{"dir": "source: dir ", "block": "source: image /dev/loop"}[name]
			if r.code != 0 || !strings.Contains(r.stdout, wantSource) || !strings.Contains(r.stdout, "configuration: annotations") {
				t.Fatalf("stat --bundle: exit %d, want %q\n%s%s", r.code, wantSource, r.stdout, r.stderr)
			}
		})
	}
	requireOneLineError(t, cli(t, "ls", "--bundle", t.TempDir()), 4, "config.json")
}
