package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The built binary names its build: `version` and `--version` print the
// same line, with the VCS revision when the build info has one.
func TestCLI_Version(t *testing.T) {
	var first string
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(binary, arg).CombinedOutput()
		if err != nil {
			t.Fatalf("handler %s: %v\n%s", arg, err, out)
		}
		line := strings.TrimSpace(string(out))
		if !regexp.MustCompile(`^dbsync \S+( [0-9a-f]{12}(\+dirty)?)?$`).MatchString(line) {
			t.Errorf("handler %s printed %q, want \"dbsync <version> [<revision>]\"", arg, line)
		}
		if first == "" {
			first = line
		} else if line != first {
			t.Errorf("handler --version printed %q, handler version %q", line, first)
		}
	}
	// The test binary is built in this git checkout, so Go stamped the
	// revision. Go finds a checkout only by a .git directory: a tree
	// exported without .git, or a `git worktree` (whose .git is a file),
	// prints just "devel".
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return
	}
	if fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err != nil || !fi.IsDir() {
		t.Logf("not a plain git checkout (.git is not a directory): Go stamps no revision; printed %q", first)
		return
	}
	if rev, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		if want := strings.TrimSpace(string(rev))[:12]; !strings.Contains(first, want) {
			t.Errorf("handler version = %q, want it to name HEAD %s", first, want)
		}
	}
}
