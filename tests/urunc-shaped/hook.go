package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/artifactfs/artifactfs/internal/guest"
)

// hookBind is the hook: args are the plan's path; stdin is the OCI state.
func hookBind(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: urunc-shaped %s PLAN", hookCommand)
	}
	var p plan
	data, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("plan %s: %w", args[0], err)
	}
	var rec guest.Record
	var st specs.State
	if in, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20)); err == nil && json.Unmarshal(in, &st) == nil {
		rec.Pid, rec.Status = st.Pid, string(st.Status)
	}
	if rec.MountNS, err = os.Readlink("/proc/self/ns/mnt"); err != nil {
		return err
	}
	if root, ok, err := findMount("/"); err != nil {
		return err
	} else if ok {
		rec.RootPropagation = root.optional
	}
	if err := fill(&p, &rec); err != nil {
		return err
	}
	return writeJSON(p.Record, rec)
}

// fill binds the artifacts from the per-container path when the bundle
// has a ready state, else copies them from the container's rootfs, as
// urunc's preSetup would with artifactfs.
func fill(p *plan, rec *guest.Record) error {
	state, err := loadState(p.Bundle)
	if err != nil {
		rec.StateError = err.Error()
	}
	if err == nil && state.Ready() {
		if err := bindArtifacts(state, p.MonRootfs); err != nil {
			return err
		}
		rec.Mode, rec.StateMode, rec.StatePath = "bind", string(state.Mode), state.Path
		for _, a := range state.Artifacts {
			target := p.MonRootfs + a.Path
			ra := guest.RecordedArtifact{Path: a.Path}
			if m, ok, err := findMount(target); err != nil {
				return err
			} else if ok {
				ra.MountSource, ra.MountFSType, ra.MountOptions = m.source, m.fstype, m.options
			}
			if fi, err := os.Stat(target); err == nil {
				ra.Size = fi.Size()
			}
			rec.Artifacts = append(rec.Artifacts, ra)
		}
		return nil
	}
	rec.Mode = "copy"
	for _, name := range []string{p.Kernel, p.Initrd, p.Config} {
		if name == "" {
			continue
		}
		n, err := copyArtifact(filepath.Join(p.Rootfs, name), filepath.Join(p.MonRootfs, name))
		if err != nil {
			return err
		}
		rec.Artifacts = append(rec.Artifacts, guest.RecordedArtifact{Path: name, Size: n})
	}
	return nil
}

// copyArtifact copies the regular file src to dst (parents created).
func copyArtifact(src, dst string) (int64, error) {
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return 0, fmt.Errorf("copy artifact: %w", err)
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("copy artifact %s: not a regular file", src)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, fmt.Errorf("copy artifact: %w", err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, fmt.Errorf("copy artifact: %w", err)
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("copy artifact %s: %w", src, err)
	}
	return n, nil
}

// mountEntry is a line of /proc/self/mountinfo.
type mountEntry struct {
	mountpoint, options, optional, fstype, source string
}

// findMount returns the topmost mount at mountpoint in this process's
// mount namespace.
func findMount(mountpoint string) (mountEntry, bool, error) {
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return mountEntry{}, false, fmt.Errorf("mount table: %w", err)
	}
	defer f.Close()
	var found mountEntry
	ok := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 6 || len(fields) < sep+3 || unescape(fields[4]) != mountpoint {
			continue
		}
		found = mountEntry{mountpoint: mountpoint, options: fields[5],
			optional: strings.Join(fields[6:sep], " "), fstype: fields[sep+1], source: unescape(fields[sep+2])}
		ok = true
	}
	if err := sc.Err(); err != nil {
		return mountEntry{}, false, fmt.Errorf("mount table: %w", err)
	}
	return found, ok, nil
}

// unescape undoes mountinfo's octal escapes (\040 for a space, ...).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
