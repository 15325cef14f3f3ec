package blockreader

import "fmt"

// ErrBudget is wrapped by the error of a request that would do more work
// than its Budget allows; the message names the bound. It wraps
// ErrUnsupported: the image may be valid, it is only too costly to read.
var ErrBudget = fmt.Errorf("%w: over the work budget", ErrUnsupported)

// Defaults of Budget.
const (
	// DefaultLookups bounds the path components one request looks up.
	DefaultLookups = 4096
	// DefaultTreeNodes bounds the extent tree blocks one request reads:
	// the 12,500 leaves of a file at DefaultMaxExtents in 1 KiB blocks fit
	// twice, and reading them all takes well under a second.
	DefaultTreeNodes = 32768
	// DefaultEntries bounds the directory entries one request scans: three
	// directories at DefaultMaxDirSize packed with the shortest entries.
	DefaultEntries = 1 << 24
)

// Budget bounds the work of one request: the Open of an image, or one
// Stat, Lstat, Readlink or Open of a path in it. Each bound counts a unit
// that costs time or memory, so that a small hostile image cannot make a
// request expensive: structures may be shared or reached again and again
// (a directory entry may name its own directory), and sizes on disk say
// little about the work of walking them. A request that would go over a
// bound stops and fails with an error wrapping ErrBudget that names it.
// A zero field takes its default.
type Budget struct {
	// Lookups bounds the path components looked up, counted again when a
	// symlink restarts the walk (default DefaultLookups). Symlinks followed
	// are bounded apart, by imagepath.MaxHops.
	Lookups int64
	// TreeNodes bounds the extent tree blocks read (default
	// DefaultTreeNodes).
	TreeNodes int64
	// DirBlocks bounds the directory blocks read, htree index blocks
	// included (default: four directories at the WithMaxDirSize cap).
	DirBlocks int64
	// Entries bounds the directory entries scanned (default
	// DefaultEntries).
	Entries int64
	// Extents bounds the extents a request collects, 16 bytes of memory
	// each (default: twice the WithMaxExtents cap, one file at the cap and
	// the directories on its path).
	Extents int64
}

// WithBudget sets the work budget of each request; zero fields keep their
// defaults.
func WithBudget(b Budget) Option { return func(o *options) { o.budget = b } }

// withDefaults fills the zero fields of b for an image of blocks of bs
// bytes.
func (b Budget) withDefaults(o options, bs uint64) Budget {
	set := func(v *int64, def int64) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&b.Lookups, DefaultLookups)
	set(&b.TreeNodes, DefaultTreeNodes)
	set(&b.DirBlocks, max(4*o.maxDirSize/int64(bs), 1))
	set(&b.Entries, DefaultEntries)
	set(&b.Extents, 2*int64(o.maxExtents))
	return b
}

// work counts what one request did, in the units of Budget. It is handed
// to tests through options.onDone.
type work struct {
	lookups, treeNodes, dirBlocks, entries, extents int64
	hops                                            int
	crossChecked                                    bool // go-diskfs ran (it is skipped over crossCheckLimits)
}

// charge adds n to counter *c, named what, unless that would take it past
// limit: then it fails with ErrBudget and leaves *c as it was, so that no
// counter ever goes past its bound.
func charge(c *int64, n, limit int64, what string) error {
	if n > limit-*c {
		return fmt.Errorf("%w: more than %d %s in one request", ErrBudget, limit, what)
	}
	*c += n
	return nil
}

// request carries one request's budget, work and caches: structures read
// once are not read again for the length of the request, however often a
// path reaches them.
type request struct {
	im     *Image
	budget Budget
	work   work
	inodes map[uint32]*inode
	dirs   map[uint32][]extent // checked directory extent maps
	nodes  map[uint32]int64    // extent tree blocks of each inode read
	names  map[dirName]dirent
	// onPath lists the directories the last walk of resolve read, the root
	// first: go-diskfs reads them again in crossCheck.
	onPath []*inode
}

type dirName struct {
	dir  uint32
	name string
}

type dirent struct {
	ino   uint32
	ftype uint8
}

func (im *Image) newRequest() *request {
	return &request{
		im:     im,
		budget: im.opts.budget.withDefaults(im.opts, im.sb.blockSize),
		inodes: map[uint32]*inode{},
		dirs:   map[uint32][]extent{},
		nodes:  map[uint32]int64{},
		names:  map[dirName]dirent{},
	}
}

// done reports the work of the request to the test hook, if any.
func (rq *request) done() {
	if rq.im.opts.onDone != nil {
		rq.im.opts.onDone(rq.work)
	}
}

// inode returns inode num, read once per request.
func (rq *request) inode(num uint32) (*inode, error) {
	if in, ok := rq.inodes[num]; ok {
		return in, nil
	}
	in, err := rq.im.readInode(num)
	if err != nil {
		return nil, err
	}
	rq.inodes[num] = in
	return in, nil
}
