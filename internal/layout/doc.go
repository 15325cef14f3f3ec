// Package layout is artifactfs's layout on the host, shared by the shim
// (shimglue), host administration (admin) and the CLI: the root of the
// per-container paths (DefaultRoot, RootEnv), the per-container path
// <root>/<namespace>/<id> and the view mount point
// <root>/.views/<namespace>/<id> (Entry), the mount source names that tell
// their modes apart (FSName), the ownership markers (extended attribute
// trusted.artifactfs) every directory artifactfs makes there carries, and
// the openat2 opens that reach them from the marked root without following
// a symlink or crossing a mount (Entry.Clear, List, OpenView). It also
// reads a bundle's config.json (ReadSpec).
//
// Paths are derived from the root and validated names only, never taken
// from a state file or found under the root. Cleanup touches only what
// carries the marker (ErrNotOwned otherwise) and never removes across a
// mount point (mounttable.ErrMounted).
//
// It imports artifactbind (names, the state file's modes), internal/source
// (OpenView), internal/mounttable and the OCI runtime spec; never the shim,
// admin, view or containerd.
package layout
