package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// sampleTree writes a small unikernel image tree and returns its directory.
func sampleTree(t *testing.T, extra map[string][]byte) string {
	t.Helper()
	cfg, err := artifact.EncodeUruncJSON(artifact.Config{
		artifact.AnnotationType:   "linux",
		artifact.AnnotationBinary: "/.boot/kernel",
		artifact.AnnotationInitrd: "/.boot/initrd",
	})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"urunc.json":   cfg,
		".boot/kernel": testimage.Payload(1, 300_000),
		".boot/initrd": testimage.Payload(2, 70_000),
		"etc/secret":   []byte("never served"),
	}
	for k, v := range extra {
		files[k] = v
	}
	dir := t.TempDir()
	testimage.WriteTree(t, dir, files)
	return dir
}

// TestCLIBadInput runs every bad input through the real binary: each must
// exit non-zero with one clear line, no panic and no hang.
func TestCLIBadInput(t *testing.T) {
	testimage.RequireTools(t, "mkfs.ext4", "mkfs.ext2", "mkfs.ext3")
	good := testimage.Mkfs(t, sampleTree(t, nil), 16)
	tmp := t.TempDir()

	write := func(name string, data []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	truncated := write("truncated.ext4", nil)
	whole, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(truncated, whole[:len(whole)/2], 0o644); err != nil {
		t.Fatal(err)
	}

	special := sampleTree(t, nil)
	if err := os.MkdirAll(filepath.Join(special, "kdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(special, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(special, "huge")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 3<<30); err != nil { // sparse: 3 GiB, no blocks
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"loop-b", "loop-a"}, {"loop-a", "loop-b"}} {
		if err := os.Symlink(l[0], filepath.Join(special, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	specialImg := testimage.Mkfs(t, special, 64)

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no source", []string{"ls"}, 2, "image"},
		{"two sources", []string{"ls", "--image", good, "--dir", tmp}, 2, "one of"},
		{"unknown flag", []string{"ls", "--image", good, "--bogus"}, 2, "bogus"},
		{"bad log level", []string{"ls", "--log-level", "loud", "--image", good}, 2, "log-level"},
		{"missing image", []string{"ls", "--image", filepath.Join(tmp, "nope.ext4")}, 4, "nope.ext4"},
		{"missing dir", []string{"ls", "--dir", filepath.Join(tmp, "nope")}, 4, "nope"},
		{"empty image", []string{"ls", "--image", write("empty.ext4", nil)}, 3, "empty.ext4"},
		{"garbage image", []string{"ls", "--image", write("garbage.ext4", testimage.Payload(9, 4<<20))}, 3, "garbage.ext4"},
		{"zero image", []string{"ls", "--image", write("zero.ext4", make([]byte, 4<<20))}, 3, "zero.ext4"},
		{"truncated image", []string{"ls", "--image", truncated}, 3, "truncated"},
		{"ext2", []string{"ls", "--image", testimage.MkfsType(t, "ext2", sampleTree(t, nil), 16)}, 3, "unsupported"},
		{"ext3", []string{"ls", "--image", testimage.MkfsType(t, "ext3", sampleTree(t, nil), 16)}, 3, "unsupported"},
		{"inline_data", []string{"ls", "--image", testimage.Mkfs(t, sampleTree(t, nil), 16, "-O", "inline_data")}, 3, "inline_data"},
		{"128-byte inodes", []string{"ls", "--image", testimage.Mkfs(t, sampleTree(t, nil), 16, "-I", "128")}, 3, "128"},
		{"no metadata_csum", []string{"ls", "--image", testimage.Mkfs(t, sampleTree(t, nil), 16, "-O", "^metadata_csum")}, 3, "metadata_csum"},
		{"bad json", []string{"ls", "--image", testimage.Mkfs(t, sampleTree(t, map[string][]byte{"urunc.json": []byte("{oops")}), 16)}, 3, "urunc.json"},
		{"bad base64", []string{"ls", "--image", testimage.Mkfs(t, sampleTree(t, map[string][]byte{"urunc.json": []byte(`{"com.urunc.unikernel.binary":"@@@"}`)}), 16)}, 3, "base64"},
		{"no kernel", []string{"ls", "--image", testimage.Mkfs(t, sampleTree(t, map[string][]byte{"urunc.json": []byte(`{}`)}), 16)}, 4, "no kernel"},
		{"escape", []string{"cat", "--image", good, "--kernel", "/../../../etc/passwd", "kernel"}, 4, "/etc/passwd"},
		{"relative path", []string{"ls", "--image", good, "--kernel", "boot/kernel"}, 5, "not absolute"},
		{"kernel is a dir", []string{"ls", "--image", specialImg, "--kernel", "/kdir"}, 5, "directory"},
		{"kernel is a fifo", []string{"cat", "--image", specialImg, "--kernel", "/fifo", "kernel"}, 5, "FIFO"},
		{"kernel over cap", []string{"ls", "--image", specialImg, "--kernel", "/huge"}, 5, "size cap"},
		{"symlink loop", []string{"ls", "--image", specialImg, "--kernel", "/loop-a"}, 3, "loop"},
		{"dir kernel is a fifo", []string{"cat", "--dir", special, "--kernel", "/fifo", "kernel"}, 5, "FIFO"},
		{"dir symlink loop", []string{"ls", "--dir", special, "--kernel", "/loop-a"}, 3, "loop"},
		{"cat non-artifact", []string{"cat", "--image", good, "/etc/secret"}, 5, "not an artifact"},
		{"cat relative name", []string{"cat", "--image", good, "secret"}, 2, "NAME"},
		{"mountpoint missing", []string{"mount", "--image", good, filepath.Join(tmp, "no-such-dir")}, 6, "no-such-dir"},
		{"umount not mounted", []string{"umount", tmp}, 6, tmp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, tt.args...)
			requireOneLineError(t, r, tt.code, tt.want)
			if strings.Contains(r.stdout, "root:x:0:0") {
				t.Fatal("host bytes on stdout")
			}
		})
	}
}
