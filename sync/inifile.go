package dbsync

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxConfigBytes bounds how much of a config file is read. A config is a few
// kilobytes; a file this large is not one (--config /dev/zero, a database
// file), and reading it all could exhaust memory.
const maxConfigBytes = 1 << 20

// readConfigBytes reads at most maxConfigBytes of path and checks that it is
// text. Its errors never quote the file's content, which may hold secrets.
func readConfigBytes(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfigBytes {
		return nil, &ConfigError{File: path, Reason: fmt.Sprintf("is larger than %d KiB, so it is not a config file (a config is a few kilobytes): check --config or DBSYNC_CONFIG", maxConfigBytes>>10)}
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, &ConfigError{File: path, Line: lineOf(data, i), Reason: "holds a NUL byte, so it is not a text file: check --config or DBSYNC_CONFIG"}
	}
	if !utf8.Valid(data) {
		i := 0
		for i < len(data) {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return nil, &ConfigError{File: path, Line: lineOf(data, i), Reason: "is not UTF-8 text: save the file as UTF-8"}
	}
	return data, nil
}

// lineOf is the 1-based line number of byte offset i.
func lineOf(data []byte, i int) int { return bytes.Count(data[:i], []byte("\n")) + 1 }

// iniLines is what scanINI learns about a file: the line each section
// header and each key is on.
type iniLines struct {
	sections map[string]int    // lower-case section name → line
	keys     map[string]int    // "section.key", lower-case → line
	written  map[string]string // lower-case section name → as written (a [table.<name>] keeps its case)
}

// keyLine is the line a key was set on, 0 when unknown.
func (l iniLines) keyLine(section, key string) int {
	return l.keys[strings.ToLower(section)+"."+strings.ToLower(key)]
}

// pythonContinuation is gopkg.in/ini.v1's test for a continuation line of a
// Python-style multi-line value.
var pythonContinuation = regexp.MustCompile(`^[\t\f ]+`)

// scanINI walks the file line by line the way gopkg.in/ini.v1 parses it
// with readFile's options (section headers, comments, key = value lines,
// quoted values, indented continuation lines; a trailing backslash is
// literal), so that an error can name its line. ini.v1
// quotes the offending line in its errors, and a line may hold a password,
// so its messages are never shown. A key or section given twice is an error:
// ini.v1 would silently keep the last value, and a doubled password is
// ambiguous.
func scanINI(path string, data []byte) (iniLines, error) {
	found := iniLines{sections: map[string]int{}, keys: map[string]int{}, written: map[string]string{}}
	text := strings.TrimPrefix(string(data), "\uFEFF")
	lines := strings.SplitAfter(text, "\n")
	lineErr := func(n int, reason string) error { return &ConfigError{File: path, Line: n, Reason: reason} }
	section := "default"
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := strings.TrimLeftFunc(lines[i], unicode.IsSpace)
		switch {
		case line == "", line[0] == '#', line[0] == ';':
			continue
		case line[0] == '[':
			end := strings.LastIndexByte(line, ']')
			if end < 0 {
				return found, lineErr(n, `has a section header without its closing "]"`)
			}
			name := strings.ToLower(line[1:end])
			if name == "" {
				return found, lineErr(n, "has an empty section name []")
			}
			if first, ok := found.sections[name]; ok {
				return found, &ConfigError{File: path, Reason: fmt.Sprintf("section %s is opened twice, on lines %d and %d: keep one and put all its keys there", showSection(name), first, n)}
			}
			found.sections[name] = n
			found.written[name] = line[1:end]
			section = name
			continue
		}
		key, rest, err := iniKeyName(line)
		if errors.Is(err, errNoDelimiter) {
			// Name the key only when the line starts with one dbsync
			// knows: the rest of the line may be a secret.
			if spec, ok := knownKey(section, strings.ToLower(strings.Fields(line)[0])); ok {
				return found, &ConfigError{File: path, Line: n, Key: spec.name(), Reason: `has no "=" between the key and its value` + notShown}
			}
		}
		if err != nil {
			return found, lineErr(n, err.Error()+notShown)
		}
		last, err := iniValueEnd(lines, i, rest)
		if err != nil {
			if spec, ok := knownKey(section, strings.ToLower(key)); ok {
				return found, &ConfigError{File: path, Line: n, Key: spec.name(), Reason: err.Error()}
			}
			return found, lineErr(n, err.Error())
		}
		i = last
		if key == "-" {
			continue // ini.v1 numbers "-" keys itself: never a duplicate
		}
		full := section + "." + strings.ToLower(key)
		if first, ok := found.keys[full]; ok {
			if spec, known := knownKey(section, strings.ToLower(key)); known {
				return found, &ConfigError{Key: spec.name(), Origin: path, Reason: fmt.Sprintf("is set twice, on lines %d and %d: keep one (dbsync does not guess which value is meant)", first, n)}
			}
			if _, known := knownTableKey(strings.ToLower(key)); known && isTableSection(section) {
				return found, &ConfigError{Key: found.written[section] + "." + strings.ToLower(key), Origin: path, Reason: fmt.Sprintf("is set twice, on lines %d and %d: keep one (dbsync does not guess which value is meant)", first, n)}
			}
			return found, &ConfigError{File: path, Reason: fmt.Sprintf("lines %d and %d set the same key %s: keep one", first, n, showKey(section, key))}
		}
		found.keys[full] = n
	}
	return found, nil
}

