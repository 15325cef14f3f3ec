package report

import (
	"strings"
	"text/template"

	"github.com/artifactfs/artifactfs/bench/internal/stats"
)

// funcs are the functions every section template may call.
var funcs = template.FuncMap{
	"verdict": Verdict,
	"ms":      stats.Ms,
	"msCell":  stats.MsCell,
	"times":   stats.Times,
	"ratio":   stats.Ratio,
	"join":    strings.Join,
}

// Template parses a section's Markdown template named name with the
// report's functions; a template that does not parse is a bug of the
// bench, so it panics, as template.Must does.
func Template(name, text string) *template.Template {
	return template.Must(template.New(name).Funcs(funcs).Option("missingkey=error").Parse(text))
}

// Execute renders t with data and joins the soft-wrapped lines of each
// prose paragraph (see unwrap).
func Execute(t *template.Template, data any) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return unwrap(b.String()), nil
}

// unwrap joins a line to the one before it, with a space, when both are
// prose: not blank and not a table row ("|"), list item ("- "), heading
// ("#") or image ("!["). Markdown reads a paragraph the same either way.
func unwrap(s string) string {
	lines := strings.Split(s, "\n")
	var out []string
	prev := false // the last line kept is prose
	for _, l := range lines {
		p := prose(l)
		if p && prev {
			out[len(out)-1] += " " + strings.TrimSpace(l)
			continue
		}
		out = append(out, l)
		prev = p
	}
	return strings.Join(out, "\n")
}

// prose reports whether line is a line of a prose paragraph.
func prose(line string) bool {
	t := strings.TrimSpace(line)
	if t == "" {
		return false
	}
	for _, p := range []string{"|", "- ", "#", "!["} {
		if strings.HasPrefix(t, p) {
			return false
		}
	}
	return true
}

// Verdict is "met" or "**missed**", followed by detail in parentheses
// when there is one.
func Verdict(ok bool, detail string) string {
	v := "met"
	if !ok {
		v = "**missed**"
	}
	if detail != "" {
		v += " (" + detail + ")"
	}
	return v
}
