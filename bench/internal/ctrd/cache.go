package ctrd

import "github.com/artifactfs/artifactfs/bench/internal/host"

// Cache is a page cache temperature: cold (dropped before the step) or
// warm (kept, as on a busy host).
type Cache int

// The temperatures.
const (
	Cold Cache = iota
	Warm
)

// Caches lists both, in the order they are measured and reported.
var Caches = []Cache{Cold, Warm}

// String returns "cold" or "warm".
func (t Cache) String() string { return [...]string{"cold", "warm"}[t] }

// Prepare drops the page cache for a cold step; a warm one keeps it.
func (t Cache) Prepare() error {
	if t == Cold {
		return host.DropCaches()
	}
	return nil
}
