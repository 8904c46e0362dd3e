// Package initest builds config.ini texts for tests.
package initest

import "strings"

// Merge returns base with the settings of overrides applied in order: a
// key the base already sets in that section gets the new value (its
// indented continuation lines replaced too), a new key is added at the end
// of its section, a new section at the end of the text. dbsync refuses a
// config that opens a section or sets a key twice, so a test that changes a
// few keys of a base config merges them instead of appending.
func Merge(base, overrides string) string {
	doc := parse(base)
	for _, sec := range parse(overrides) {
		for _, e := range sec.entries {
			if e.key != "" {
				doc = doc.set(sec.name, strings.TrimSpace(sec.entries[0].lines[0]), e)
			}
		}
	}
	var b strings.Builder
	for _, sec := range doc {
		for _, e := range sec.entries {
			for _, l := range e.lines {
				b.WriteString(l)
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}

// entry is a key = value line with its continuation lines, or (key "") a
// section header, comment or blank line.
type entry struct {
	key   string
	lines []string
}

type section struct {
	name    string // lower case; "" before the first header
	entries []entry
}

type document []section

func parse(text string) document {
	doc := document{{}}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		cur := &doc[len(doc)-1]
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "[") && strings.HasSuffix(trimmed, "]"):
			doc = append(doc, section{name: strings.ToLower(strings.Trim(trimmed, "[]")), entries: []entry{{lines: []string{line}}}})
		case trimmed != "" && (line[0] == ' ' || line[0] == '\t') && len(cur.entries) > 0 && cur.entries[len(cur.entries)-1].key != "":
			last := &cur.entries[len(cur.entries)-1]
			last.lines = append(last.lines, line)
		case trimmed == "", trimmed[0] == '#', trimmed[0] == ';', !strings.Contains(trimmed, "="):
			cur.entries = append(cur.entries, entry{lines: []string{line}})
		default:
			key, _, _ := strings.Cut(trimmed, "=")
			cur.entries = append(cur.entries, entry{key: strings.ToLower(strings.TrimSpace(key)), lines: []string{line}})
		}
	}
	return doc
}

// set puts e into the named section, replacing the key's entry there; a
// new section gets header as written ([table.<name>] keeps its case).
func (d document) set(name, header string, e entry) document {
	for i := range d {
		if d[i].name != name || (name == "" && i > 0) {
			continue
		}
		for j := range d[i].entries {
			if d[i].entries[j].key == e.key {
				d[i].entries[j] = e
				return d
			}
		}
		// Before the section's trailing blank lines, so it reads naturally.
		at := len(d[i].entries)
		for at > 0 && d[i].entries[at-1].key == "" && strings.TrimSpace(d[i].entries[at-1].lines[0]) == "" {
			at--
		}
		d[i].entries = append(d[i].entries[:at], append([]entry{e}, d[i].entries[at:]...)...)
		return d
	}
	return append(d, section{name: name, entries: []entry{{lines: []string{header}}, e}})
}
