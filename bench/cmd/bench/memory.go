package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/blockreader"
	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/internal/mountinfo"
	"github.com/artifactfs/artifactfs/internal/source"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// memServerEnv, when set in the environment, turns the bench binary into a
// memory-test server (see memServer) instead of running the benchmarks. It
// holds the JSON of a memServerConfig.
const memServerEnv = "ARTIFACTFS_BENCH_MEMSERVER"

// memCounts are the numbers of mounts one server holds; 0 is the reference,
// the bare server process.
var memCounts = []int{0, 1, 10, 100}

// memSettle is how long the parent waits after a server reported ready
// before it reads the server's memory.
const memSettle = 500 * time.Millisecond

// artifactPaths are the in-image paths every benchmark mount serves.
var artifactPaths = []string{kernelPath, "/urunc.json"}

// mountSource is one way the shim serves artifacts: a source kind and its
// mount options.
type mountSource struct {
	name        string // row label
	kind        string // "image": blockreader over an ext4 image; "dir": source.Dir over a host directory
	passthrough bool   // fs.Options.Passthrough
	flags       string // the artifactfs mount flags that do the same by hand
}

// mountSources are the sources the memory and scale sections measure.
var mountSources = []mountSource{
	{name: "artifactfs --image IMG (blockreader)", kind: "image", flags: "--image IMG"},
	{name: "artifactfs --dir DIR, passthrough", kind: "dir", passthrough: true, flags: "--dir DIR"},
}

// path returns what the source opens: the image file or the directory.
func (s mountSource) path(img, dir string) string {
	if s.kind == "image" {
		return img
	}
	return dir
}

// openSource opens a source of the given kind ("image" or "dir") at path.
func openSource(kind, path string) (source.Source, error) {
	switch kind {
	case "image":
		return blockreader.Open(path)
	case "dir":
		return source.OpenDir(path)
	}
	return nil, fmt.Errorf("unknown source kind %q", kind)
}

// treeDir writes, under work, a host directory holding the same kernel
// (same content) and urunc.json as contiguousImage(work, sizeMiB), for the
// directory source, and binds it onto itself read-only, as a snapshot view
// is mounted: FUSE passthrough serves only files that cannot change. The
// returned function unmounts it.
func treeDir(work string, sizeMiB int) (string, func() error, error) {
	dir := filepath.Join(work, fmt.Sprintf("tree%d", sizeMiB))
	if err := writeTree(dir, testimage.Payload(uint64(sizeMiB), sizeMiB<<20)); err != nil {
		return "", nil, fmt.Errorf("write tree %s: %w", dir, err)
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		return "", nil, fmt.Errorf("bind %s: %w", dir, err)
	}
	unmount := func() error {
		if err := unix.Unmount(dir, 0); err != nil {
			return fmt.Errorf("unmount %s: %w", dir, err)
		}
		return nil
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		return "", nil, errors.Join(fmt.Errorf("remount %s read-only: %w", dir, err), unmount())
	}
	return dir, unmount, nil
}

// --- the server process ---

// memServerConfig tells a memory-test server what to mount.
type memServerConfig struct {
	Source      string `json:"source"` // "image" or "dir"
	Path        string `json:"path"`   // the image file or the directory
	Mounts      int    `json:"mounts"` // how many trees to mount, one per container
	Dir         string `json:"dir"`    // mountpoints are Dir/m000, Dir/m001, ...
	Passthrough bool   `json:"passthrough,omitempty"`
}