// notShown ends an error about a line of the config file.
const notShown = " (the line is not shown: it may hold a secret)"

var errNoDelimiter = errors.New(`is not a [section] header, a comment or a key = value line: it has no "="`)

// iniKeyName reads the key name of a key = value line as ini.v1's
// readKeyName does, returning the text after the delimiter.
func iniKeyName(line string) (key, rest string, err error) {
	const delimiters = "=:"
	quote := ""
	switch {
	case len(line) > 6 && strings.HasPrefix(line, `"""`):
		quote = `"""`
	case line[0] == '"':
		quote = `"`
	case line[0] == '`':
		quote = "`"
	}
	if quote != "" {
		pos := strings.Index(line[len(quote):], quote)
		if pos < 0 {
			return "", "", errors.New("starts a quoted key name without its closing quote")
		}
		pos += len(quote)
		i := strings.IndexAny(line[pos+len(quote):], delimiters)
		if i < 0 {
			return "", "", errNoDelimiter
		}
		key = strings.TrimSpace(line[len(quote):pos])
		if key == "" {
			return "", "", errors.New("has an empty quoted key name")
		}
		return key, line[pos+i+len(quote)+1:], nil
	}
	i := strings.IndexAny(line, delimiters)
	switch {
	case i < 0:
		return "", "", errNoDelimiter
	case i == 0:
		return "", "", errors.New(`starts with "=": the key name is missing`)
	}
	return strings.TrimSpace(line[:i]), line[i+1:], nil
}

// iniValueEnd returns the index of the last line of the value that starts
// with rest on line i: ini.v1 continues a value on following lines when it
// opens a """ or ` quote, or is followed by indented lines
// (AllowPythonMultilineValues).
func iniValueEnd(lines []string, i int, rest string) (int, error) {
	v := strings.TrimLeftFunc(rest, unicode.IsSpace)
	python := func(i int) int {
		for i+1 < len(lines) && pythonContinuation.MatchString(lines[i+1]) {
			i++
		}
		return i
	}
	if v == "" {
		if strings.HasSuffix(rest, "\n") {
			return python(i), nil
		}
		return i, nil
	}
	quote := ""
	if len(v) > 3 && strings.HasPrefix(v, `"""`) {
		quote = `"""`
	} else if v[0] == '`' {
		quote = "`"
	}
	if quote != "" {
		if strings.Contains(v[len(quote):], quote) {
			return i, nil
		}
		for i++; i < len(lines); i++ {
			if strings.Contains(lines[i], quote) {
				return i, nil
			}
		}
		return i, fmt.Errorf("opens a value with %s that is never closed", quote)
	}
	t := strings.TrimSpace(v)
	if surroundedBy(t, '\'') || surroundedBy(t, '"') {
		return i, nil
	}
	if strings.HasSuffix(v, "\n") {
		return python(i), nil
	}
	return i, nil
}

// surroundedBy is ini.v1's hasSurroundedQuote: the value is quoted, and the
// quote appears nowhere else in it.
func surroundedBy(s string, q byte) bool {
	return len(s) >= 2 && s[0] == q && s[len(s)-1] == q && strings.IndexByte(s[1:], q) == len(s)-2
}

// printableName reports whether a section or key name that dbsync does not
// know can be shown in a message: a name of letters, digits, _, - and . is
// a typo of a key; anything else (a space, a quote) may be a value that
// lost its "=", such as a password.
func printableName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

func showSection(name string) string {
	if printableName(name) {
		return "[" + name + "]"
	}
	return "(name not shown)"
}

func showName(name string) string {
	if printableName(name) {
		return name
	}
	return "(name not shown)"
}

func showKey(section, key string) string {
	if printableName(section) && printableName(key) {
		return section + "." + key
	}
	return "(name not shown)"
}
