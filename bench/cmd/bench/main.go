package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	var (
		runs   = flag.Int("runs", 5, "runs per row (cold and warm each); median and min–max are reported")
		sizes  = flag.String("sizes", "1,16,64,256", "contiguous kernel sizes in MiB, comma-separated")
		frag   = flag.Int("frag", 256, "size in MiB of the fragmented kernel; 0 skips it")
		pieces = flag.Int("pieces", 256, "extents the fragmented kernel is spread over, about")
		out    = flag.String("out", "bench", "directory for results.md and results.png")
		work   = flag.String("work", "", "directory for images and mountpoints (default: a new temp dir, removed at the end)")
	)
	flag.Parse()
	if err := run1(*runs, *sizes, *frag, *pieces, *out, *work); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run1(runs int, sizeList string, frag, pieces int, out, work string) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root: loop devices, FUSE mounts and drop_caches")
	}
	if runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	var sizes []int
	for _, f := range strings.Split(sizeList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-sizes: bad size %q", f)
		}
		sizes = append(sizes, n)
	}
	if work == "" {
		dir, err := os.MkdirTemp("", "artifactfs-bench.")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	// On Ctrl-C, unmount what is mounted before leaving.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	started := time.Now()
	var images []*benchImage
	for _, n := range sizes {
		progress("making image with a %d MiB kernel", n)
		img, err := contiguousImage(work, n)
		if err != nil {
			return fmt.Errorf("image %d MiB: %w", n, err)
		}
		images = append(images, img)
	}
	if frag > 0 {
		progress("making image with a fragmented %d MiB kernel (%d pieces)", frag, pieces)
		img, err := fragmentedImage(work, frag, pieces)
		if err != nil {
			return fmt.Errorf("fragmented image: %w", err)
		}
		images = append(images, img)
	}

	var all []*result
	ext := map[string]int{}
	for _, img := range images {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, n, err := benchImageRows(ctx, img, filepath.Join(filepath.Dir(img.path), "m"), runs)
		if err != nil {
			return fmt.Errorf("%s: %w", img.name, err)
		}
		ext[img.name] = n
		all = append(all, res...)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	md := filepath.Join(out, "results.md")
	if err := os.WriteFile(md, []byte(report(images, ext, all, runs, started, work)), 0o644); err != nil {
		return err
	}
	progress("wrote %s", md)
	png := filepath.Join(out, "results.png")
	if err := chart(png, images, all); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	progress("wrote %s", png)
	return nil
}

// benchImageRows mounts everything for img, measures, and unmounts. It
// returns the rows and the kernel's extent count.
func benchImageRows(ctx context.Context, img *benchImage, dir string, runs int) (_ []*result, _ int, err error) {
	progress("%s: mounting loop device, artifactfs sources and fuse2fs", img.name)
	s, err := mountAll(ctx, img, dir)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if cerr := s.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	n := extents(s.loopMnt)
	if err := verify(s); err != nil {
		return nil, 0, err
	}
	res, err := measure(ctx, img, s, runs)
	return res, n, err
}