func init() {
	raw, ok := os.LookupEnv(memServerEnv)
	if !ok {
		return
	}
	if err := memServer(raw); err != nil {
		fmt.Fprintln(os.Stderr, "bench memory server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// memMountpoint is the mountpoint of the i-th tree of a server.
func memMountpoint(dir string, i int) string {
	return filepath.Join(dir, fmt.Sprintf("m%03d", i))
}

// memServer is the hidden mode of the bench binary: it mounts the trees
// cfg asks for, each from its own source as the shim does per container,
// prints "ready pid PID mode MODE" on stdout, and serves until stdin is
// closed (or at end of input on a terminal) or it gets SIGINT or SIGTERM;
// then it unmounts everything. Meanwhile it answers commands on stdin:
// "stats" with its Go allocation counters as JSON (goMem), "free" with
// "freed" once debug.FreeOSMemory has collected garbage and returned free
// memory to the kernel.
func memServer(raw string) (err error) {
	var cfg memServerConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return fmt.Errorf("%s: %w", memServerEnv, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var mounted []*benchMount
	defer func() {
		for i := len(mounted) - 1; i >= 0; i-- {
			err = errors.Join(err, mounted[i].close())
		}
	}()
	mode := "-"
	for i := range cfg.Mounts {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := mountOne(ctx, cfg.Source, cfg.Path, memMountpoint(cfg.Dir, i), cfg.Passthrough)
		if err != nil {
			return err
		}
		mounted = append(mounted, m)
		mode = m.m.Mode()
	}
	fmt.Printf("ready pid %d mode %s\n", os.Getpid(), mode)

	// Commands on stdin, one a line, each answered with one line.
	eof := make(chan struct{})
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			switch sc.Text() {
			case "stats":
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				line, _ := json.Marshal(goMem{TotalAlloc: ms.TotalAlloc, Mallocs: ms.Mallocs, HeapAlloc: ms.HeapAlloc, NumGC: ms.NumGC})
				fmt.Println(string(line))
			case "free":
				debug.FreeOSMemory()
				fmt.Println("freed")
			default:
				fmt.Println("unknown command")
			}
		}
	}()
	select {
	case <-eof:
	case <-ctx.Done():
	}
	return nil
}

// goMem is what a memory-test server reports on "stats": its Go runtime's
// allocation counters.
type goMem struct {
	TotalAlloc uint64 `json:"total_alloc"` // bytes allocated, ever
	Mallocs    uint64 `json:"mallocs"`     // heap objects allocated, ever
	HeapAlloc  uint64 `json:"heap_alloc"`  // bytes of live and not yet collected heap objects
	NumGC      uint32 `json:"num_gc"`      // completed GC cycles
}

// benchMount is one mounted tree and the source it reads.
type benchMount struct {
	m   *fs.Mounted
	src source.Source
}

// mountOne opens a source of kind at path and mounts its artifact tree at
// mp (created if missing): one container's mount, as the shim makes it.
func mountOne(ctx context.Context, kind, path, mp string, passthrough bool) (*benchMount, error) {
	return mountTree(ctx, mp, func() (source.Source, error) { return openSource(kind, path) }, fs.Options{Passthrough: passthrough})
}

// mountTree opens a source with open and mounts its artifact tree at mp
// (created if missing), in this process, as the shim does.
func mountTree(ctx context.Context, mp string, open func() (source.Source, error), opts fs.Options) (*benchMount, error) {
	if err := os.MkdirAll(mp, 0o755); err != nil {
		return nil, err
	}
	src, err := open()
	if err != nil {
		return nil, fmt.Errorf("open source for %s: %w", mp, err)
	}
	root, err := fs.New(src, artifactPaths)
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("tree of %s: %w", src, err)
	}
	m, err := fs.Mount(ctx, mp, root, opts)
	if err != nil {
		src.Close()
		return nil, err
	}
	return &benchMount{m: m, src: src}, nil
}

// close unmounts the tree, waits for its server to stop and closes the
// source.
func (b *benchMount) close() error {
	err := b.m.Unmount()
	b.m.Wait()
	if cerr := b.src.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close source: %w", cerr))
	}
	return err
}

// --- the parent side ---

// memProc is a running memory-test server.
type memProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	pid   int
	mode  string
	dir   string
	lines chan string // the server's stdout, line by line; closed at EOF
	done  chan error  // the result of cmd.Wait, after EOF
}

// memReadyTimeout bounds how long a server may take to mount its trees;
// memAnswerTimeout how long it may take to answer a command.
const (
	memReadyTimeout  = 2 * time.Minute
	memAnswerTimeout = 30 * time.Second
)

