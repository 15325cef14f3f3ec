package soak

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/shimtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/shimglue"
)

var (
	cyclesFlag = flag.Int("soak.cycles", 0, "create/delete cycles (default $SOAK_CYCLES, else 20)")
	seedFlag   = flag.Uint64("soak.seed", 0, "random seed (default $SOAK_SEED, else the clock)")
	faultsFlag = flag.Float64("soak.faults", 0.6, "share of the cycles that inject a fault")
)

// stateTmpfsMiB is the size of the daemon's state tmpfs, which the ENOSPC
// fault fills.
const stateTmpfsMiB = 16

// settings returns the number of cycles and the seed.
func settings(t *testing.T) (int, uint64) {
	cycles, seed := *cyclesFlag, *seedFlag
	var err error
	if v := os.Getenv("SOAK_CYCLES"); cycles == 0 && v != "" {
		if cycles, err = strconv.Atoi(v); err != nil {
			t.Fatalf("SOAK_CYCLES: %v", err)
		}
	}
	if v := os.Getenv("SOAK_SEED"); seed == 0 && v != "" {
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("SOAK_SEED: %v", err)
		}
	}
	if cycles == 0 {
		cycles = 20
	}
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	return cycles, seed
}

// TestSoak runs the cycles and fails on any leak, on a fault-free cycle
// that fails or needs gc, and on a witness that stops being served.
func TestSoak(t *testing.T) {
	testimage.RequireRoot(t, "containerd, runc, FUSE and loop mounts")
	testimage.RequireTools(t, "mkfs.ext4", "runc")
	cycles, seed := settings(t)
	report(t, "seed %d, %d cycles (replay: SOAK_SEED=%d or -soak.seed=%d)", seed, cycles, seed, seed)
	s := newSoak(t, seed)
	begin := time.Now()
	for i := range cycles {
		s.cycle(i)
	}
	s.finish()
	s.report(cycles, time.Since(begin))
}

// report prints one report line where `go test` and testcount show it,
// also for a test that passed.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	fmt.Printf("report: soak: "+format+"\n", args...)
}

// newSoak starts the daemon with the shipped shim, imports the sample
// image and starts the witness.
func newSoak(t *testing.T, seed uint64) *soak {
	shimDir, err := shimtest.ShimDir("../..")
	if err != nil {
		t.Fatal(err)
	}
	entryDir := t.TempDir()
	entry, err := ctrtest.Entrypoint(entryDir)
	if err != nil {
		t.Fatal(err)
	}
	s := &soak{
		t:           t,
		rng:         rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		root:        t.TempDir(),
		injected:    map[string]int{},
		missed:      map[string]int{},
		opErrs:      map[string]int{},
		gcNeeded:    map[string]int{},
		runtimeLeft: map[string]int{},
		runtimeSeen: map[string]bool{},
	}
	s.d, err = ctrtest.Start(context.Background(), ctrtest.Options{
		ExtraPath:     []string{shimDir},
		Env:           []string{shimglue.RootEnv + "=" + s.root},
		StateOnTmpfs:  true,
		StateTmpfsMiB: stateTmpfsMiB,
	})
	if err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("containerd log tail:\n%s", s.d.LogTail(8192))
		}
		if err := s.d.Stop(); err != nil {
			t.Errorf("stop containerd: %v", err)
		}
	})
	s.kernel = testimage.Payload(41, 2<<20+77)
	spec, err := ctrtest.SampleImage("docker.io/library/artifactfs-soak:latest", s.kernel, testimage.Payload(42, 300<<10), entry, nil)
	if err != nil {
		t.Fatal(err)
	}
	tarPath, err := ctrtest.BuildImage(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if s.image, err = ctrtest.Import(ctx, s.d.Client(), tarPath, "blockfile"); err != nil {
		t.Fatal(err)
	}
	s.startWitness()
	return s
}

// ctx is the context of one step: the daemon's namespace, bounded.
func (s *soak) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.d.Context(context.Background()), 2*time.Minute)
}

// soak is the state of a run.
type soak struct {
	t      *testing.T
	rng    *rand.Rand
	d      *ctrtest.Daemon
	root   string
	image  client.Image
	kernel []byte

	witness     *run
	witnessLost bool            // a reboot killed it
	witnesses   int             // witnesses started
	baseline    map[string]bool // what the witness holds: not a leak
	ids         []string        // every container id used, for their shim sockets

	injected    map[string]int  // faults injected, by "kind@point"
	missed      map[string]int  // faults drawn that found nothing to hit
	opErrs      map[string]int  // operations that failed after a fault, by kind
	gcNeeded    map[string]int  // items gc had to remove, by fault kind
	runtimeLeft map[string]int  // what containerd and runc left, by fault kind and item
	runtimeSeen map[string]bool // the paths counted in runtimeLeft
	leaks       int
	faulty      int // cycles with a fault
}
