package blockreader

import (
	"errors"
	"strings"
	"testing"

	"github.com/artifactfs/artifactfs/internal/testimage"
)

// TestWorkBudget shows each bound stopping a request, with an error that
// names it.
func TestWorkBudget(t *testing.T) {
	img := selfRefImage(t, 2, func(c *treeCrafter) {
		c.root(3, []uint64{c.chain(2), c.wide(2, 30)}) // 934 tree blocks
	})
	if _, err := openImage(t, img).Stat(selfPath(500)); err != nil {
		t.Fatalf("within the default budget: %v", err)
	}
	for _, tc := range []struct {
		budget Budget
		p      string
		want   string
	}{
		{Budget{TreeNodes: 900}, "/d/k", "more than 900 extent tree blocks"},
		{Budget{Lookups: 400}, selfPath(500), "more than 400 path lookups"},
		{Budget{DirBlocks: 1}, "/d/k", "more than 1 directory blocks"},
		{Budget{Entries: 3}, "/d/k", "more than 3 directory entries"},
		{Budget{Extents: 1}, "/d/k", "more than 1 extents"},
	} {
		var got work
		im := openImage(t, img, func(o *options) { o.onDone = func(w work) { got = w } })
		im.opts.budget = tc.budget // Open's own request ran on the default budget
		_, err := im.Stat(tc.p)
		wantErr(t, tc.want, err, ErrBudget, ErrUnsupported)
		if !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrCorrupt) {
			t.Errorf("error %q, want one naming %q", err, tc.want)
		}
		b := tc.budget.withDefaults(im.opts, im.sb.blockSize)
		if got.treeNodes > b.TreeNodes || got.lookups > b.Lookups || got.dirBlocks > b.DirBlocks || got.entries > b.Entries || got.extents > b.Extents {
			t.Errorf("%s: work %+v went past the budget %+v", tc.want, got, b)
		}
	}
}

// TestCrossCheckBounded checks that go-diskfs still cross-checks an
// ordinary artifact path and is left out of a path it would read too much
// for.
func TestCrossCheckBounded(t *testing.T) {
	img := buildImage(t, 8, treeOf(t, map[string][]byte{".boot/kernel": testimage.Payload(1, 5000), "urunc.json": []byte("{}")}))
	img2 := selfRefImage(t, 1, func(c *treeCrafter) { c.root(1, []uint64{c.chain(0)}) })
	for _, tc := range []struct {
		img, p string
		want   bool
	}{
		{img, "/.boot/kernel", true},
		{img, "/urunc.json", true},
		{img2, selfPath(crossCheckDirs - 2), true},
		{img2, selfPath(crossCheckDirs), false},
	} {
		var got work
		im := openImage(t, tc.img, func(o *options) { o.onDone = func(w work) { got = w } })
		if _, err := im.Stat(tc.p); err != nil {
			t.Fatal(err)
		}
		if got.crossChecked != tc.want {
			t.Errorf("Stat(%.40s): cross-checked %v, want %v", tc.p, got.crossChecked, tc.want)
		}
	}
}
