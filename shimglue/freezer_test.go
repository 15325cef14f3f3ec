package shimglue

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCgroupDir(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"/default/c1", "default/c1"},
		{"/../../etc", "etc"},
		{"k8s/c1", "k8s/c1"},
		{"system.slice:cri-containerd:abc", "system.slice/cri-containerd-abc.scope"},
		{"kubepods-besteffort-pod1.slice:cri-containerd:abc", "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope"},
		{":runc:abc", "system.slice/runc-abc.scope"},
		{"-.slice:p:abc", "p-abc.scope"},
		{"user.slice::my.slice", "user.slice/my.slice"},
	} {
		got, err := cgroupDir(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("cgroupDir(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"a:b", "a:b:c:d", "a--b.slice:p:x", "sys/x.slice:p:x"} {
		if got, err := cgroupDir(bad); err == nil {
			t.Errorf("cgroupDir(%q) = %q, want an error", bad, got)
		}
	}
}

// TestThawLeftFrozen runs thawLeftFrozen on a cgroup tree made of plain
// files, as cgroup v1 and v2 lay them out.
func TestThawLeftFrozen(t *testing.T) {
	for _, tt := range []struct {
		name, file, state, want string
		v2, thawed              bool
	}{
		{"v1 frozen", "freezer/ns/c1/freezer.state", "FROZEN\n", "THAWED", false, true},
		{"v1 freezing", "freezer/ns/c1/freezer.state", "FREEZING\n", "THAWED", false, true},
		{"v1 thawed", "freezer/ns/c1/freezer.state", "THAWED\n", "THAWED\n", false, false},
		{"v2 frozen", "ns/c1/cgroup.freeze", "1\n", "0", true, true},
		{"v2 thawed", "ns/c1/cgroup.freeze", "0\n", "0\n", true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			old := cgroupRoot
			cgroupRoot = root
			t.Cleanup(func() { cgroupRoot = old })
			if tt.v2 {
				if err := os.WriteFile(filepath.Join(root, "cgroup.controllers"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			p := filepath.Join(root, tt.file)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(tt.state), 0o644); err != nil {
				t.Fatal(err)
			}
			thawed, err := thawLeftFrozen("/ns/c1")
			if err != nil || thawed != tt.thawed {
				t.Fatalf("thawLeftFrozen = %v, %v; want %v", thawed, err, tt.thawed)
			}
			if b, _ := os.ReadFile(p); string(b) != tt.want {
				t.Errorf("state file = %q, want %q", b, tt.want)
			}
			if thawed, err := thawLeftFrozen("/ns/gone"); thawed || err != nil {
				t.Errorf("a cgroup that does not exist: %v, %v", thawed, err)
			}
		})
	}
}
