package harness

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// The main goroutine keeps the main thread, so that a goroutine locked to
// a thread for a MountNS never gets it: the main thread cannot exit, and
// its namespace is what /proc/self shows to every test.
func init() { runtime.LockOSThread() }

// Propagation is the root propagation of a MountNS.
type Propagation uintptr

// The propagations a MountNS can give its copy of the host's mounts.
const (
	// Private: nothing mounted there reaches another namespace, nor the
	// other way round (unshare -m --propagation private).
	Private Propagation = unix.MS_PRIVATE
	// Shared: every mount is shared, as on a host whose / is shared
	// (systemd): a mount made below a shared mount in a namespace that
	// copied it without cutting propagation shows up here too
	// (unshare -m --propagation shared).
	Shared Propagation = unix.MS_SHARED
)

// String names the propagation, for test names.
func (p Propagation) String() string {
	if p == Shared {
		return "shared"
	}
	return "private"
}

// MountNS is a thread locked in a mount namespace of its own; Do runs
// functions there, and processes they start (a containerd daemon, and so
// its shims) inherit the namespace.
type MountNS struct {
	fns  chan func()
	done chan struct{}
}

// NewMountNS creates the namespace, a copy of the caller's mounts with
// root propagation p applied recursively, and runs setup in it (nil: no
// setup). Close ends it; a process started in it must not outlive Close
// when it was started with Pdeathsig.
func NewMountNS(p Propagation, setup func() error) (*MountNS, error) {
	n := &MountNS{fns: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(n.done)
		// Never unlocked: the thread, and with it the namespace, ends
		// with this goroutine.
		runtime.LockOSThread()
		err := unix.Unshare(unix.CLONE_NEWNS)
		if err == nil {
			err = unix.Mount("", "/", "", unix.MS_REC|uintptr(p), "")
		}
		if err == nil && setup != nil {
			err = setup()
		}
		ready <- err
		if err != nil {
			return
		}
		for fn := range n.fns {
			fn()
		}
	}()
	if err := <-ready; err != nil {
		return nil, fmt.Errorf("%s mount namespace: %w", p, err)
	}
	return n, nil
}

// Do runs fn in the namespace and waits for it.
func (n *MountNS) Do(fn func()) {
	finished := make(chan struct{})
	n.fns <- func() { defer close(finished); fn() }
	<-finished
}

// Close ends the namespace's thread.
func (n *MountNS) Close() {
	close(n.fns)
	<-n.done
}

// HideFUSE binds /dev/null over /dev/fuse, as a MountNS setup: FUSE
// mounts fail there as on a host without FUSE.
func HideFUSE() error {
	if err := unix.Mount("/dev/null", "/dev/fuse", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("hide /dev/fuse: %w", err)
	}
	return nil
}
