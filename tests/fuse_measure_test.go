package tests

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/internal/source"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// fuseTreeMiB returns the size of the files under root in MiB, rounded up.
func fuseTreeMiB(t *testing.T, root string) int {
	t.Helper()
	var total int64
	err := filepath.Walk(root, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return int((total + 1<<20 - 1) >> 20)
}

// fuseMeasureEnv, set to a size in MiB, enables TestFuseMeasure.
const fuseMeasureEnv = "ARTIFACTFS_MEASURE_MIB"

// fuseMeasureSources lists the sources TestFuseMeasure compares; an image
// source is added by fuse_image_test.go.
var fuseMeasureSources = []struct {
	name string
	open func(t *testing.T, root string) source.Source
	opts fs.Options
}{
	{"dir, passthrough", func(t *testing.T, root string) source.Source { return fuseDirSource(t, root) }, fs.Options{Passthrough: true}},
	{"dir, server", func(t *testing.T, root string) source.Source { return fuseDirSource(t, root) }, fs.Options{}},
}

// TestFuseMeasure prints mount setup time and cold and warm sequential read
// throughput (dd bs=1M) of a large kernel for each source, next to a read
// of the original file. It drops the page cache, so it runs only when asked:
// ARTIFACTFS_MEASURE_MIB=256 go test -run TestFuseMeasure -v ./tests
func TestFuseMeasure(t *testing.T) {
	mib, _ := strconv.Atoi(os.Getenv(fuseMeasureEnv))
	if mib <= 0 {
		t.Skipf("set %s to a size in MiB to measure", fuseMeasureEnv)
	}
	fuseRequire(t)
	root := t.TempDir()
	testimage.WriteTree(t, root, map[string][]byte{
		".boot/kernel": testimage.Payload(21, mib<<20),
		".boot/initrd": testimage.Payload(22, 1<<20),
		"urunc.json":   []byte("{}"),
	})
	kernel := filepath.Join(root, ".boot/kernel")
	cold, warm := fuseDD(t, kernel, mib)
	t.Logf("%-18s setup %8s  cold %6.0f MB/s  warm %6.0f MB/s", "native file", "-", cold, warm)
	for _, s := range fuseMeasureSources {
		src := s.open(t, root)
		var setups []time.Duration
		var m *fs.Mounted
		var mnt string
		for i := 0; i < 7; i++ {
			if m != nil {
				if err := m.Unmount(); err != nil {
					t.Fatal(err)
				}
			}
			mnt = t.TempDir()
			tree, err := fs.New(src, fuseArtifactPaths)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			m, err = fs.Mount(t.Context(), mnt, tree, s.opts)
			if err != nil {
				t.Fatal(err)
			}
			setups = append(setups, time.Since(start))
		}
		sort.Slice(setups, func(i, j int) bool { return setups[i] < setups[j] })
		cold, warm := fuseDD(t, filepath.Join(mnt, ".boot/kernel"), mib)
		t.Logf("%-18s setup %8s  cold %6.0f MB/s  warm %6.0f MB/s  (mode %s)",
			s.name, setups[len(setups)/2].Round(10*time.Microsecond), cold, warm, m.Mode())
		if err := m.Unmount(); err != nil {
			t.Fatal(err)
		}
	}
}

// fuseDD reads file with dd bs=1M after dropping the page cache, then
// again, and returns both rates in MB/s (10^6 bytes).
func fuseDD(t *testing.T, file string, mib int) (cold, warm float64) {
	t.Helper()
	rate := func() float64 {
		start := time.Now()
		testimage.Run(t, "dd", "if="+file, "of=/dev/null", "bs=1M", "status=none")
		return float64(mib<<20) / 1e6 / time.Since(start).Seconds()
	}
	testimage.Run(t, "sync")
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		t.Fatal(err)
	}
	cold = rate()
	return cold, rate()
}
