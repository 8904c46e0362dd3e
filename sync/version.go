package dbsync

import (
	"runtime/debug"
	"strings"
	"sync"
)

// Version is the build's version (in every run report and history row): the module version Go
// stamped into the binary, or "devel", followed by the VCS revision it
// was built from ("+dirty" when the checkout had uncommitted changes).
// `go build` in a git checkout stamps both (-buildvcs defaults to auto),
// so `make build` needs no flags for it. It is read once: the build info
// cannot change while the process runs.
func Version() string { return buildVersion() }

var buildVersion = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return versionOf(info)
})

// versionOf formats a build's version from its build info.
func versionOf(info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" || strings.Contains(v, shortRevision(rev)) {
		// A pseudo-version already names the revision.
		if modified == "true" && !strings.Contains(v, "dirty") {
			v += "+dirty"
		}
		return v
	}
	v += " " + shortRevision(rev)
	if modified == "true" {
		v += "+dirty"
	}
	return v
}

func shortRevision(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
