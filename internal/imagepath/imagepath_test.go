package imagepath

import (
	"errors"
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"/", "/"},
		{"/.boot/kernel", "/.boot/kernel"},
		{"/a//b/./c/", "/a/b/c"},
		{"/../../etc/passwd", "/etc/passwd"},
		{"/a/../../b", "/b"},
	}
	for _, tt := range tests {
		got, err := Clean(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Clean(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCleanRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"relative/kernel",
		"/a\x00b",
		"/" + strings.Repeat("a", MaxLen),
		"/" + strings.Repeat("n", MaxNameLen+1),
	} {
		if got, err := Clean(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("Clean(%.40q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
}

func TestJoinTarget(t *testing.T) {
	tests := []struct {
		link, target, want string
	}{
		{"/.boot/kernel", "vmlinuz", "/.boot/vmlinuz"},
		{"/.boot/kernel", "/opt/k", "/opt/k"},
		{"/.boot/kernel", "../../../../etc/shadow", "/etc/shadow"},
		{"/a", "..", "/"},
	}
	for _, tt := range tests {
		if got := JoinTarget(tt.link, tt.target); got != tt.want {
			t.Errorf("JoinTarget(%q, %q) = %q; want %q", tt.link, tt.target, got, tt.want)
		}
	}
}

func TestSplit(t *testing.T) {
	if got := Split("/"); len(got) != 0 {
		t.Errorf("Split(/) = %q; want none", got)
	}
	if got := strings.Join(Split("/a/b"), ","); got != "a,b" {
		t.Errorf("Split(/a/b) = %q; want a,b", got)
	}
}
