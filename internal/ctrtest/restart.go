package ctrtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// launch starts the daemon process with d's config and environment,
// appending to its log; d.exited closes when it exits.
func (d *Daemon) launch() error {
	logf, err := os.OpenFile(d.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start containerd: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(d.BinDir, "containerd"), "--config", d.ConfigPath, "--log-level", d.logLevel)
	cmd.Env = d.env
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group (a ^C to the test does not hit it first); killed if
	// the test binary dies without calling Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start containerd: %w", err)
	}
	exited := make(chan struct{})
	d.cmd, d.exited = cmd, exited
	go func() {
		d.waitErr = cmd.Wait()
		close(exited)
	}()
	return nil
}

// Kill stops the daemon process with sig (SIGKILL: a crash; SIGTERM: a
// clean stop) and waits until it has exited, at most 10s before it sends
// SIGKILL. Its shims, and their containers, keep running; Restart starts
// it again. The client stays usable and reconnects after Restart.
func (d *Daemon) Kill(sig syscall.Signal) error {
	if d.cmd == nil || d.cmd.Process == nil {
		return errors.New("kill containerd: not started")
	}
	select {
	case <-d.exited:
		return nil
	default:
	}
	if err := d.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("kill containerd: %w", err)
	}
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
	return nil
}

// Running reports whether the daemon process is running.
func (d *Daemon) Running() bool {
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// Restart stops the daemon with sig when it runs (see Kill) and starts it
// again with the same config and environment, as after a crash or an
// upgrade: it reloads its shims from the state directory. It returns once
// the daemon answers, within timeout (0: 30s).
func (d *Daemon) Restart(ctx context.Context, sig syscall.Signal, timeout time.Duration) error {
	if err := d.Kill(sig); err != nil {
		return err
	}
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	if err := d.launch(); err != nil {
		return err
	}
	return d.waitReady(ctx, timeout)
}
