package shimglue

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/containerd/containerd/api/types/runc/options"
	// Imported also for its registration: containerd's typeurl must know
	// the type CRI and ctr send.
	runtimeoptions "github.com/containerd/containerd/api/types/runtimeoptions/v1"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"github.com/pelletier/go-toml/v2"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/anypb"
)

// MaxRuntimeConfigSize bounds the TOML file a runtimeoptions.v1.Options
// names in ConfigPath.
const MaxRuntimeConfigSize = 1 << 20

// RuncOptions returns the runtime options of a task request in the form
// runc's shim reads, runc's options (containerd.runc.v1.Options):
//   - nil or empty, or runc's options: opts itself;
//   - runtimeoptions.v1.Options — what containerd's CRI sends for a handler
//     with an options table (the table as TOML in ConfigBody), and ctr with
//     --runtime-config-path (a TOML file at ConfigPath, which wins over
//     ConfigBody): the TOML decoded strictly into runc's options, whose
//     field names are the keys (BinaryName, Root, SystemdCgroup...;
//     matched without regard to case, as containerd does for the runc
//     runtime). Empty TOML is no options: nil.
//
// Any other type, an unknown key, a value of the wrong type, or an
// unreadable config file is an error naming it, wrapping
// errdefs.ErrInvalidArgument.
func RuncOptions(opts *anypb.Any) (*anypb.Any, error) {
	if opts.GetTypeUrl() == "" && len(opts.GetValue()) == 0 {
		return opts, nil
	}
	switch {
	case opts.MessageIs(&options.Options{}):
		return opts, nil
	case opts.MessageIs(&runtimeoptions.Options{}):
	default:
		return nil, invalidOptions(fmt.Errorf("type %q is neither runc's options (%s) nor runtimeoptions.v1.Options",
			opts.GetTypeUrl(), runcOptionsName))
	}
	var ro runtimeoptions.Options
	if err := opts.UnmarshalTo(&ro); err != nil {
		return nil, invalidOptions(fmt.Errorf("decode runtimeoptions.v1.Options: %w", err))
	}
	if u := ro.GetTypeUrl(); u != "" && u != runcOptionsName && !strings.HasSuffix(u, "/"+runcOptionsName) {
		return nil, invalidOptions(fmt.Errorf("TypeUrl %q: only runc's options (%s) are understood", u, runcOptionsName))
	}
	body := ro.GetConfigBody()
	if p := ro.GetConfigPath(); p != "" {
		var err error
		if body, err = readRuntimeConfig(p); err != nil {
			return nil, invalidOptions(err)
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	ro2, err := decodeRuncOptions(body)
	if err != nil {
		return nil, invalidOptions(err)
	}
	out, err := typeurl.MarshalAnyToProto(ro2)
	if err != nil {
		return nil, fmt.Errorf("runtime options: marshal runc options: %w", err)
	}
	return out, nil
}

// runcOptionsName is the protobuf name of runc's options.
var runcOptionsName = string((&options.Options{}).ProtoReflect().Descriptor().FullName())

func invalidOptions(err error) error {
	return fmt.Errorf("runtime options: %w: %w", err, errdefs.ErrInvalidArgument)
}

// readRuntimeConfig reads the TOML file at path, which must be absolute
// (the shim's working directory is the bundle), a regular file (a FIFO
// would block the open) and at most MaxRuntimeConfigSize bytes.
func readRuntimeConfig(path string) ([]byte, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("config path %q is not absolute", path)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("read config path: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read config path: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("config path %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxRuntimeConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config path: %w", err)
	}
	if len(b) > MaxRuntimeConfigSize {
		return nil, fmt.Errorf("config path %s is larger than %d bytes", path, MaxRuntimeConfigSize)
	}
	return b, nil
}

// decodeRuncOptions decodes body strictly into runc's options.
func decodeRuncOptions(body []byte) (*options.Options, error) {
	var o options.Options
	d := toml.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&o); err != nil {
		return nil, describeTOMLError(err)
	}
	return &o, nil
}

// describeTOMLError turns go-toml's errors into ones naming the keys: the
// unknown ones, with the keys there are, or the ill-typed one, with the
// type it wants.
func describeTOMLError(err error) error {
	var missing *toml.StrictMissingError
	if errors.As(err, &missing) {
		keys := make([]string, 0, len(missing.Errors))
		for _, e := range missing.Errors {
			keys = append(keys, strconv.Quote(strings.Join(e.Key(), ".")))
		}
		noun := "key"
		if len(keys) > 1 {
			noun = "keys"
		}
		return fmt.Errorf("unknown %s %s (runc's options are %s)", noun, strings.Join(keys, ", "), strings.Join(runcOptionKeys(), ", "))
	}
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		return fmt.Errorf("decode TOML: %w", err)
	}
	key := de.Key()
	if len(key) == 0 {
		row, col := de.Position()
		return fmt.Errorf("parse TOML at line %d, column %d: %w", row, col, err)
	}
	name := strings.Join(key, ".")
	if f, ok := runcOptionField(key[0]); ok {
		return fmt.Errorf("key %q wants a %s: %w", name, f.Type, err)
	}
	return fmt.Errorf("key %q: %w", name, err)
}

// runcOptionKeys returns the keys runc's options have: the exported field
// names of options.Options.
func runcOptionKeys() []string {
	t := reflect.TypeFor[options.Options]()
	var keys []string
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() {
			keys = append(keys, f.Name)
		}
	}
	return keys
}

// runcOptionField returns the field of options.Options go-toml decodes key
// into: the one of that name, else one whose name matches without regard
// to case.
func runcOptionField(key string) (reflect.StructField, bool) {
	t := reflect.TypeFor[options.Options]()
	if f, ok := t.FieldByName(key); ok && f.IsExported() {
		return f, true
	}
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && strings.EqualFold(f.Name, key) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
