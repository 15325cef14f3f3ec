package memory

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/artifactfs/artifactfs/bench/internal/memserver"
	"github.com/artifactfs/artifactfs/bench/internal/mounts"
	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
)

// serverPackage is the import path of the memory server command,
// relative to the bench module's directory.
const serverPackage = "./cmd/memserver"

// readyTimeout bounds how long a server may take to mount its trees;
// answerTimeout how long it may take to answer a command; stopTimeout how
// long it may take to exit once its stdin is closed.
const (
	readyTimeout  = 2 * time.Minute
	answerTimeout = 30 * time.Second
	stopTimeout   = 30 * time.Second
)

// buildServer builds the server command of the bench module at moduleDir into
// outDir and returns the binary's path.
func buildServer(ctx context.Context, moduleDir, outDir string) (string, error) {
	goBin, err := ctrtest.GoTool()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(outDir, "memserver")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, serverPackage)
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s in %s: %w\n%s", serverPackage, moduleDir, err, out)
	}
	return bin, nil
}

// server is a running memory server.
type server struct {
	pid  int    // the server's process id
	mode string // the serving mode it reported

	cmd   *exec.Cmd
	stdin io.WriteCloser
	dir   string
	lines chan string // the server's stdout, line by line; closed at EOF
	done  chan error  // the result of cmd.Wait, after EOF
}

// startServer runs the server binary bin with cfg and waits until it reports
// ready.
func startServer(ctx context.Context, bin string, cfg memserver.Config) (_ *server, err error) {
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, cfg.Args()...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start memory server: %w", err)
	}
	p := &server{cmd: cmd, stdin: stdin, pid: cmd.Process.Pid, dir: cfg.Dir,
		lines: make(chan string, 16), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- cmd.Wait() // after the last read from stdout
	}()
	defer func() {
		if err != nil {
			err = errors.Join(err, p.stop())
		}
	}()
	what := fmt.Sprintf("memory server (%d mounts of %s)", cfg.Mounts, cfg.Path)
	line, err := p.answer(ctx, readyTimeout)
	if err != nil {
		return p, fmt.Errorf("%s: %w", what, err)
	}
	f := strings.Fields(line)
	if len(f) != 5 || f[0] != "ready" {
		return p, fmt.Errorf("%s: not ready: %q", what, line)
	}
	p.mode = f[4]
	return p, nil
}

// answer returns the server's next line of output.
func (p *server) answer(ctx context.Context, timeout time.Duration) (string, error) {
	select {
	case line, ok := <-p.lines:
		if !ok {
			return "", errors.New("exited")
		}
		return line, nil
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(timeout):
		return "", fmt.Errorf("no answer within %s", timeout)
	}
}

// ask sends the server a command and returns its answer.
func (p *server) ask(ctx context.Context, command string) (string, error) {
	if _, err := io.WriteString(p.stdin, command+"\n"); err != nil {
		return "", fmt.Errorf("memory server %d, %s: %w", p.pid, command, err)
	}
	line, err := p.answer(ctx, answerTimeout)
	if err != nil {
		return "", fmt.Errorf("memory server %d, %s: %w", p.pid, command, err)
	}
	return line, nil
}

// free has the server collect its garbage and return free memory to the
// kernel.
func (p *server) free(ctx context.Context) error {
	line, err := p.ask(ctx, memserver.CmdFree)
	if err == nil && line != memserver.Freed {
		err = fmt.Errorf("memory server %d, free: answered %q", p.pid, line)
	}
	return err
}

// goStats returns the server's Go allocation counters.
func (p *server) goStats(ctx context.Context) (memserver.GoMem, error) {
	var m memserver.GoMem
	line, err := p.ask(ctx, memserver.CmdStats)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return m, fmt.Errorf("memory server %d, stats: %w", p.pid, err)
	}
	return m, nil
}

// resetPeak resets the server's VmHWM to its current VmRSS.
func (p *server) resetPeak() error {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.pid), []byte("5\n"), 0); err != nil {
		return fmt.Errorf("reset peak RSS of %d: %w", p.pid, err)
	}
	return nil
}

// stop asks the server to unmount and exit (closing its stdin), kills it
// if it has not within 30 s, and then detaches whatever it left mounted,
// which is an error.
func (p *server) stop() error {
	_ = p.stdin.Close()
	var err, killed error
	timeout := time.After(stopTimeout)
	lines := p.lines
wait:
	for {
		select {
		case _, ok := <-lines: // drop output nobody asked for
			if !ok {
				lines = nil
			}
		case err = <-p.done:
			break wait
		case <-timeout:
			_ = p.cmd.Process.Kill()
			timeout = nil
			killed = fmt.Errorf("did not exit within %s, killed", stopTimeout)
		}
	}
	if err = errors.Join(killed, err); err != nil {
		err = fmt.Errorf("memory server %d: %w", p.pid, err)
	}
	left, lerr := mounts.Under(p.dir)
	if lerr != nil {
		return errors.Join(err, lerr)
	}
	for _, mp := range left {
		err = errors.Join(err, fmt.Errorf("memory server %d left %s mounted", p.pid, mp),
			fs.Unmount(mp, true))
	}
	return err
}
