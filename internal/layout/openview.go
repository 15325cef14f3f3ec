package layout

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/mounttable"
	"github.com/artifactfs/artifactfs/internal/source"
)

// OpenView opens the mounted view that the state st records, under root,
// as `artifactfs --bundle` reads it: the container's own view mount point,
// or the host mount of the shared view it holds. The mount point is
// reached from the marked root through marked directories without
// following a symlink, must itself be marked, and must have a file system
// mounted on it. Its path comes from root and the state's names (checked
// by artifactbind), never from a path in the state file; a symlink there,
// or a plain directory, is refused.
func OpenView(root string, state *artifactbind.State) (*source.Dir, error) {
	ns, id := state.Namespace, state.ContainerID
	e := Entry{Root: root, View: true, Namespace: ns, ID: id}
	if name := state.SharedView(); name != "" {
		e = Entry{Root: root, Image: true, Namespace: ns, ID: name}
	}
	parent, exists, err := e.openParent()
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("view of %s/%s: %w", ns, id, os.ErrNotExist)
	}
	defer unix.Close(parent)
	if found, err := e.checkOwned(parent); err != nil || !found {
		return nil, fmt.Errorf("view of %s/%s: %w", ns, id, orNotExist(err))
	}
	// The last step crosses into the view's mount; none before it may.
	fd, err := mounttable.OpenAt(parent, e.ID, unix.O_PATH|unix.O_DIRECTORY, mounttable.NoCross&^unix.RESOLVE_NO_XDEV)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", e, err)
	}
	defer unix.Close(fd)
	var pst, st unix.Stat_t
	if err := unix.Fstat(parent, &pst); err != nil {
		return nil, fmt.Errorf("stat %s: %w", e, err)
	}
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", e, err)
	}
	if st.Dev == pst.Dev {
		return nil, fmt.Errorf("view of %s/%s: nothing is mounted at %s: %w", ns, id, e, os.ErrNotExist)
	}
	// source.Dir reports in-image paths relative to the path it opened.
	d, err := source.OpenDir(e.String())
	if err != nil {
		return nil, err
	}
	var again unix.Stat_t
	if err := unix.Stat(e.String(), &again); err != nil || again.Dev != st.Dev || again.Ino != st.Ino {
		d.Close()
		return nil, fmt.Errorf("view of %s/%s: %s changed while it was opened", ns, id, e)
	}
	return d, nil
}

func orNotExist(err error) error {
	if err == nil {
		return os.ErrNotExist
	}
	return err
}
