package density

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/artifactfs/artifactfs/admin"
	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/bench/internal/ctrd"
	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/mounttable"
)

// observed is what the host shows with every container of a row running.
type observed struct {
	// viewMounts are the mounts under <root>/.images and <root>/.views
	// (the views), fuseMounts the FUSE mounts elsewhere under the root
	// (the per-container paths); viewLoops the distinct loop devices the
	// views are mounted from; allLoops every loop device over the
	// daemon's files (the containers' own rootfs loops too).
	viewMounts, fuseMounts, viewLoops, allLoops int
	// views is what admin.Status says the containers read from: distinct
	// shared views, and containers with a view of their own.
	sharedViews, ownViews int
	// files are the files whose pages in the page cache count (resident):
	// kernel and initrd in each view mount, for the copy path the copies;
	// blockFiles the views' loop backing files.
	files, blockFiles []string
}

// observe reads the mount table under the root, the loop devices and
// admin.Status.
func observe(c *ctrd.Env, l layout) (observed, error) {
	var o observed
	if l.copy {
		for _, p := range []string{ctrtest.SampleKernelPath, ctrtest.SampleInitrdPath} {
			m, _ := filepath.Glob(filepath.Join(ctrd.CopyDir(), "*", p))
			o.files = append(o.files, m...)
		}
	}
	root, err := mounttable.Canonical(c.H.Root)
	if err != nil {
		return o, err
	}
	mounts, err := mounttable.Under(root)
	if err != nil {
		return o, err
	}
	loops := map[string]bool{}
	for _, m := range mounts {
		switch {
		case m.Mountpoint == root:
		case under(m.Mountpoint, filepath.Join(root, artifactbind.ImagesDir), filepath.Join(root, artifactbind.ViewsDir)):
			o.viewMounts++
			o.files = append(o.files, filepath.Join(m.Mountpoint, ctrtest.SampleKernelPath), filepath.Join(m.Mountpoint, ctrtest.SampleInitrdPath))
			if dev, ok := strings.CutPrefix(m.Source, "/dev/"); ok && strings.HasPrefix(dev, "loop") && !loops[dev] {
				loops[dev] = true
				b, err := os.ReadFile(filepath.Join("/sys/block", dev, "loop", "backing_file"))
				if err != nil {
					return o, fmt.Errorf("backing file of %s: %w", m.Source, err)
				}
				o.blockFiles = append(o.blockFiles, strings.TrimSpace(string(b)))
			}
		case strings.HasPrefix(m.FSType, "fuse"):
			o.fuseMounts++
		}
	}
	o.viewLoops = len(loops)
	all, err := ctrtest.LoopDevicesUnder(c.H.D.Dir)
	if err != nil {
		return o, err
	}
	o.allLoops = len(all)
	entries, err := admin.Status(c.H.Root, 5*time.Second)
	if err != nil {
		return o, err
	}
	var views []string
	for _, e := range entries {
		switch {
		case e.Mode == admin.ModeNone:
		case e.SharedView != "":
			views = append(views, e.SharedView)
		default:
			o.ownViews++
		}
	}
	slices.Sort(views)
	o.sharedViews = len(slices.Compact(views))
	return o, nil
}

// under reports whether p lies below one of dirs.
func under(p string, dirs ...string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// resident sums the page cache of files (host.Resident) in MiB, each
// inode once: overlayfs views of one layer show the same file.
func resident(files []string) (float64, error) {
	seen := map[[2]uint64]bool{}
	var sum int64
	for _, f := range files {
		var st syscall.Stat_t
		if err := syscall.Stat(f, &st); err != nil {
			return 0, err
		}
		if key := [2]uint64{st.Dev, st.Ino}; !seen[key] {
			seen[key] = true
			n, err := host.Resident(f)
			if err != nil {
				return 0, err
			}
			sum += n
		}
	}
	return float64(sum) / (1 << 20), nil
}

// shimMemory sums VmRSS and Pss of the daemon's artifactfs shims, MiB.
func shimMemory(c *ctrd.Env) (rss, pss float64, err error) {
	for _, sp := range c.H.ShimProcesses() {
		status, err := host.ProcFields(fmt.Sprintf("/proc/%d/status", sp.Pid))
		if err != nil {
			return 0, 0, err
		}
		rollup, err := host.ProcFields(fmt.Sprintf("/proc/%d/smaps_rollup", sp.Pid))
		if err != nil {
			return 0, 0, err
		}
		rss += status["VmRSS"] / 1024
		pss += rollup["Pss"] / 1024
	}
	return rss, pss, nil
}

// mountModes counts the FUSE mounts the shims logged after offset off of
// the daemon's log by serving mode (fs's "mounted" line: passthrough or
// server).
func mountModes(logPath string, off int64) (map[string]int, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	modes := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct{ Message, Mode string }
		if b := sc.Bytes(); len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &l) == nil && l.Message == "mounted" {
			modes[l.Mode]++
		}
	}
	return modes, sc.Err()
}
