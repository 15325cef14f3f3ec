package ctrtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultImageName is the name BuildImage gives an image whose spec names none.
const DefaultImageName = "docker.io/library/artifactfs-sample:latest"

// File is one regular file of an image layer.
type File struct {
	// Data is the content, unless HostPath is set.
	Data []byte
	// HostPath, when set, names a host file whose content is used instead of
	// Data (for large kernels that need not sit in memory).
	HostPath string
	// Mode is the permission bits; default 0644.
	Mode fs.FileMode
}

// ImageSpec describes a single-layer linux/amd64 image.
type ImageSpec struct {
	// Name is the image reference; default DefaultImageName.
	Name string
	// Files maps absolute in-image paths to files; parent directories are
	// added with mode 0755.
	Files map[string]File
	// Entrypoint and Cmd go into the image config.
	Entrypoint, Cmd []string
	// Labels go into the image config.
	Labels map[string]string
}

// BuildImage writes spec as an OCI image layout tar (oci-layout, index.json,
// blobs: manifest, config and one gzip'd tar layer) in dir and returns its
// path. The index names the image with io.containerd.image.name, so that
// Import registers it under spec.Name.
func BuildImage(dir string, spec ImageSpec) (string, error) {
	if spec.Name == "" {
		spec.Name = DefaultImageName
	}
	layerPath := filepath.Join(dir, "layer.tar.gz")
	layerDesc, diffID, err := writeLayer(layerPath, spec.Files)
	if err != nil {
		return "", fmt.Errorf("build image layer: %w", err)
	}
	defer os.Remove(layerPath)

	cfg := ocispec.Image{
		Platform: ocispec.Platform{Architecture: "amd64", OS: "linux"},
		Config:   ocispec.ImageConfig{Entrypoint: spec.Entrypoint, Cmd: spec.Cmd, Labels: spec.Labels, Env: []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
	}
	cfgBlob, cfgDesc, err := jsonBlob(ocispec.MediaTypeImageConfig, cfg)
	if err != nil {
		return "", err
	}
	manifest := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfgDesc,
		Layers:    []ocispec.Descriptor{layerDesc},
	}
	mfBlob, mfDesc, err := jsonBlob(ocispec.MediaTypeImageManifest, manifest)
	if err != nil {
		return "", err
	}
	mfDesc.Platform = &ocispec.Platform{Architecture: "amd64", OS: "linux"}
	mfDesc.Annotations = map[string]string{
		images.AnnotationImageName: spec.Name,
		ocispec.AnnotationRefName:  refName(spec.Name),
	}
	index := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{mfDesc},
	}
	indexBlob, err := json.Marshal(index)
	if err != nil {
		return "", err
	}
	layout, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})

	tarPath := filepath.Join(dir, "image.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		return "", fmt.Errorf("build image: %w", err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		data []byte
	}{
		{ocispec.ImageLayoutFile, layout},
		{ocispec.ImageIndexFile, indexBlob},
		{blobPath(cfgDesc.Digest), cfgBlob},
		{blobPath(mfDesc.Digest), mfBlob},
	} {
		if err := writeTarFile(tw, e.name, 0o644, int64(len(e.data)), bytes.NewReader(e.data)); err != nil {
			return "", fmt.Errorf("build image: %w", err)
		}
	}
	lf, err := os.Open(layerPath)
	if err != nil {
		return "", fmt.Errorf("build image: %w", err)
	}
	defer lf.Close()
	if err := writeTarFile(tw, blobPath(layerDesc.Digest), 0o644, layerDesc.Size, lf); err != nil {
		return "", fmt.Errorf("build image: %w", err)
	}
	if err := tw.Close(); err != nil {
		return "", fmt.Errorf("build image: %w", err)
	}
	return tarPath, f.Close()
}

// writeLayer writes the gzip'd tar layer of files to p and returns its
// descriptor and diff id (the digest of the uncompressed tar).
func writeLayer(p string, files map[string]File) (ocispec.Descriptor, digest.Digest, error) {
	f, err := os.Create(p)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	defer f.Close()
	compressed := &countingHash{h: sha256.New()}
	gz, _ := gzip.NewWriterLevel(io.MultiWriter(f, compressed), gzip.BestSpeed)
	uncompressed := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(gz, uncompressed))

	names := make([]string, 0, len(files))
	dirs := map[string]bool{}
	for name := range files {
		clean := path.Clean("/" + name)
		if clean != "/"+strings.TrimPrefix(name, "/") || clean == "/" {
			return ocispec.Descriptor{}, "", fmt.Errorf("in-image path %q is not clean", name)
		}
		names = append(names, name)
		for d := path.Dir(clean); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	sorted := make([]string, 0, len(dirs))
	for d := range dirs {
		sorted = append(sorted, d)
	}
	sort.Strings(sorted) // parents before children
	for _, d := range sorted {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return ocispec.Descriptor{}, "", err
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if err := writeFileEntry(tw, strings.TrimPrefix(path.Clean("/"+name), "/"), files[name]); err != nil {
			return ocispec.Descriptor{}, "", fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return ocispec.Descriptor{}, "", err
	}
	if err := gz.Close(); err != nil {
		return ocispec.Descriptor{}, "", err
	}
	desc := ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageLayerGzip,
		Digest:    digest.NewDigest(digest.SHA256, compressed.h),
		Size:      compressed.n,
	}
	return desc, digest.NewDigest(digest.SHA256, uncompressed), f.Close()
}

func writeFileEntry(tw *tar.Writer, name string, file File) error {
	mode := file.Mode.Perm()
	if mode == 0 {
		mode = 0o644
	}
	if file.HostPath == "" {
		return writeTarFile(tw, name, mode, int64(len(file.Data)), bytes.NewReader(file.Data))
	}
	src, err := os.Open(file.HostPath)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return err
	}
	return writeTarFile(tw, name, mode, st.Size(), src)
}

// epoch is the fixed mtime of every entry, for reproducible digests.
var epoch = time.Unix(0, 0)

func writeTarFile(tw *tar.Writer, name string, mode fs.FileMode, size int64, r io.Reader) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(mode), Size: size, ModTime: epoch, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, r)
	if err == nil && n != size {
		err = fmt.Errorf("%s: wrote %d bytes, want %d", name, n, size)
	}
	return err
}

func jsonBlob(mediaType string, v any) ([]byte, ocispec.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	return b, ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}, nil
}

func blobPath(d digest.Digest) string {
	return path.Join("blobs", d.Algorithm().String(), d.Encoded())
}

// refName is the tag of a reference ("latest" in "repo:latest").
func refName(name string) string {
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name[i+1:]
	}
	return "latest"
}

type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// Import imports the image layout tar at tarPath into the client's
// namespace (or ctx's) and unpacks it into each named snapshotter. It
// returns the image named in the tar.
func Import(ctx context.Context, c *client.Client, tarPath string, snapshotters ...string) (client.Image, error) {
	f, err := os.Open(tarPath)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	imgs, err := c.Import(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", tarPath, err)
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("import %s: no named image in the index", tarPath)
	}
	img := client.NewImage(c, imgs[0])
	for _, sn := range snapshotters {
		if err := img.Unpack(ctx, sn); err != nil {
			return nil, fmt.Errorf("unpack %s into %s: %w", img.Name(), sn, err)
		}
	}
	return img, nil
}
