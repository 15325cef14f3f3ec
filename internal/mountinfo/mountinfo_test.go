package mountinfo

import "testing"

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		line string
		want Entry
		ok   bool
	}{
		{
			`36 35 98:0 / /mnt/with\040space rw,noatime master:1 - fuse.artifactfs artifactfs rw,user_id=0`,
			Entry{Mountpoint: "/mnt/with space", Options: "rw,noatime", FSType: "fuse.artifactfs", Source: "artifactfs"},
			true,
		},
		{
			`36 35 98:0 / /run ro,nosuid,nodev - tmpfs tmpfs rw`,
			Entry{Mountpoint: "/run", Options: "ro,nosuid,nodev", FSType: "tmpfs", Source: "tmpfs"},
			true,
		},
		{`36 35 98:0 / /run rw`, Entry{}, false},
		{``, Entry{}, false},
	}
	for _, tt := range tests {
		got, ok := Parse(tt.line)
		if ok != tt.ok || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
	if got := unescape(`a\134b\011c\0`); got != "a\\b\tc\\0" {
		t.Errorf("unescape = %q", got)
	}
}
