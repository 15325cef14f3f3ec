// Command bench is `make bench`: it generates ext4 images holding kernels of
// several sizes (and a fragmented one), measures cold and warm read
// throughput of the whole kernel through each artifactfs source next to a
// native loop mount, fuse2fs and debugfs, and writes bench/results.md and
// bench/results.png. It needs root (loop devices, FUSE, drop_caches).
package main
