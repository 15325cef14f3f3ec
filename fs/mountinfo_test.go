package fs

import "testing"

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		line string
		want mountEntry
		ok   bool
	}{
		{
			`36 35 98:0 / /mnt/with\040space rw,noatime master:1 - fuse.artifactfs artifactfs rw,user_id=0`,
			mountEntry{Mountpoint: "/mnt/with space", Options: "rw,noatime", FSType: "fuse.artifactfs", Source: "artifactfs"},
			true,
		},
		{
			`36 35 98:0 / /run ro,nosuid,nodev - tmpfs tmpfs rw`,
			mountEntry{Mountpoint: "/run", Options: "ro,nosuid,nodev", FSType: "tmpfs", Source: "tmpfs"},
			true,
		},
		{`36 35 98:0 / /run rw`, mountEntry{}, false},
		{``, mountEntry{}, false},
	}
	for _, tt := range tests {
		got, ok := parseMountinfo(tt.line)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseMountinfo(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
	if got := unescapeMountinfo(`a\134b\011c\0`); got != "a\\b\tc\\0" {
		t.Errorf("unescape = %q", got)
	}
}
