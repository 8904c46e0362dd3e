package dbsync

import (
	"runtime/debug"
	"testing"
)

func TestVersionOf(t *testing.T) {
	rev := "d55b763a1b2c3d4e5f60718293a4b5c6d7e8f901"
	settings := func(modified string) []debug.BuildSetting {
		s := []debug.BuildSetting{{Key: "vcs.revision", Value: rev}}
		if modified != "" {
			s = append(s, debug.BuildSetting{Key: "vcs.modified", Value: modified})
		}
		return s
	}
	for _, tc := range []struct {
		name, main string
		settings   []debug.BuildSetting
		want       string
	}{
		{"no build info at all", "", nil, "devel"},
		{"devel without vcs", "(devel)", nil, "devel"},
		{"devel with revision", "(devel)", settings("false"), "devel d55b763a1b2c"},
		{"dirty checkout", "(devel)", settings("true"), "devel d55b763a1b2c+dirty"},
		{"tagged", "v1.2.0", settings("false"), "v1.2.0 d55b763a1b2c"},
		{"pseudo-version names the revision", "v0.0.0-20261201211225-d55b763a1b2c", settings("false"), "v0.0.0-20261201211225-d55b763a1b2c"},
		{"pseudo-version, dirty", "v0.0.0-20261201211225-d55b763a1b2c+dirty", settings("true"), "v0.0.0-20261201211225-d55b763a1b2c+dirty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := &debug.BuildInfo{Main: debug.Module{Version: tc.main}, Settings: tc.settings}
			if got := versionOf(info); got != tc.want {
				t.Errorf("versionOf = %q, want %q", got, tc.want)
			}
		})
	}
}
