package fs

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
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
