package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"gonum.org/v1/plot"

	"github.com/artifactfs/artifactfs/shimglue"
)

// setupScaleN is how many containers are created and deleted at once in
// the containerd half of issue 4's item 4.
const setupScaleN = 20

// ttaRow holds the figures of one kernel size, indexed by ctrdCache.
type ttaRow struct {
	mib  int
	mode string // the shim's serving mode, from its log
	// took is the shim's view + mount + state ("artifacts served", took);
	// waited the part of it Create waited for (the shim starts preparing
	// when its process starts, before Create arrives);
	// copyPath urunc's mount + copy + unmount; createView and createPlain
	// the whole NewTask with and without the view; steps the shim's
	// per-step times. All in ms.
	took, waited, copyPath, createView, createPlain [2]stats
	steps                                           [2]map[string]*stats
	// outside is took minus the sum of the steps, per run: the shim's
	// work before the first step (clearing an earlier attempt's paths).
	outside [2]stats
}

// scaleCtrRow holds create and delete of n containers at once (warm).
type scaleCtrRow struct {
	n int
	// create and del are per container (each NewTask / task Delete, timed
	// by its own goroutine); createWall and delWall are the wall time of
	// all n divided by n; took is the shim's own "took" per container.
	create, del, createWall, delWall, took stats
}

// setupSection measures time to artifacts per kernel size against the
// copy path (issue 4, item 1) and creates and deletes 1 and 20 containers
// through containerd (item 4, the containerd half), each kernel size with
// a daemon of its own.
func setupSection(ctx context.Context, e *env) (*sectionResult, error) {
	tools, err := buildCtrdTools(ctx, e.work)
	if err != nil {
		return nil, err
	}
	sizes := slices.Sorted(slices.Values(e.sizes))
	sizes = slices.Compact(sizes)
	var rows []*ttaRow
	var scale []*scaleCtrRow
	for i, mib := range sizes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		row, sc, err := setupSize(ctx, e, tools, mib, i == 0)
		if err != nil {
			return nil, fmt.Errorf("kernel %d MiB: %w", mib, err)
		}
		rows = append(rows, row)
		if sc != nil {
			scale = sc
		}
	}
	p, err := ttaPlot(rows)
	if err != nil {
		return nil, err
	}
	return &sectionResult{markdown: setupReport(rows, scale, sizes[0], e.runs), plots: []*plot.Plot{p}}, nil
}

// setupSize runs one daemon with a kernel of mib MiB: a warm-up round,
// e.runs rounds cold and warm, then (withScale) the 1-vs-20 containers
// runs; everything is removed and checked for leaks at the end.
func setupSize(ctx context.Context, e *env, t *ctrdTools, mib int, withScale bool) (row *ttaRow, scale []*scaleCtrRow, err error) {
	err = withDaemon(ctx, t, e.work, mib, "tta", func(c *ctrdEnv, gated, plain *ctrdContainer) ([]*ctrdContainer, error) {
		row = &ttaRow{mib: mib, steps: [2]map[string]*stats{{}, {}}}
		progress("%d MiB: warm-up round (untimed), checking the served kernel", mib)
		if err := setupRound(ctx, c, e.work, gated, plain, ctrdWarm, nil); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		if err := c.checkServedOnce(ctx, gated); err != nil {
			return nil, err
		}
		for run := 1; run <= e.runs; run++ {
			for _, temp := range ctrdCaches {
				if err := setupRound(ctx, c, e.work, gated, plain, temp, row); err != nil {
					return nil, fmt.Errorf("run %d, %s: %w", run, temp, err)
				}
				last := func(s stats) float64 { return s.runs[len(s.runs)-1] }
				progress("%d MiB, run %d/%d, %s: artifactfs %s ms, Create waited %s ms (Create %s ms), copy path %s ms (Create without view %s ms)",
					mib, run, e.runs, temp, ctrdFmtMs(last(row.took[temp])), ctrdFmtMs(last(row.waited[temp])), ctrdFmtMs(last(row.createView[temp])),
					ctrdFmtMs(last(row.copyPath[temp])), ctrdFmtMs(last(row.createPlain[temp])))
			}
		}
		if !withScale {
			return nil, nil
		}
		more, sc, err := setupScale(ctx, c, e.runs)
		if err != nil {
			return more, fmt.Errorf("%d containers: %w", setupScaleN, err)
		}
		scale = sc
		return more, nil
	})
	return row, scale, err
}

