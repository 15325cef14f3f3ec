package plugin

import "testing"

func TestServeArgs(t *testing.T) {
	for _, tt := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"-namespace", "default", "-id", "c1", "-address", "/run/containerd/containerd.sock"}, true},
		{[]string{"-namespace", "default", "-id", "c1", "-address", "/a.sock", "-debug"}, true},
		{[]string{"-namespace", "default", "-id", "c1", "-address", "/a.sock", "start"}, false},
		{[]string{"-namespace", "default", "-id", "c1", "-address", "/a.sock", "-bundle", "/b", "delete"}, false},
		{[]string{"-namespace", "default", "-address", "/a.sock"}, false},
		{[]string{"-unknown-flag", "-namespace", "default", "-id", "c1", "-address", "/a.sock"}, false},
		{nil, false},
	} {
		ns, id, addr, ok := serveArgs(tt.args)
		if ok != tt.ok {
			t.Errorf("serveArgs(%q) ok = %v, want %v", tt.args, ok, tt.ok)
		}
		if ok && (ns != "default" || id != "c1" || addr == "") {
			t.Errorf("serveArgs(%q) = %q, %q, %q", tt.args, ns, id, addr)
		}
	}
}
