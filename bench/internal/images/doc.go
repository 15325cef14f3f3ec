// Package images makes what the in-process sections read: ext4 images
// holding a kernel of a chosen size and urunc.json naming it, written
// contiguously by mkfs.ext4 -d or spread over many extents, and the same
// tree as a host directory bound read-only, as a snapshot view is
// mounted. Each image records the command that made it, for the report.
package images
