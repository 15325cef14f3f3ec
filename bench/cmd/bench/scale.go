package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/artifactfs/artifactfs/fs"
)

// scaleCounts are the numbers of containers created and deleted at once.
var scaleCounts = []int{1, 10, 100}

// scaleMinContainers is how many containers one sample covers at least:
// rounds of fewer are repeated.
const scaleMinContainers = 10

// fusectlMagic is the statfs type of the FUSE control filesystem.
const fusectlMagic = 0x65735543

// scaleRow is one source, one number of containers, sequential or in
// parallel: the time per container to create and to delete, over runs.
type scaleRow struct {
	src              mountSource
	n                int
	parallel         bool
	mode             string
	create, del, sum overRuns // wall-clock ms per container
	single           overRuns // sequential: median ms of one container's create + delete
	conns            string   // FUSE connections before → after the last round
}

func (r *scaleRow) how() string {
	if r.parallel {
		return "parallel"
	}
	return "sequential"
}

// scaleSection creates and deletes 1, 10 and 100 per-container mounts in
// this process, as the shim does, sequentially and in parallel, and checks
// after each round that nothing is left behind (issue 4, item 4).
func scaleSection(ctx context.Context, e *env) (_ *sectionResult, err error) {
	size := slices.Min(e.sizes)
	progress("making image and directory with a %d MiB kernel", size)
	img, err := contiguousImage(e.work, size)
	if err != nil {
		return nil, fmt.Errorf("image %d MiB: %w", size, err)
	}
	tree, unmountTree, err := treeDir(e.work, size)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, unmountTree()) }()
	lc, err := newLeakCheck(e.work)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, lc.close()) }()

	var rows []*scaleRow
	for _, src := range mountSources {
		for _, n := range scaleCounts {
			for _, par := range []bool{false, true} {
				if n > 1 || !par {
					rows = append(rows, &scaleRow{src: src, n: n, parallel: par})
				}
			}
		}
	}
	mnts := filepath.Join(e.work, "mnt")
	// A first, untimed round per source pays for one-time setup (the
	// runtime's poller, first opens of the image) and sets the baseline
	// of open descriptors.
	for _, src := range mountSources {
		if _, err := scaleRound(ctx, src, src.path(img.path, tree), mnts, img.kernelSize, 1, false, lc); err != nil {
			return nil, fmt.Errorf("%s, warm-up: %w", src.name, err)
		}
	}
	lc.fds = countFds()
	for run := 1; run <= e.runs; run++ {
		for _, r := range rows {
			// Small rounds are repeated until scaleMinContainers went by,
			// so that one sample is not one mount's timer noise.
			reps := max(1, scaleMinContainers/r.n)
			var create, del time.Duration
			var single []time.Duration
			for range reps {
				t, err := scaleRound(ctx, r.src, r.src.path(img.path, tree), mnts, img.kernelSize, r.n, r.parallel, lc)
				if err != nil {
					return nil, fmt.Errorf("%s, %d containers, %s: %w", r.src.name, r.n, r.how(), err)
				}
				create, del = create+t.create, del+t.del
				single = append(single, t.single...)
				r.mode, r.conns = t.mode, lc.last
			}
			per := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(r.n*reps) }
			r.create = append(r.create, per(create))
			r.del = append(r.del, per(del))
			r.sum = append(r.sum, per(create+del))
			if !r.parallel {
				r.single = append(r.single, medianDuration(single).Seconds()*1000)
			}
			progress("scale, run %d/%d, %-40s %3d containers, %-10s create %6.2f ms, delete %6.2f ms per container",
				run, e.runs, r.src.name, r.n, r.how(), per(create), per(del))
		}
	}
	p, err := scalePlot(rows)
	if err != nil {
		return nil, err
	}
	return &sectionResult{markdown: scaleReport(rows, img.mkfsCmd, size, e.runs), plots: []*plot.Plot{p}}, nil
}

