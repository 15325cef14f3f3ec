package main

import (
	"context"
	"fmt"
	"path/filepath"
)

// throughputSection makes the images and measures read throughput of the
// whole kernel per source (issue 4, item 2).
func throughputSection(ctx context.Context, e *env) (*sectionResult, error) {
	var images []*benchImage
	for _, n := range e.sizes {
		progress("making image with a %d MiB kernel", n)
		img, err := contiguousImage(e.work, n)
		if err != nil {
			return nil, fmt.Errorf("image %d MiB: %w", n, err)
		}
		images = append(images, img)
	}
	if e.frag > 0 {
		progress("making image with a fragmented %d MiB kernel (%d pieces)", e.frag, e.pieces)
		img, err := fragmentedImage(e.work, e.frag, e.pieces)
		if err != nil {
			return nil, fmt.Errorf("fragmented image: %w", err)
		}
		images = append(images, img)
	}
	var all []*result
	ext := map[string]int{}
	for _, img := range images {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res, n, err := benchImageRows(ctx, img, filepath.Join(filepath.Dir(img.path), "m"), e.runs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", img.name, err)
		}
		ext[img.name] = n
		all = append(all, res...)
	}
	plots, err := throughputPlots(images, all)
	if err != nil {
		return nil, err
	}
	return &sectionResult{markdown: throughputReport(images, ext, all, e.runs), plots: plots}, nil
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
