package shimglue

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	taskAPI "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/api/types/runc/options"
	runtimeoptions "github.com/containerd/containerd/api/types/runtimeoptions/v1"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// optsShim is runc's manager as Start and Info see it: it reads the
// options as runc's does and records them.
type optsShim struct {
	shim.Shim
	started *runcOptsSeen
	info    *runcOptsSeen
}

type runcOptsSeen struct {
	found bool
	opts  *options.Options
	exts  int
	err   error
}

func (f *optsShim) Start(_ context.Context, p *bootapi.BootstrapParams) (*bootapi.BootstrapResult, error) {
	var o options.Options
	found, err := p.FindExtension(&o)
	f.started = &runcOptsSeen{found: found, opts: &o, exts: len(p.GetExtensions()), err: err}
	return &bootapi.BootstrapResult{}, nil
}

func (f *optsShim) Info(_ context.Context, r io.Reader) (*types.RuntimeInfo, error) {
	o, err := shim.ReadRuntimeOptions[*options.Options](r)
	f.info = &runcOptsSeen{found: err == nil, opts: o, err: err}
	return &types.RuntimeInfo{}, nil
}

// TestManagerStartConvertsOptions: runc's Start finds the CRI handler's
// options (ShimCgroup) as its own; options that do not convert, or
// other extensions, reach it unchanged, and empty ones not at all.
func TestManagerStartConvertsOptions(t *testing.T) {
	other, _ := anypb.New(&types.Mount{Type: "bind"})
	for _, tc := range []struct {
		name     string
		body     string
		found    bool
		cgroup   string
		wantExts int
	}{
		{"converted", `ShimCgroup = "/shim.slice"`, true, "/shim.slice", 2},
		{"empty", ``, false, "", 1},
		{"unknown key", `ShimCgroups = "/x"`, false, "", 2},
	} {
		inner := &optsShim{}
		m := WrapManager(inner)
		ext := criOptions(t, &runtimeoptions.Options{ConfigBody: []byte(tc.body)})
		p := &bootapi.BootstrapParams{Extensions: []*bootapi.Extension{{Value: other}, {Value: ext}}}
		if _, err := m.Start(context.Background(), p); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		s := inner.started
		if s.err != nil || s.found != tc.found || s.opts.GetShimCgroup() != tc.cgroup || s.exts != tc.wantExts {
			t.Errorf("%s: runc's Start saw found=%v %v (%d extensions), %v; want found=%v ShimCgroup %q (%d)",
				tc.name, s.found, s.opts, s.exts, s.err, tc.found, tc.cgroup, tc.wantExts)
		}
	}
	// No parameters at all: passed on.
	inner := &optsShim{}
	if _, err := WrapManager(inner).Start(context.Background(), &bootapi.BootstrapParams{}); err != nil || inner.started.found {
		t.Errorf("Start without options: %v, %+v", err, inner.started)
	}
}

// TestManagerInfoConvertsOptions: the shim's -info command (containerd's
// introspection, which CRI asks for a handler's features) reads the
// handler's options as runc's.
func TestManagerInfoConvertsOptions(t *testing.T) {
	encode := func(a *anypb.Any) io.Reader {
		b, err := proto.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.NewReader(b)
	}
	inner := &optsShim{}
	m := WrapManager(inner)
	in := encode(criOptions(t, &runtimeoptions.Options{ConfigBody: []byte(`BinaryName = "urunc"`)}))
	if _, err := m.Info(context.Background(), in); err != nil || inner.info.opts.GetBinaryName() != "urunc" {
		t.Errorf("Info = %v; runc's Info saw %+v", err, inner.info)
	}
	if _, err := m.Info(context.Background(), encode(mustRunc(t, &options.Options{Root: "/r"}))); err != nil || inner.info.opts.GetRoot() != "/r" {
		t.Errorf("Info with runc's options = %v; runc's Info saw %+v", err, inner.info)
	}
	for _, empty := range []io.Reader{strings.NewReader(""), encode(criOptions(t, &runtimeoptions.Options{}))} {
		if _, err := m.Info(context.Background(), empty); err != nil || !errors.Is(inner.info.err, errdefs.ErrNotFound) {
			t.Errorf("Info without options = %v; runc's Info saw %+v", err, inner.info)
		}
	}
	inner.info = nil
	_, err := m.Info(context.Background(), encode(criOptions(t, &runtimeoptions.Options{ConfigBody: []byte(`BinaryNam = "urunc"`)})))
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `unknown key "BinaryNam"`) || inner.info != nil {
		t.Errorf("Info with an unknown key = %v (runc's Info saw %+v); want the key named", err, inner.info)
	}
}

