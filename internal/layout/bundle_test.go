package layout

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadSpec(t *testing.T) {
	bundle := t.TempDir()
	config := `{"ociVersion":"1.2.0","process":{"args":["/init"]},"root":{"path":"rootfs"},
		"annotations":{"com.urunc.unikernel.snapshotView":"true","com.urunc.unikernel.mountRootfs":"true"}}`
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := ReadSpec(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if got := spec.Annotations["com.urunc.unikernel.snapshotView"]; got != "true" {
		t.Errorf("snapshotView annotation = %q, want true", got)
	}
	if _, err := ReadSpec(t.TempDir()); err == nil {
		t.Error("ReadSpec of a bundle without config.json succeeded")
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "config.json"), []byte("{"), 0o644)
	if _, err := ReadSpec(bad); err == nil {
		t.Error("ReadSpec of a malformed config.json succeeded")
	}
}
