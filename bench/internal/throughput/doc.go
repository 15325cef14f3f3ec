// Package throughput is the bench's read-throughput section (issue 4,
// item 2): per generated image, it reads the whole kernel through every
// artifactfs source mounted in this process, next to a native loop mount
// (the reference), fuse2fs, debugfs and e2cp, cold and warm, after
// checking that every mounted source returns the native mount's bytes.
package throughput
