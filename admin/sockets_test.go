package admin

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestGCSockets: a socket nothing listens on, once old enough, is removed;
// one a listener serves, a fresh one, and a plain file stay.
func TestGCSockets(t *testing.T) {
	dir := t.TempDir()
	listen := func(name string) *net.UnixListener {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, name), Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		l.SetUnlinkOnClose(false)
		return l
	}
	live := listen("live")
	defer live.Close()
	listen("dead").Close()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute)
	for _, n := range []string{"live", "dead", "file"} {
		if err := os.Chtimes(filepath.Join(dir, n), old, old); err != nil {
			t.Fatal(err)
		}
	}
	listen("fresh-dead").Close()

	removed, err := GCSockets(dir, true)
	if err != nil || len(removed) != 1 || removed[0].Name != filepath.Join(dir, "dead") {
		t.Fatalf("dry run = %+v, %v; want the dead socket", removed, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "dead")); err != nil {
		t.Fatalf("a dry run removed the dead socket: %v", err)
	}
	if removed, err = GCSockets(dir, false); err != nil || len(removed) != 1 || removed[0].Kind != "shim-socket" {
		t.Fatalf("GCSockets = %+v, %v", removed, err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"file", "fresh-dead", "live"}; !slices.Equal(names, want) {
		t.Errorf("left %v, want %v", names, want)
	}
	if removed, err := GCSockets(filepath.Join(dir, "missing"), false); err != nil || len(removed) != 0 {
		t.Errorf("a missing directory: %v, %v", removed, err)
	}
}
