package mounttable

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		line string
		want Entry
		ok   bool
	}{
		{
			`36 35 98:7 / /mnt/with\040space rw,noatime master:1 - fuse.artifactfs artifactfs rw,user_id=0`,
			Entry{Mountpoint: "/mnt/with space", Options: "rw,noatime", FSType: "fuse.artifactfs", Source: "artifactfs", Major: 98, Minor: 7},
			true,
		},
		{
			`36 35 98:7 / /run ro,nosuid,nodev - tmpfs tmpfs rw`,
			Entry{Mountpoint: "/run", Options: "ro,nosuid,nodev", FSType: "tmpfs", Source: "tmpfs", Major: 98, Minor: 7},
			true,
		},
		{`36 35 98:7 / /run rw`, Entry{}, false},
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
