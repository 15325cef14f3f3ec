package shimglue

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/api/types/runc/options"
	runtimeoptions "github.com/containerd/containerd/api/types/runtimeoptions/v1"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// criOptions is what containerd's CRI sends for a handler with an options
// table (GenerateRuntimeOptions for a runtime type other than runc's).
func criOptions(t testing.TB, ro *runtimeoptions.Options) *anypb.Any { return marshalAny(t, ro) }

// mustRunc is what a Go client sends with runc's options.
func mustRunc(t testing.TB, o *options.Options) *anypb.Any { return marshalAny(t, o) }

func marshalAny(t testing.TB, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := typeurl.MarshalAnyToProto(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// asRunc decodes a as runc's NewContainer does.
func asRunc(t testing.TB, a *anypb.Any) *options.Options {
	t.Helper()
	v, err := typeurl.UnmarshalAny(a)
	if err != nil {
		t.Fatalf("typeurl.UnmarshalAny(%s): %v", a.GetTypeUrl(), err)
	}
	o, ok := v.(*options.Options)
	if !ok {
		t.Fatalf("converted options are a %T, not runc's", v)
	}
	return o
}

// TestRuncOptionsKeys: every key of runc's options, written as in a CRI
// handler's options table, lands in its field.
func TestRuncOptionsKeys(t *testing.T) {
	tests := []struct {
		body string
		want *options.Options
	}{
		{`NoPivotRoot = true`, &options.Options{NoPivotRoot: true}},
		{`NoNewKeyring = true`, &options.Options{NoNewKeyring: true}},
		{`ShimCgroup = "/shim.slice"`, &options.Options{ShimCgroup: "/shim.slice"}},
		{`IoUid = 1000`, &options.Options{IoUid: 1000}},
		{`IoGid = 1001`, &options.Options{IoGid: 1001}},
		{`BinaryName = "/usr/local/bin/urunc"`, &options.Options{BinaryName: "/usr/local/bin/urunc"}},
		{`Root = "/run/urunc"`, &options.Options{Root: "/run/urunc"}},
		{`SystemdCgroup = true`, &options.Options{SystemdCgroup: true}},
		{`CriuImagePath = "/criu/img"`, &options.Options{CriuImagePath: "/criu/img"}},
		{`CriuWorkPath = "/criu/work"`, &options.Options{CriuWorkPath: "/criu/work"}},
		{`TaskApiAddress = "unix:///run/x.sock"`, &options.Options{TaskApiAddress: "unix:///run/x.sock"}},
		{`TaskApiVersion = 3`, &options.Options{TaskApiVersion: 3}},
		// go-toml, as containerd for the runc runtime, matches field
		// names without regard to case.
		{`binaryname = "urunc"`, &options.Options{BinaryName: "urunc"}},
		{"BinaryName = \"urunc\"\nSystemdCgroup = true\nRoot = \"/r\"\n",
			&options.Options{BinaryName: "urunc", SystemdCgroup: true, Root: "/r"}},
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		got, err := RuncOptions(criOptions(t, &runtimeoptions.Options{ConfigBody: []byte(tc.body)}))
		if err != nil {
			t.Errorf("%s: %v", tc.body, err)
			continue
		}
		if o := asRunc(t, got); !proto.Equal(o, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.body, o, tc.want)
		}
		covered[strings.Fields(tc.body)[0]] = true
	}
	for _, k := range runcOptionKeys() {
		if !covered[k] {
			t.Errorf("runc's option %s is not tested", k)
		}
	}
}

// TestRuncOptionsPassThrough: nothing, and runc's own options, are left as
// they are; empty TOML is no options.
func TestRuncOptionsPassThrough(t *testing.T) {
	runc := mustRunc(t, &options.Options{BinaryName: "urunc"})
	for _, tc := range []struct {
		name string
		in   *anypb.Any
	}{{"nil", nil}, {"empty", &anypb.Any{}}, {"runc", runc}} {
		got, err := RuncOptions(tc.in)
		if err != nil || got != tc.in {
			t.Errorf("%s: got %v, %v; want the input back", tc.name, got, err)
		}
	}
	for _, ro := range []*runtimeoptions.Options{
		{},
		{ConfigBody: []byte(" \n\t")},
		{TypeUrl: runcOptionsName},
	} {
		if got, err := RuncOptions(criOptions(t, ro)); got != nil || err != nil {
			t.Errorf("%v: got %v, %v; want no options", ro, got, err)
		}
	}
	// A TypeUrl naming runc's options, as a full type URL too, is fine.
	ro := &runtimeoptions.Options{TypeUrl: "type.googleapis.com/" + runcOptionsName, ConfigBody: []byte(`Root = "/x"`)}
	if got, err := RuncOptions(criOptions(t, ro)); err != nil || asRunc(t, got).GetRoot() != "/x" {
		t.Errorf("TypeUrl %s: %v, %v", ro.TypeUrl, got, err)
	}
}

// TestRuncOptionsErrors: a bad key, value, type or file is an invalid
// argument naming it.
func TestRuncOptionsErrors(t *testing.T) {
	mount := marshalAny(t, &types.Mount{Type: "bind"})
	body := func(s string) *anypb.Any {
		return criOptions(t, &runtimeoptions.Options{ConfigBody: []byte(s)})
	}
	tests := []struct {
		name string
		in   *anypb.Any
		want []string // substrings of the error
	}{
		{"unknown key", body(`BinaryNam = "urunc"`), []string{`runtime options: unknown key "BinaryNam"`, "BinaryName, Root"}},
		{"unknown keys", body("a = 1\nBinaryName = \"x\"\nb = 2"), []string{`unknown keys "a", "b"`}},
		{"json name", body(`binary_name = "urunc"`), []string{`unknown key "binary_name"`}},
		{"unexported field", body(`state = 1`), []string{`unknown key "state"`}},
		{"unknown table", body("[foo]\na = 1"), []string{`unknown key "foo"`}},
		{"string for uint32", body(`IoUid = "root"`), []string{`key "IoUid" wants a uint32`}},
		{"negative uint32", body(`IoGid = -1`), []string{`key "IoGid" wants a uint32`}},
		{"too big uint32", body(`TaskApiVersion = 5000000000`), []string{`key "TaskApiVersion" wants a uint32`}},
		{"string for bool", body(`SystemdCgroup = "true"`), []string{`key "SystemdCgroup" wants a bool`}},
		{"int for string", body(`BinaryName = 3`), []string{`key "BinaryName" wants a string`}},
		{"table for string", body("[Root]\nx = 1"), []string{`key "Root" wants a string`}},
		{"lower case, ill-typed", body(`noPivotRoot = 1`), []string{`key "noPivotRoot" wants a bool`}},
		{"syntax", body(`= "x"`), []string{"parse TOML at line 1, column 1"}},
		{"other type", mount, []string{`type "containerd.types.Mount"`}},
		{"made-up type", &anypb.Any{TypeUrl: "example.com/x.Options", Value: []byte{1}}, []string{`"example.com/x.Options"`}},
		{"other TypeUrl", criOptions(t, &runtimeoptions.Options{TypeUrl: "io.containerd.kata.v2.Options", ConfigBody: []byte(`x = 1`)}),
			[]string{`TypeUrl "io.containerd.kata.v2.Options"`}},
	}
	for _, tc := range tests {
		got, err := RuncOptions(tc.in)
		if err == nil {
			t.Errorf("%s: got %v, want an error", tc.name, got)
			continue
		}
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: %v is not an invalid argument", tc.name, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tc.name, err, w)
			}
		}
	}
}

