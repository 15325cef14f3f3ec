package memserver

import (
	"fmt"
	"path/filepath"
	"strconv"
)

// Config tells a server what to mount.
type Config struct {
	Source      string // mounts.KindImage or mounts.KindDir
	Path        string // the image file or the directory
	Mounts      int    // how many trees to mount, one per container
	Dir         string // mountpoints are Dir/m000, Dir/m001, ... (Mountpoint)
	Passthrough bool   // fs.Options.Passthrough
}

// Args returns the command line flags that give a server cfg.
func (cfg Config) Args() []string {
	args := []string{"-source", cfg.Source, "-path", cfg.Path, "-mounts", strconv.Itoa(cfg.Mounts), "-dir", cfg.Dir}
	if cfg.Passthrough {
		args = append(args, "-passthrough")
	}
	return args
}

// Mountpoint is the mountpoint of the i-th tree of a server mounting under
// dir.
func Mountpoint(dir string, i int) string {
	return filepath.Join(dir, fmt.Sprintf("m%03d", i))
}

// The commands a server answers on stdin, one a line, and the answer to
// CmdFree.
const (
	CmdStats = "stats" // answered with GoMem as JSON
	CmdFree  = "free"  // answered with Freed
	Freed    = "freed"
)

// GoMem is what a server reports on "stats": its Go runtime's allocation
// counters.
type GoMem struct {
	TotalAlloc uint64 `json:"total_alloc"` // bytes allocated, ever
	Mallocs    uint64 `json:"mallocs"`     // heap objects allocated, ever
	HeapAlloc  uint64 `json:"heap_alloc"`  // bytes of live and not yet collected heap objects
	NumGC      uint32 `json:"num_gc"`      // completed GC cycles
}