// checkServedOnce creates gated's task, checks the kernel its
// per-container path serves, and deletes the task.
func (c *ctrdEnv) checkServedOnce(ctx context.Context, gated *ctrdContainer) error {
	off, err := c.d.LogSize()
	if err != nil {
		return err
	}
	if _, err := c.createTask(ctx, gated); err != nil {
		return err
	}
	if _, err := c.d.WaitServed(ctx, off, gated.id); err != nil {
		return err
	}
	if err := c.checkServed(gated); err != nil {
		return err
	}
	_, err = c.deleteTask(ctx, gated)
	return err
}

// setupRound measures once at temperature temp: Create of the gated
// container (whole NewTask, and the shim's took and steps from its log),
// then Create of the plain one followed by the copy path on its rootfs.
// Caches are dropped before each Create and before the copy when cold.
// row nil: a warm-up, nothing recorded.
func setupRound(ctx context.Context, c *ctrdEnv, work string, gated, plain *ctrdContainer, temp ctrdCache, row *ttaRow) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := temp.prepare(); err != nil {
		return err
	}
	off, err := c.d.LogSize()
	if err != nil {
		return err
	}
	dView, err := c.createTask(ctx, gated)
	if err != nil {
		return err
	}
	s, err := c.d.WaitServed(ctx, off, gated.id)
	if err != nil {
		return err
	}
	if _, err := c.deleteTask(ctx, gated); err != nil {
		return err
	}

	if err := temp.prepare(); err != nil {
		return err
	}
	dPlain, err := c.createTask(ctx, plain)
	if err != nil {
		return err
	}
	ms, err := c.rootfsMounts(ctx, plain)
	if err != nil {
		return err
	}
	if err := temp.prepare(); err != nil {
		return err
	}
	dst := ctrdCopyDir()
	dCopy, err := ctrdCopyArtifacts(plain, ms, filepath.Join(work, "copy-mnt"), dst)
	if rerr := os.RemoveAll(dst); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return err
	}
	if _, err := c.deleteTask(ctx, plain); err != nil {
		return err
	}

	if row != nil {
		row.mode = s.Mode
		ctrdAddMs(&row.createView[temp], dView)
		ctrdAddMs(&row.createPlain[temp], dPlain)
		ctrdAddMs(&row.copyPath[temp], dCopy)
		ctrdAddMs(&row.took[temp], s.Took)
		ctrdAddMs(&row.waited[temp], s.Waited)
		var sum time.Duration
		for step, d := range s.Steps {
			if row.steps[temp][step] == nil {
				row.steps[temp][step] = &stats{}
			}
			ctrdAddMs(row.steps[temp][step], d)
			sum += d
		}
		ctrdAddMs(&row.outside[temp], s.Took-sum)
	}
	return nil
}

// setupScale creates setupScaleN gated containers and, runs times (warm),
// creates and deletes the task of one of them, then of all of them at
// once. It returns the containers (for the caller to remove) and a row per
// count.
func setupScale(ctx context.Context, c *ctrdEnv, runs int) ([]*ctrdContainer, []*scaleCtrRow, error) {
	progress("%d MiB: creating %d containers (their rootfs snapshots copy block files; untimed)", c.kernelMiB, setupScaleN)
	var ks []*ctrdContainer
	for i := range setupScaleN {
		k, err := c.newContainer(ctx, fmt.Sprintf("scale-%02d", i), ctrdGated)
		if err != nil {
			return ks, nil, err
		}
		ks = append(ks, k)
	}
	rows := []*scaleCtrRow{{n: 1}, {n: setupScaleN}}
	for run := 1; run <= runs; run++ {
		for _, row := range rows {
			if err := setupScaleRound(ctx, c, ks[:row.n], row); err != nil {
				return ks, nil, fmt.Errorf("run %d, %d container(s): %w", run, row.n, err)
			}
			progress("%d container(s) at once, run %d/%d: Create %s ms per container (wall ÷ n), Delete %s ms",
				row.n, run, runs, ctrdFmtMs(row.createWall.runs[run-1]), ctrdFmtMs(row.delWall.runs[run-1]))
		}
	}
	return ks, rows, nil
}

