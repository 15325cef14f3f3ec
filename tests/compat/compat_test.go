//go:build compat

package compat

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// repo is the repository's root, seen from this package's directory.
const repo = "../.."

// VersionsEnv lists the containerd versions to run on (space or comma
// separated); default ctrtest.CompatVersions.
const VersionsEnv = "ARTIFACTFS_COMPAT_VERSIONS"

// TableEnv names a file the result table is written to, besides stdout.
const TableEnv = "ARTIFACTFS_COMPAT_TABLE"

// table collects every case's result.
var table = newResults()

// TestMain runs the suite, then prints the table.
func TestMain(m *testing.M) {
	begin := time.Now()
	code := m.Run()
	md := table.markdown(time.Since(begin))
	fmt.Print(md)
	if p := os.Getenv(TableEnv); p != "" {
		if err := os.WriteFile(p, []byte(md), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "compat: write the table: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// versions returns the versions to run on.
func versions() []string {
	v := strings.FieldsFunc(os.Getenv(VersionsEnv), func(r rune) bool { return r == ' ' || r == ',' })
	if len(v) == 0 {
		return ctrtest.CompatVersions
	}
	return v
}

// TestCompat runs every case on a daemon of each version: the plain cases
// on one daemon with CRI off, the pod cases on one with CRI on.
func TestCompat(t *testing.T) {
	testimage.RequireRoot(t, "containerd, runc, FUSE and loop mounts")
	testimage.RequireTools(t, "mkfs.ext4", "runc")
	harness.RequireFUSE(t)
	for _, v := range versions() {
		t.Run(v, func(t *testing.T) {
			table.version(v)
			plain := startPlain(t, v)
			for _, c := range plainCases {
				table.run(t, v, c.name, func(t *testing.T) {
					if plain == nil {
						t.Fatal("no daemon (see case daemon)")
					}
					c.fn(t, plain)
				})
			}
			pods := startCRI(t, v)
			for _, c := range criCases {
				table.run(t, v, c.name, func(t *testing.T) {
					if pods == nil {
						t.Fatal("no CRI daemon (see case cri daemon)")
					}
					c.fn(t, pods)
				})
			}
		})
	}
}
