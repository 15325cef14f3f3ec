package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/layout"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// cliWithin runs artifactfs with args and fails the test when it takes
// longer than limit (killing it), so a command that blocks on a hung mount
// is caught quickly.
func cliWithin(t *testing.T, limit time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, artifactfsBin(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	_ = cmd.Run()
	took := time.Since(start).Round(time.Millisecond)
	if ctx.Err() != nil {
		t.Fatalf("artifactfs %s: still running after %s", strings.Join(args, " "), limit)
	}
	t.Logf("artifactfs %s: exit %d after %s", strings.Join(args, " "), cmd.ProcessState.ExitCode(), took)
	return checked(t, args, result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()})
}

type fileMap = map[string][]byte

// requireNoControl fails when out holds a raw control byte (other than
// newline and tab, which the CLI's own layout uses).
func requireNoControl(t *testing.T, what, out string) {
	t.Helper()
	for _, c := range []byte(out) {
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			t.Fatalf("%s holds the raw control byte %#x:\n%q", what, c, out)
		}
	}
}

// TestCLIEscapesImageNames names artifacts with terminal escape sequences
// in the image: ls, stat and errors must print them escaped.
func TestCLIEscapesImageNames(t *testing.T) {
	evil := "/.boot/k\x1b[31mernel\x07"
	dir := sampleTree(t, fileMap{"urunc.json": uruncJSON(t, evil), ".boot/k\x1b[31mernel\x07": []byte("kernel")})
	for _, cmd := range []string{"ls", "stat"} {
		r := cli(t, cmd, "--dir", dir)
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", cmd, r.code, r.stderr)
		}
		requireNoControl(t, cmd+" output", r.stdout)
		if !strings.Contains(r.stdout, `\x1b[31mernel\a`) && !strings.Contains(r.stdout, `\x1b[31mernel\x07`) {
			t.Errorf("%s output does not show the escaped name:\n%s", cmd, r.stdout)
		}
	}
	missing := sampleTree(t, fileMap{"urunc.json": uruncJSON(t, "/.boot/\x1b]0;owned\x07gone")})
	r := cli(t, "ls", "--dir", missing)
	requireNoControl(t, "error", r.stderr)
	requireOneLineError(t, r, 4, "gone")
}

// uruncJSON returns a urunc.json naming kernel as the binary.
func uruncJSON(t *testing.T, kernel string) []byte {
	t.Helper()
	cfg, err := artifact.EncodeUruncJSON(artifact.Config{
		artifact.AnnotationType:   "linux",
		artifact.AnnotationBinary: kernel,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestCLINotADirectoryExitCode asks for a path through a regular file: it
// does not exist, exit code 4, not the catch-all 1.
func TestCLINotADirectoryExitCode(t *testing.T) {
	dir := sampleTree(t, nil)
	r := cli(t, "ls", "--dir", dir, "--kernel", "/urunc.json/kernel")
	requireOneLineError(t, r, 4, "urunc.json")
	r = cli(t, "extract", "--dir", dir, "--kernel", "/.boot/kernel/x", t.TempDir())
	requireOneLineError(t, r, 4, "kernel")
}

// TestCLIMountRefusesSymlinkedMountpoint plants a symlink as MOUNTPOINT.
func TestCLIMountRefusesSymlinkedMountpoint(t *testing.T) {
	harness.RequireFUSE(t)
	target := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	r := cli(t, "mount", "--background", "--dir", sampleTree(t, nil), link)
	if harness.IsMounted(t, target) {
		exec.Command("umount", "-l", target).Run()
		t.Fatalf("mount on a symlink mounted its target %s", target)
	}
	requireOneLineError(t, r, 6, "symlink")
	r = cli(t, "umount", link)
	requireOneLineError(t, r, 6, "symlink")
}

// TestCLIHungMountBounded stops a mount's server with SIGSTOP: status,
// mount and umount on its path must return within their timeouts, status
// must call it hung, and umount must free the path.
func TestCLIHungMountBounded(t *testing.T) {
	harness.RequireFUSE(t)
	root := t.TempDir()
	mnt, _, err := layout.MakeContainerDirs(root, "default", "hung") // status lists only marked paths
	if err != nil {
		t.Fatal(err)
	}
	dir := sampleTree(t, nil)
	r := cli(t, "mount", "--background", "--dir", dir, mnt)
	m := regexp.MustCompile(`\(pid (\d+),`).FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("mount: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	pid, _ := strconv.Atoi(m[1])
	// Runs before the temp dirs are removed, which would hang on the mount.
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGCONT)
		syscall.Kill(pid, syscall.SIGKILL)
		if harness.IsMounted(t, mnt) {
			exec.Command("umount", "-l", mnt).Run()
		}
	})
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// kill returns before every thread has stopped: a request read by a
	// thread still running would be in the server's hands, and its caller
	// would wait for it uninterruptibly, past any timeout.
	waitStopped(t, pid)
	const limit = 15 * time.Second // the default timeout is 5s

	r = cliWithin(t, limit, "status", "--root", root)
	if r.code != 0 || !strings.Contains(r.stdout, "hung") {
		t.Errorf("status: exit %d, want it to report the mount hung:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = cliWithin(t, limit, "status", "--root", root, "--json", "--timeout", "500ms")
	if r.code != 0 || !strings.Contains(r.stdout, `"hung": true`) {
		t.Errorf("status --json: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = cliWithin(t, limit, "mount", "--background", "--dir", dir, "--timeout", "1s", mnt)
	requireOneLineError(t, r, 6, "does not answer")
	r = cliWithin(t, limit, "umount", mnt)
	if r.code != 0 {
		t.Fatalf("umount of the hung mount: exit %d: %s", r.code, r.stderr)
	}
	if harness.IsMounted(t, mnt) {
		t.Fatalf("%s still mounted after umount", mnt)
	}
}

// waitStopped waits until every thread of process pid is stopped.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		stats, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := len(stats) > 0
		for _, p := range stats {
			b, err := os.ReadFile(p)
			// The state follows the command name in parentheses.
			if i := bytes.LastIndexByte(b, ')'); err != nil || i < 0 || i+2 >= len(b) || b[i+2] != 'T' && b[i+2] != 't' {
				stopped = false
			}
		}
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d: not every thread stopped after SIGSTOP", pid)
		}
	}
}