// setupScaleRound creates the tasks of ks all at once, checks that the shim
// served each, then deletes them all at once.
func setupScaleRound(ctx context.Context, c *ctrdEnv, ks []*ctrdContainer, row *scaleCtrRow) error {
	off, err := c.d.LogSize()
	if err != nil {
		return err
	}
	wall, each, err := ctrdParallel(ctx, ks, func(k *ctrdContainer) (time.Duration, error) { return c.createTask(ctx, k) })
	if err != nil {
		return err
	}
	ctrdAddMs(&row.createWall, wall/time.Duration(len(ks)))
	for _, d := range each {
		ctrdAddMs(&row.create, d)
	}
	for _, k := range ks {
		s, err := c.d.WaitServed(ctx, off, k.id)
		if err != nil {
			return err
		}
		ctrdAddMs(&row.took, s.Took)
	}
	wall, each, err = ctrdParallel(ctx, ks, func(k *ctrdContainer) (time.Duration, error) { return c.deleteTask(ctx, k) })
	if err != nil {
		return err
	}
	ctrdAddMs(&row.delWall, wall/time.Duration(len(ks)))
	for _, d := range each {
		ctrdAddMs(&row.del, d)
	}
	return nil
}

// ctrdParallel runs fn on every container at once and returns the wall
// time and each call's own duration; after a Ctrl-C just ctx's error.
func ctrdParallel(ctx context.Context, ks []*ctrdContainer, fn func(*ctrdContainer) (time.Duration, error)) (time.Duration, []time.Duration, error) {
	each := make([]time.Duration, len(ks))
	errs := make([]error, len(ks))
	var wg sync.WaitGroup
	start := time.Now()
	for i, k := range ks {
		wg.Go(func() { each[i], errs[i] = fn(k) })
	}
	wg.Wait()
	wall := time.Since(start)
	if err := errors.Join(errs...); err != nil && ctx.Err() != nil {
		return 0, nil, ctx.Err()
	}
	return wall, each, errors.Join(errs...)
}

