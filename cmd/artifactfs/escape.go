package main

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// escape makes a name taken from an image (a path in it, a urunc.json
// value) safe to print on a terminal: control characters (C0, DEL, C1),
// bidirectional overrides and bytes that are not UTF-8 are written as Go
// escapes (\x1b, \u202e), so a crafted image cannot move the cursor,
// recolour or retitle the operator's terminal. Backslashes are doubled,
// so an escape in the output is never ambiguous. Other text is unchanged.
func escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case unsafeRune(r):
			q := fmt.Sprintf("%+q", string(r))
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// escapeKeepLines is escape for a message that may span lines: newlines
// and tabs stay for oneLine to fold.
func escapeKeepLines(s string) string {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\t' })
	for i, p := range parts {
		parts[i] = escape(p)
	}
	return strings.Join(parts, " ")
}

func needsEscape(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || r == '\\' || unsafeRune(r) {
			return true
		}
	}
	return false
}

// unsafeRune reports a rune a terminal may act on instead of printing.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029'
}
