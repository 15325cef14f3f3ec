package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/mount"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
)

// BenchmarkShimCreate measures, per kernel size, what the wrapper adds to
// Create (view, mount, state: the "took" the shim logs, and the part of it
// Create waited for, as the shim starts before Create arrives) and the whole
// Create (NewTask) with and without the view, next to the copy path it
// replaces: mount the container rootfs, copy kernel, initrd and urunc.json
// to tmpfs, unmount. Page caches are dropped before each measured step
// (cold; SHIM_BENCH_WARM=1: warm). SHIM_BENCH_STEPS=1 logs the wrapper's
// time per step. Run:
//
//	go test -run '^$' -bench ShimCreate -benchtime 5x ./tests
func BenchmarkShimCreate(b *testing.B) {
	for _, mib := range []int{1, 64, 256} {
		b.Run(fmt.Sprintf("kernel=%dMiB", mib), func(b *testing.B) {
			e := newShimEnv(b, shimOptions{kernelSize: mib << 20, scratchMiB: mib + mib/4 + 48})
			ctx := e.ctx(b)
			var wrapper, waited, gated, plain, copyPath []time.Duration
			i := 0
			for b.Loop() {
				i++
				for _, gate := range []bool{true, false} {
					id := fmt.Sprintf("bench-%d-%v", i, gate)
					ann := shimGated
					if !gate {
						ann = map[string]string{"com.urunc.unikernel.snapshotView": "false"}
					}
					dropCaches(b)
					st, err := e.create(b, ctx, ctrSpec{id: id, annotations: ann, args: []string{}})
					if err != nil {
						b.Fatal(err)
					}
					if gate {
						gated = append(gated, st.create)
						took, wait := shimTook(b, e.D.LogPath, id)
						wrapper, waited = append(wrapper, took), append(waited, wait)
						copyPath = append(copyPath, measureCopy(b, e, id))
					} else {
						plain = append(plain, st.create)
					}
					st.remove(b, ctx)
				}
			}
			b.ReportMetric(ms(median(wrapper)), "wrapper-ms")
			b.ReportMetric(ms(median(waited)), "create-waited-ms")
			b.ReportMetric(ms(median(copyPath)), "copy-ms")
			b.ReportMetric(ms(median(gated)), "create-view-ms")
			b.ReportMetric(ms(median(plain)), "create-plain-ms")
			b.ReportMetric(0, "ns/op")
			e.checkNoLeaks(b, "after the benchmark")
		})
	}
}

// measureCopy times urunc's copy path for container id: mount its rootfs
// (blockfile: a loop mount of its snapshot), copy the three artifacts to a
// tmpfs (/dev/shm), unmount; the copies are removed untimed.
func measureCopy(b *testing.B, e *shimEnv, id string) time.Duration {
	ctx := e.ctx(b)
	mounts, err := e.D.Client().SnapshotService("blockfile").Mounts(ctx, id+"-rootfs")
	if err != nil {
		b.Fatal(err)
	}
	// The shim's runc holds the same block file mounted read-write: mount
	// it read-only, without loading the journal, as a second mount may.
	for i := range mounts {
		mounts[i].Options = append(slices.DeleteFunc(mounts[i].Options, func(o string) bool { return o == "rw" }), "ro", "noload")
	}
	mnt, dst := b.TempDir(), filepath.Join("/dev/shm", "artifactfs-bench-"+id)
	defer os.RemoveAll(dst)
	dropCaches(b)
	start := time.Now()
	if err := mount.All(mounts, mnt); err != nil {
		b.Fatal(err)
	}
	for _, p := range []string{ctrtest.SampleKernelPath, ctrtest.SampleInitrdPath, ctrtest.SampleConfigPath} {
		if err := copyFile(filepath.Join(mnt, p), filepath.Join(dst, p)); err != nil {
			b.Fatal(err)
		}
	}
	if err := mount.UnmountAll(mnt, 0); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// shimTook returns how long the shim took to prepare container id (its
// log line "artifacts served", field took) and how long Create waited for
// it ("artifacts ready for Create", field waited: less than took when the
// shim started preparing before Create arrived; took when it did not).
func shimTook(b *testing.B, logPath, id string) (took, waited time.Duration) {
	took, waited = -1, -1
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		data, err := os.ReadFile(logPath)
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if !strings.HasPrefix(line, "{") {
				continue
			}
			var ev struct {
				Container string             `json:"container"`
				Message   string             `json:"message"`
				Took      float64            `json:"took"`
				Waited    float64            `json:"waited"`
				Early     bool               `json:"early"`
				Steps     map[string]float64 `json:"steps"`
			}
			if json.Unmarshal([]byte(line), &ev) != nil || ev.Container != id {
				continue
			}
			switch ev.Message {
			case "artifacts served":
				took = time.Duration(ev.Took * float64(time.Millisecond))
				if !ev.Early {
					waited = took
				}
				if os.Getenv("SHIM_BENCH_STEPS") != "" {
					b.Logf("%s: %.1f ms (early %v), steps (ms) %v", id, ev.Took, ev.Early, ev.Steps)
				}
			case "artifacts ready for Create":
				waited = time.Duration(ev.Waited * float64(time.Millisecond))
			}
		}
		if took >= 0 && waited >= 0 {
			return took, waited
		}
	}
	b.Fatalf("the shim logged no preparation of %s", id)
	return 0, 0
}

// dropCaches drops the page cache, dentries and inodes, unless
// SHIM_BENCH_WARM is set (then every step runs on a warm cache).
func dropCaches(b *testing.B) {
	if os.Getenv("SHIM_BENCH_WARM") != "" {
		return
	}
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		b.Logf("drop caches: %v", err)
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
