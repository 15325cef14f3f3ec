package soak

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/artifactfs/artifactfs/admin"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// check runs after a cycle's cleanup: what is left once things settle is
// what gc must remove; gc runs until it converges; anything left after it
// is a leak. The witness must still be served.
func (s *soak) check(i int, f fault) {
	if s.witnessLost {
		s.restoreWitness()
	}
	left := s.settle(10 * time.Second)
	if len(left) > 0 {
		if f.kind == kindNone {
			s.t.Errorf("cycle %d without a fault left, before gc: %s", i, strings.Join(left, "; "))
		}
		s.gc(f.kind)
		left = s.settle(5 * time.Second)
	}
	for _, l := range left {
		s.leaks++
		s.t.Errorf("cycle %d after %s: left after gc: %s", i, f, l)
	}
	if err := s.checkServed(s.witness.id); err != nil {
		s.t.Errorf("cycle %d after %s: the witness: %v", i, f, err)
	}
	if f.kind != kindNone {
		s.gcSockets(f.kind)
	}
	s.checkRuntime(i, f)
}

// gcSockets removes dead shim sockets as `artifactfs gc` does
// (admin.GCSockets), once a socket of this run's containers is old enough
// to be judged dead, counting them under the fault's kind.
func (s *soak) gcSockets(k kind) {
	for _, id := range s.ids {
		for _, p := range ctrtest.ShimSockets(s.d.Address, s.d.Namespace, id) {
			if fi, err := os.Lstat(p); err == nil {
				time.Sleep(time.Until(fi.ModTime().Add(3 * time.Second)))
			}
		}
	}
	removed, err := admin.GCSockets(admin.DefaultShimSocketDir, false)
	if err != nil {
		s.t.Errorf("gc sockets after %s: %v", k, err)
	}
	for _, r := range removed {
		s.gcNeeded[string(k)+" "+r.Kind]++
	}
}