// startMemServer starts this binary as a memory-test server and waits
// until it reports ready.
func startMemServer(ctx context.Context, cfg memServerConfig) (_ *memProc, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the bench binary: %w", err)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), memServerEnv+"="+string(raw))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start memory server: %w", err)
	}
	p := &memProc{cmd: cmd, stdin: stdin, pid: cmd.Process.Pid, dir: cfg.Dir,
		lines: make(chan string, 16), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- cmd.Wait() // after the last read from stdout
	}()
	defer func() {
		if err != nil {
			err = errors.Join(err, p.stop())
		}
	}()
	what := fmt.Sprintf("memory server (%d mounts of %s)", cfg.Mounts, cfg.Path)
	line, err := p.answer(ctx, memReadyTimeout)
	if err != nil {
		return p, fmt.Errorf("%s: %w", what, err)
	}
	f := strings.Fields(line)
	if len(f) != 5 || f[0] != "ready" {
		return p, fmt.Errorf("%s: not ready: %q", what, line)
	}
	p.mode = f[4]
	return p, nil
}

// answer returns the server's next line of output.
func (p *memProc) answer(ctx context.Context, timeout time.Duration) (string, error) {
	select {
	case line, ok := <-p.lines:
		if !ok {
			return "", errors.New("exited")
		}
		return line, nil
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(timeout):
		return "", fmt.Errorf("no answer within %s", timeout)
	}
}

// ask sends the server a command and returns its answer.
func (p *memProc) ask(ctx context.Context, command string) (string, error) {
	if _, err := io.WriteString(p.stdin, command+"\n"); err != nil {
		return "", fmt.Errorf("memory server %d, %s: %w", p.pid, command, err)
	}
	line, err := p.answer(ctx, memAnswerTimeout)
	if err != nil {
		return "", fmt.Errorf("memory server %d, %s: %w", p.pid, command, err)
	}
	return line, nil
}

// free has the server collect its garbage and return free memory to the
// kernel.
func (p *memProc) free(ctx context.Context) error {
	line, err := p.ask(ctx, "free")
	if err == nil && line != "freed" {
		err = fmt.Errorf("memory server %d, free: answered %q", p.pid, line)
	}
	return err
}

// goStats returns the server's Go allocation counters.
func (p *memProc) goStats(ctx context.Context) (goMem, error) {
	var m goMem
	line, err := p.ask(ctx, "stats")
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return m, fmt.Errorf("memory server %d, stats: %w", p.pid, err)
	}
	return m, nil
}

// resetPeak resets the server's VmHWM to its current VmRSS.
func (p *memProc) resetPeak() error {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.pid), []byte("5\n"), 0); err != nil {
		return fmt.Errorf("reset peak RSS of %d: %w", p.pid, err)
	}
	return nil
}

// stop asks the server to unmount and exit (closing its stdin), kills it
// if it has not within 30 s, and then detaches whatever it left mounted,
// which is an error.
func (p *memProc) stop() error {
	_ = p.stdin.Close()
	var err, killed error
	timeout := time.After(30 * time.Second)
	lines := p.lines
wait:
	for {
		select {
		case _, ok := <-lines: // drop output nobody asked for
			if !ok {
				lines = nil
			}
		case err = <-p.done:
			break wait
		case <-timeout:
			_ = p.cmd.Process.Kill()
			timeout = nil
			killed = errors.New("did not exit within 30 s, killed")
		}
	}
	if err = errors.Join(killed, err); err != nil {
		err = fmt.Errorf("memory server %d: %w", p.pid, err)
	}
	left, lerr := artifactfsMountsUnder(p.dir)
	if lerr != nil {
		return errors.Join(err, lerr)
	}
	for _, mp := range left {
		err = errors.Join(err, fmt.Errorf("memory server %d left %s mounted", p.pid, mp),
			fs.Unmount(mp, true))
	}
	return err
}

// artifactfsMountsUnder lists the artifactfs mounts at or below dir.
func artifactfsMountsUnder(dir string) ([]string, error) {
	canon, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", dir, err)
	}
	all, err := mountinfo.Under(canon)
	if err != nil {
		return nil, err
	}
	var mps []string
	for _, e := range all {
		if e.FSType == fs.FSType {
			mps = append(mps, e.Mountpoint)
		}
	}
	return mps, nil
}

// memSample is a process's memory at one moment, in KiB, and its number
// of threads.
type memSample struct {
	rss, anon, hwm, pss float64
	threads             float64
}

