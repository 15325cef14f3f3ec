package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// artifactfsBin builds cmd/artifactfs once per test run and returns its path.
func artifactfsBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "artifactfs-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "artifactfs")
		out, err := exec.Command("go", "build", "-buildvcs=false", "-o", binPath, "../../cmd/artifactfs").CombinedOutput()
		if err != nil {
			binErr = &buildError{out: string(out), err: err}
		}
	})
	if binErr != nil {
		t.Fatalf("build artifactfs: %v", binErr)
	}
	return binPath
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// result is what one run of the CLI produced.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs artifactfs with args, bounded in time so a hang fails the test.
func cli(t *testing.T, args ...string) result {
	t.Helper()
	return cliIn(t, "", args...)
}

// cliIn is cli in the working directory dir ("": the test's).
func cliIn(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(artifactfsBin(t), args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("artifactfs %s: hung for 60s", strings.Join(args, " "))
	}
	return checked(t, args, result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()})
}

// checked returns r after checking what every failed run must keep: its
// error line names each path once.
func checked(t *testing.T, args []string, r result) result {
	t.Helper()
	if r.code != 0 {
		if p := repeatedPath(r.stderr); p != "" {
			t.Errorf("artifactfs %s: its error names %s more than once:\n%s", strings.Join(args, " "), p, r.stderr)
		}
	}
	return r
}

// pathToken matches what reads as a path in an error line: a token with
// a slash in it.
var pathToken = regexp.MustCompile(`[^\s:"'(),=]*/[^\s:"'(),=]*`)

// repeatedPath returns a path that the last line of stderr (the error
// line) names more than once, "" when none does: wrapped errors must name
// each path once ("open X: open X: ..." reads as two failures).
func repeatedPath(stderr string) string {
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	seen := map[string]bool{}
	for _, p := range pathToken.FindAllString(lines[len(lines)-1], -1) {
		if p = strings.TrimRight(p, ".;"); len(p) < 3 {
			continue // "/", "a/": too short to name a path
		}
		if seen[p] {
			return p
		}
		seen[p] = true
	}
	return ""
}

// requireOneLineError checks the CLI's error contract: the wanted exit code
// and exactly one "artifactfs: ..." line on stderr mentioning want, and no
// panic or stack trace.
func requireOneLineError(t *testing.T, r result, code int, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if r.code != code || len(lines) != 1 || !strings.HasPrefix(lines[0], "artifactfs: ") ||
		!strings.Contains(lines[0], want) || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("got exit %d, stderr:\n%s\nwant exit %d and one line containing %q", r.code, r.stderr, code, want)
	}
}
