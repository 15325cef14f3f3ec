package mounttable

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Entry is one line of /proc/self/mountinfo.
type Entry struct {
	Mountpoint string
	Options    string // per-mount options, e.g. "ro,nosuid,nodev,relatime"
	FSType     string
	Source     string
	// Major and Minor are the device number of the mounted file system
	// (the MAJ:MIN column): for FUSE, what names its connection.
	Major, Minor uint32
}

// Find returns the topmost mount at mountpoint (an absolute path with
// symlinks resolved), and whether there is one.
func Find(mountpoint string) (Entry, bool, error) {
	all, err := All()
	if err != nil {
		return Entry{}, false, err
	}
	var found Entry
	ok := false
	for _, e := range all {
		if e.Mountpoint == mountpoint {
			found, ok = e, true // later lines are mounted on top
		}
	}
	return found, ok, nil
}

// Under returns every mount at or below dir (an absolute, canonical path),
// in mount order.
func Under(dir string) ([]Entry, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	var found []Entry
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for _, e := range all {
		if e.Mountpoint == dir || strings.HasPrefix(e.Mountpoint, prefix) {
			found = append(found, e)
		}
	}
	return found, nil
}

// Mountpoints returns the mount points at or below dir, deepest first,
// one per mount: a path with mounts stacked on it comes once for each.
// An empty dir has none.
func Mountpoints(dir string) ([]string, error) {
	if dir == "" {
		return nil, nil
	}
	infos, err := Under(dir)
	if err != nil {
		return nil, err
	}
	mps := make([]string, 0, len(infos))
	for _, m := range infos {
		mps = append(mps, m.Mountpoint)
	}
	sort.SliceStable(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	return mps, nil
}

// All returns the mount table of this process, in mount order.
func All() ([]Entry, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	var all []Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if e, ok := Parse(sc.Text()); ok {
			all = append(all, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	return all, nil
}

// Parse parses one mountinfo line (proc(5)):
// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
func Parse(line string) (Entry, bool) {
	fields := strings.Fields(line)
	sep := -1
	for i := 6; i < len(fields); i++ {
		if fields[i] == "-" {
			sep = i
			break
		}
	}
	if len(fields) < 6 || sep < 0 || sep+2 >= len(fields) {
		return Entry{}, false
	}
	majText, minText, _ := strings.Cut(fields[2], ":")
	major, err1 := strconv.ParseUint(majText, 10, 32)
	minor, err2 := strconv.ParseUint(minText, 10, 32)
	if err1 != nil || err2 != nil {
		return Entry{}, false
	}
	return Entry{
		Mountpoint: unescape(fields[4]),
		Options:    fields[5],
		FSType:     fields[sep+1],
		Source:     unescape(fields[sep+2]),
		Major:      uint32(major),
		Minor:      uint32(minor),
	}, true
}

// unescape undoes the octal escapes (\040 for a space) the kernel
// writes for blanks and backslashes.
func unescape(s string) string {
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

// Canonical makes mountpoint absolute and resolves symlinks in
// its parent only, so that it works on a stale mount (whose own stat fails)
// and matches the kernel's mount table.
func Canonical(mountpoint string) (string, error) {
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