// readMem reads VmRSS, RssAnon, VmHWM and Threads from /proc/PID/status
// and Pss from /proc/PID/smaps_rollup.
func readMem(pid int) (memSample, error) {
	var s memSample
	status, err := procFields(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	rollup, err := procFields(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return s, err
	}
	for _, f := range []struct {
		m    map[string]float64
		key  string
		dest *float64
	}{{status, "VmRSS", &s.rss}, {status, "RssAnon", &s.anon}, {status, "VmHWM", &s.hwm}, {status, "Threads", &s.threads},
		{rollup, "Pss", &s.pss}} {
		v, ok := f.m[f.key]
		if !ok {
			return s, fmt.Errorf("no %s for process %d", f.key, pid)
		}
		*f.dest = v
	}
	return s, nil
}

// procFields parses the "Key:   123 kB" and "Key:   123" lines of a /proc
// file.
func procFields(path string) (map[string]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		f := strings.Fields(v)
		if !ok || len(f) == 0 || len(f) > 2 || len(f) == 2 && f[1] != "kB" {
			continue
		}
		if n, err := strconv.ParseFloat(f[0], 64); err == nil {
			m[k] = n
		}
	}
	return m, nil
}

// memCountRow is the memory of a server holding some number of mounts.
type memCountRow struct {
	src              mountSource
	mounts           int
	mode             string
	rss, anon, pss   overRuns // MiB
	extraRSS, extraA overRuns // KiB per extra mount, (X(mounts) − X(1)) / (mounts − 1)
}

// memReadRow is a 1-mount server before and after one cold read of the
// whole kernel.
type memReadRow struct {
	src                 mountSource
	sizeMiB             int
	mode                string
	before, after, peak overRuns // VmRSS before, VmRSS after, VmHWM during the read; MiB
	held, peakGrowth    overRuns // after − before, VmHWM − before; MiB
	retained            overRuns // VmRSS once the server freed its garbage − before; MiB
	allocPerMiB         overRuns // KiB the server allocated per MiB read
	allocsPerMiB        overRuns // heap objects the server allocated per MiB read
	threadsBefore       overRuns // the server's threads before the read
	threadsAfter        overRuns // and after
}

