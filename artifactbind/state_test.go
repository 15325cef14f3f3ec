package artifactbind

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func sampleState(root string) *State {
	return &State{
		ContainerID:    "c1",
		Namespace:      "default",
		Snapshotter:    "blockfile",
		ViewKey:        "artifactfs/default/c1",
		LeaseID:        "artifactfs/default/c1",
		Parent:         "sha256:0123",
		ViewMounts:     []Mount{{Type: "ext4", Source: "/var/lib/containerd/snapshots/3", Options: []string{"loop", "ro"}}},
		ViewMountpoint: filepath.Join(root, ".views", "default", "c1"),
		Path:           filepath.Join(root, "default", "c1"),
		Mode:           ModeFUSE,
		Artifacts: []ArtifactState{
			{Kind: "kernel", Path: "/.boot/kernel", Size: 123},
			{Kind: "initrd", Path: "/.boot/initrd", Size: 45},
			{Kind: "config", Path: "/urunc.json", Size: 6},
		},
	}
}

func TestStateRoundTrip(t *testing.T) {
	bundle := t.TempDir()
	want := sampleState("/run/artifactfs")
	if err := WriteState(bundle, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadState = %+v, want %+v", got, want)
	}
	if !got.Ready() {
		t.Error("Ready() = false for a fuse state")
	}
	// The file is versioned JSON with the documented field names.
	raw, err := os.ReadFile(StatePath(bundle))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "container_id", "namespace", "snapshotter", "view_key", "lease_id", "parent", "view_mounts", "view_mountpoint", "path", "mode", "artifacts"} {
		if _, ok := m[k]; !ok {
			t.Errorf("state file has no %q: %s", k, raw)
		}
	}
	if m["version"] != float64(1) {
		t.Errorf("version = %v, want 1", m["version"])
	}
	if fi, err := os.Stat(StatePath(bundle)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(bundle)
	if len(entries) != 1 {
		t.Errorf("bundle holds %d entries, want only the state file (no temp files)", len(entries))
	}

	if err := RemoveState(bundle); err != nil {
		t.Fatal(err)
	}
	if err := RemoveState(bundle); err != nil {
		t.Errorf("second RemoveState: %v", err)
	}
	if got, err := LoadState(bundle); got != nil || err != nil {
		t.Errorf("LoadState without a file = %v, %v; want nil, nil", got, err)
	}
}

func TestStateReady(t *testing.T) {
	var none *State
	if none.Ready() {
		t.Error("nil state is ready")
	}
	st := sampleState("/r")
	st.Mode = ModePending
	if st.Ready() {
		t.Error("pending state is ready")
	}
	for _, m := range []Mode{ModeFUSE, ModeDirect, ModeBind, ModeCopy} {
		st.Mode = m
		if !st.Ready() {
			t.Errorf("%s state is not ready", m)
		}
	}
	st.Artifacts = nil
	if st.Ready() {
		t.Error("state without artifacts is ready")
	}
}

// TestStateAtomic rewrites the state file while readers load it: every
// read sees one whole version, never a part or nothing.
func TestStateAtomic(t *testing.T) {
	bundle := t.TempDir()
	st := sampleState("/run/artifactfs")
	if err := WriteState(bundle, st); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := LoadState(bundle)
				if err == nil && got == nil {
					err = errors.New("state file missing during a rewrite")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 300 {
		st.Artifacts[0].Size = int64(i)
		st.Parent = strings.Repeat("x", i)
		if err := WriteState(bundle, st); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	entries, _ := os.ReadDir(bundle)
	if len(entries) != 1 {
		t.Errorf("bundle holds %d entries, want 1", len(entries))
	}
}

func TestLoadStateRefuses(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(m map[string]any)
		raw    string
		target error
	}{
		{name: "other version", edit: func(m map[string]any) { m["version"] = 2 }, target: ErrStateVersion},
		{name: "no version", edit: func(m map[string]any) { delete(m, "version") }, target: ErrStateVersion},
		{name: "path elsewhere", edit: func(m map[string]any) { m["path"] = "/etc" }},
		{name: "path not clean", edit: func(m map[string]any) { m["path"] = "/run/artifactfs/default/../default/c1" }},
		{name: "path of another container", edit: func(m map[string]any) { m["path"] = "/run/artifactfs/default/c2" }},
		{name: "view mountpoint outside .views", edit: func(m map[string]any) { m["view_mountpoint"] = "/run/artifactfs/default/c1" }},
		{name: "per-container path inside .views", edit: func(m map[string]any) { m["path"] = "/run/artifactfs/.views/default/c1" }},
		{name: "bad container id", edit: func(m map[string]any) { m["container_id"] = "../c1" }, target: ErrInvalidName},
		{name: "bad namespace", edit: func(m map[string]any) { m["namespace"] = "" }, target: ErrInvalidName},
		{name: "not JSON", raw: "{"},
		{name: "too large", raw: `{"version":1,"parent":"` + strings.Repeat("a", MaxStateSize) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bundle := t.TempDir()
			raw := []byte(tt.raw)
			if tt.edit != nil {
				data, _ := json.Marshal(func() *State { s := sampleState("/run/artifactfs"); s.Version = StateVersion; return s }())
				var m map[string]any
				if err := json.Unmarshal(data, &m); err != nil {
					t.Fatal(err)
				}
				tt.edit(m)
				raw, _ = json.Marshal(m)
			}
			if err := os.WriteFile(StatePath(bundle), raw, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadState(bundle)
			if err == nil {
				t.Fatalf("LoadState = %+v, want an error", got)
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("error %v does not wrap %v", err, tt.target)
			}
		})
	}
}

func TestWriteStateRefusesForeignPaths(t *testing.T) {
	st := sampleState("/run/artifactfs")
	st.Path = "/"
	if err := WriteState(t.TempDir(), st); err == nil {
		t.Error("WriteState accepted a per-container path of /")
	}
}
