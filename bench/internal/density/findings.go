package density

import (
	"github.com/artifactfs/artifactfs/bench/internal/stats"
)

// findings are the figures the section's prose quotes, formatted; "–"
// where a row is missing.
type findings struct {
	// Page cache, blockfile (MiB): per-container views at 1 and at the
	// largest count (ΔCached), what each more container adds (resident,
	// by mincore: other processes move Cached), the image's block file
	// resident; the shared view at 1 and the largest; the copy
	// path's tmpfs at the largest; overlayfs, both views, at the largest.
	Max                                             int
	Own1, OwnMax, OwnPer, Block, Shared1, SharedMax string
	CopyMax, OvlSharedMax, OvlOwnMax                string
	// Shims: VmRSS and Pss per shim at the largest count (shared view),
	// VmRSS per shim with per-container views and of the copy path.
	ShimRSS, ShimPss, OwnRSS, CopyRSS string
	// Passthrough is true when every per-container FUSE mount of every
	// row served with passthrough.
	Passthrough bool
	// Create's wait after the first (blockfile, largest count, ms): shared,
	// per-container; the steps mount-view (per-container, shared) and
	// prepare (shared); the floor of prepare from a connected client.
	WaitShared, WaitOwn, MountOwn, MountShared, Prepare, Floor string
}

// findingsOf reads the findings off the rows and floors.
func findingsOf(rows []*row, floors []*floorRow) findings {
	n := counts[len(counts)-1]
	get := func(sn string, l layout, n int) *row {
		for _, r := range rows {
			if r.sn == sn && r.lay == l && r.n == n {
				return r
			}
		}
		return &row{firstSteps: map[string]*stats.Runs{}, steps: map[string]*stats.Runs{}}
	}
	step := func(r *row, s string) string {
		if r.steps[s] == nil {
			return "–"
		}
		return stats.Ms(r.steps[s].Median())
	}
	perShim := func(v float64, r *row) string { return mib(v / float64(max(r.n, 1))) }
	own1, ownMax, sharedMax := get("blockfile", own, 1), get("blockfile", own, n), get("blockfile", shared, n)
	f := findings{Max: n,
		Own1: mib(own1.cached.Min()), OwnMax: mib(ownMax.cached.Min()),
		OwnPer:  mib((ownMax.resident - own1.resident) / float64(n-1)),
		Block:   mib(sharedMax.residentBlock),
		Shared1: mib(get("blockfile", shared, 1).cached.Min()), SharedMax: mib(sharedMax.cached.Min()),
		CopyMax:      mib(get("blockfile", copyPath, n).shmem),
		OvlSharedMax: mib(get("overlayfs", shared, n).cached.Min()), OvlOwnMax: mib(get("overlayfs", own, n).cached.Min()),
		ShimRSS: perShim(sharedMax.rss, sharedMax), ShimPss: perShim(sharedMax.pss, sharedMax),
		WaitShared: stats.Ms(sharedMax.others.Median()), WaitOwn: stats.Ms(ownMax.others.Median()),
		MountOwn: step(ownMax, "mount-view"), MountShared: step(sharedMax, "mount-view"), Prepare: step(sharedMax, "prepare"),
		Floor: "–",
	}
	c := get("blockfile", copyPath, n)
	f.CopyRSS, f.OwnRSS = perShim(c.rss, c), perShim(ownMax.rss, ownMax)
	f.Passthrough = true
	for _, r := range rows {
		f.Passthrough = f.Passthrough && (r.lay.copy || r.modes["passthrough"] == r.n)
	}
	for _, fl := range floors {
		if fl.sn == "blockfile" {
			f.Floor = stats.Ms(fl.prepare.Median())
		}
	}
	return f
}
