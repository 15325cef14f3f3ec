package pod

import (
	_ "embed"

	"github.com/artifactfs/artifactfs/bench/internal/ctrd"
	"github.com/artifactfs/artifactfs/bench/internal/report"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
)

//go:embed pod.md.tmpl
var tmplText string

var tmpl = report.Template("pod.md.tmpl", tmplText)

// view is what the template shows.
type view struct {
	Containerd, Handler, Runtime string
	Runs                         int
	Rows                         []rowCells
}

// rowCells is a row of the table: one kind of container.
type rowCells struct{ Kind, How, Waited, Took string }

// markdown renders the section.
func markdown(rows []*row) (string, error) {
	v := view{Containerd: ctrtest.ContainerdVersion, Handler: handler, Runtime: ctrd.Runtime, Runs: runs}
	for _, r := range rows {
		v.Rows = append(v.Rows, rowCells{Kind: r.kind, How: r.how, Waited: stats.MsCell(r.waited), Took: stats.MsCell(r.took)})
	}
	return report.Execute(tmpl, v)
}