// checkRuntime looks for the shim sockets, runc state and cgroups of every
// container of the soak but the witness. A shim socket left is a leak: the
// artifactfs shim's delete command removes the sockets of a dead shim, and
// gc those whose delete command containerd could not run.
// runc's state and cgroups are counted apart, not as leaks: a runc create
// cut short leaves them, and it is runc's to clean (the soak removes them,
// as an operator would).
func (s *soak) checkRuntime(i int, f fault) {
	ns := s.d.Namespace
	found := func(what, p string, leak bool, remove func(string)) {
		remove(p)
		if s.runtimeSeen[p] { // could not be removed: counted once
			return
		}
		s.runtimeSeen[p] = true
		s.runtimeLeft[string(f.kind)+" "+what]++
		if leak {
			s.leaks++
			s.t.Errorf("cycle %d after %s: left: %s %s", i, f, what, p)
		}
	}
	rm := func(p string) { _ = os.RemoveAll(p) }
	for _, id := range s.ids {
		if id == s.witness.id {
			continue
		}
		for _, p := range ctrtest.ShimSockets(s.d.Address, ns, id) {
			if _, err := os.Lstat(p); err == nil {
				found("shim-socket", p, true, rm)
			}
		}
		if p := filepath.Join("/run/containerd/runc", ns, id); exists(p) {
			found("runc-state", p, false, rm)
		}
		for _, dir := range cgroupDirs(ns) {
			if p := filepath.Join(dir, id); exists(p) {
				found("cgroup", p, false, ctrtest.RmdirTree)
			}
		}
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// settle waits up to d for leftovers to go (the shim's delete command runs
// after the shim exits) and returns what is still there.
func (s *soak) settle(d time.Duration) []string {
	return harness.Settle(d, s.leftovers)
}

// gc runs shimglue.GC, as `artifactfs gc` does, until it removes nothing
// (at most 5 passes), counting what it removes under the fault's kind.
func (s *soak) gc(k kind) {
	ctx, cancel := s.ctx()
	defer cancel()
	for pass := 0; pass < 5; pass++ {
		removed, err := admin.GC(ctx, s.d.Client(), s.root, s.d.Namespace, false)
		for _, r := range removed {
			s.gcNeeded[string(k)+" "+r.Kind]++
		}
		if err == nil && len(removed) == 0 {
			return
		}
		if err != nil && pass == 4 {
			s.t.Errorf("gc after %s: %v", k, err)
		}
	}
	s.t.Errorf("gc after %s did not converge in 5 passes", k)
}

// leftovers lists what is on the host beyond the witness's share:
// harness's Leftovers (views, leases, gc's dry run, mounts, loop devices,
// directories, bundles), shim processes, runc state, shim sockets,
// cgroups and the processes in them.
func (s *soak) leftovers() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all := s.e.Leftovers(ctx)
	ns := s.d.Namespace
	for _, sp := range s.e.ShimProcesses() {
		all = append(all, fmt.Sprintf("shim process %d of %s", sp.Pid, sp.ID))
	}
	for _, pid := range cgroupProcs(ns) {
		all = append(all, fmt.Sprintf("process %d", pid))
	}
	if _, err := os.Stat(filepath.Join(s.d.State, fillerName)); err == nil {
		all = append(all, "the ENOSPC filler")
	}
	return slices.DeleteFunc(all, func(l string) bool { return s.baseline[l] })
}

// startWitness starts a container that runs across cycles and records
// what it holds.
func (s *soak) startWitness() {
	s.witnesses++
	w := &run{id: fmt.Sprintf("soak-witness-%d", s.witnesses)}
	s.ids = append(s.ids, w.id)
	ctx, cancel := s.ctx()
	defer cancel()
	err := s.create(ctx, w)
	if err == nil {
		err = s.newTask(ctx, w)
	}
	if err == nil {
		err = w.k.Task.Start(ctx)
	}
	if err == nil {
		err = s.checkServed(w.id)
	}
	if err != nil {
		s.t.Fatalf("witness %s: %v", w.id, err)
	}
	s.witness, s.baseline = w, nil
	s.baseline = map[string]bool{}
	for _, l := range s.leftovers() {
		s.baseline[l] = true
	}
}

// restoreWitness removes the witness a reboot killed and starts another.
func (s *soak) restoreWitness() {
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.e.Remove(ctx, s.witness.id); err != nil {
		s.t.Errorf("remove the witness %s after a reboot: %v", s.witness.id, err)
	}
	s.baseline = nil
	s.gc(reboot)
	s.witnessLost = false
	s.startWitness()
}

// finish removes the witness; gc has nothing to do, and nothing is left.
func (s *soak) finish() {
	if !s.d.Running() {
		s.restart(syscall.SIGKILL)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.e.Remove(ctx, s.witness.id); err != nil {
		s.t.Errorf("remove the witness: %v", err)
	}
	s.baseline = nil
	for _, l := range s.settle(10 * time.Second) {
		s.leaks++
		s.t.Errorf("at the end: left: %s", l)
	}
	s.checkRuntime(-1, fault{kind: kindNone})
	removed, err := admin.GC(ctx, s.d.Client(), s.root, s.d.Namespace, false)
	if err != nil || len(removed) > 0 {
		s.t.Errorf("gc at the end: removed %v, %v; want nothing", removed, err)
	}
}

// report prints the soak's figures.
func (s *soak) report(cycles int, took time.Duration) {
	report(s.t, "%d cycles in %s, %d with a fault, %d witnesses", cycles, took.Round(time.Second), s.faulty, s.witnesses)
	report(s.t, "faults injected: %s", tally(s.injected))
	report(s.t, "faults that struck nothing (the step was over first): %s", tally(s.missed))
	report(s.t, "operations that failed after a fault (expected), by kind: %s", tally(s.opErrs))
	report(s.t, "gc removed, by fault kind and item: %s", tally(s.gcNeeded))
	report(s.t, "left by containerd and runc (shim sockets count as leaks; runc state and cgroups do not, see checkRuntime), by fault kind: %s", tally(s.runtimeLeft))
	report(s.t, "leaks after gc: %d", s.leaks)
}

// tally formats counts sorted by key, with their total.
func tally(m map[string]int) string {
	keys := make([]string, 0, len(m))
	total := 0
	for k, n := range m {
		keys = append(keys, k)
		total += n
	}
	slices.Sort(keys)
	parts := []string{fmt.Sprint(total)}
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
