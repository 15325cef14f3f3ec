package shim

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/api/types/runc/options"
	runtimeoptions "github.com/containerd/containerd/api/types/runtimeoptions/v1"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// runcWrapper writes a runc wrapper script into a new directory: it
// appends its arguments to a log, then runs runc. It returns the script
// and the log.
func runcWrapper(t *testing.T) (script, logPath string) {
	t.Helper()
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script, logPath = filepath.Join(dir, "runc-wrapper"), filepath.Join(dir, "argv.log")
	body := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> %s\nexec %s \"$@\"\n", logPath, runc)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, logPath
}

// wrapperRan reports whether the wrapper logged a runc command cmd (create,
// features...) naming all of names.
func wrapperRan(t *testing.T, logPath, cmd string, names ...string) bool {
	t.Helper()
	b, err := os.ReadFile(logPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if !strings.Contains(" "+line+" ", " "+cmd+" ") {
			continue
		}
		ok := true
		for _, n := range names {
			ok = ok && strings.Contains(line, n)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestShimRuntimeOptions runs a container with BinaryName set to a runc
// wrapper the way each client passes it: runc's typed options (Go
// client, ctr --runc-binary for runc), and runtimeoptions.v1.Options with
// the handler's options table as TOML in ConfigBody (containerd's CRI).
// The wrapper runs the container and the artifacts are served as usual.
func TestShimRuntimeOptions(t *testing.T) {
	e := newShimEnv(t, shimOptions{})
	ctx := testCtx(t, e)
	for _, tc := range []struct {
		name string
		opts func(script string) any
	}{
		{"runc", func(script string) any { return &options.Options{BinaryName: script} }},
		{"cri", func(script string) any {
			return &runtimeoptions.Options{ConfigBody: fmt.Appendf(nil, "BinaryName = %q\nNoNewKeyring = true\n", script)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script, logPath := runcWrapper(t)
			id := "opts-" + tc.name
			st, err := create(t, ctx, e, harness.Container{ID: id, Annotations: shimGated, Bind: true, RuntimeOptions: tc.opts(script)})
			if err != nil {
				t.Fatal(err)
			}
			if state, err := artifactbind.LoadState(e.Bundle(id)); err != nil || !state.Ready() || state.Mode != artifactbind.ModeFUSE {
				t.Fatalf("bundle state = %+v, %v", state, err)
			}
			if code := run(t, ctx, st); code != 0 || st.Stdout.String() != e.WantSums() {
				t.Fatalf("exit %d, saw:\n%s%swant:\n%s", code, st.Stdout, st.Stderr, e.WantSums())
			}
			if !wrapperRan(t, logPath, "create", id) {
				t.Errorf("runc create of %s did not go through %s", id, script)
			}
			// runc's shim keeps the options for its delete command.
			b, _ := os.ReadFile(filepath.Join(e.Bundle(id), "options.json"))
			if !strings.Contains(string(b), script) {
				t.Errorf("options.json does not name the wrapper: %s", b)
			}
			remove(t, ctx, st)
			if !wrapperRan(t, logPath, "delete", id) {
				t.Errorf("runc delete of %s did not go through %s", id, script)
			}
			e.CheckNoLeaks(t, "after delete")
		})
	}
}

// TestShimRuntimeOptionsCtr: `ctr run --runtime io.containerd.artifactfs.v2
// --runtime-config-path FILE` sends runtimeoptions.v1.Options naming the
// TOML file; the shim reads BinaryName from it.
func TestShimRuntimeOptionsCtr(t *testing.T) {
	e := newShimEnv(t, shimOptions{})
	script, logPath := runcWrapper(t)
	config := filepath.Join(t.TempDir(), "artifactfs-runtime.toml")
	if err := os.WriteFile(config, fmt.Appendf(nil, "# artifactfs runtime options\nBinaryName = %q\n", script), 0o644); err != nil {
		t.Fatal(err)
	}
	id := "opts-ctr"
	args := []string{"run", "--rm", "--snapshotter", "blockfile",
		"--runtime", ctrtest.ArtifactfsRuntime, "--runtime-config-path", config,
		"--mount", "type=bind,src=" + e.Path(id) + ",dst=" + harness.ArtifactsDir + ",options=rbind:ro"}
	for k, v := range shimGated {
		args = append(args, "--annotation", k+"="+v)
	}
	args = append(append(args, e.Image.Name(), id, ctrtest.SampleEntryPath), harness.SumArgs()...)
	cmd := e.D.Ctr(args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ctr run: %v\n%s", err, stderr.String())
	}
	if string(out) != e.WantSums() {
		t.Errorf("container saw:\n%swant:\n%s", out, e.WantSums())
	}
	if !wrapperRan(t, logPath, "create", id) {
		t.Errorf("runc create of %s did not go through %s", id, script)
	}
	e.CheckNoLeaks(t, "after ctr run --rm")
}

// TestShimRuntimeOptionsErrors: an unknown key, an ill-typed value, or a
// config file that is not there fails Create as invalid argument naming
// it; runc never ran, and what the shim prepared when it started is gone.
func TestShimRuntimeOptionsErrors(t *testing.T) {
	e := newShimEnv(t, shimOptions{})
	ctx := testCtx(t, e)
	script, logPath := runcWrapper(t)
	missing := filepath.Join(t.TempDir(), "missing.toml")
	for i, tc := range []struct {
		opts *runtimeoptions.Options
		want string
	}{
		{&runtimeoptions.Options{ConfigBody: fmt.Appendf(nil, "BinaryNam = %q\n", script)}, `unknown key "BinaryNam"`},
		{&runtimeoptions.Options{ConfigBody: fmt.Appendf(nil, "BinaryName = %q\nSystemdCgroup = \"yes\"\n", script)}, `key "SystemdCgroup" wants a bool`},
		{&runtimeoptions.Options{ConfigBody: fmt.Appendf(nil, "BinaryName = %q\nIoUid = -1\n", script)}, `key "IoUid" wants a uint32`},
		{&runtimeoptions.Options{ConfigPath: missing}, missing},
	} {
		id := fmt.Sprintf("opts-bad-%d", i)
		st, err := create(t, ctx, e, harness.Container{ID: id, Annotations: shimGated, Bind: true, RuntimeOptions: tc.opts})
		if err == nil {
			t.Errorf("%s: Create succeeded; want an error saying %s", id, tc.want)
		} else if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Create = %v; want an invalid argument saying %s", id, err, tc.want)
		} else {
			t.Logf("%s: %v", id, err)
		}
		if wrapperRan(t, logPath, "create", id) {
			t.Errorf("%s: runc ran with options that did not convert", id)
		}
		if st != nil {
			remove(t, ctx, st)
		}
		e.CheckNoLeaks(t, "after a failed Create of "+id)
	}
}

// TestShimRuntimeOptionsShimCgroup: ShimCgroup in a CRI options table puts
// the shim in that cgroup. runc's shim reads it when it starts, from the
// bootstrap parameters, where only the manager's conversion makes it
// runc's.
func TestShimRuntimeOptionsShimCgroup(t *testing.T) {
	name := fmt.Sprintf("artifactfs-test-%d", os.Getpid())
	dir := filepath.Join("/sys/fs/cgroup", name)
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		// cgroup v1 (or hybrid): runc's shim joins the hierarchies where
		// the cgroup exists; one is enough.
		dir = filepath.Join("/sys/fs/cgroup/pids", name)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a cgroup to put the shim in: %v", err)
	}
	// Registered before the daemon's stop, so it runs after it.
	t.Cleanup(func() {
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if err = os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
				return
			}
		}
		t.Errorf("remove cgroup %s: %v", dir, err)
	})
	e := newShimEnv(t, shimOptions{})
	ctx := testCtx(t, e)
	id := "opts-cgroup"
	opts := &runtimeoptions.Options{ConfigBody: fmt.Appendf(nil, "ShimCgroup = %q\n", "/"+name)}
	st, err := create(t, ctx, e, harness.Container{ID: id, Annotations: shimGated, RuntimeOptions: opts, Args: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", shimPid(t, e, id)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), ":/"+name+"\n") {
		t.Errorf("the shim is not in cgroup /%s:\n%s", name, b)
	}
	remove(t, ctx, st)
	e.CheckNoLeaks(t, "after delete")
}

// TestShimRuntimeOptionsInfo: containerd's runtime introspection — what
// CRI asks for each handler's features, with the handler's options — runs
// the shim's -info with runtimeoptions.v1.Options; the shim answers with
// runc's options and the features of the BinaryName runtime.
func TestShimRuntimeOptionsInfo(t *testing.T) {
	e := newShimEnv(t, shimOptions{})
	ctx := testCtx(t, e)
	script, logPath := runcWrapper(t)
	opts := &runtimeoptions.Options{ConfigBody: fmt.Appendf(nil, "BinaryName = %q\n", script)}
	info, err := e.D.Client().RuntimeInfo(ctx, ctrtest.ArtifactfsRuntime, opts)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := info.Options.(*options.Options); !ok || o.GetBinaryName() != script {
		t.Errorf("runtime info options = %T %v; want runc's with BinaryName %s", info.Options, info.Options, script)
	}
	if f, ok := info.Features.(*features.Features); !ok || f.OCIVersionMax == "" {
		t.Errorf("runtime info features = %T %v", info.Features, info.Features)
	}
	if !wrapperRan(t, logPath, "features") {
		t.Errorf("runc features did not go through %s", script)
	}
	bad := &runtimeoptions.Options{ConfigBody: []byte(`BinaryNam = "x"`)}
	// containerd quotes the shim's stderr (%q) in its error.
	if _, err := e.D.Client().RuntimeInfo(ctx, ctrtest.ArtifactfsRuntime, bad); err == nil || !strings.Contains(err.Error(), `unknown key \"BinaryNam\"`) {
		t.Errorf("runtime info with an unknown key = %v; want the key named", err)
	}
}
