package artifactbind

import (
	"errors"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"default", true},
		{"k8s.io", true},
		{"a-b_c.d", true},
		{strings.Repeat("a", 255), true},
		{"", false},
		{".", false},
		{"..", false},
		{".views", false},
		{"a/b", false},
		{"/a", false},
		{"a\x00b", false},
		{strings.Repeat("a", 256), false},
	}
	for _, tt := range tests {
		err := ValidName(tt.name)
		if got := err == nil; got != tt.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidName(%q) = %v, does not wrap ErrInvalidName", tt.name, err)
		}
	}
}

func TestContainerPath(t *testing.T) {
	got, err := ContainerPath("/run/artifactfs", "default", "c1")
	if err != nil || got != "/run/artifactfs/default/c1" {
		t.Errorf("ContainerPath = %q, %v", got, err)
	}
	for _, bad := range [][2]string{{"..", "c1"}, {"default", "../../etc"}, {"default", ""}, {"a/b", "c"}} {
		if p, err := ContainerPath("/run/artifactfs", bad[0], bad[1]); err == nil {
			t.Errorf("ContainerPath(%q, %q) = %q, want an error", bad[0], bad[1], p)
		}
	}
	if got := ViewMountpoint("/r", "ns", "id"); got != "/r/.views/ns/id" {
		t.Errorf("ViewMountpoint = %q", got)
	}
}
