// Package extract copies a set of boot artifacts out of a source into a host
// directory, at their in-image paths, bounded by the artifacts' checked
// sizes and written atomically (temp file, fsync, rename), so a reader never
// sees a partial file.
package extract