// TestRuncOptionsConfigPath: ctr --runtime-config-path names a TOML file;
// it wins over ConfigBody and is read with care.
func TestRuncOptionsConfigPath(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "urunc.toml")
	if err := os.WriteFile(good, []byte("BinaryName = \"urunc\"\nNoPivotRoot = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := RuncOptions(criOptions(t, &runtimeoptions.Options{ConfigPath: good, ConfigBody: []byte(`Root = "/ignored"`)}))
	if err != nil {
		t.Fatal(err)
	}
	if o, want := asRunc(t, got), (&options.Options{BinaryName: "urunc", NoPivotRoot: true}); !proto.Equal(o, want) {
		t.Errorf("got %v, want %v", o, want)
	}

	empty := filepath.Join(dir, "empty.toml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := RuncOptions(criOptions(t, &runtimeoptions.Options{ConfigPath: empty})); got != nil || err != nil {
		t.Errorf("empty file: %v, %v; want no options", got, err)
	}

	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxRuntimeConfigSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte(`Roots = "/x"`), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing.toml"), "missing.toml: no such file or directory"},
		{"urunc.toml", `config path "urunc.toml" is not absolute`},
		{dir, "is not a regular file"},
		{fifo, "is not a regular file"}, // and the open did not block
		{big, "larger than"},
		{bad, `unknown key "Roots"`},
	} {
		_, err := RuncOptions(criOptions(t, &runtimeoptions.Options{ConfigPath: tc.path}))
		if err == nil || !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want an invalid argument saying %q", tc.path, err, tc.want)
		}
	}
}