// setupReport renders the section.
func setupReport(rows []*ttaRow, scale []*scaleCtrRow, scaleMiB, runs int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	mode := "?"
	if len(rows) > 0 {
		mode = rows[0].mode
	}
	w("## Time to artifacts\n\n")
	w("Method: the real shim (`go build ./cmd/containerd-shim-artifactfs-v2`, no build tags) under a private containerd %s "+
		"(`internal/ctrtest`), runtime `%s`, snapshotter blockfile. The layout is a production host's: containerd's state "+
		"directory (bundles, where the shim writes `artifactfs.json` with fsync) and `ARTIFACTFS_ROOT` are each a tmpfs, as `/run` is "+
		"(on this VM `/run` is on disk, so the bench mounts them); containerd's root (bolt databases, blockfile's block files) stays on disk. "+
		"Each kernel size gets a daemon of its own whose blockfile scratch file is sized for it (kernel + ¼ + %d MiB), holding one image: "+
		"`/.boot/kernel` of that size, `/.boot/initrd` of %d MiB (pseudo-random bytes), `/urunc.json`, and a static entrypoint. "+
		"Two containers are created once (untimed: their rootfs snapshots copy a block file); every measurement creates and deletes their task. "+
		"**artifactfs** is what the shim adds to Create — prepare the leased view, mount it, resolve the artifacts, mount the per-container path, write the state — "+
		"as the shim itself logs it (`\"artifacts served\"`, field `took`), for a container with annotations "+
		"`com.urunc.unikernel.snapshotView=true`, `com.urunc.unikernel.mountRootfs=true`; the shim served in mode `%s`. "+
		"**copy path** is what urunc does instead, for a container with `com.urunc.unikernel.snapshotView=false` right after its Create: "+
		"mount the container's rootfs block file (a new loop device; read-only with `noload`, since the shim holds it mounted read-write meanwhile), "+
		"copy kernel, initrd and urunc.json to tmpfs (`/dev/shm`), unmount — timed from mount to unmount. "+
		"**cold**: `sync; echo 3 > /proc/sys/vm/drop_caches` before each Create and again before each copy; "+
		"**warm**: the page cache kept, as on a busy host (containerd's databases and the shim binary hot). "+
		"**Create waited** is the part of that work Create waited for: the shim starts preparing as soon as its process starts "+
		"(containerd wrote the bundle and created the container before starting it) and Create, arriving later, waits only for the rest "+
		"(`\"artifacts ready for Create\"`, field `waited`). "+
		"One untimed warm-up round per size first (it also checks the sha256 of the served kernel), then %d run(s), cold then warm each run. "+
		"Figures are milliseconds, median (min–max); copy ÷ artifactfs is the ratio of the medians.\n\n",
		"v2.4.2", ctrdRuntime, 48+ctrdInitrdMiB, ctrdInitrdMiB, mode, runs)

	w("| kernel | cache | artifactfs: view + mount + state, ms | Create waited for it, ms | copy path, ms | copy ÷ artifactfs work | copy ÷ Create's wait | reproduce |\n")
	w("|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rows {
		for _, t := range ctrdCaches {
			w("| %d MiB | %s | %s | %s | %s | %s | %s | `go run ./bench/cmd/bench -only setup -sizes %d -runs %d` |\n",
				r.mib, t, ctrdMsCell(r.took[t]), ctrdMsCell(r.waited[t]), ctrdMsCell(r.copyPath[t]),
				ctrdTimes(r.copyPath[t], r.took[t]), ctrdTimes(r.copyPath[t], r.waited[t]), r.mib, runs)
		}
	}
	w("\nBy hand: artifactfs is `ctr run -d --snapshotter blockfile --runtime %s --annotation com.urunc.unikernel.snapshotView=true "+
		"--annotation com.urunc.unikernel.mountRootfs=true IMAGE ID` and the `took` of `grep '\"artifacts served\"'` in containerd's log; "+
		"the copy path is `time sh -c 'mount -o ro,noload,loop SNAPSHOT MNT && cp -r MNT/.boot MNT/urunc.json /dev/shm/copy/ && umount MNT'` "+
		"with SNAPSHOT the container's block file under `<containerd root>/io.containerd.snapshotter.v1.blockfile/snapshots/`.\n\n", ctrdRuntime)

	w("Targets (issue 4, item 1):\n\n")
	w("| cache | measured | median ≤ 10 ms at every size | flat: largest kernel within 1.5× of the smallest | 64 MiB: at least 10× faster than the copy path |\n")
	w("|---|---|---|---|---|\n")
	for _, t := range ctrdCaches {
		for _, m := range []struct {
			name string
			pick func(*ttaRow) stats
		}{
			{"shim's work (took)", func(r *ttaRow) stats { return r.took[t] }},
			{"Create's wait (waited)", func(r *ttaRow) stats { return r.waited[t] }},
		} {
			w("| %s | %s | %s | %s | %s |\n", t, m.name, ttaTargetMax(rows, m.pick), ttaTargetFlat(rows, m.pick), ttaTarget64(rows, t, m.pick))
		}
	}
	if notes := ttaLimits(rows); notes != "" {
		w("\nWhat limits the missed ones (largest shim step at that size, from the table below): %s.\n", notes)
	}

	w("\n### Where the shim's time goes\n\n")
	w("Median ms per step, as the shim logs them (`steps`); *outside the steps* is `took` minus the sum of the steps, per run " +
		"(the shim's work before its first step: clearing what an earlier attempt may have left); `took` is the whole.\n\n")
	steps := ttaStepNames(rows)
	w("| kernel | cache | %s | outside the steps | took |\n|---|---|%s---:|---:|\n", strings.Join(steps, " | "), strings.Repeat("---:|", len(steps)))
	for _, r := range rows {
		for _, t := range ctrdCaches {
			var cells []string
			for _, s := range steps {
				if st := r.steps[t][s]; st != nil {
					cells = append(cells, ctrdFmtMs(st.median()))
				} else {
					cells = append(cells, "–")
				}
			}
			w("| %d MiB | %s | %s | %s | %s |\n", r.mib, t, strings.Join(cells, " | "), ctrdFmtMs(r.outside[t].median()), ctrdFmtMs(r.took[t].median()))
		}
	}

	w("\n### The whole Create, with and without the view\n\n")
	w("NewTask through containerd (starting the shim process, the shim's Create, runc create), ms, median (min–max); " +
		"\"without\" is the container with `snapshotView=false`, the one the copy path then runs on (so the copy path's Create is \"without\" plus the copy).\n\n")
	w("| kernel | cache | with the view | without | added by the view (medians) | reproduce |\n|---|---|---:|---:|---:|---|\n")
	for _, r := range rows {
		for _, t := range ctrdCaches {
			w("| %d MiB | %s | %s | %s | %s | `go run ./bench/cmd/bench -only setup -sizes %d -runs %d` |\n", r.mib, t,
				ctrdMsCell(r.createView[t]), ctrdMsCell(r.createPlain[t]),
				ctrdFmtMs(r.createView[t].median()-r.createPlain[t].median()), r.mib, runs)
		}
	}

	if len(scale) == 2 {
		one, many := scale[0], scale[1]
		w("\n### %d containers through containerd\n\n", setupScaleN)
		w("Method (issue 4, item 4, the containerd half): on the %d MiB daemon above, %d containers with the view annotations are created once (untimed); "+
			"each run creates the task of one of them, then deletes it, then creates the tasks of all %d at once (one goroutine each) and deletes them all at once. "+
			"Warm cache. *Create* is NewTask, *Delete* is the task's Delete (kill of the created, never started process; the shim unmounts and releases the view). "+
			"Per container: the median of each call's own duration; wall ÷ n: the time until the last of the n returned, divided by n. "+
			"After the last run every container is deleted and nothing may be left: no view or lease (`view.List`), nothing `artifactfs gc --dry-run` would remove, "+
			"no mount under the artifactfs root or the daemon's directory, no loop device over the daemon's files, no per-container or view directory, no bundle "+
			"(the section fails otherwise). %d run(s), ms, median (min–max).\n\n",
			scaleMiB, setupScaleN, setupScaleN, runs)
		w("| containers at once | Create, per container | Create, wall ÷ n | shim's took | Delete, per container | Delete, wall ÷ n | reproduce |\n")
		w("|---:|---:|---:|---:|---:|---:|---|\n")
		for _, r := range scale {
			w("| %d | %s | %s | %s | %s | %s | `go run ./bench/cmd/bench -only setup -sizes %d -runs %d` |\n", r.n,
				ctrdMsCell(r.create), ctrdMsCell(r.createWall), ctrdMsCell(r.took), ctrdMsCell(r.del), ctrdMsCell(r.delWall), scaleMiB, runs)
		}
		w("\nTargets (issue 4, item 4): time per container (wall ÷ n) at %d within 1.5× of the time at 1 — Create: %s; Delete: %s. "+
			"Nothing left behind: met (checked as above).\n",
			setupScaleN,
			verdict(many.createWall.median() <= 1.5*one.createWall.median(), ctrdTimes(many.createWall, one.createWall)),
			verdict(many.delWall.median() <= 1.5*one.delWall.median(), ctrdTimes(many.delWall, one.delWall)))
	}
	return b.String()
}

