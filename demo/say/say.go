// Package say is what the demos (make demo, make demo-k8s) have in common:
// the command line they take, their work directory, the private
// containerd they start (on tests/harness), and how they print their
// steps and the commands they run, as a user would type them.
package say

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// Main runs a demo: run gets the demo's one argument, BIN_DIR (holding
// artifactfs and containerd-shim-artifactfs-v2), made absolute, and a new
// work directory, removed after. A wrong command line exits 2, a failed
// run 1, with one line on stderr.
func Main(prog string, run func(binDir, work string) error) {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s BIN_DIR\n", prog)
		os.Exit(2)
	}
	binDir, err := filepath.Abs(os.Args[1])
	if err == nil {
		err = inWork(prog, func(work string) error { return run(binDir, work) })
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		os.Exit(1)
	}
}

func inWork(prog string, fn func(work string) error) error {
	work, err := os.MkdirTemp("", "artifactfs-"+prog+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	return fn(work)
}

// Start starts the demo's private containerd (harness.Start) with the
// shim of binDir on its PATH, ARTIFACTFS_ROOT at work/run-artifactfs and
// its own files in work/d, configured further by d. stop stops it,
// printing the step.
func Start(binDir, work string, d ctrtest.Options) (e *harness.Env, stop func(), err error) {
	d.Dir = filepath.Join(work, "d")
	if err := os.Mkdir(d.Dir, 0o711); err != nil {
		return nil, nil, err
	}
	e, err = harness.Start(context.Background(), harness.Options{ShimDir: binDir, Root: filepath.Join(work, "run-artifactfs"), Daemon: d})
	if err != nil {
		return nil, nil, err
	}
	return e, func() {
		Step("Stop containerd")
		if err := e.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}, nil
}

// Step prints the title of a step.
func Step(title string) { fmt.Printf("\n\033[1m== %s\033[0m\n", title) }

// Show prints a command line, then runs it with its output on ours.
func Show(name string, args ...string) error {
	fmt.Printf("$ %s %s\n", filepath.Base(name), strings.Join(args, " "))
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}
