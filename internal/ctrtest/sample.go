package ctrtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/artifactfs/artifactfs/internal/artifact"
)

// In-image paths of SampleImage.
const (
	SampleKernelPath = "/.boot/kernel"
	SampleInitrdPath = "/.boot/initrd"
	SampleConfigPath = "/urunc.json"
	SampleEntryPath  = "/bin/entry"
)

// SampleConfig is the urunc configuration SampleImage writes to
// /urunc.json: a qemu Linux guest booting /.boot/kernel with /.boot/initrd,
// mountRootfs and snapshotView on.
func SampleConfig() artifact.Config {
	return artifact.Config{
		artifact.AnnotationType:         "linux",
		artifact.AnnotationHypervisor:   "qemu",
		artifact.AnnotationBinary:       SampleKernelPath,
		artifact.AnnotationInitrd:       SampleInitrdPath,
		artifact.AnnotationCmdline:      "console=ttyS0 panic=-1",
		artifact.AnnotationMountRootfs:  "true",
		artifact.AnnotationSnapshotView: "true",
	}
}

// SampleImage returns the spec of a urunc-style image named name: kernel at
// SampleKernelPath, initrd (when not nil) at SampleInitrdPath, cfg (nil:
// SampleConfig) encoded at SampleConfigPath, and, when entry is not nil, a
// static executable at SampleEntryPath as the entrypoint (see Entrypoint).
func SampleImage(name string, kernel, initrd, entry []byte, cfg artifact.Config) (ImageSpec, error) {
	if cfg == nil {
		cfg = SampleConfig()
	}
	js, err := artifact.EncodeUruncJSON(cfg)
	if err != nil {
		return ImageSpec{}, fmt.Errorf("sample image: %w", err)
	}
	spec := ImageSpec{Name: name, Files: map[string]File{
		SampleKernelPath: {Data: kernel},
		SampleConfigPath: {Data: js},
	}}
	if initrd != nil {
		spec.Files[SampleInitrdPath] = File{Data: initrd}
	}
	if entry != nil {
		spec.Files[SampleEntryPath] = File{Data: entry, Mode: 0o755}
		spec.Entrypoint = []string{SampleEntryPath}
	}
	return spec, nil
}

// entrySource is a tiny static init for test containers:
//
//	entry                  wait for SIGTERM/SIGINT, exit 0
//	entry sha256 FILE...   print "<hex>  FILE" per file (exit 1 on error)
//	entry cat FILE...      copy files to stdout
//	entry sleep SECONDS    sleep
const entrySource = `package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
		return
	}
	code := 0
	switch os.Args[1] {
	case "sha256":
		for _, p := range os.Args[2:] {
			f, err := os.Open(p)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				code = 1
				continue
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				code = 1
				continue
			}
			fmt.Printf("%x  %s\n", h.Sum(nil), p)
		}
	case "cat":
		for _, p := range os.Args[2:] {
			f, err := os.Open(p)
			if err == nil {
				_, err = io.Copy(os.Stdout, f)
				f.Close()
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				code = 1
			}
		}
	case "sleep":
		s, _ := strconv.ParseFloat(os.Args[2], 64)
		time.Sleep(time.Duration(s * float64(time.Second)))
	default:
		fmt.Fprintln(os.Stderr, "usage: entry [sha256|cat FILE...|sleep SECONDS]")
		code = 2
	}
	os.Exit(code)
}
`

// Entrypoint builds the static test init described by entrySource
// (CGO_ENABLED=0) in dir and returns its bytes, for SampleImage.
func Entrypoint(dir string) ([]byte, error) {
	goBin, err := GoTool()
	if err != nil {
		return nil, fmt.Errorf("build entrypoint: %w", err)
	}
	src := filepath.Join(dir, "entry-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, fmt.Errorf("build entrypoint: %w", err)
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module entry\n\ngo 1.22\n"), 0o644); err != nil {
		return nil, fmt.Errorf("build entrypoint: %w", err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(entrySource), 0o644); err != nil {
		return nil, fmt.Errorf("build entrypoint: %w", err)
	}
	out := filepath.Join(dir, "entry")
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOTOOLCHAIN=local", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build entrypoint: %w\n%s", err, b)
	}
	return os.ReadFile(out)
}
