package blockreader

import (
	"io"
	"testing"

	"github.com/artifactfs/artifactfs/internal/imagepath"
)

// fuzzBudget is small, so that the fuzzer reaches its bounds in images of a
// few hundred KiB, yet the bases resolve well within it.
var fuzzBudget = Budget{Lookups: 128, TreeNodes: 32, DirBlocks: 64, Entries: 2048, Extents: 512}

// meter measures each operation on an image two ways: the work its
// requests report, which must stay within the budget, and, independently,
// the reads of the image (go-diskfs's included), which must stay within
// what the budget allows. A code path that reads without charging its work,
// or a charge that does not stop the request, fails the fuzz input, so
// that the fuzzer hunts work amplification and not only crashes.
type meter struct {
	t            *testing.T
	r            io.ReaderAt
	b            Budget
	reads, bytes int64
	works        []work
}

// ReadAt counts the read and passes it on.
func (m *meter) ReadAt(p []byte, off int64) (int, error) {
	m.reads++
	m.bytes += int64(len(p))
	return m.r.ReadAt(p, off)
}

func (m *meter) onDone(w work) { m.works = append(m.works, w) }

func (m *meter) start() { m.reads, m.bytes, m.works = 0, 0, m.works[:0] }

// maxReads is how many reads and bytes one operation may make on an image
// of bs-byte blocks: two per inode (its group descriptor and itself, at
// most one new inode per lookup plus the root), one per tree or directory
// block, five per symlink target of up to 4 KiB (each hop, the
// cross-check's and Readlink's), and go-diskfs's cross-check within its
// bounds, plus go-diskfs's reads when it opens the image.
func (m *meter) maxReads(bs int64) (reads, bytes int64) {
	const targets = imagepath.MaxHops + 2
	const diskfsOpen = 64 // superblock and group descriptors, at Open only
	dfs := int64(2*crossCheckDirs + 2 + crossCheckNodes + 5)
	reads = 2*(m.b.Lookups+1) + m.b.TreeNodes + m.b.DirBlocks + 5*targets + dfs + crossCheckDirBytes/1024 + diskfsOpen
	bytes = (2*(m.b.Lookups+1)+m.b.TreeNodes+m.b.DirBlocks+dfs+diskfsOpen)*bs + targets*imagepath.MaxLen + crossCheckDirBytes + maxGDTBytesSmall
	return reads, bytes
}

// maxGDTBytesSmall bounds the group descriptors go-diskfs reads at Open in
// the fuzz images (a few groups at most, even mutated: their block count is
// bounded by their size).
const maxGDTBytesSmall = 64 << 10

// check fails the test if operation what went over the budget.
func (m *meter) check(what string, bs int64) {
	m.t.Helper()
	for _, w := range m.works {
		if w.lookups > m.b.Lookups || w.treeNodes > m.b.TreeNodes || w.dirBlocks > m.b.DirBlocks ||
			w.entries > m.b.Entries || w.extents > m.b.Extents || w.hops > imagepath.MaxHops+1 {
			m.t.Fatalf("%s: work %+v over the budget %+v", what, w, m.b)
		}
	}
	if reads, bytes := m.maxReads(bs); m.reads > reads || m.bytes > bytes {
		m.t.Fatalf("%s: %d reads of %d bytes in all, over the %d reads and %d bytes the budget %+v allows",
			what, m.reads, m.bytes, reads, bytes, m.b)
	}
}
