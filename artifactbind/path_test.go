package artifactbind

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckFilePath(t *testing.T) {
	tests := []struct {
		p          string
		path, file bool // accepted by CheckPath, by CheckFilePath
	}{
		{"/.boot/kernel", true, true},
		{"/urunc.json", true, true},
		{"/" + strings.Repeat("n", MaxPathNameLen), true, true},
		{"/", true, false},
		{"/a//b", true, false},
		{"/a/./b", true, false},
		{"/../../etc/passwd", true, false},
		{"/a/", true, false},
		{"", false, false},
		{"relative/kernel", false, false},
		{"/a\x00b", false, false},
		{"/" + strings.Repeat("a", MaxPathLen), false, false},
		{"/" + strings.Repeat("n", MaxPathNameLen+1), false, false},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			name  string
			check func(string) error
			want  bool
		}{{"CheckPath", CheckPath, tt.path}, {"CheckFilePath", CheckFilePath, tt.file}} {
			err := c.check(tt.p)
			if got := err == nil; got != c.want {
				t.Errorf("%s(%.40q) = %v, want ok=%v", c.name, tt.p, err, c.want)
			}
			if err != nil && !errors.Is(err, ErrInvalidPath) {
				t.Errorf("%s(%.40q) = %v, does not wrap ErrInvalidPath", c.name, tt.p, err)
			}
		}
	}
}