// scaleRound creates n mounts of the source at path (open source, fs.New,
// fs.Mount, which returns once the mount serves), checks that each serves
// the kernel (of kernelSize bytes), deletes them (Unmount, Wait, close the
// source), and checks that nothing is left behind.
func scaleRound(ctx context.Context, src mountSource, path, dir string, kernelSize int64, n int, parallel bool, lc *leakCheck) (_ *roundTimes, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	before, err := lc.connections()
	if err != nil {
		return nil, err
	}
	mps := make([]string, n)
	for i := range mps {
		mps[i] = filepath.Join(dir, fmt.Sprintf("c%03d", i))
		if err := os.MkdirAll(mps[i], 0o755); err != nil {
			return nil, err
		}
	}
	ms := make([]*benchMount, n)
	defer func() {
		// On error, take down what is still mounted.
		for _, m := range ms {
			if m != nil {
				err = errors.Join(err, m.close())
			}
		}
	}()

	t := &roundTimes{}
	each := make([]time.Duration, n) // per container, create + delete
	start := time.Now()
	err = forEach(n, parallel, func(i int) error {
		start := time.Now()
		m, err := mountOne(ctx, src.kind, path, mps[i], src.passthrough)
		each[i] += time.Since(start)
		ms[i] = m
		return err
	})
	t.create = time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}

	// Untimed: every mount serves the kernel; note its FUSE connection.
	mine := map[string]bool{}
	for i, m := range ms {
		fi, err := os.Stat(filepath.Join(mps[i], kernelPath))
		if err != nil {
			return nil, fmt.Errorf("mount %d does not serve: %w", i, err)
		}
		if fi.Size() != kernelSize {
			return nil, fmt.Errorf("mount %d: kernel of %d bytes, want %d", i, fi.Size(), kernelSize)
		}
		var st unix.Stat_t
		if err := unix.Stat(mps[i], &st); err != nil {
			return nil, err
		}
		// fusectl names a connection by the superblock's device number
		// in the kernel's encoding (major << 20 | minor).
		mine[strconv.FormatUint(uint64(unix.Major(st.Dev))<<20|uint64(unix.Minor(st.Dev)), 10)] = true
		t.mode = m.m.Mode()
	}

	start = time.Now()
	err = forEach(n, parallel, func(i int) error {
		start := time.Now()
		err := ms[i].close()
		each[i] += time.Since(start)
		ms[i] = nil
		return err
	})
	t.del = time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("delete: %w", err)
	}
	if err := lc.check(dir, before, mine); err != nil {
		return nil, err
	}
	for _, mp := range mps {
		if err := os.Remove(mp); err != nil {
			return nil, fmt.Errorf("left behind: %w", err)
		}
	}
	if !parallel {
		t.single = each
	}
	return t, nil
}

// roundTimes is what one round of scaleRound took: wall-clock time to
// create and to delete all its mounts, and in a sequential round each
// container's create + delete; and the serving mode of its mounts.
type roundTimes struct {
	create, del time.Duration
	single      []time.Duration
	mode        string
}

