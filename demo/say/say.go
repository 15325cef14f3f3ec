// Package say is what the demos (make demo, make demo-k8s) have in common:
// the command line they take, and how they print their steps and the
// commands they run, as a user would type them.
package say

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Main runs a demo: run gets the demo's one argument, BIN_DIR (holding
// artifactfs and containerd-shim-artifactfs-v2), made absolute. A wrong
// command line exits 2, a failed run 1, with one line on stderr.
func Main(prog string, run func(binDir string) error) {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s BIN_DIR\n", prog)
		os.Exit(2)
	}
	binDir, err := filepath.Abs(os.Args[1])
	if err == nil {
		err = run(binDir)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		os.Exit(1)
	}
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