// ttaTargetMax: the median of pick is at most 10 ms at every size.
func ttaTargetMax(rows []*ttaRow, pick func(*ttaRow) stats) string {
	var over []string
	worst := 0.0
	for _, r := range rows {
		m := pick(r).median()
		worst = max(worst, m)
		if m > 10 {
			over = append(over, fmt.Sprintf("%d MiB: %s ms", r.mib, ctrdFmtMs(m)))
		}
	}
	if len(over) > 0 {
		return verdict(false, strings.Join(over, ", "))
	}
	return verdict(true, "at most "+ctrdFmtMs(worst)+" ms")
}

// ttaTargetFlat: the largest kernel's median within 1.5× of the smallest's.
func ttaTargetFlat(rows []*ttaRow, pick func(*ttaRow) stats) string {
	if len(rows) < 2 {
		return "– (one size only)"
	}
	lo, hi := rows[0], rows[len(rows)-1]
	r := pick(hi).median() / pick(lo).median()
	return verdict(r <= 1.5, fmt.Sprintf("%d MiB %s ms = %.2f× %d MiB %s ms",
		hi.mib, ctrdFmtMs(pick(hi).median()), r, lo.mib, ctrdFmtMs(pick(lo).median())))
}

// ttaTarget64: at 64 MiB the copy path takes at least 10× artifactfs.
func ttaTarget64(rows []*ttaRow, t ctrdCache, pick func(*ttaRow) stats) string {
	for _, r := range rows {
		if r.mib == 64 {
			return verdict(r.copyPath[t].median() >= 10*pick(r).median(),
				fmt.Sprintf("%s: %s vs %s ms", ctrdTimes(r.copyPath[t], pick(r)), ctrdFmtMs(r.copyPath[t].median()), ctrdFmtMs(pick(r).median())))
		}
	}
	return "– (64 MiB not measured)"
}

