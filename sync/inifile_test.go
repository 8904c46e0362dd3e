package dbsync

import (
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/ini.v1"
)

// FuzzScanINI holds scanINI to gopkg.in/ini.v1's reading of the same text:
// a file scanINI accepts parses (so ini.v1's message, which quotes lines,
// is never needed), and every key or section ini.v1 sees twice scanINI
// refused.
func FuzzScanINI(f *testing.F) {
	for _, seed := range []string{
		"[source]\nhost = h\npassword S3cr3t;#x\n",
		"[source]\nquery = SELECT *\n  FROM t\n  password = x\n\n[sync]\ntimeout = 5\n",
		"[a]\nk = `x\ny`\nk2 = \"\"\"one\ntwo\"\"\"\n",
		"[a]\nk = 'q'\n  indented = 1\n",
		"k = v\n[a]\n\"quoted key\" = 1\n- = a\n- = b\n",
		"[a]\nk = v \\\nnext = 2\n",
		"\ufeff[a]\r\nk = v\r\n  more\r\n",
		"[a]\n[A]\n",
		"[a]\nk:v\nK=w\n",
		"[a]\n=\n",
		"[a\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if strings.ContainsRune(text, 0) || !utf8.ValidString(text) {
			return
		}
		_, scanErr := scanINI("config.ini", []byte(text))
		file, err := ini.LoadSources(ini.LoadOptions{
			Insensitive:                true,
			IgnoreInlineComment:        true,
			IgnoreContinuation:         true,
			AllowPythonMultilineValues: true,
			SpaceBeforeInlineComment:   true,
			ReaderBufferSize:           len(text) + 1,
			AllowShadows:               true,
			AllowDuplicateShadowValues: true,
			AllowNonUniqueSections:     true,
		}, []byte(text))
		if err != nil {
			if scanErr == nil {
				t.Fatalf("ini.v1 fails (%v) where scanINI found nothing wrong", err)
			}
			return
		}
		if scanErr != nil && !strings.Contains(scanErr.Error(), "twice") && !strings.Contains(scanErr.Error(), "the same key") {
			t.Fatalf("scanINI refuses (%v) what ini.v1 reads", scanErr)
		}
		if scanErr != nil {
			return
		}
		seen := map[string]bool{}
		for _, sec := range file.Sections() {
			if seen[sec.Name()] && sec.Name() != strings.ToLower(ini.DefaultSection) {
				t.Fatalf("section [%s] twice, not refused", sec.Name())
			}
			seen[sec.Name()] = true
			for _, k := range sec.Keys() {
				if len(k.ValueWithShadows()) > 1 && !strings.HasPrefix(k.Name(), "#") {
					t.Fatalf("key %s.%s twice, not refused", sec.Name(), k.Name())
				}
			}
		}
	})
}
