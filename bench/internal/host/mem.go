package host

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ProcFields parses the "Key:   123 kB" and "Key:   123" lines of a /proc
// file (status, smaps_rollup, meminfo); kB values stay in kB.
func ProcFields(path string) (map[string]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		f := strings.Fields(v)
		if !ok || len(f) == 0 || len(f) > 2 || len(f) == 2 && f[1] != "kB" {
			continue
		}
		if n, err := strconv.ParseFloat(f[0], 64); err == nil {
			m[k] = n
		}
	}
	return m, nil
}

// Resident returns how many bytes of the file at p are in the page cache:
// mincore(2) over a read-only shared mapping of it, as fincore(1) does
// (mapping touches no page).
func Resident(p string) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return 0, err
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, fmt.Errorf("mmap %s: %w", p, err)
	}
	defer unix.Munmap(b)
	page := int64(os.Getpagesize())
	vec := make([]byte, (st.Size()+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return 0, fmt.Errorf("mincore %s: %w", p, errno)
	}
	var n int64
	for _, v := range vec {
		n += int64(v & 1)
	}
	return n * page, nil
}
