package throughput

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/bench/internal/images"
	"github.com/artifactfs/artifactfs/bench/internal/section"
)

// Run makes the images and measures read throughput of the whole kernel
// per source.
func Run(ctx context.Context, e *section.Env) (*section.Result, error) {
	var imgs []*images.Image
	for _, n := range e.Sizes {
		host.Progress("making image with a %d MiB kernel", n)
		img, err := images.Contiguous(e.Work, n)
		if err != nil {
			return nil, fmt.Errorf("image %d MiB: %w", n, err)
		}
		imgs = append(imgs, img)
	}
	if e.Frag > 0 {
		host.Progress("making image with a fragmented %d MiB kernel (%d pieces)", e.Frag, e.Pieces)
		img, err := images.Fragmented(e.Work, e.Frag, e.Pieces)
		if err != nil {
			return nil, fmt.Errorf("fragmented image: %w", err)
		}
		imgs = append(imgs, img)
	}
	var all []*row
	ext := map[string]int{}
	for _, img := range imgs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rows, n, err := imageRows(ctx, img, filepath.Join(filepath.Dir(img.Path), "m"), e.Runs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", img.Name, err)
		}
		ext[img.Name] = n
		all = append(all, rows...)
	}
	md, err := markdown(imgs, ext, all, e.Runs)
	if err != nil {
		return nil, err
	}
	return &section.Result{Markdown: md, Panels: panels(imgs, all)}, nil
}

// imageRows mounts everything for img under dir, checks the content,
// measures, and unmounts. It returns the rows and the kernel's extent
// count.
func imageRows(ctx context.Context, img *images.Image, dir string, runs int) (_ []*row, _ int, err error) {
	host.Progress("%s: mounting loop device, artifactfs sources and fuse2fs", img.Name)
	s, err := mountAll(ctx, img, dir)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if cerr := s.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	n := images.Extents(s.loopMnt)
	if err := s.verify(); err != nil {
		return nil, 0, err
	}
	rows, err := measure(ctx, img, s, runs)
	return rows, n, err
}