// memorySection measures the resident memory of a separate server process
// holding 0, 1, 10 and 100 mounts, and of a 1-mount server reading the
// whole kernel, per kernel size (issue 4, item 3).
func memorySection(ctx context.Context, e *env) (_ *sectionResult, err error) {
	sizes := slices.Sorted(slices.Values(e.sizes))
	sizes = slices.Compact(sizes)
	imgs := map[int]string{}
	trees := map[int]string{}
	var unmounts []func() error // the read-only trees
	defer func() {
		for _, u := range unmounts {
			err = errors.Join(err, u())
		}
	}()
	var mkfsCmd string
	for _, n := range sizes {
		progress("making image and directory with a %d MiB kernel", n)
		img, err := contiguousImage(e.work, n)
		if err != nil {
			return nil, fmt.Errorf("image %d MiB: %w", n, err)
		}
		imgs[n], mkfsCmd = img.path, img.mkfsCmd
		var unmount func() error
		if trees[n], unmount, err = treeDir(e.work, n); err != nil {
			return nil, err
		}
		unmounts = append(unmounts, unmount)
	}
	small := sizes[0]

	var counts []*memCountRow
	var reads []*memReadRow
	for _, src := range mountSources {
		for _, n := range memCounts {
			counts = append(counts, &memCountRow{src: src, mounts: n})
		}
		for _, n := range sizes {
			reads = append(reads, &memReadRow{src: src, sizeMiB: n})
		}
	}
	mnts := filepath.Join(e.work, "mnt")
	// Runs are interleaved across rows so that drift spreads over all.
	for run := 1; run <= e.runs; run++ {
		rss1 := map[string]memSample{}
		for _, r := range counts {
			cfg := memServerConfig{Source: r.src.kind, Path: r.src.path(imgs[small], trees[small]),
				Mounts: r.mounts, Dir: mnts, Passthrough: r.src.passthrough}
			s, mode, err := memCount(ctx, cfg)
			if err != nil {
				return nil, fmt.Errorf("%s, %d mounts: %w", r.src.name, r.mounts, err)
			}
			r.mode = mode
			r.rss = append(r.rss, s.rss/1024)
			r.anon = append(r.anon, s.anon/1024)
			r.pss = append(r.pss, s.pss/1024)
			if r.mounts == 1 {
				rss1[r.src.name] = s
			} else if one, ok := rss1[r.src.name]; ok && r.mounts > 1 {
				r.extraRSS = append(r.extraRSS, (s.rss-one.rss)/float64(r.mounts-1))
				r.extraA = append(r.extraA, (s.anon-one.anon)/float64(r.mounts-1))
			}
			progress("memory, run %d/%d, %-40s %3d mounts: VmRSS %6.1f MiB, RssAnon %6.1f MiB, Pss %6.1f MiB",
				run, e.runs, r.src.name, r.mounts, s.rss/1024, s.anon/1024, s.pss/1024)
		}
		for _, r := range reads {
			cfg := memServerConfig{Source: r.src.kind, Path: r.src.path(imgs[r.sizeMiB], trees[r.sizeMiB]),
				Mounts: 1, Dir: mnts, Passthrough: r.src.passthrough}
			m, err := memRead(ctx, cfg, int64(r.sizeMiB)<<20)
			if err != nil {
				return nil, fmt.Errorf("%s, reading a %d MiB kernel: %w", r.src.name, r.sizeMiB, err)
			}
			mib := float64(r.sizeMiB)
			r.mode = m.mode
			r.before = append(r.before, m.before.rss/1024)
			r.after = append(r.after, m.after.rss/1024)
			r.peak = append(r.peak, m.after.hwm/1024)
			r.held = append(r.held, (m.after.rss-m.before.rss)/1024)
			r.peakGrowth = append(r.peakGrowth, (m.after.hwm-m.before.rss)/1024)
			r.retained = append(r.retained, (m.freed.rss-m.before.rss)/1024)
			r.allocPerMiB = append(r.allocPerMiB, float64(m.alloc)/1024/mib)
			r.allocsPerMiB = append(r.allocsPerMiB, float64(m.allocs)/mib)
			r.threadsBefore = append(r.threadsBefore, m.before.threads)
			r.threadsAfter = append(r.threadsAfter, m.after.threads)
			progress("memory, run %d/%d, %-40s read %3d MiB kernel: VmRSS %6.1f → %6.1f MiB, peak %6.1f MiB, freed %6.1f MiB",
				run, e.runs, r.src.name, r.sizeMiB, m.before.rss/1024, m.after.rss/1024, m.after.hwm/1024, m.freed.rss/1024)
		}
	}
	plots, err := memoryPlots(counts, reads)
	if err != nil {
		return nil, err
	}
	return &sectionResult{markdown: memoryReport(counts, reads, sizes, mkfsCmd, e.runs), plots: plots}, nil
}

// memCount starts a server with cfg.Mounts mounts, samples its memory once
// it is ready and has settled, and stops it.
func memCount(ctx context.Context, cfg memServerConfig) (_ memSample, mode string, err error) {
	p, err := startMemServer(ctx, cfg)
	if err != nil {
		return memSample{}, "", err
	}
	defer func() { err = errors.Join(err, p.stop()) }()
	if err := sleepCtx(ctx, memSettle); err != nil {
		return memSample{}, "", err
	}
	s, err := readMem(p.pid)
	return s, p.mode, err
}

// memReading is what one cold read of the whole kernel did to a 1-mount
// server.
type memReading struct {
	mode          string
	before        memSample // after the server freed its garbage
	after         memSample // right after the read; hwm is the peak during it
	freed         memSample // after the server freed its garbage again
	alloc, allocs uint64    // bytes and objects the server allocated during the read
}

