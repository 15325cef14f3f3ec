package guest

import (
	"bytes"
	"fmt"
)

// File type bits of a cpio entry's mode (stat(2)).
const (
	modeType = 0o170000
	modeDir  = 0o040000
	modeChar = 0o020000
	modeReg  = 0o100000
)

// cpioEntry is one file of a newc archive, owned by root.
type cpioEntry struct {
	name                 string // relative, no leading slash
	mode                 uint32 // type bits | permissions
	rdevMajor, rdevMinor uint32 // device nodes only
	data                 []byte // regular files only
}

// cpioWriter writes the "new ASCII" (newc, magic 070701) format the Linux
// kernel unpacks as an initramfs.
type cpioWriter struct {
	w   *bytes.Buffer
	ino uint32
}

// add appends one entry: a 110-byte header of 13 hex fields, the name
// with its NUL, padding to 4 bytes, the data, padding to 4 bytes.
func (c *cpioWriter) add(e cpioEntry) {
	c.ino++
	nlink := uint32(1)
	if e.mode&modeType == modeDir {
		nlink = 2
	}
	fmt.Fprintf(c.w, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, e.mode, 0, 0, nlink, 0, len(e.data), 0, 0, e.rdevMajor, e.rdevMinor, len(e.name)+1, 0)
	c.w.WriteString(e.name)
	c.w.WriteByte(0)
	c.pad()
	c.w.Write(e.data)
	c.pad()
}

// trailer ends the archive.
func (c *cpioWriter) trailer() {
	c.add(cpioEntry{name: "TRAILER!!!"})
}

func (c *cpioWriter) pad() {
	for c.w.Len()%4 != 0 {
		c.w.WriteByte(0)
	}
}
