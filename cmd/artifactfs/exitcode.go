package main

import (
	"errors"
	iofs "io/fs"
	"syscall"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/blockreader"
	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/extract"
	"github.com/artifactfs/artifactfs/internal/imagepath"
	"github.com/artifactfs/artifactfs/internal/layout"
	"github.com/artifactfs/artifactfs/internal/mounttable"
	"github.com/artifactfs/artifactfs/internal/source"
)

// Exit codes, a contract for scripts (documented in docs/cli.md).
const (
	exitOK       = 0 // success
	exitFailure  = 1 // any other failure
	exitUsage    = 2 // bad flags or arguments
	exitImage    = 3 // the image or its urunc.json is malformed or unsupported
	exitNotFound = 4 // a source, artifact or path does not exist
	exitRefused  = 5 // refused by a host-protection rule: path, file type, size cap, a path or directory artifactfs did not make
	exitMount    = 6 // mounting or unmounting failed (busy, not permitted, not mounted)
)

type usageErr struct{ err error }

func (e usageErr) Error() string { return e.err.Error() }
func (e usageErr) Unwrap() error { return e.err }

func usageError(err error) error { return usageErr{err} }

// codedError carries an exit code decided elsewhere, e.g. by a background
// mount server.
type codedError struct {
	code int
	msg  string
}

func (e codedError) Error() string { return e.msg }

type mountErr struct{ err error }

func (e mountErr) Error() string { return e.err.Error() }
func (e mountErr) Unwrap() error { return e.err }

func mountError(err error) error {
	if err == nil {
		return nil
	}
	return mountErr{err}
}

// exitCode maps an error to its documented exit code.
func exitCode(err error) int {
	var u usageErr
	var m mountErr
	var c codedError
	switch {
	case errors.As(err, &c):
		return c.code
	case errors.As(err, &u):
		return exitUsage
	case errors.As(err, &m):
		return exitMount
	case errors.Is(err, blockreader.ErrUnsupported), errors.Is(err, blockreader.ErrCorrupt),
		errors.Is(err, blockreader.ErrLoop), errors.Is(err, source.ErrLoop),
		errors.Is(err, artifact.ErrBadConfig):
		return exitImage
	case errors.Is(err, imagepath.ErrInvalid), errors.Is(err, source.ErrNotRegular),
		errors.Is(err, artifact.ErrTooLarge), errors.Is(err, errNotArtifact),
		errors.Is(err, extract.ErrSymlink), errors.Is(err, artifactbind.ErrNotOwnedPath),
		errors.Is(err, layout.ErrNotOwned), errors.Is(err, layout.ErrNotRoot), errors.Is(err, mounttable.ErrMounted):
		return exitRefused
	case errors.Is(err, iofs.ErrNotExist), errors.Is(err, artifact.ErrNoKernel),
		errors.Is(err, syscall.ENOTDIR): // a path through a file does not exist either
		return exitNotFound
	}
	return exitFailure
}
