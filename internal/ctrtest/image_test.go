package ctrtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/containerd/containerd/v2/core/images"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestBuildImage reads back the layout BuildImage writes: every blob under
// its digest, the index naming the image, the layer holding the files with
// their parents, and the config's diff id matching the uncompressed layer.
func TestBuildImage(t *testing.T) {
	kernel := bytes.Repeat([]byte("k"), 70000)
	spec, err := SampleImage("example.com/x:v1", kernel, []byte("initrd"), []byte("#!entry"), nil)
	if err != nil {
		t.Fatal(err)
	}
	hostFile := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(hostFile, []byte("from host"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec.Files["/opt/data"] = File{HostPath: hostFile}
	p, err := BuildImage(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	blobs := readTar(t, p)
	var index ocispec.Index
	mustJSON(t, blobs[ocispec.ImageIndexFile], &index)
	if len(index.Manifests) != 1 || index.Manifests[0].Annotations[images.AnnotationImageName] != "example.com/x:v1" {
		t.Fatalf("index %+v", index)
	}
	var mf ocispec.Manifest
	mustJSON(t, blob(t, blobs, index.Manifests[0]), &mf)
	var cfg ocispec.Image
	mustJSON(t, blob(t, blobs, mf.Config), &cfg)
	if len(mf.Layers) != 1 || cfg.Config.Entrypoint[0] != SampleEntryPath || cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Fatalf("manifest %+v config %+v", mf, cfg)
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob(t, blobs, mf.Layers[0])))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if got := digest.FromBytes(raw); len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != got {
		t.Errorf("diff ids %v, layer %s", cfg.RootFS.DiffIDs, got)
	}
	layer := readTarBytes(t, raw)
	want := map[string]string{".boot/": "", "bin/": "", "opt/": "", ".boot/kernel": string(kernel),
		".boot/initrd": "initrd", "bin/entry": "#!entry", "opt/data": "from host"}
	for name, content := range want {
		if got, ok := layer[name]; !ok || string(got) != content {
			t.Errorf("layer entry %s: %q, %v", name, got, ok)
		}
	}
	if _, ok := layer["urunc.json"]; !ok {
		t.Error("layer misses urunc.json")
	}
}

func blob(t *testing.T, blobs map[string][]byte, d ocispec.Descriptor) []byte {
	t.Helper()
	b, ok := blobs[blobPath(d.Digest)]
	if !ok || digest.FromBytes(b) != d.Digest || int64(len(b)) != d.Size {
		t.Fatalf("blob %s: present %v, size %d want %d", d.Digest, ok, len(b), d.Size)
	}
	return b
}

func readTar(t *testing.T, p string) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return readTarBytes(t, b)
}

func readTarBytes(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = data
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// TestEntrypoint builds the static test init and runs it on the host.
func TestEntrypoint(t *testing.T) {
	dir := t.TempDir()
	b, err := Entrypoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x7fELF")) {
		t.Fatal("not an ELF file")
	}
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(dir, "entry"), "sha256", f).Output()
	want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  " + f + "\n"
	if err != nil || string(out) != want {
		t.Errorf("entry sha256: %q, %v; want %q", out, err, want)
	}
}
