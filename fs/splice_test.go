package fs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/artifactfs/artifactfs/internal/source"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// chunkSize is the piece size of a spanFile.
const chunkSize = 256 << 10

// spanFile is a source file whose bytes lie in chunks of a host file, like
// a blockreader.File in its image: chunk k at host offset at[k] (holes and
// bad chunks have -1 and -2). A hole reads as zeros; a bad chunk has a span
// past the end of the host file, and ReadAt fails on it. It records the
// ranges ReadAt was asked for.
type spanFile struct {
	data []byte
	host *os.File
	at   []int64
	bad  map[int]bool

	mu      sync.Mutex
	readAts [][2]int64
}

const (
	holeChunk = -1
	badChunk  = -2
)

var errBadChunk = errors.New("bad chunk")

// newSpanFile lays data out in chunks in a new host file: chunk k at page
// offset 2k+1 (a page of gap each), shifted by shift[k] bytes; kinds marks
// holes and bad chunks.
func newSpanFile(t *testing.T, data []byte, shift map[int]int64, kinds map[int]int64) *spanFile {
	t.Helper()
	host, err := os.Create(filepath.Join(t.TempDir(), "host"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	f := &spanFile{data: data, host: host, bad: map[int]bool{}}
	var end int64
	for k := 0; k*chunkSize < len(data); k++ {
		chunk := data[k*chunkSize : min((k+1)*chunkSize, len(data))]
		if kind, ok := kinds[k]; ok {
			f.at = append(f.at, kind)
			if kind == holeChunk {
				clear(chunk)
			}
			continue
		}
		off := int64(2*k+1)*chunkSize + shift[k]
		if _, err := host.WriteAt(chunk, off); err != nil {
			t.Fatal(err)
		}
		f.at = append(f.at, off)
		end = max(end, off+int64(len(chunk)))
	}
	// Bad chunks point past the end of the host file.
	for k, at := range f.at {
		if at == badChunk {
			f.at[k] = end + int64(k)*chunkSize
			f.bad[k] = true
		}
	}
	return f
}

func (f *spanFile) HostSpan(off int64, n int) (uintptr, int64, int, bool) {
	if off < 0 || off >= int64(len(f.data)) || n <= 0 {
		return 0, 0, 0, false
	}
	k := int(off / chunkSize)
	if f.at[k] == holeChunk {
		return 0, 0, 0, false
	}
	length := min(int64(k+1)*chunkSize, int64(len(f.data))) - off
	return f.host.Fd(), f.at[k] + off%chunkSize, int(min(length, int64(n))), true
}

func (f *spanFile) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	f.readAts = append(f.readAts, [2]int64{off, int64(len(p))})
	f.mu.Unlock()
	for k := off / chunkSize; k*chunkSize < off+int64(len(p)) && int(k) < len(f.at); k++ {
		if f.bad[int(k)] {
			return 0, errBadChunk
		}
	}
	if off >= int64(len(f.data)) {
		return 0, nil
	}
	return copy(p, f.data[off:]), nil
}

func (f *spanFile) Close() error { return nil }

// readAtRanges returns the ranges ReadAt was asked for so far.
func (f *spanFile) readAtRanges() [][2]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][2]int64(nil), f.readAts...)
}

// spliceBytes runs spliceRead and returns the bytes of its result, or nil.
func spliceBytes(t *testing.T, of *openFile, off int64, n int) []byte {
	t.Helper()
	res := of.spliceRead(off, n)
	if res == nil {
		return nil
	}
	defer res.Done()
	if res.Size() != n {
		t.Fatalf("spliceRead(%d, %d): result of %d bytes", off, n, res.Size())
	}
	got, st := res.Bytes(make([]byte, n))
	if !st.Ok() {
		t.Fatalf("spliceRead(%d, %d): %v", off, n, st)
	}
	return got
}

func TestSpliceRead(t *testing.T) {
	if spliceMax < minSpliceRead {
		t.Skipf("pipes cannot grow here (splice limit %d)", spliceMax)
	}
	data := testimage.Payload(3, 12*chunkSize+5000)
	// Chunk 3 and 4 are shifted off page boundaries, 6 is a hole, 8 bad.
	f := newSpanFile(t, data, map[int]int64{3: 1024, 4: 2048}, map[int]int64{6: holeChunk, 8: badChunk})
	of := &openFile{f: f, fd: -1, spans: f}
	n := readSize()
	for _, tc := range []struct {
		name   string
		off    int64
		n      int
		splice bool
	}{
		{"aligned pieces", 0, n, true},
		{"unaligned start", 1000, 3 * chunkSize, true},
		{"one piece off page boundaries", 3 * chunkSize, chunkSize, true},
		{"one piece off page boundaries, then aligned", 4 * chunkSize, 2 * chunkSize, true},
		{"two pieces off page boundaries", 3 * chunkSize, 2 * chunkSize, false},
		{"a hole", 5 * chunkSize, 2 * chunkSize, false},
		{"past the host file", 7 * chunkSize, 2 * chunkSize, false},
		{"end of file", 11 * chunkSize, chunkSize + 5000, true},
		{"larger than a pipe", 0, spliceMax + pageSize, false},
	} {
		got := spliceBytes(t, of, tc.off, tc.n)
		switch {
		case tc.splice && got == nil:
			t.Errorf("%s: not spliced", tc.name)
		case !tc.splice && got != nil:
			t.Errorf("%s: spliced", tc.name)
		case got != nil && !bytes.Equal(got, data[tc.off:tc.off+int64(tc.n)]):
			t.Errorf("%s: spliced bytes differ", tc.name)
		}
	}

	// A file with a host descriptor is one piece.
	host, err := os.Open(f.host.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	want := make([]byte, 2*chunkSize)
	if _, err := host.ReadAt(want, chunkSize); err != nil {
		t.Fatal(err)
	}
	if got := spliceBytes(t, &openFile{fd: int(host.Fd())}, chunkSize, 2*chunkSize); !bytes.Equal(got, want) {
		t.Errorf("host file: spliced %d bytes, differ: %v", len(got), !bytes.Equal(got, want))
	}
}

// spanSource serves the files of a directory source, except that the
// files named in spans are spanFiles.
type spanSource struct {
	source.Source
	spans map[string]*spanFile
}

func (s spanSource) Open(p string) (source.File, error) {
	if f, ok := s.spans[p]; ok {
		return f, nil
	}
	return s.Source.Open(p)
}

func (s spanSource) Stat(p string) (source.Info, error) {
	info, err := s.Source.Stat(p)
	if f, ok := s.spans[p]; ok {
		info.Size = int64(len(f.data))
	}
	return info, err
}

func (s spanSource) String() string { return fmt.Sprintf("spans over %s", s.Source) }
