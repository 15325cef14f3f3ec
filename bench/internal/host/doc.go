// Package host is what the bench does to and asks of the machine it runs
// on: run a command, drop the page cache, read a file whole as a VMM
// loads a kernel, hash a file, wait, and print progress lines on stderr.
package host
