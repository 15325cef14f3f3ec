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

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
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
	s := &soak{
		t:           t,
		rng:         rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		injected:    map[string]int{},
		missed:      map[string]int{},
		opErrs:      map[string]int{},
		gcNeeded:    map[string]int{},
		runtimeLeft: map[string]int{},
		runtimeSeen: map[string]bool{},
	}
	var err error
	s.e, err = harness.Start(context.Background(), harness.Options{
		Repo:   "../..",
		Root:   t.TempDir(),
		Daemon: ctrtest.Options{StateOnTmpfs: true, StateTmpfsMiB: stateTmpfsMiB},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.d, s.root = s.e.D, s.e.Root
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("containerd log tail:\n%s", s.d.LogTail(8192))
		}
		if err := s.e.Stop(); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.e.ImportSample(ctx, harness.Sample{Name: "docker.io/library/artifactfs-soak:latest",
		Kernel: testimage.Payload(41, 2<<20+77), Initrd: testimage.Payload(42, 300<<10)}); err != nil {
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
	t    *testing.T
	rng  *rand.Rand
	e    *harness.Env    // the daemon with the shipped shim, the sample image
	d    *ctrtest.Daemon // e.D
	root string          // e.Root

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