// TestTaskServiceRuntimeOptions: Create hands runc's task service runc's
// options; a bad key fails Create as invalid argument before anything is
// prepared or created.
func TestTaskServiceRuntimeOptions(t *testing.T) {
	v := newFakeViewer()
	var seen *anypb.Any
	inner := &recordingTasks{seen: &seen}
	s := NewTaskService(inner, NewPreparer(v, WithRoot(t.TempDir())))
	ctx := namespaces.WithNamespace(context.Background(), "ns")
	bundle := t.TempDir()
	writeSpec(t, bundle, `{"com.urunc.unikernel.snapshotView":"true","com.urunc.unikernel.mountRootfs":"true"}`)

	opts := criOptions(t, &runtimeoptions.Options{ConfigBody: []byte("BinaryName = \"urunc\"\nSystemdCgroup = true")})
	// The gate asks for a view the fake viewer cannot give: Create goes
	// on without one.
	if _, err := s.Create(ctx, &taskAPI.CreateTaskRequest{ID: "c1", Bundle: bundle, Options: opts}); err != nil {
		t.Fatal(err)
	}
	if o := asRunc(t, seen); o.GetBinaryName() != "urunc" || !o.GetSystemdCgroup() {
		t.Errorf("runc's Create saw %v", o)
	}
	prepares := v.prepares

	seen = nil
	bad := criOptions(t, &runtimeoptions.Options{ConfigBody: []byte(`SystemdCgroup = "yes"`)})
	_, err := s.Create(ctx, &taskAPI.CreateTaskRequest{ID: "c2", Bundle: bundle, Options: bad})
	if !errdefs.IsInvalidArgument(errgrpc.ToNative(err)) || !strings.Contains(err.Error(), `key "SystemdCgroup" wants a bool`) {
		t.Errorf("Create with an ill-typed key = %v; want invalid argument naming the key", err)
	}
	if seen != nil || v.prepares != prepares {
		t.Errorf("a failed Create reached runc (%v) or the viewer (%d prepares, was %d)", seen, v.prepares, prepares)
	}
}

// recordingTasks is runc's task service as Create sees it: it records the
// options it got.
type recordingTasks struct {
	taskAPI.TTRPCTaskService
	seen **anypb.Any
}

func (f *recordingTasks) Create(_ context.Context, r *taskAPI.CreateTaskRequest) (*taskAPI.CreateTaskResponse, error) {
	*f.seen = r.Options
	return &taskAPI.CreateTaskResponse{Pid: 42}, nil
}

// TestTaskServiceBadOptionsReleaseEarly: what the shim prepared when it
// started is released when Create fails on its options.
func TestTaskServiceBadOptionsReleaseEarly(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	v := newFakeViewer(blockfileMount(img))
	p := e.preparer(v)
	writeSpec(t, e.bundle, gatedJSON)
	var seen *anypb.Any
	s := NewTaskService(&recordingTasks{seen: &seen}, p)
	ctx := namespaces.WithNamespace(context.Background(), "ns")

	p.PrepareEarly(ctx, "ns", "c1", e.bundle)
	bad := criOptions(t, &runtimeoptions.Options{ConfigBody: []byte(`BinaryNam = "urunc"`)})
	_, err := s.Create(ctx, &taskAPI.CreateTaskRequest{ID: "c1", Bundle: e.bundle, Options: bad})
	if !errdefs.IsInvalidArgument(errgrpc.ToNative(err)) || !strings.Contains(err.Error(), `unknown key "BinaryNam"`) {
		t.Errorf("Create = %v; want invalid argument naming the key", err)
	}
	if v.prepares != 1 || seen != nil {
		t.Errorf("%d views prepared (want the early one), runc's Create saw %v", v.prepares, seen)
	}
	e.requireClean(t, v, img)
}
