package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Module paths of the repository and of the bench module.
const (
	repoModule  = "github.com/artifactfs/artifactfs"
	benchModule = "github.com/artifactfs/artifactfs/bench"
)

// checkouts finds the repository's root (to build the shim) and the bench
// module's directory (to build its commands) from the working directory:
// the bench module's directory or one below it, or the repository's root.
func checkouts() (repo, bench string, err error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		switch modulePath(filepath.Join(d, "go.mod")) {
		case benchModule:
			return filepath.Dir(d), d, nil
		case repoModule:
			return d, filepath.Join(d, "bench"), nil
		}
		if filepath.Dir(d) == d {
			return "", "", fmt.Errorf("%s is not in the artifactfs repository (run the bench in bench/)", dir)
		}
	}
}

// modulePath returns the module path a go.mod declares, or "".
func modulePath(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
