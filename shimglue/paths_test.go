package shimglue

import "testing"

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
