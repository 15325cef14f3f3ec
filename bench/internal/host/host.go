package host

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Progress prints one progress line on stderr, after the time of day.
func Progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// Run runs a command and returns its combined output, wrapping any error
// with the command line and output.
func Run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// DropCaches writes back dirty pages and drops the page cache, dentries
// and inodes, as `sync; echo 3 > /proc/sys/vm/drop_caches` does.
func DropCaches() error {
	unix.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		return fmt.Errorf("drop caches: %w", err)
	}
	return nil
}

// ReadWhole reads file p sequentially with buf-sized reads, as a VMM
// loads a kernel, and returns the bytes read.
func ReadWhole(p string, buf []byte) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	for {
		k, err := f.Read(buf)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("read %s: %w", p, err)
		}
	}
}

// ReadSize reads the file at p whole with buf-sized reads and checks that
// it holds want bytes.
func ReadSize(p string, buf []byte, want int64) error {
	n, err := ReadWhole(p, buf)
	if err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("read %s: got %d bytes, want %d", p, n, want)
	}
	return nil
}

// FileSHA256 returns the sha256 of the file at p.
func FileSHA256(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// Sleep sleeps for d, or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
