package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/artifactfs/artifactfs/bench/internal/memserver"
	"github.com/artifactfs/artifactfs/bench/internal/mounts"
)

func main() {
	var cfg memserver.Config
	flag.StringVar(&cfg.Source, "source", mounts.KindImage, "source kind: image (an ext4 image, blockreader) or dir (a host directory)")
	flag.StringVar(&cfg.Path, "path", "", "the image file or the directory")
	flag.IntVar(&cfg.Mounts, "mounts", 1, "how many trees to mount, one per container")
	flag.StringVar(&cfg.Dir, "dir", "", "directory of the mountpoints m000, m001, ...")
	flag.BoolVar(&cfg.Passthrough, "passthrough", false, "ask for FUSE passthrough")
	flag.Parse()
	if cfg.Path == "" || cfg.Dir == "" || cfg.Mounts < 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := memserver.Serve(ctx, cfg, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "memserver:", err)
		os.Exit(1)
	}
}