// ttaLimits names, for every size and temperature over 10 ms, the
// largest step of the shim.
func ttaLimits(rows []*ttaRow) string {
	var out []string
	for _, r := range rows {
		for _, t := range ctrdCaches {
			if r.took[t].median() <= 10 {
				continue
			}
			step, worst := "", 0.0
			for s, st := range r.steps[t] {
				if m := st.median(); m > worst {
					step, worst = s, m
				}
			}
			out = append(out, fmt.Sprintf("%d MiB %s %s ms — `%s` %s ms", r.mib, t, ctrdFmtMs(r.took[t].median()), step, ctrdFmtMs(worst)))
		}
	}
	return strings.Join(out, "; ")
}

// ttaStepNames lists the steps the shim logged, in shimglue's order, then
// any it does not know of (the shim may have changed), sorted.
func ttaStepNames(rows []*ttaRow) []string {
	seen := map[string]bool{}
	for _, r := range rows {
		for _, m := range r.steps {
			for s := range m {
				seen[s] = true
			}
		}
	}
	var out []string
	for _, s := range shimglue.Steps {
		if seen[string(s)] {
			out = append(out, string(s))
			delete(seen, string(s))
		}
	}
	var rest []string
	for s := range seen {
		rest = append(rest, s)
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// ttaPlot draws time to artifacts against kernel size, both paths, cold
// and warm.
func ttaPlot(rows []*ttaRow) (*plot.Plot, error) {
	var sizes []int
	for _, r := range rows {
		sizes = append(sizes, r.mib)
	}
	var series []ctrdSeries
	for _, t := range ctrdCaches {
		var afs, wait, cp []float64
		for _, r := range rows {
			afs = append(afs, r.took[t].median())
			wait = append(wait, r.waited[t].median())
			cp = append(cp, r.copyPath[t].median())
		}
		series = append(series,
			ctrdSeries{name: "artifactfs (view + mount + state), " + t.String(), vals: afs, color: 0, dashed: t == ctrdWarm},
			ctrdSeries{name: "artifactfs, what Create waited for, " + t.String(), vals: wait, color: 2, dashed: t == ctrdWarm},
			ctrdSeries{name: "copy path (mount, copy to tmpfs, unmount), " + t.String(), vals: cp, color: 1, dashed: t == ctrdWarm})
	}
	return ctrdSizePlot("time to artifacts vs kernel size (median; log scales)", "ms", sizes, series)
}
