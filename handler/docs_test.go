package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/dbsync/dbsync/sync"
)

// The documentation a user reads: README.md is the front page, docs/ has
// one page per topic. Paths are relative to this package's folder.
const readmePath = "../README.md"

func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob("../docs/*.md")
	if err != nil || len(pages) == 0 {
		t.Fatalf("docs/*.md: %v %v", pages, err)
	}
	return append([]string{readmePath}, pages...)
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mdLink is one inline link or image of a markdown file.
type mdLink struct {
	line   int
	target string
}

var (
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	inlineCode = regexp.MustCompile("`[^`]*`")
	headingRe  = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	fenceRe    = regexp.MustCompile("^\\s*(```|~~~)")
)

// proseLines calls fn with each line of a markdown text outside fenced
// code blocks, numbered from 1.
func proseLines(text string, fn func(n int, line string)) {
	inFence := false
	for i, line := range strings.Split(text, "\n") {
		if fenceRe.MatchString(line) {
			inFence = !inFence
			continue
		}
		if !inFence {
			fn(i+1, line)
		}
	}
}

// links lists the inline links of a markdown text, outside code.
func links(text string) []mdLink {
	var out []mdLink
	proseLines(text, func(n int, line string) {
		line = inlineCode.ReplaceAllString(line, "")
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			out = append(out, mdLink{n, m[1]})
		}
	})
	return out
}

// headingSlugs are the anchors GitHub gives a file's headings: lower
// case, punctuation dropped (letters, digits, '-', '_' and spaces kept),
// each space a '-', and a repeated slug numbered -1, -2, ….
func headingSlugs(text string) map[string]bool {
	slugs := map[string]bool{}
	seen := map[string]int{}
	proseLines(text, func(_ int, line string) {
		m := headingRe.FindStringSubmatch(line)
		if m == nil {
			return
		}
		s := slug(m[2])
		if n := seen[s]; n > 0 {
			seen[s]++
			s = s + "-" + strconv.Itoa(n)
		} else {
			seen[s] = 1
		}
		slugs[s] = true
	})
	return slugs
}

var linkText = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)

func slug(heading string) string {
	heading = linkText.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestDocs_Slug(t *testing.T) {
	for heading, want := range map[string]string{
		"Run it locally with `func start`":                  "run-it-locally-with-func-start",
		"`[table.<name>]`: one table of a job of several":   "tablename-one-table-of-a-job-of-several",
		"`net_read_timeout`":                                "net_read_timeout",
		"Several tables: parallel":                          "several-tables-parallel",
		"What a run does, and what it guarantees":           "what-a-run-does-and-what-it-guarantees",
		"[Azure](https://example.com) and `YEAR` & `FLOAT`": "azure-and-year--float",
	} {
		if got := slug(heading); got != want {
			t.Errorf("slug(%q) = %q, want %q", heading, got, want)
		}
	}
	slugs := headingSlugs("# A\n## A\n```\n# not a heading\n```\n## A\n")
	if len(slugs) != 3 || !slugs["a"] || !slugs["a-1"] || !slugs["a-2"] {
		t.Errorf("repeated headings: %v, want a, a-1, a-2", slugs)
	}
}

// TestDocs_Links: every relative link of README.md and docs/*.md names a
// file or folder of the repository, and every #anchor a heading of the
// page it points to; every docs page is reachable from the README.
func TestDocs_Links(t *testing.T) {
	linkedFromReadme := map[string]bool{}
	checked := 0
	for _, page := range docPages(t) {
		text := readDoc(t, page)
		for _, l := range links(text) {
			if strings.Contains(l.target, "://") || strings.HasPrefix(l.target, "mailto:") {
				continue
			}
			where := fmt.Sprintf("%s:%d: link %q", page, l.line, l.target)
			file, anchor, _ := strings.Cut(l.target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), filepath.FromSlash(file))
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s: no such file or folder", where)
					continue
				}
			}
			if page == readmePath {
				linkedFromReadme[filepath.Clean(path)] = true
			}
			checked++
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(path, ".md") {
				t.Errorf("%s: an anchor into a file that is not markdown", where)
				continue
			}
			if !headingSlugs(readDoc(t, path))[anchor] {
				t.Errorf("%s: %s has no heading with the anchor #%s", where, path, anchor)
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d relative links found: is the link parser broken?", checked)
	}
	for _, page := range docPages(t)[1:] {
		if !linkedFromReadme[filepath.Clean(page)] {
			t.Errorf("README.md does not link %s", page)
		}
	}
}

// TestDocs_NoIssueNumbers: user docs say what is true, not which issue or
// day changed it.
func TestDocs_NoIssueNumbers(t *testing.T) {
	issueRef := regexp.MustCompile(`(?i)(^|[\s(])#\d+\b|\bissue\s+#?\d+`)
	for _, page := range docPages(t) {
		proseLines(readDoc(t, page), func(n int, line string) {
			if m := issueRef.FindString(line); m != "" {
				t.Errorf("%s:%d: %q refers to an issue", page, n, strings.TrimSpace(m))
			}
		})
	}
}

