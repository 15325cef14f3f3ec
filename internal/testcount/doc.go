// Command testcount reads `go test -json` on stdin and says what the suite
// proved: for each package and in total, "N passed, N failed, N skipped"
// (tests and subtests alike). It prints the output of every failed or
// skipped test, lines starting "report: " of any test, and the package
// lines (ok, FAIL) as they come; with -v, every line.
//
// It exits 1 when a test or a package (build, TestMain, panic, timeout)
// failed, and, with -no-skips, when any test skipped: CI runs as root,
// where every capability the tests need is there, so a skip there means a
// test that proved nothing. It exits 2 on a usage error.
//
// Usage: go test -json ./... | go run ./internal/testcount [-v] [-no-skips]
package main
