package fs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// fsType is the filesystem type of every artifactfs mount ("fuse." plus
// the FUSE subtype), whatever its FSName.
const fsType = "fuse.artifactfs"

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	Mountpoint string
	Options    string // per-mount options, e.g. "ro,nosuid,nodev,relatime"
	FSType     string
	Source     string
}

// findMount returns the topmost mount at mountpoint (an absolute path with
// symlinks resolved), and whether there is one.
func findMount(mountpoint string) (mountEntry, bool, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return mountEntry{}, false, fmt.Errorf("read mount table: %w", err)
	}
	var found mountEntry
	ok := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		e, valid := parseMountinfo(sc.Text())
		if valid && e.Mountpoint == mountpoint {
			found, ok = e, true // later lines are mounted on top
		}
	}
	if err := sc.Err(); err != nil {
		return mountEntry{}, false, fmt.Errorf("read mount table: %w", err)
	}
	return found, ok, nil
}

// parseMountinfo parses one mountinfo line (proc(5)):
// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
func parseMountinfo(line string) (mountEntry, bool) {
	fields := strings.Fields(line)
	sep := -1
	for i := 6; i < len(fields); i++ {
		if fields[i] == "-" {
			sep = i
			break
		}
	}
	if len(fields) < 6 || sep < 0 || sep+2 >= len(fields) {
		return mountEntry{}, false
	}
	return mountEntry{
		Mountpoint: unescapeMountinfo(fields[4]),
		Options:    fields[5],
		FSType:     fields[sep+1],
		Source:     unescapeMountinfo(fields[sep+2]),
	}, true
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) the kernel
// writes for blanks and backslashes.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// canonicalMountpoint makes mountpoint absolute and resolves symlinks in
// its parent only, so that it works on a stale mount (whose own stat fails)
// and matches the kernel's mount table.
func canonicalMountpoint(mountpoint string) (string, error) {
	abs, err := filepath.Abs(mountpoint)
	if err != nil {
		return "", fmt.Errorf("mountpoint %s: %w", mountpoint, err)
	}
	if abs == "/" {
		return abs, nil
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return "", fmt.Errorf("mountpoint %s: %w", mountpoint, err)
	}
	return filepath.Join(parent, filepath.Base(abs)), nil
}
