package artifactbind

import (
	"errors"
	"testing"
)

func TestCheckRoot(t *testing.T) {
	root := "/run/artifactfs"
	tests := []struct {
		name   string
		modify func(s *State)
		ok     bool
	}{
		{"as written", func(*State) {}, true},
		{"no view mountpoint", func(s *State) { s.ViewMountpoint = "" }, true},
		{"path under another root", func(s *State) { s.Path = "/tmp/victim/default/c1" }, false},
		{"view under another root", func(s *State) { s.ViewMountpoint = "/tmp/victim/.views/default/c1" }, false},
		{"path of another container", func(s *State) { s.Path = "/run/artifactfs/default/c2" }, false},
		{"path nested deeper", func(s *State) { s.Path = "/run/artifactfs/x/default/c1" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sampleState(root)
			tt.modify(s)
			err := s.CheckRoot(root + "/")
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrNotOwnedPath)) {
				t.Errorf("CheckRoot = %v, want ok %v (or ErrNotOwnedPath)", err, tt.ok)
			}
		})
	}
}

func TestLoadStateRefusesBadViewMounts(t *testing.T) {
	for name, m := range map[string]Mount{
		"NUL in source":   {Type: "ext4", Source: "/dev/vdb\x00x"},
		"relative source": {Type: "ext4", Source: "../../etc/shadow"},
		"no type":         {Source: "/dev/vdb"},
	} {
		t.Run(name, func(t *testing.T) {
			s := sampleState("/run/artifactfs")
			s.ViewMounts = []Mount{m}
			if err := WriteState(t.TempDir(), s); !errors.Is(err, ErrNotOwnedPath) {
				t.Errorf("WriteState = %v, want ErrNotOwnedPath", err)
			}
		})
	}
}
