package testimage

import (
	"bytes"
	"testing"
)

func TestFragmented(t *testing.T) {
	RequireTools(t, "mkfs.ext4", "debugfs", "mount")
	data := Payload(7, 8<<20+123)
	img := Fragmented(t, map[string][]byte{"urunc.json": []byte("{}")}, "/.boot/kernel", data, 300)
	if n := Extents(t, img, "/.boot/kernel"); n < 200 {
		t.Fatalf("kernel has %d extents; want hundreds", n)
	}
	if got := DebugfsCat(t, img, "/.boot/kernel"); !bytes.Equal(got, data) {
		t.Fatalf("debugfs reads %d bytes that differ from the %d written", len(got), len(data))
	}
}