// TestReadme_FrontPage: README.md reads in a few minutes and holds what a
// newcomer needs first.
func TestReadme_FrontPage(t *testing.T) {
	text := readDoc(t, readmePath)
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if n := len(lines); n > 300 {
		t.Errorf("README.md has %d lines; at most 300 (move the rest to docs/)", n)
	}
	if n := len(strings.Fields(text)); n > 2500 {
		t.Errorf("README.md has %d words; at most 2500 (move the rest to docs/)", n)
	}
	start, end := minimalConfigLines(t, text)
	if end > 150 {
		t.Errorf("the minimal config block ends on line %d; it must be within the first 150 lines", end)
	}
	after := strings.Join(lines[end:], "\n")
	check, sync := strings.Index(after, "handler check"), strings.Index(after, "handler sync")
	if check < 0 || sync < 0 || check > sync {
		t.Errorf("after the config block (lines %d-%d) the README must show handler check, then handler sync", start, end)
	}
	for _, say := range []string{"## The two commands", "make demo", "make test", "Exit codes", "**0**", "**1**", "**2**", "**3**", "## Deploy to Azure", "## Limitations"} {
		if !strings.Contains(text, say) {
			t.Errorf("README.md does not say %q", say)
		}
	}
}

// minimalConfigLines finds README's first ```ini block: its first and last
// line numbers (1-based, the fences included).
func minimalConfigLines(t *testing.T, text string) (start, end int) {
	t.Helper()
	for i, line := range strings.Split(text, "\n") {
		switch {
		case start == 0 && strings.TrimSpace(line) == "```ini":
			start = i + 1
		case start != 0 && strings.TrimSpace(line) == "```":
			return start, i + 1
		}
	}
	t.Fatal("README.md has no ```ini block: the minimal config")
	return 0, 0
}

func minimalConfig(t *testing.T) string {
	t.Helper()
	text := readDoc(t, readmePath)
	start, end := minimalConfigLines(t, text)
	return strings.Join(strings.Split(text, "\n")[start:end-1], "\n") + "\n"
}

// TestReadme_MinimalConfig: the README's one-table config is complete as
// written (with the passwords from the environment, as it says), and
// check, then sync, work with it against a real primary and a TLS-only
// target: only where the servers are is changed.
func TestReadme_MinimalConfig(t *testing.T) {
	t.Parallel()
	config := minimalConfig(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "config.ini")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	passwords := []string{"DBSYNC_SOURCE_PASSWORD=" + primary.Password, "DBSYNC_AZURE_MYSQL_PASSWORD=" + azure.Password}

	// As written: a valid one-table job for the Azure target.
	cfg, err := dbsync.LoadConfig(dbsync.LoadInput{Path: path, Explicit: true, Environ: passwords})
	if err != nil {
		t.Fatalf("the README's minimal config does not load: %v\n%s", err, config)
	}
	if cfg.Target != dbsync.TargetAzure || len(cfg.Tables) != 1 || len(cfg.Warnings) != 0 {
		t.Fatalf("minimal config: target %q, tables %+v, warnings %q", cfg.Target, cfg.Tables, cfg.Warnings)
	}
	table := cfg.Tables[0].Target
	if cfg.Source.Host == "" || cfg.AzureMySQL.Host == "" || table == "" {
		t.Fatalf("minimal config without a host or table: %+v", cfg)
	}

	// Against real servers: a source table with the query's columns.
	a := &app{t: t, dir: dir}
	a.srcDB, a.dstDB = primary.NewDatabase(t, "readme_src"), azure.NewDatabase(t, "readme_dst")
	a.src, a.dst = socketDB(t, primary, a.srcDB), socketDB(t, azure, a.dstDB)
	query := cfg.Source.Query
	cols := regexp.MustCompile(`(?i)^SELECT (.+) FROM (\w+)$`).FindStringSubmatch(strings.TrimSpace(query))
	if cols == nil {
		t.Fatalf("[source] query %q: want SELECT <columns> FROM <table>", query)
	}
	// The first column an integer key, the others text.
	var defs, values []string
	for i, c := range strings.Split(cols[1], ",") {
		def, value := " VARCHAR(50) NOT NULL", "CONCAT('v', seq)"
		if i == 0 {
			def, value = " INT NOT NULL PRIMARY KEY", "seq"
		}
		defs, values = append(defs, strings.TrimSpace(c)+def), append(values, value)
	}
	a.exec("CREATE TABLE "+cols[2]+" ("+strings.Join(defs, ", ")+")",
		"INSERT INTO "+cols[2]+" SELECT "+strings.Join(values, ", ")+" FROM seq_1_to_25")
	where := []string{
		"DBSYNC_SOURCE_HOST=127.0.0.1", "DBSYNC_SOURCE_PORT=" + strconv.Itoa(primary.Port),
		"DBSYNC_SOURCE_DATABASE=" + a.srcDB, "DBSYNC_SOURCE_USER=" + primary.User,
		"DBSYNC_AZURE_MYSQL_HOST=localhost", "DBSYNC_AZURE_MYSQL_PORT=" + strconv.Itoa(azure.Port),
		"DBSYNC_AZURE_MYSQL_DATABASE=" + a.dstDB, "DBSYNC_AZURE_MYSQL_USER=" + azure.User,
		"DBSYNC_AZURE_MYSQL_SSL_CA=" + azure.CA,
	}
	env := append(slices.Clone(passwords), where...)
	if r := a.run(env, "check", "--config", "config.ini"); r.code != exitOK {
		t.Fatalf("check of the README's config: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r := a.run(env, "sync", "--config", "config.ini")
	if r.code != exitOK || !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("sync of the README's config: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if n := a.count(a.dst, table); n != 25 {
		t.Errorf("target %s has %d rows, want 25", table, n)
	}
}