// memRead starts a 1-mount server, has it free its garbage, samples it,
// reads the whole kernel (size bytes) through the mount cold, samples
// again, has it free its garbage and samples a third time, then stops it.
func memRead(ctx context.Context, cfg memServerConfig, size int64) (_ *memReading, err error) {
	p, err := startMemServer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, p.stop()) }()
	r := &memReading{mode: p.mode}
	if err := sleepCtx(ctx, memSettle); err != nil {
		return nil, err
	}
	if err := p.free(ctx); err != nil {
		return nil, err
	}
	if r.before, err = readMem(p.pid); err != nil {
		return nil, err
	}
	if err := p.resetPeak(); err != nil {
		return nil, err
	}
	g0, err := p.goStats(ctx)
	if err != nil {
		return nil, err
	}
	if err := dropCaches(); err != nil {
		return nil, err
	}
	if err := readSize(filepath.Join(memMountpoint(cfg.Dir, 0), kernelPath), size); err != nil {
		return nil, err
	}
	if r.after, err = readMem(p.pid); err != nil {
		return nil, err
	}
	g1, err := p.goStats(ctx)
	if err != nil {
		return nil, err
	}
	r.alloc, r.allocs = g1.TotalAlloc-g0.TotalAlloc, g1.Mallocs-g0.Mallocs
	if err := p.free(ctx); err != nil {
		return nil, err
	}
	if r.freed, err = readMem(p.pid); err != nil {
		return nil, err
	}
	return r, nil
}

// sleepCtx sleeps for d, or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// memCmd is how to run a memory-test server by hand.
func memCmd(src mountSource, mounts int) string {
	pt := ""
	if src.passthrough {
		pt = `,"passthrough":true`
	}
	path := "IMG"
	if src.kind == "dir" {
		path = "DIR"
	}
	return fmt.Sprintf(`%s='{"source":"%s","path":"%s","mounts":%d,"dir":"MNTS"%s}' go run ./bench/cmd/bench`,
		memServerEnv, src.kind, path, mounts, pt)
}