// medianDuration returns the median of ds, or 0.
func medianDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// forEach runs f(0) … f(n-1), one after the other or all at once, and
// returns every error.
func forEach(n int, parallel bool, f func(i int) error) error {
	errs := make([]error, n)
	if !parallel {
		for i := range n {
			if errs[i] = f(i); errs[i] != nil {
				break
			}
		}
		return errors.Join(errs...)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// leakCheck finds what a round left behind: artifactfs mounts, FUSE
// connections, open descriptors.
type leakCheck struct {
	conns   string       // the FUSE control directory, one entry per connection
	unmount func() error // undoes a fusectl mount of our own, or nil
	fds     int          // open descriptors of this process after the warm-up
	last    string       // the connection count before → after the last round
}

// newLeakCheck finds the FUSE control filesystem, mounting one of its own
// under work when /sys/fs/fuse/connections is not mounted.
func newLeakCheck(work string) (*leakCheck, error) {
	lc := &leakCheck{conns: "/sys/fs/fuse/connections"}
	var sfs unix.Statfs_t
	if err := unix.Statfs(lc.conns, &sfs); err == nil && sfs.Type == fusectlMagic {
		return lc, nil
	}
	lc.conns = filepath.Join(work, "fusectl")
	if err := os.MkdirAll(lc.conns, 0o755); err != nil {
		return nil, err
	}
	if err := unix.Mount("fusectl", lc.conns, "fusectl", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return nil, fmt.Errorf("mount fusectl on %s: %w", lc.conns, err)
	}
	lc.unmount = func() error {
		if err := unix.Unmount(lc.conns, 0); err != nil {
			return fmt.Errorf("unmount fusectl on %s: %w", lc.conns, err)
		}
		return nil
	}
	return lc, nil
}

func (lc *leakCheck) close() error {
	if lc.unmount == nil {
		return nil
	}
	return lc.unmount()
}

// connections lists the FUSE connections of the whole machine.
func (lc *leakCheck) connections() (map[string]bool, error) {
	ents, err := os.ReadDir(lc.conns)
	if err != nil {
		return nil, fmt.Errorf("FUSE connections: %w", err)
	}
	m := map[string]bool{}
	for _, e := range ents {
		m[e.Name()] = true
	}
	return m, nil
}

// check fails when an artifactfs mount is left under dir, when one of the
// round's FUSE connections (mine) is still there, or when this process has
// more open descriptors than after the warm-up. Other processes' FUSE
// mounts come and go on a shared machine: the connection count is
// recorded, and only the round's own connections must be gone. It waits
// up to 2 s for the kernel and the runtime to let go.
func (lc *leakCheck) check(dir string, before, mine map[string]bool) error {
	var problems []string
	deadline := time.Now().Add(2 * time.Second)
	for {
		problems = nil
		left, err := artifactfsMountsUnder(dir)
		if err != nil {
			return err
		}
		if len(left) > 0 {
			problems = append(problems, fmt.Sprintf("%d artifactfs mount(s): %s", len(left), strings.Join(left, " ")))
		}
		now, err := lc.connections()
		if err != nil {
			return err
		}
		var stay []string
		for c := range mine {
			if now[c] {
				stay = append(stay, c)
			}
		}
		if len(stay) > 0 {
			slices.Sort(stay)
			problems = append(problems, fmt.Sprintf("%d FUSE connection(s): %s", len(stay), strings.Join(stay, " ")))
		}
		if fds := countFds(); lc.fds > 0 && fds > lc.fds {
			problems = append(problems, fmt.Sprintf("%d more open descriptor(s)", fds-lc.fds))
		}
		lc.last = fmt.Sprintf("%d → %d", len(before), len(now))
		if len(problems) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("left behind: %s", strings.Join(problems, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countFds counts this process's open descriptors, or -1.
func countFds() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// findScale returns the row for a source, count and kind, or an empty one.
func findScale(rows []*scaleRow, src string, n int, parallel bool) *scaleRow {
	for _, r := range rows {
		if r.src.name == src && r.n == n && r.parallel == parallel {
			return r
		}
	}
	return &scaleRow{}
}

// scaleCmd is roughly how to do the same by hand, with the CLI (a server
// process per mount, where the bench and the shim serve every mount from
// one process).
func scaleCmd(r *scaleRow) string {
	amp := ""
	if r.parallel {
		amp = " &"
	}
	return fmt.Sprintf("for i in $(seq %d); do artifactfs mount --background %s MNTS/c$i%s; done; wait; "+
		"for i in $(seq %d); do artifactfs umount MNTS/c$i%s; done; wait", r.n, r.src.flags, amp, r.n, amp)
}

// scaleReport renders the scale section.
func scaleReport(rows []*scaleRow, mkfsCmd string, size, runs int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## Scale\n\n")
	w("Method: in the bench process, as the shim does, N per-container mounts are created — each opens its own "+
		"source (`blockreader.Open(IMG)` or `source.OpenDir(DIR)`), builds the tree (`fs.New` of `%s` and "+
		"`/urunc.json`) and mounts it (`fs.Mount`, which returns once the mount serves) at its own mountpoint — and "+
		"then deleted (`Unmount`, `Wait` for the server to stop, close the source). Sequential: one container after "+
		"the other; parallel: N goroutines at once. The time of all N (wall clock) is divided by N; rounds of fewer "+
		"than %d containers are repeated until %d went by (1 container: created and deleted %d times in a row) and "+
		"the time divided accordingly. Mountpoint directories are made before and removed after the timing. Between "+
		"create and delete, untimed, every mount must serve the kernel (stat, size checked). An untimed warm-up round "+
		"per source comes first. After every round: no `%s` mount may remain under the work directory "+
		"(`/proc/self/mountinfo`), none of the round's FUSE connections (fusectl entries, named by each mount's device "+
		"number; fusectl is mounted under the work directory when `/sys/fs/fuse/connections` is not) may remain, and "+
		"the process may hold no more open descriptors than after the warm-up; otherwise the section fails. The "+
		"connections column is the machine-wide count before → after the last round: other processes' FUSE mounts "+
		"come and go in it. ms per container: median over %d run(s), then min–max; runs are interleaved across rows. "+
		"×1 is the row's median over the median at 1 container, sequential, same source. One container (sequential "+
		"rounds): each container's own create + delete is timed too, the median taken over the round's containers "+
		"(over the %d at 1), then the median over runs; a burst of load from other processes moves this less than the "+
		"mean. IMG is made by `%s` with a "+
		"%d MiB kernel; DIR is the same tree as a host directory.\n\n",
		kernelPath, scaleMinContainers, scaleMinContainers, scaleMinContainers, fs.FSType, runs, scaleMinContainers, mkfsCmd, size)
	w("Twenty containers through containerd (the shim's whole path: view, mount, state) are measured in the " +
		"\"Time to artifacts\" section.\n\n")
	w("| source | containers | mode | how | create ms (min–max) | delete ms (min–max) | create + delete ms (min–max) | ×1 | one container ms (min–max) | ×1 | FUSE connections on the machine | reproduce |\n")
	w("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range rows {
		ref := findScale(rows, r.src.name, 1, false)
		single, singleX := "–", "–"
		if !r.parallel {
			single, singleX = r.single.format("%.2f"), medianRatio(r.single, ref.single)
		}
		w("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | `%s` |\n", r.src.name, r.n, r.mode, r.how(),
			r.create.format("%.2f"), r.del.format("%.2f"), r.sum.format("%.2f"), medianRatio(r.sum, ref.sum),
			single, singleX, r.conns, scaleCmd(r))
	}
	w("\nThe command lines start a server process per mount, so they are not the same measurement; " +
		"`go run ./bench/cmd/bench -only scale` is.\n\n")
	w("Targets (issue 4, item 4): create + delete per container, sequential, at 100 containers within 1.5× of " +
		"the time at 1 (10 containers shown alongside); nothing left behind (checked after every round, " +
		"the section fails otherwise).\n\n")
	w("| source | 100 containers ≤ 1.5× 1 | 10 containers ≤ 1.5× 1 | one container at 100, 10 | fastest run at 100, 10 | nothing left behind |\n|---|---|---|---|---|---|\n")
	for _, src := range mountSources {
		one, ten, hundred := findScale(rows, src.name, 1, false), findScale(rows, src.name, 10, false), findScale(rows, src.name, 100, false)
		wall := func(r *scaleRow) float64 { return r.sum.median() / one.sum.median() }
		single := func(r *scaleRow) float64 { return r.single.median() / one.single.median() }
		fastest := func(r *scaleRow) float64 { return r.sum.min() / one.sum.min() }
		w("| %s | %s | %s | ×%.2f, ×%.2f | ×%.2f, ×%.2f | met |\n", src.name,
			verdict(wall(hundred) <= 1.5, fmt.Sprintf("×%.2f", wall(hundred))),
			verdict(wall(ten) <= 1.5, fmt.Sprintf("×%.2f", wall(ten))),
			single(hundred), single(ten), fastest(hundred), fastest(ten))
	}
	w("\nThe targets are judged on the median time per container (all N over N); the one-container median and the fastest run " +
		"(min over min) are shown to tell scaling from the load of other processes on a shared machine.\n")
	return b.String()
}

// scalePlot draws the time per container against the number of
// containers, per source: create + delete of all over their number,
// sequential and parallel, and the median single container (sequential).
func scalePlot(rows []*scaleRow) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "artifactfs: create + delete time per container mount, in process, median"
	p.X.Label.Text = "containers"
	p.Y.Label.Text = "ms per container"
	var lines []namedLine
	for _, src := range mountSources {
		var seq, par, single plotter.XYs
		for i, n := range scaleCounts {
			r := findScale(rows, src.name, n, false)
			seq = append(seq, plotter.XY{X: float64(i), Y: r.sum.median()})
			single = append(single, plotter.XY{X: float64(i), Y: r.single.median()})
			if n > 1 { // one container is one container
				r = findScale(rows, src.name, n, true)
			}
			par = append(par, plotter.XY{X: float64(i), Y: r.sum.median()})
		}
		lines = append(lines, namedLine{src.name + ", sequential, all over N", seq},
			namedLine{src.name + ", parallel, all over N", par},
			namedLine{src.name + ", sequential, median single container", single})
	}
	if err := addLines(p, lines); err != nil {
		return nil, err
	}
	var labels []string
	for _, n := range scaleCounts {
		labels = append(labels, strconv.Itoa(n))
	}
	p.NominalX(labels...)
	return p, nil
}
