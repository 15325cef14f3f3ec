package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
)

// consumerRow holds, for one kernel size and indexed by ctrdCache, the
// time from Create to the last byte of kernel and initrd, and its parts,
// in ms.
type consumerRow struct {
	mib int
	// afs and cp are the totals; afsCreate/afsRead and
	// cpCreate/cpCopy/cpRead their parts.
	afs, afsCreate, afsRead      [2]stats
	cp, cpCreate, cpCopy, cpRead [2]stats
}

// consumerSection measures the consumer's view (issue 4, item 5): a
// VMM-like reader of kernel and initrd, from container Create to the last
// byte, through artifactfs and through the copy path, per kernel size.
func consumerSection(ctx context.Context, e *env) (*sectionResult, error) {
	tools, err := buildCtrdTools(ctx, e.work)
	if err != nil {
		return nil, err
	}
	sizes := slices.Compact(slices.Sorted(slices.Values(e.sizes)))
	var rows []*consumerRow
	for _, mib := range sizes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		row, err := consumerSize(ctx, e, tools, mib)
		if err != nil {
			return nil, fmt.Errorf("kernel %d MiB: %w", mib, err)
		}
		rows = append(rows, row)
	}
	p, err := consumerPlot(rows)
	if err != nil {
		return nil, err
	}
	return &sectionResult{markdown: consumerReport(rows, e.runs), plots: []*plot.Plot{p}}, nil
}

// consumerSize runs one daemon with a kernel of mib MiB: a warm-up round,
// then e.runs rounds cold and warm; everything is removed and checked for
// leaks at the end.
func consumerSize(ctx context.Context, e *env, t *ctrdTools, mib int) (row *consumerRow, err error) {
	err = withDaemon(ctx, t, e.work, mib, "vmm", func(c *ctrdEnv, gated, plain *ctrdContainer) ([]*ctrdContainer, error) {
		row = &consumerRow{mib: mib}
		buf := make([]byte, ctrdReadBuf)
		progress("%d MiB: warm-up round (untimed)", mib)
		if err := consumerRound(ctx, c, e.work, gated, plain, ctrdWarm, buf, nil); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		for run := 1; run <= e.runs; run++ {
			for _, temp := range ctrdCaches {
				if err := consumerRound(ctx, c, e.work, gated, plain, temp, buf, row); err != nil {
					return nil, fmt.Errorf("run %d, %s: %w", run, temp, err)
				}
				last := func(s stats) string { return ctrdFmtMs(s.runs[len(s.runs)-1]) }
				progress("%d MiB, run %d/%d, %s: Create to last byte: artifactfs %s ms (Create %s, read %s), copy path %s ms (Create %s, copy %s, read %s)",
					mib, run, e.runs, temp, last(row.afs[temp]), last(row.afsCreate[temp]), last(row.afsRead[temp]),
					last(row.cp[temp]), last(row.cpCreate[temp]), last(row.cpCopy[temp]), last(row.cpRead[temp]))
			}
		}
		return nil, nil
	})
	return row, err
}

// consumerRound measures both paths once at temperature temp (cold: the
// page cache dropped before each path's Create). artifactfs: Create the
// gated container's task, then read kernel and initrd from its
// per-container path. Copy path: Create the plain container's task, mount
// its rootfs, copy the artifacts to tmpfs, unmount, then read the copies.
// row nil: a warm-up, nothing recorded.
func consumerRound(ctx context.Context, c *ctrdEnv, work string, gated, plain *ctrdContainer, temp ctrdCache, buf []byte, row *consumerRow) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	off, err := c.d.LogSize()
	if err != nil {
		return err
	}
	if err := temp.prepare(); err != nil {
		return err
	}
	t0 := time.Now()
	if _, err := c.createTask(ctx, gated); err != nil {
		return err
	}
	tCreate := time.Now()
	if err := c.readArtifacts(c.path(gated), buf); err != nil {
		return fmt.Errorf("read through artifactfs: %w", err)
	}
	t1 := time.Now()
	// Proof that the shim served them (and did not roll back).
	if _, err := c.d.WaitServed(ctx, off, gated.id); err != nil {
		return err
	}
	if _, err := c.deleteTask(ctx, gated); err != nil {
		return err
	}
	if row != nil {
		ctrdAddMs(&row.afs[temp], t1.Sub(t0))
		ctrdAddMs(&row.afsCreate[temp], tCreate.Sub(t0))
		ctrdAddMs(&row.afsRead[temp], t1.Sub(tCreate))
	}

	ms, err := c.rootfsMounts(ctx, plain) // urunc has them from the spec: untimed
	if err != nil {
		return err
	}
	dst := ctrdCopyDir()
	defer os.RemoveAll(dst)
	if err := temp.prepare(); err != nil {
		return err
	}
	t0 = time.Now()
	if _, err := c.createTask(ctx, plain); err != nil {
		return err
	}
	tCreate = time.Now()
	dCopy, err := ctrdCopyArtifacts(plain, ms, filepath.Join(work, "copy-mnt"), dst)
	if err != nil {
		return err
	}
	tCopy := time.Now()
	if err := c.readArtifacts(dst, buf); err != nil {
		return fmt.Errorf("read the copies: %w", err)
	}
	t1 = time.Now()
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if _, err := c.deleteTask(ctx, plain); err != nil {
		return err
	}
	if row != nil {
		ctrdAddMs(&row.cp[temp], t1.Sub(t0))
		ctrdAddMs(&row.cpCreate[temp], tCreate.Sub(t0))
		ctrdAddMs(&row.cpCopy[temp], dCopy)
		ctrdAddMs(&row.cpRead[temp], t1.Sub(tCopy))
	}
	return nil
}

