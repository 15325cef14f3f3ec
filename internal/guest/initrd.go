package guest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"strings"
)

// Marker is the line /init prints on the serial console, followed by a
// space and the value of the kernel parameter ContainerParam.
const Marker = "ARTIFACTFS-GUEST-BOOTED"

// ContainerParam is the kernel command line parameter the runtime sets to
// the container's id; /init prints it after Marker.
const ContainerParam = "artifactfs.container"

// BusyboxPath is where Debian's busybox-static installs its binary.
const BusyboxPath = "/bin/busybox"

// initScript is the guest's /init: mount /proc, print the marker with the
// container id from the kernel command line and the kernel's release,
// power off at once.
const initScript = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
id=""
for p in $(/bin/busybox cat /proc/cmdline); do
	case "$p" in ` + ContainerParam + `=*) id="${p#*=}" ;; esac
done
echo "` + Marker + ` $id kernel=$(/bin/busybox uname -r)"
/bin/busybox poweroff -f
`

// Initrd returns a gzip'd newc cpio holding busybox (read from busybox, the
// path of a static busybox binary) at /bin/busybox, /dev/console, /proc and
// the /init script.
func Initrd(busybox string) ([]byte, error) {
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return nil, fmt.Errorf("initrd: %w", err)
	}
	var raw bytes.Buffer
	w := &cpioWriter{w: &raw}
	for _, e := range []cpioEntry{
		{name: "bin", mode: modeDir | 0o755},
		{name: "dev", mode: modeDir | 0o755},
		{name: "dev/console", mode: modeChar | 0o600, rdevMajor: 5, rdevMinor: 1},
		{name: "proc", mode: modeDir | 0o755},
		{name: "bin/busybox", mode: modeReg | 0o755, data: bb},
		{name: "init", mode: modeReg | 0o755, data: []byte(initScript)},
	} {
		w.add(e)
	}
	w.trailer()
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("initrd: %w", err)
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, fmt.Errorf("initrd: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("initrd: %w", err)
	}
	return out.Bytes(), nil
}

// MarkerLine returns the marker line a guest booted for container id
// prints, up to the kernel release.
func MarkerLine(id string) string { return Marker + " " + id + " kernel=" }

// Booted reports whether console output holds the marker of container id.
func Booted(console, id string) bool { return strings.Contains(console, MarkerLine(id)) }
