package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/layout"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// names returns the names in dir, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestCLIExtractMakesDir runs the README's extract line into a directory
// that does not exist yet, from --dir and from --image: DIR is made (mode
// 0700) with the artifacts in it and nothing else is made beside it. A
// missing parent, a symlinked parent and a symlink as DIR are refused in
// one line, making nothing anywhere.
func TestCLIExtractMakesDir(t *testing.T) {
	testimage.RequireTools(t, "mkfs.ext4")
	view := sampleTree(t, nil)
	img := testimage.Mkfs(t, sampleTree(t, nil), 16)
	for _, src := range [][]string{{"--dir", view}, {"--image", img}} {
		t.Run(src[0], func(t *testing.T) {
			work := t.TempDir()
			r := cliIn(t, work, append(append([]string{"extract"}, src...), "./artifacts")...)
			if r.code != 0 {
				t.Fatalf("extract into a new ./artifacts: exit %d\n%s", r.code, r.stderr)
			}
			if got := names(t, work); !slices.Equal(got, []string{"artifacts"}) {
				t.Errorf("the working directory holds %v; want only artifacts", got)
			}
			st, err := os.Stat(filepath.Join(work, "artifacts"))
			if err != nil || st.Mode().Perm() != 0o700 {
				t.Fatalf("artifacts: %v, %v; want a directory of mode 0700", st, err)
			}
			for _, p := range []string{"urunc.json", ".boot/kernel", ".boot/initrd"} {
				want, err := os.ReadFile(filepath.Join(view, p))
				if err != nil {
					t.Fatal(err)
				}
				if got, err := os.ReadFile(filepath.Join(work, "artifacts", p)); err != nil || !bytes.Equal(got, want) {
					t.Errorf("artifacts/%s: %d bytes, %v; want the image's %d", p, len(got), err, len(want))
				}
			}
			if _, err := os.Stat(filepath.Join(work, "artifacts/etc")); err == nil {
				t.Error("extract wrote a file that is not an artifact")
			}
			r = cliIn(t, work, append(append([]string{"extract"}, src...), "./artifacts")...)
			requireOneLineError(t, r, exitFailureCode, "--force")
		})
	}

	work := t.TempDir()
	target := filepath.Join(work, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(work, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir string
		code      int
		want      string
	}{
		{"missing parent", filepath.Join(work, "nope", "out"), 4, "extract makes DIR, not its parents"},
		{"symlinked parent", filepath.Join(link, "out"), 5, "symlink"},
		{"symlink in the parent's path", filepath.Join(link, "sub", "out"), 5, "symlink"},
		{"DIR is a symlink", link, 5, "symlink"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, "extract", "--dir", view, tt.dir)
			requireOneLineError(t, r, tt.code, tt.want)
			if got := names(t, work); !slices.Equal(got, []string{"link", "target"}) {
				t.Errorf("after the refusal %s holds %v", work, got)
			}
			if got := names(t, target); len(got) != 0 {
				t.Errorf("the symlink's target got %v", got)
			}
		})
	}
}

// exitFailureCode is the CLI's catch-all exit code (docs/cli.md).
const exitFailureCode = 1