// consumerReport renders the section.
func consumerReport(rows []*consumerRow, runs int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## The consumer's view\n\n")
	w("Method: the same daemon, layout, shim and images as *Time to artifacts* (containerd v2.4.2, blockfile, state directory and "+
		"`ARTIFACTFS_ROOT` on tmpfs, root on disk; kernel of each size, %d MiB initrd), one daemon per kernel size. "+
		"A reader that behaves like a VMM opens the kernel, then the initrd, and reads each whole, once, sequentially, with %d MiB `read(2)` calls. "+
		"**artifactfs**: t0 before NewTask of a container with the view annotations; once NewTask returns, the reader reads from the per-container path "+
		"(`<ARTIFACTFS_ROOT>/<namespace>/<id>`, urunc's bind source); t1 at the last byte. "+
		"**copy path**: t0 before NewTask of a container with `com.urunc.unikernel.snapshotView=false`; once it returns, what urunc does inside Create: "+
		"mount the container's rootfs block file (a new loop device, read-only with `noload`), copy kernel, initrd and urunc.json to tmpfs (`/dev/shm`), unmount; "+
		"then the reader reads the copies; t1 at the last byte. "+
		"**cold**: `sync; echo 3 > /proc/sys/vm/drop_caches` once before t0; **warm**: the page cache kept. "+
		"One untimed warm-up round per size, then %d run(s), cold then warm each run; the task is deleted (untimed) after each. "+
		"Milliseconds, median (min–max) of the total, then the medians of its parts; copy ÷ artifactfs is the ratio of the total medians. "+
		"Issue 4 sets no target for this item.\n\n", ctrdInitrdMiB, ctrdReadBuf>>20, runs)
	w("| kernel | cache | artifactfs: Create → last byte | of which Create / read | copy path: Create → last byte | of which Create / copy / read | copy ÷ artifactfs | reproduce |\n")
	w("|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rows {
		for _, t := range ctrdCaches {
			w("| %d MiB | %s | %s | %s / %s | %s | %s / %s / %s | %s | `go run ./bench/cmd/bench -only consumer -sizes %d -runs %d` |\n",
				r.mib, t, ctrdMsCell(r.afs[t]), ctrdFmtMs(r.afsCreate[t].median()), ctrdFmtMs(r.afsRead[t].median()),
				ctrdMsCell(r.cp[t]), ctrdFmtMs(r.cpCreate[t].median()), ctrdFmtMs(r.cpCopy[t].median()), ctrdFmtMs(r.cpRead[t].median()),
				ctrdTimes(r.cp[t], r.afs[t]), r.mib, runs)
		}
	}
	w("\nBy hand: `ctr run -d --snapshotter blockfile --runtime %s --annotation com.urunc.unikernel.snapshotView=true "+
		"--annotation com.urunc.unikernel.mountRootfs=true IMAGE ID && cat ROOT/NS/ID/.boot/kernel ROOT/NS/ID/.boot/initrd > /dev/null` against "+
		"`ctr run -d ... --annotation com.urunc.unikernel.snapshotView=false IMAGE ID2`, then `mount -o ro,noload,loop SNAPSHOT MNT && cp -r MNT/.boot MNT/urunc.json /dev/shm/copy/ && umount MNT "+
		"&& cat /dev/shm/copy/.boot/kernel /dev/shm/copy/.boot/initrd > /dev/null` (ctr run also starts the task, which the bench does not).\n", ctrdRuntime)
	return b.String()
}

// consumerPlot draws Create to last byte against kernel size, both paths,
// cold and warm.
func consumerPlot(rows []*consumerRow) (*plot.Plot, error) {
	var sizes []int
	for _, r := range rows {
		sizes = append(sizes, r.mib)
	}
	var series []ctrdSeries
	for _, t := range ctrdCaches {
		var afs, cp []float64
		for _, r := range rows {
			afs = append(afs, r.afs[t].median())
			cp = append(cp, r.cp[t].median())
		}
		series = append(series,
			ctrdSeries{name: "artifactfs: Create, read from the per-container path, " + t.String(), vals: afs, color: 0, dashed: t == ctrdWarm},
			ctrdSeries{name: "copy path: Create, mount + copy + unmount, read the copies, " + t.String(), vals: cp, color: 1, dashed: t == ctrdWarm})
	}
	return ctrdSizePlot(fmt.Sprintf("the consumer's view — container Create to the last byte of kernel and %d MiB initrd (median; log scales)", ctrdInitrdMiB), "ms", sizes, series)
}
