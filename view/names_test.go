package view

import (
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/pkg/identifiers"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct{ ns, id, want string }{
		{"default", "c1", "artifactfs/default/c1"},
		{"k8s.io", "3f9a_b-c.d", "artifactfs/k8s.io/3f9a_b-c.d"},
	} {
		if got := Key(tc.ns, tc.id); got != tc.want {
			t.Errorf("Key(%q, %q) = %q, want %q", tc.ns, tc.id, got, tc.want)
		}
		if got := LeaseID(tc.ns, tc.id); got != tc.want {
			t.Errorf("LeaseID(%q, %q) = %q, want %q", tc.ns, tc.id, got, tc.want)
		}
	}
	// Not identifiers: hashed, stable, distinct, and never ambiguous with
	// the plain form ("a/b" + "c" vs "a" + "b/c").
	seen := map[string]string{}
	for _, in := range [][2]string{{"a/b", "c"}, {"a", "b/c"}, {"ns", strings.Repeat("x", 77)}, {"ns", "-bad"}, {"", "c"}} {
		got := Key(in[0], in[1])
		if got != Key(in[0], in[1]) {
			t.Errorf("Key(%q) not stable", in)
		}
		rest, ok := strings.CutPrefix(got, Prefix+"h-")
		if !ok || len(rest) != 32 || identifiers.Validate(rest) != nil {
			t.Errorf("Key(%q) = %q, want %sh-<32 hex>", in, got, Prefix)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("Key(%q) = Key(%s) = %q", in, prev, got)
		}
		seen[got] = in[0] + "," + in[1]
	}
}
