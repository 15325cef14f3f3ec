package shimglue

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/containerd/v2/core/mount"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/source"
)

const (
	annView   = artifact.AnnotationSnapshotView
	annRootfs = artifact.AnnotationMountRootfs
)

// complete is a full annotation configuration (urunc uses it, not urunc.json).
func complete(extra map[string]string) map[string]string {
	m := map[string]string{
		artifact.AnnotationType:       "unikraft",
		artifact.AnnotationHypervisor: "qemu",
		artifact.AnnotationBinary:     "/.boot/kernel",
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestGate(t *testing.T) {
	tests := []struct {
		name string
		ann  map[string]string
		want Decision
	}{
		{"both true", map[string]string{annView: "true", annRootfs: "true"}, Act},
		{"both true, complete", complete(map[string]string{annView: "true", annRootfs: "true"}), Act},
		{"ParseBool spellings", map[string]string{annView: "1", annRootfs: "True"}, Act},
		{"view only, complete", complete(map[string]string{annView: "true"}), Skip},
		{"rootfs only, complete", complete(map[string]string{annRootfs: "true"}), Skip},
		{"complete without either", complete(nil), Skip},
		{"explicit opt-out", map[string]string{annView: "false"}, Skip},
		{"explicit opt-out, rootfs true", map[string]string{annView: "false", annRootfs: "true"}, Skip},
		{"nothing: urunc.json decides", nil, Probe},
		{"unrelated annotations", map[string]string{"io.kubernetes.cri.container-type": "container"}, Probe},
		{"incomplete, view only", map[string]string{annView: "true"}, Probe},
		{"garbage value is not true", map[string]string{annView: "yes", annRootfs: "true"}, Skip},
		{"pod sandbox with the pod's annotations", map[string]string{AnnotationContainerType: "sandbox", annView: "true", annRootfs: "true"}, Skip},
		{"pod sandbox, complete", complete(map[string]string{AnnotationContainerType: "sandbox", annView: "true", annRootfs: "true"}), Skip},
		{"pod sandbox without annotations: no probe", map[string]string{AnnotationContainerType: "sandbox"}, Skip},
		{"pod app container", map[string]string{AnnotationContainerType: "container", annView: "true", annRootfs: "true"}, Act},
	}
	for _, tt := range tests {
		if got := Gate(tt.ann); got != tt.want {
			t.Errorf("%s: Gate(%v) = %s, want %s", tt.name, tt.ann, got, tt.want)
		}
	}
}

func TestStrictAnnotation(t *testing.T) {
	if AnnotationStrict != "com.urunc.unikernel.snapshotView.strict" {
		t.Errorf("AnnotationStrict = %q", AnnotationStrict)
	}
	cfg, _ := artifact.FromAnnotations(map[string]string{AnnotationStrict: "true"})
	if !strict(cfg) {
		t.Error("strict annotation not seen")
	}
	if strict(artifact.Config{}) {
		t.Error("strict without the annotation")
	}
}

// uruncJSON encodes a urunc.json as images carry it (base64 values).
func uruncJSON(t testing.TB, cfg map[string]string) []byte {
	t.Helper()
	data, err := artifact.EncodeUruncJSON(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestImageConfig(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string][]byte
		wantWants bool
		wantFound bool
		wantErr   bool
	}{
		{name: "asks", files: map[string][]byte{"urunc.json": uruncJSON(t, map[string]string{annView: "true", annRootfs: "true", artifact.AnnotationBinary: "/k"})}, wantWants: true, wantFound: true},
		{name: "mountRootfs only", files: map[string][]byte{"urunc.json": uruncJSON(t, map[string]string{annRootfs: "true"})}, wantFound: true},
		{name: "no urunc.json", files: map[string][]byte{"etc/hostname": []byte("x")}},
		{name: "not base64", files: map[string][]byte{"urunc.json": []byte(`{"` + annView + `":"not base64!"}`)}, wantErr: true},
		{name: "a directory", files: map[string][]byte{"urunc.json/x": []byte("x")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				p := filepath.Join(dir, name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			src, err := source.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			cfg, found, err := imageConfig(src)
			if (err != nil) != tt.wantErr {
				t.Fatalf("imageConfig: %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && found != tt.wantFound {
				t.Errorf("imageConfig found = %v, want %v", found, tt.wantFound)
			}
			if got := wants(cfg); got != tt.wantWants {
				t.Errorf("wants(%v) = %v, want %v", cfg, got, tt.wantWants)
			}
		})
	}
	if got := base64.StdEncoding.EncodeToString([]byte("true")); got != "dHJ1ZQ==" {
		t.Fatal(got)
	}
}

func TestReadOnlyMounts(t *testing.T) {
	in := []mount.Mount{
		{Type: "ext4", Source: "/snap/3", Options: []string{"loop"}},
		{Type: "bind", Source: "/snap/fs", Options: []string{"ro", "rbind"}},
		{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/a:/b"}},
	}
	out, err := readOnly(in)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range out {
		if !m.ReadOnly() {
			t.Errorf("mount %d not read-only: %v", i, m.Options)
		}
		for _, o := range []string{"nosuid", "nodev"} {
			found := false
			for _, got := range m.Options {
				found = found || got == o
			}
			if !found {
				t.Errorf("mount %d lacks %s: %v", i, o, m.Options)
			}
		}
	}
	if len(in[0].Options) != 1 {
		t.Errorf("readOnly changed its input: %v", in[0].Options)
	}
	if _, err := readOnly([]mount.Mount{{Type: "overlay", Options: []string{"lowerdir=/a", "upperdir=/u", "workdir=/w"}}}); err == nil {
		t.Error("readOnly accepted a writable overlay")
	}
}

func TestBlockSource(t *testing.T) {
	img := filepath.Join(t.TempDir(), "snap")
	os.WriteFile(img, []byte("x"), 0o600)
	tests := []struct {
		name   string
		mounts []mount.Mount
		want   string
	}{
		{"blockfile", []mount.Mount{{Type: "ext4", Source: img, Options: []string{"loop", "ro"}}}, img},
		{"bind", []mount.Mount{{Type: "bind", Source: filepath.Dir(img), Options: []string{"ro", "rbind"}}}, ""},
		{"missing file", []mount.Mount{{Type: "ext4", Source: img + ".gone"}}, ""},
		{"a directory", []mount.Mount{{Type: "ext4", Source: filepath.Dir(img)}}, ""},
		{"char device", []mount.Mount{{Type: "ext4", Source: "/dev/null"}}, ""},
		{"two mounts", []mount.Mount{{Type: "ext4", Source: img}, {Type: "ext4", Source: img}}, ""},
	}
	for _, tt := range tests {
		got, ok := blockSource(tt.mounts)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: blockSource = %q, %v; want %q", tt.name, got, ok, tt.want)
		}
	}
}