// memoryReport renders the memory section.
func memoryReport(counts []*memCountRow, reads []*memReadRow, sizes []int, mkfsCmd string, runs int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## Memory\n\n")
	w("Method: the bench re-executes its own binary as a separate server process (hidden mode, selected by the `%s` "+
		"environment variable, so the bench's own memory does not count). The server mounts N trees, each from its own "+
		"source as the shim does per container (`blockreader.Open` or `source.OpenDir`, then `fs.New` + `fs.Mount` "+
		"of `%s` and `/urunc.json` at MNTS/m000, MNTS/m001, ...), prints `ready pid PID mode MODE`, and serves until "+
		"its stdin is closed, then unmounts everything. %v after ready, the parent reads VmRSS and RssAnon from "+
		"`/proc/PID/status` and Pss from `/proc/PID/smaps_rollup`. N = 0 is the reference: the same process with nothing "+
		"mounted. Every figure is the median over %d run(s) (a fresh server each), then min–max; runs are interleaved "+
		"across rows. MiB is 2^20 bytes. The server is the bench binary, so its file-backed pages (VmRSS − RssAnon) "+
		"are those of a larger binary than `artifactfs` or the shim; the cost of a mount is in the differences.\n\n",
		memServerEnv, kernelPath, memSettle, runs)
	w("IMG is made by `%s` from ROOT holding `%s` (pseudo-random bytes) and `/urunc.json` naming it; DIR is the same "+
		"tree as a host directory. %d MiB kernel for the mount counts.\n\n", mkfsCmd, kernelPath, sizes[0])

	w("### Resident memory per number of mounts\n\n")
	w("| source | mounts | mode | VmRSS MiB (min–max) | ×0 mounts | RssAnon MiB (min–max) | Pss MiB (min–max) | reproduce |\n")
	w("|---|---:|---|---:|---:|---:|---:|---|\n")
	for _, r := range counts {
		ref := findCount(counts, r.src.name, 0)
		w("| %s | %d | %s | %s | %s | %s | %s | `%s` |\n", r.src.name, r.mounts, r.mode,
			r.rss.format("%.1f"), medianRatio(r.rss, ref.rss), r.anon.format("%.1f"), r.pss.format("%.1f"),
			memCmd(r.src, r.mounts))
	}
	w("\nThen, with the server running: `grep -e VmRSS -e RssAnon /proc/PID/status; grep Pss: /proc/PID/smaps_rollup`.\n\n")

	w("### Cost of one more mount\n\n")
	w("(X(N) − X(1)) / (N − 1), per run, in KiB.\n\n")
	w("| source | N | VmRSS KiB per extra mount (min–max) | RssAnon KiB per extra mount (min–max) |\n|---|---:|---:|---:|\n")
	for _, r := range counts {
		if r.mounts > 1 {
			w("| %s | %d | %s | %s |\n", r.src.name, r.mounts, r.extraRSS.format("%.0f"), r.extraA.format("%.0f"))
		}
	}

	w("\n### Reading the whole kernel through a 1-mount server\n\n")
	w("The parent has the server free its garbage (`debug.FreeOSMemory`, on the command `free` on its stdin), samples "+
		"VmRSS (before) and resets VmHWM (`echo 5 > /proc/PID/clear_refs`), drops the page cache "+
		"(`sync; echo 3 > /proc/sys/vm/drop_caches`), reads MNTS/m000%s once with 1 MiB reads, and samples at once: "+
		"held is VmRSS after − before, peak is VmHWM (the high-water mark during the read) − before. Then the server "+
		"frees its garbage again: retained is VmRSS then − before, what the read left the server holding. ×kernel is "+
		"the median peak over the kernel's size. Allocated is what the server's Go runtime allocated during the read "+
		"(`runtime.MemStats` TotalAlloc and Mallocs, on the command `stats`), per MiB read; the fixed costs of "+
		"the open and of answering `stats` weigh at 1 MiB. Threads is the server's `Threads` in `/proc/PID/status`: "+
		"a goroutine blocked in a system call (a FUSE reader waiting on `/dev/fuse`, a `pread`) holds an OS thread, so "+
		"threads grow with the requests in flight at once.\n\n", kernelPath)
	w("| source | kernel MiB | mode | VmRSS before MiB | held MiB (min–max) | peak MiB (min–max) | ×kernel | retained MiB (min–max) | allocated KiB per MiB | objects per MiB | threads before → after | reproduce |\n")
	w("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range reads {
		w("| %s | %d | %s | %.1f | %s | %s | %.4f | %s | %.1f | %.0f | %.0f → %.0f | `%s`, then `dd if=MNTS/m000%s of=/dev/null bs=1M` |\n",
			r.src.name, r.sizeMiB, r.mode, r.before.median(), r.held.format("%.1f"), r.peakGrowth.format("%.1f"),
			r.peakGrowth.median()/float64(r.sizeMiB), r.retained.format("%.1f"), r.allocPerMiB.median(),
			r.allocsPerMiB.median(), r.threadsBefore.median(), r.threadsAfter.median(), memCmd(r.src, 1), kernelPath)
	}

	small, large := sizes[0], sizes[len(sizes)-1]
	w("\nTargets (issue 4, item 3): one more mount costs at most 1 MiB (VmRSS, N = 100 against N = 1). No growth "+
		"with kernel size: what the server retains after the read, and its peak during the read, are at %d MiB at most "+
		"1 MiB more than at %d MiB. Each verdict shows the difference, then (where there are more than two sizes) the "+
		"difference to the next smaller size: a bounded cost levels off there, one that grows with the kernel does not.\n\n",
		large, small)
	w("| source | ≤ 1 MiB per extra mount | retained: no growth with kernel size (%d MiB − %d MiB) | peak: no growth with kernel size (%d MiB − %d MiB) |\n|---|---|---|---|\n",
		large, small, large, small)
	for _, src := range mountSources {
		extra := findCount(counts, src.name, 100).extraRSS.median()
		lo, hi := findRead(reads, src.name, small), findRead(reads, src.name, large)
		growth := func(pick func(*memReadRow) overRuns) (float64, string) {
			d := pick(hi).median() - pick(lo).median()
			detail := fmt.Sprintf("%+.1f MiB, %.1f MiB at %d MiB", d, pick(hi).median(), large)
			if len(sizes) > 2 {
				prev := sizes[len(sizes)-2]
				detail += fmt.Sprintf("; %+.1f MiB over %d MiB", pick(hi).median()-pick(findRead(reads, src.name, prev)).median(), prev)
			}
			return d, detail
		}
		dRetained, retained := growth(func(r *memReadRow) overRuns { return r.retained })
		dPeak, peak := growth(func(r *memReadRow) overRuns { return r.peakGrowth })
		w("| %s | %s | %s | %s |\n", src.name,
			verdict(extra <= 1024, fmt.Sprintf("%.0f KiB", extra)),
			verdict(dRetained <= 1, retained), verdict(dPeak <= 1, peak))
	}
	return b.String()
}

