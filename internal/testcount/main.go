package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	verbose := flag.Bool("v", false, "print every line of output, not only that of failed and skipped tests")
	noSkips := flag.Bool("no-skips", false, "fail when any test skipped")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: go test -json ./... | testcount [-v] [-no-skips]")
		os.Exit(2)
	}
	t := NewTally(os.Stdout, *verbose)
	if err := t.Read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testcount: read:", err)
		os.Exit(1)
	}
	t.Report(os.Stdout)
	total := t.Total()
	switch {
	case total.Failed > 0 || total.PackageFailed:
		fmt.Println("FAIL: tests failed")
		os.Exit(1)
	case *noSkips && total.Skipped > 0:
		fmt.Printf("FAIL: %d tests skipped; as root every test must run\n", total.Skipped)
		os.Exit(1)
	case total.Passed == 0:
		fmt.Println("FAIL: no test ran")
		os.Exit(1)
	}
}
