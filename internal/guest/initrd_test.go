package guest

import (
	"bytes"
	"compress/gzip"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestInitrdListsWithBusyboxCpio reads the archive back with an
// independent reader, busybox's cpio.
func TestInitrdListsWithBusyboxCpio(t *testing.T) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skipf("busybox not installed (apt-get install busybox-static): %v", err)
	}
	img, err := Initrd(bb)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bb, "cpio", "-t", "-v")
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("busybox cpio -t: %v\n%s", err, out)
	}
	listing := string(out)
	for _, want := range []string{"drwxr-xr-x", " bin\n", "crw-------", " dev/console\n", "-rwxr-xr-x", " bin/busybox\n", " init\n", " proc\n"} {
		if !strings.Contains(listing, want) {
			t.Errorf("listing lacks %q:\n%s", want, listing)
		}
	}
	if strings.Contains(listing, "TRAILER") {
		t.Errorf("trailer listed as a file:\n%s", listing)
	}
}
