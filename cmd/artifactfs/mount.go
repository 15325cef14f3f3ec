package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/artifactfs/artifactfs/fs"
)

// readyFdEnv names the descriptor on which a background mount server
// reports readiness ("ready MODE") or its error to the waiting parent.
const readyFdEnv = "ARTIFACTFS_READY_FD"

// readyTimeout bounds how long --background waits for the server.
const readyTimeout = 30 * time.Second

type mountFlags struct {
	background    bool
	logFile       string
	noPassthrough bool
	allowOther    bool
	debug         bool
	timeout       time.Duration
}

// timeoutFlag registers --timeout, the bound on each look at a path that
// may be a FUSE mount whose server hangs.
func timeoutFlag(cmd *cobra.Command, d *time.Duration) {
	cmd.Flags().DurationVar(d, "timeout", fs.DefaultTimeout,
		"give up on a FUSE mount whose server does not answer within this time (stopped or hung)")
}

func newMountCommand() *cobra.Command {
	var sf sourceFlags
	var mf mountFlags
	cmd := &cobra.Command{
		Use:   "mount (--image PATH | --dir PATH | --bundle PATH) [flags] MOUNTPOINT",
		Short: "Mount the artifacts read-only at MOUNTPOINT (foreground until SIGINT/SIGTERM or umount)",
		Long: `Mount exactly the kernel, the initrd and urunc.json of the source at their
in-image paths under MOUNTPOINT, read-only, nosuid, nodev.

It runs in the foreground until SIGINT, SIGTERM or 'artifactfs umount'; with
--background it returns once the mount is ready and a server process keeps
serving it. A stale mount at MOUNTPOINT (its server died) is cleared first.`,
		Args: exactArgs(1, "MOUNTPOINT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if mf.background {
				return startBackground(cmd, args[0], mf.logFile)
			}
			return serve(cmd.Context(), &sf, &mf, args[0])
		},
	}
	sf.register(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&mf.background, "background", false, "return when the mount is ready; a server process keeps serving it")
	fl.StringVar(&mf.logFile, "log-file", "", "with --background: where the server logs (default: discarded)")
	fl.BoolVar(&mf.noPassthrough, "no-passthrough", false, "serve every read through this process, even where FUSE passthrough works")
	fl.BoolVar(&mf.allowOther, "allow-other", false, "let users other than the mounting one read the mount")
	fl.BoolVar(&mf.debug, "fuse-debug", false, "log every FUSE request at debug level")
	timeoutFlag(cmd, &mf.timeout)
	return cmd
}

// serve mounts and serves until a signal arrives or the mount is unmounted
// from outside.
func serve(ctx context.Context, sf *sourceFlags, mf *mountFlags, mountpoint string) (err error) {
	ready := readyPipe()
	defer func() {
		if err != nil && ready != nil {
			fmt.Fprintf(ready, "error %d %s\n", exitCode(err), oneLine(err))
		}
	}()
	log := zerolog.Ctx(ctx)
	// Catch signals before mounting, so one that arrives while the mount
	// comes up still unmounts it.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	src, set, err := sf.open()
	if err != nil {
		return err
	}
	defer src.Close()
	root, err := fs.New(src, set.Paths())
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	m, err := fs.Mount(ctx, mountpoint, root, fs.Options{
		Passthrough: !mf.noPassthrough,
		AllowOther:  mf.allowOther,
		Debug:       mf.debug,
		Timeout:     mf.timeout,
	})
	if err != nil {
		return mountError(fmt.Errorf("mount: %w", err)) // err names the mountpoint
	}
	if ready != nil {
		fmt.Fprintf(ready, "ready %s\n", m.Mode())
		ready.Close()
		ready = nil
	}

	done := make(chan struct{})
	go func() { m.Wait(); close(done) }()
	select {
	case sig := <-signals:
		log.Info().Str("signal", sig.String()).Str("mountpoint", mountpoint).Msg("unmounting")
		if err := m.Unmount(); err != nil {
			return mountError(fmt.Errorf("unmount %s: %w", mountpoint, err))
		}
		<-done
	case <-done:
		log.Info().Str("mountpoint", mountpoint).Msg("unmounted from outside")
	}
	return nil
}

// readyPipe returns the readiness pipe of a background server, or nil.
func readyPipe() *os.File {
	v := os.Getenv(readyFdEnv)
	if v == "" {
		return nil
	}
	os.Unsetenv(readyFdEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	return os.NewFile(uintptr(fd), "ready")
}

// startBackground re-runs this command line without --background as a
// detached server and waits until it reports the mount ready or failed.
func startBackground(cmd *cobra.Command, mountpoint, logFile string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	var args []string
	for _, a := range os.Args[1:] {
		if a != "--background" && a != "--background=true" {
			args = append(args, a)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	server := exec.Command(self, args...)
	server.Env = append(os.Environ(), readyFdEnv+"=3")
	server.ExtraFiles = []*os.File{w}
	server.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			w.Close()
			return usageError(fmt.Errorf("--log-file: %w", err))
		}
		defer f.Close()
		server.Stdout, server.Stderr = f, f // else both go to /dev/null
	}
	if err := server.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start mount server: %w", err)
	}
	w.Close()
	go server.Wait() // reap it if it exits early; a live server outlives us

	reply := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		reply <- strings.TrimSpace(line)
	}()
	select {
	case line := <-reply:
		switch {
		case strings.HasPrefix(line, "ready "):
			fmt.Fprintf(cmd.OutOrStdout(), "mounted %s (pid %d, %s)\n", mountpoint, server.Process.Pid, strings.TrimPrefix(line, "ready "))
			return nil
		case strings.HasPrefix(line, "error "):
			return parseServerError(strings.TrimPrefix(line, "error "))
		default:
			return mountError(fmt.Errorf("mount server exited before %s was ready (see --log-file)", mountpoint))
		}
	case <-time.After(readyTimeout):
		server.Process.Kill()
		return mountError(fmt.Errorf("mount server not ready after %s; killed it", readyTimeout))
	}
}

func newUmountCommand() *cobra.Command {
	var lazy bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "umount [--lazy] [--timeout D] MOUNTPOINT",
		Short: "Unmount an artifactfs mount (also clears a stale one whose server died, and detaches a hung one)",
		Args:  exactArgs(1, "MOUNTPOINT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := fs.UnmountWithin(args[0], lazy, timeout); err != nil {
				return mountError(err)
			}
			zerolog.Ctx(cmd.Context()).Info().Str("mountpoint", args[0]).Msg("unmounted")
			return nil
		},
	}
	cmd.Flags().BoolVar(&lazy, "lazy", false, "detach even while files are open (they stay readable until closed)")
	timeoutFlag(cmd, &timeout)
	return cmd
}

// parseServerError turns a background server's "CODE MESSAGE" report back
// into an error carrying the same exit code.
func parseServerError(report string) error {
	codeText, msg, _ := strings.Cut(report, " ")
	code, err := strconv.Atoi(codeText)
	if err != nil {
		return errors.New(report)
	}
	return codedError{code: code, msg: msg}
}