// TestCLIStatusRoots runs status where an operator may point it by
// mistake: a directory tree of other programs is refused in one line (no
// containers invented), and under a real root an entry the shim did not
// mark is "unknown", in the table and in --json.
func TestCLIStatusRoots(t *testing.T) {
	testimage.RequireRoot(t, "the markers are trusted.* extended attributes (CAP_SYS_ADMIN)")
	other := t.TempDir()
	if err := os.MkdirAll(filepath.Join(other, "x", "y"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "x", "y", "file"), []byte("not an artifact"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status", "--root", other}, {"status", "--root", other, "--json"}} {
		r := cli(t, args...)
		requireOneLineError(t, r, 5, other+" is not an artifactfs root")
		if r.stdout != "" {
			t.Errorf("%v printed %q; want nothing on stdout", args, r.stdout)
		}
	}

	root := t.TempDir()
	if _, _, err := layout.MakeContainerDirs(root, "default", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "default", "stray", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := cli(t, "status", "--root", root)
	if r.code != 0 {
		t.Fatalf("status: exit %d\n%s", r.code, r.stderr)
	}
	var c1, stray string
	for _, line := range strings.Split(r.stdout, "\n") {
		switch f := strings.Fields(line); {
		case len(f) > 1 && f[1] == "c1":
			c1 = line
		case len(f) > 1 && f[1] == "stray":
			stray = line
		}
	}
	if !strings.Contains(c1, " none ") || !strings.Contains(stray, " unknown ") || !strings.Contains(stray, "not marked as made by artifactfs") ||
		strings.Contains(stray, "healthy") || strings.Contains(stray, "copy") {
		t.Errorf("status table:\n%s\nwant c1 (mode none) and stray as unknown, not marked", r.stdout)
	}
	r = cli(t, "status", "--root", root, "--json")
	var entries []struct {
		Kind        string `json:"kind"`
		ContainerID string `json:"container_id"`
		Mode        string `json:"mode"`
		Healthy     bool   `json:"healthy"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil || r.code != 0 {
		t.Fatalf("status --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	want := fmt.Sprintf("%+v", []any{
		struct{ Kind, ContainerID, Mode string }{"container", "c1", "none"},
		struct{ Kind, ContainerID, Mode string }{"unknown", "stray", "unknown"},
	})
	var got []any
	for _, e := range entries {
		got = append(got, struct{ Kind, ContainerID, Mode string }{e.Kind, e.ContainerID, e.Mode})
		if e.Healthy {
			t.Errorf("%s reported healthy", e.ContainerID)
		}
	}
	if fmt.Sprintf("%+v", got) != want {
		t.Errorf("status --json = %+v, want %s", got, want)
	}
}

// openPty opens a pseudo-terminal pair: the master, to read, and the
// terminal, to give a process as its stderr.
func openPty(t *testing.T) (master, tty *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	return master, tty
}

// atTerminal runs artifactfs with its stderr on a pseudo-terminal and
// returns what it wrote there.
func atTerminal(t *testing.T, env []string, args ...string) string {
	t.Helper()
	master, tty := openPty(t)
	cmd := exec.Command(artifactfsBin(t), args...)
	cmd.Stderr = tty
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	out := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(master) // EIO once the last writer is gone
		out <- b
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("artifactfs %s: %v", strings.Join(args, " "), err)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("artifactfs %s: hung for 60s", strings.Join(args, " "))
	}
	return string(<-out)
}

// TestCLILogFormat: the CLI's log lines are readable text by default, at
// a terminal (coloured, unless $NO_COLOR) and elsewhere (never coloured),
// and JSON objects with --log-format json.
func TestCLILogFormat(t *testing.T) {
	view := sampleTree(t, nil)
	extract := func() []string { return []string{"extract", "--dir", view, filepath.Join(t.TempDir(), "out")} }
	isText := func(what, out string, colour bool) {
		t.Helper()
		if strings.Contains(out, "{") || !strings.Contains(out, "INF") || !strings.Contains(out, "extracted") {
			t.Errorf("%s: want readable text lines, got:\n%q", what, out)
		}
		if got := strings.Contains(out, "\x1b["); got != colour {
			t.Errorf("%s: colour escapes %v, want %v:\n%q", what, got, colour, out)
		}
	}
	isText("at a terminal", atTerminal(t, nil, extract()...), true)
	isText("at a terminal with NO_COLOR", atTerminal(t, []string{"NO_COLOR=1"}, extract()...), false)
	r := cli(t, extract()...)
	if r.code != 0 {
		t.Fatalf("extract: exit %d\n%s", r.code, r.stderr)
	}
	isText("on a pipe", r.stderr, false)

	for _, out := range []string{atTerminal(t, nil, append([]string{"--log-format", "json"}, extract()...)...), cli(t, append([]string{"--log-format", "json"}, extract()...)...).stderr} {
		lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(out, "\r\n", "\n")), "\n")
		for _, l := range lines {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil || v["message"] != "extracted" || v["level"] != "info" {
				t.Errorf("--log-format json: line %q is not a zerolog JSON object (%v)", l, err)
			}
		}
		if len(lines) != 3 { // kernel, initrd, urunc.json
			t.Errorf("--log-format json: %d lines, want 3:\n%s", len(lines), out)
		}
	}
	requireOneLineError(t, cli(t, "--log-format", "xml", "ls", "--dir", view), 2, "--log-format")
}

// TestCLIErrorNamesPathOnce runs the error paths that used to name a path
// twice ("open X: open X: ..."); every other failed run in this suite is
// checked the same way by cli.
func TestCLIErrorNamesPathOnce(t *testing.T) {
	view := sampleTree(t, nil)
	tmp := t.TempDir()
	for _, args := range [][]string{
		{"ls", "--dir", filepath.Join(tmp, "nope")},
		{"extract", "--dir", view, filepath.Join(tmp, "nope", "out")},
		{"mount", "--dir", view, filepath.Join(tmp, "no-such-dir")},
		{"ls", "--dir", view, "--kernel", "/urunc.json/kernel"},
		{"ls", "--dir", view, "--kernel", "/.boot/missing"},
	} {
		r := cli(t, args...)
		if r.code == 0 {
			t.Errorf("%v: exit 0, want an error", args)
		}
		if p := repeatedPath(r.stderr); p != "" {
			t.Errorf("%v names %s twice: %s", args, p, r.stderr)
		}
	}
	if p := repeatedPath("artifactfs: extract: open ./artifacts: open ./artifacts: no such file or directory\n"); p != "./artifacts" {
		t.Errorf("repeatedPath misses the repeat of the old extract error: %q", p)
	}
}
