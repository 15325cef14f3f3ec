// Package host is what the bench does to and asks of the machine it runs
// on: run a command, drop the page cache, read a file whole as a VMM
// loads a kernel, hash a file, read /proc's "Key: value kB" files, count a
// file's pages in the page cache (mincore), wait, and print progress lines
// on stderr.
package host