func findCount(rows []*memCountRow, src string, mounts int) *memCountRow {
	for _, r := range rows {
		if r.src.name == src && r.mounts == mounts {
			return r
		}
	}
	return &memCountRow{}
}

func findRead(rows []*memReadRow, src string, size int) *memReadRow {
	for _, r := range rows {
		if r.src.name == src && r.sizeMiB == size {
			return r
		}
	}
	return &memReadRow{}
}

// memoryPlots returns two panels: VmRSS and RssAnon against the number of
// mounts, and the growth during and after a read against the kernel's size.
func memoryPlots(counts []*memCountRow, reads []*memReadRow) ([]*plot.Plot, error) {
	var labels []string
	for _, n := range memCounts {
		labels = append(labels, strconv.Itoa(n))
	}
	p1 := plot.New()
	p1.Title.Text = "artifactfs: resident memory of one server process per number of mounts, median"
	p1.X.Label.Text = "mounts (one per container)"
	p1.Y.Label.Text = "MiB"
	var lines1 []namedLine
	for _, src := range mountSources {
		var rss, anon plotter.XYs
		for i, n := range memCounts {
			r := findCount(counts, src.name, n)
			rss = append(rss, plotter.XY{X: float64(i), Y: r.rss.median()})
			anon = append(anon, plotter.XY{X: float64(i), Y: r.anon.median()})
		}
		lines1 = append(lines1, namedLine{src.name + ": VmRSS", rss}, namedLine{src.name + ": RssAnon", anon})
	}
	if err := addLines(p1, lines1); err != nil {
		return nil, err
	}
	p1.NominalX(labels...)

	var sizes []int
	for _, r := range reads {
		if !slices.Contains(sizes, r.sizeMiB) {
			sizes = append(sizes, r.sizeMiB)
		}
	}
	labels = nil
	for _, n := range sizes {
		labels = append(labels, fmt.Sprintf("%d MiB", n))
	}
	p2 := plot.New()
	p2.Title.Text = "artifactfs: memory of a 1-mount server reading the whole kernel once, cold, over its memory before, median"
	p2.X.Label.Text = "kernel size"
	p2.Y.Label.Text = "MiB"
	var lines2 []namedLine
	for _, src := range mountSources {
		var peak, retained plotter.XYs
		for i, n := range sizes {
			r := findRead(reads, src.name, n)
			peak = append(peak, plotter.XY{X: float64(i), Y: r.peakGrowth.median()})
			retained = append(retained, plotter.XY{X: float64(i), Y: r.retained.median()})
		}
		lines2 = append(lines2, namedLine{src.name + ": peak VmHWM during the read", peak},
			namedLine{src.name + ": retained after freeing garbage", retained})
	}
	if err := addLines(p2, lines2); err != nil {
		return nil, err
	}
	p2.NominalX(labels...)
	return []*plot.Plot{p1, p2}, nil
}

// namedLine is one legend entry of a line plot.
type namedLine struct {
	name string
	xys  plotter.XYs
}

// addLines adds lines with points to p, legend at the top left, and leaves
// room above the highest point for the legend.
func addLines(p *plot.Plot, lines []namedLine) error {
	p.Legend.Top = true
	p.Legend.Left = true
	p.Y.Min = 0
	var top float64
	for i, l := range lines {
		line, points, err := plotter.NewLinePoints(l.xys)
		if err != nil {
			return fmt.Errorf("plot %s: %w", l.name, err)
		}
		line.Color = plotutil.Color(i)
		line.Dashes = plotutil.Dashes(i % 2)
		points.Color = plotutil.Color(i)
		points.Shape = plotutil.Shape(i)
		p.Add(line, points)
		p.Legend.Add(l.name, line, points)
		for _, xy := range l.xys {
			top = max(top, xy.Y)
		}
	}
	p.Y.Max = max(top, 1) * (1.1 + 0.08*float64(len(lines))) // room for the legend
	return nil
}
