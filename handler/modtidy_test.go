package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestProject_GoModTidy: go.mod and go.sum are what `go mod tidy` makes
// them (direct dependencies not marked indirect, no missing sums), and CI
// checks it before building.
func TestProject_GoModTidy(t *testing.T) {
	ci, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	script := string(ci)
	tidy, build := strings.Index(script, "\ngo mod tidy -diff\n"), strings.Index(script, "\nmake build\n")
	if tidy < 0 || build < 0 || tidy > build {
		t.Errorf(".ci/run does not run `go mod tidy -diff` before `make build`")
	}
	cmd := exec.Command("go", "mod", "tidy", "-diff")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod tidy -diff: %v (run `go mod tidy` and commit go.mod and go.sum)\n%s", err, out)
	}
}
