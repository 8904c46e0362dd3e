package mysqldb

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	dbsync "github.com/dbsync/dbsync/sync"
)

func TestHelperName(t *testing.T) {
	tok := runToken("20261201T211753Z-9452fd9c8845b500")
	long := strings.Repeat("a", 52)
	wide := strings.Repeat("ü", 40) // 5 bytes each in a file name
	for _, tc := range []struct {
		name, table, suffix string
		want                string // "" when the name is cut (checked by shape)
	}{
		{"short", "items", dbsync.StageSuffix, "items__dbsync_new_" + tok},
		{"old", "items", dbsync.OldSuffix, "items__dbsync_old_" + tok},
		{"delta", "Order Lines", dbsync.DeltaSuffix, "Order Lines__dbsync_delta_" + tok},
		{"52 characters", long, dbsync.StageSuffix, ""},
		{"52 characters, delta", long, dbsync.DeltaSuffix, ""},
		{"wide characters", wide, dbsync.StageSuffix, ""},
		{"a cut at a space", strings.Repeat("a", 33) + " " + strings.Repeat("b", 18), dbsync.StageSuffix, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := helperName(tc.table, tc.suffix, tok)
			if tc.want != "" && got != tc.want {
				t.Fatalf("helperName = %q, want %q", got, tc.want)
			}
			if !fitsMySQLName(got) {
				t.Errorf("%q does not fit MySQL's limits (%d characters, %d file name bytes)", got, utf8.RuneCountInString(got), dbsync.FileNameBytes(got))
			}
			if !strings.HasSuffix(got, tc.suffix+"_"+tok) || helperToken(got) != tok {
				t.Errorf("%q does not end with its kind and token", got)
			}
			if strings.Contains(got, " "+tc.suffix) || strings.HasSuffix(strings.Split(got, "__dbsync_")[0], " ") {
				t.Errorf("%q has a part ending with a space", got)
			}
			if other := helperName(tc.table+"x", tc.suffix, tok); other == got {
				t.Errorf("two tables share the helper name %q", got)
			}
			if other := helperName(tc.table, tc.suffix, runToken("another run")); other == got {
				t.Errorf("two runs share the helper name %q", got)
			}
			if re := likeRegexp(helperPattern(tc.table, tc.suffix)); !re.MatchString(got) || re.MatchString(tc.table+tc.suffix) {
				t.Errorf("pattern %q: matches %q %v, the old fixed name %v", helperPattern(tc.table, tc.suffix), got, re.MatchString(got), re.MatchString(tc.table+tc.suffix))
			}
		})
	}
}

// likeRegexp is what MySQL's LIKE matches, with \ as its escape.
func likeRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	r := []rune(pattern)
	for i := 0; i < len(r); i++ {
		switch c := r[i]; c {
		case '\\':
			i++
			b.WriteString(regexp.QuoteMeta(string(r[i])))
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return regexp.MustCompile(b.String() + "$")
}

func TestMarkRunID(t *testing.T) {
	const id = "20261201T211753Z-9452fd9c8845b500"
	for _, tc := range []struct{ comment, want string }{
		{stageMark(id), id},
		{oldMark(id, "the user's; comment with run x; y"), id},
		{ownMark + "merge differences of run " + id + "; dbsync drops it", id},
		{"dbsync-owned: staging table of run x; dbsync drops it", "x"},
		{"my own table", ""},
		{"run " + id + ";", ""},
		{ownMark + "something else", ""},
		{"", ""},
	} {
		if got := markRunID(tc.comment); got != tc.want {
			t.Errorf("markRunID(%q) = %q, want %q", tc.comment, got, tc.want)
		}
	}
}

func TestLockSQL(t *testing.T) {
	for _, tc := range []struct {
		timeout time.Duration
		want    int
	}{
		{time.Second, 601},
		{30 * time.Minute, 2400},
		{24 * time.Hour, 87000},
		{1500 * time.Millisecond, 602},
		{400 * 24 * time.Hour, 31536000},
	} {
		if got := lockSessionTimeout(tc.timeout); got != tc.want {
			t.Errorf("lockSessionTimeout(%v) = %d, want %d", tc.timeout, got, tc.want)
		}
	}
	if got, want := lockCheckQuery(2), "SELECT CONNECTION_ID(), IS_USED_LOCK(?), IS_USED_LOCK(?)"; got != want {
		t.Errorf("lockCheckQuery(2) = %q, want %q", got, want)
	}
	h := dbsync.HistoryStore{Name: "dbsync_runs", Dialect: history}
	if got, want := historyLockQuery(h, 2), "SELECT `table` FROM `dbsync_runs` WHERE `run_id` = ? AND `table` IN (?, ?) FOR UPDATE"; got != want {
		t.Errorf("historyLockQuery = %q, want %q", got, want)
	}
}
