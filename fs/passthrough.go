package fs

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Serving modes a mount reports.
const (
	// ModePassthrough: the kernel reads the source files directly (FUSE
	// passthrough); this process only answers lookups and opens.
	ModePassthrough = "passthrough"
	// ModeServer: this process serves every read.
	ModeServer = "server"
)

// ErrNoHostFd is returned by Mounted.PassthroughErr when the source's files
// have no host file descriptor (an image read by blockreader), so
// passthrough cannot apply.
var ErrNoHostFd = errors.New("source files have no host file descriptor")

// ErrMutable is returned by Mounted.PassthroughErr when a source file could
// still change: it lies on a writable mount and is not marked immutable.
// Passthrough would let the kernel read it past the size recorded (and
// checked against the cap) when the tree was built, so this process
// serves it instead, clamping every read to that size.
var ErrMutable = errors.New("source file is on a writable mount and not immutable")

// isImmutable is immutable, replaced by tests that need passthrough
// handles without a read-only mount.
var isImmutable = immutable

// immutable reports whether the file open at fd cannot change while it is
// served: it lies on a read-only mount or superblock (ST_RDONLY), or has
// the immutable attribute (chattr +i, STATX_ATTR_IMMUTABLE).
func immutable(fd int) bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err == nil && st.Flags&unix.ST_RDONLY != 0 {
		return true
	}
	var stx unix.Statx_t
	err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_STATX_DONT_SYNC, 0, &stx)
	return err == nil && stx.Attributes_mask&stx.Attributes&unix.STATX_ATTR_IMMUTABLE != 0
}

// probePassthrough checks that the kernel accepts every artifact as a
// passthrough backing file, by registering and unregistering each one. It
// must run after the FUSE INIT handshake. go-fuse, by contrast, silently
// turns passthrough off for the whole mount on the first failure at Open.
// The files it opens stay open for the opens to come.
func (r *Root) probePassthrough(server *fuse.Server) error {
	for _, f := range r.files {
		if err := f.probe(server); err != nil {
			return err
		}
	}
	return nil
}

func (n *fileNode) probe(server *fuse.Server) error {
	of, err := n.file()
	if err != nil {
		return err
	}
	if of.fd < 0 {
		return fmt.Errorf("%s: %w", n.root.src, ErrNoHostFd)
	}
	if !isImmutable(of.fd) {
		return fmt.Errorf("%s in %s: %w", n.path, n.root.src, ErrMutable)
	}
	id, errno := server.RegisterBackingFd(&fuse.BackingMap{Fd: int32(of.fd)})
	if errno != 0 {
		return fmt.Errorf("register %s as passthrough backing file: %w%s", n.path, errno, registerHint(errno))
	}
	if id <= 0 {
		return fmt.Errorf("register %s as passthrough backing file: kernel returned id %d", n.path, id)
	}
	if errno := server.UnregisterBackingFd(id); errno != 0 {
		return fmt.Errorf("unregister passthrough backing file %s: %w", n.path, errno)
	}
	return nil
}

// registerHint explains the kernel's usual refusals of a backing file.
func registerHint(errno syscall.Errno) string {
	switch errno {
	case syscall.EPERM:
		return " (passthrough needs CAP_SYS_ADMIN and a kernel that offers it, Linux 6.9 or later)"
	case syscall.ELOOP:
		return " (the source's filesystem is stacked too deep: it is itself FUSE with passthrough or overlayfs over such)"
	case syscall.EINVAL:
		return " (not a regular file, or the kernel does not know the request)"
	default:
		return ""
	}
}
