package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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
	cmd := exec.Command(artifactfsBin(t), args...)
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
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
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
