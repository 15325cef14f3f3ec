// Package report renders bench/results.md. Every section writes its part
// from a Markdown template of its own (text/template, embedded next to its
// code) through Template and Execute, which give the templates the bench's
// number formats (ms, msCell, times, ratio) and verdicts, and join the
// soft-wrapped lines of a prose paragraph into one, so that templates stay
// readable and results.md keeps a paragraph a line. Results renders the
// whole file: the machine, the list of sections, then each section.
package report
