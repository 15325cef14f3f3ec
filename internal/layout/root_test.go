package layout

import (
	"testing"

	"github.com/artifactfs/artifactfs/artifactbind"
)

func TestRootFromEnv(t *testing.T) {
	t.Setenv(RootEnv, "")
	if got := RootFromEnv(); got != DefaultRoot {
		t.Errorf("RootFromEnv() = %q, want %q", got, DefaultRoot)
	}
	t.Setenv(RootEnv, "/tmp/x/../y/")
	if got := RootFromEnv(); got != "/tmp/y" {
		t.Errorf("RootFromEnv() = %q, want /tmp/y", got)
	}
}

func TestFSName(t *testing.T) {
	for _, mode := range []artifactbind.Mode{artifactbind.ModeFUSE, artifactbind.ModeDirect, artifactbind.ModeBind, artifactbind.ModeCopy} {
		if got, ok := ModeOf(FSName(mode)); !ok || got != mode {
			t.Errorf("ModeOf(FSName(%s)) = %s, %v", mode, got, ok)
		}
	}
	if _, ok := ModeOf("tmpfs"); ok {
		t.Error("ModeOf(tmpfs) names a mode")
	}
}
