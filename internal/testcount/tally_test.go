package main

import (
	"bytes"
	"strings"
	"testing"
)

// stream is go test -json output of two packages, one with a failed, a
// skipped and a passed subtest, one that did not build, and one that died
// in a running test.
const stream = `{"Action":"start","Package":"a"}
{"Action":"run","Package":"a","Test":"TestA"}
{"Action":"output","Package":"a","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"run","Package":"a","Test":"TestA/x"}
{"Action":"output","Package":"a","Test":"TestA/x","Output":"    a_test.go:9: broke\n"}
{"Action":"fail","Package":"a","Test":"TestA/x"}
{"Action":"output","Package":"a","Test":"TestA/y","Output":"    a_test.go:12: no FUSE\n"}
{"Action":"skip","Package":"a","Test":"TestA/y"}
{"Action":"output","Package":"a","Test":"TestA/z","Output":"quiet\n"}
{"Action":"output","Package":"a","Test":"TestA/z","Output":"report: 3 cycles\n"}
{"Action":"pass","Package":"a","Test":"TestA/z"}
{"Action":"fail","Package":"a","Test":"TestA"}
{"Action":"output","Package":"a","Output":"FAIL\ta\t0.1s\n"}
{"Action":"fail","Package":"a"}
{"ImportPath":"b","Action":"build-output","Output":"b.go:1: syntax error\n"}
{"ImportPath":"b","Action":"build-fail"}
{"Action":"fail","Package":"b","FailedBuild":"b"}
not json
{"Action":"run","Package":"c","Test":"TestHang"}
{"Action":"output","Package":"c","Test":"TestHang","Output":"last words\n"}
{"Action":"output","Package":"c","Output":"panic: test timed out\n"}
{"Action":"fail","Package":"c"}
{"Action":"skip","Package":"d"}
`

func TestTally(t *testing.T) {
	var out bytes.Buffer
	tl := NewTally(&out, false)
	if err := tl.Read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	if got, want := tl.Total(), (Counts{Passed: 1, Failed: 2, Skipped: 1, PackageFailed: true}); got != want {
		t.Errorf("total = %+v; want %+v", got, want)
	}
	if got, want := *tl.counts["a"], (Counts{Passed: 1, Failed: 2, Skipped: 1, PackageFailed: true}); got != want {
		t.Errorf("a = %+v; want %+v", got, want)
	}
	for _, p := range []string{"b", "c"} {
		if c := tl.counts[p]; c == nil || !c.PackageFailed {
			t.Errorf("package %s: %+v; want failed", p, c)
		}
	}
	for _, want := range []string{"broke", "no FUSE", "FAIL\ta", "syntax error", "not json", "last words", "timed out", "report: 3 cycles"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "quiet") {
		t.Errorf("output holds a passed test's lines:\n%s", out.String())
	}
	var rep bytes.Buffer
	tl.Report(&rep)
	if !strings.Contains(rep.String(), "total: 1 passed, 2 failed, 1 skipped (package failed)") || strings.Contains(rep.String(), "  d ") {
		t.Errorf("report:\n%s", rep.String())
	}
}
