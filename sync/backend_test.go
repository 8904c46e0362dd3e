package dbsync

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBackend_OnePlaceChooses: outside config parsing and newTarget, no
// code asks which backend it has — no type assertion on a target, no
// switch or comparison on the run's target (issue #10 item 2). A need of
// the run is a method of an interface (issue #20): no assertion to an
// interface (a hidden optional method) or to a backend's type (a target,
// session, source or rows), and no parameter of type any that a backend
// is passed through (only the history store's field values and the
// SQLite driver's cell values are any).
func TestBackend_OnePlaceChooses(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	// The package's interface types, so an assertion to one is seen.
	interfaces := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if _, ok := ts.Type.(*ast.InterfaceType); ok {
					interfaces[ts.Name.Name] = true
				}
			}
			return true
		})
	}
	if !interfaces["TargetDB"] || !interfaces["Sink"] || !interfaces["Session"] || !interfaces["Backend"] {
		t.Fatalf("found interfaces %v: the guard no longer sees the backends' interfaces", interfaces)
	}
	anyAllowed := map[string]bool{"value": true, "setHistoryValue": true, "parseHistoryTime": true}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, "config") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Name.Name == "newTarget" {
				continue
			}
			for _, p := range fn.Type.Params.List {
				if isAny(p.Type) && !anyAllowed[fn.Name.Name] {
					t.Errorf("%s: %s takes a parameter of type any; take the interface the run needs", fset.Position(p.Pos()), fn.Name.Name)
				}
			}
			ast.Inspect(fn, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.TypeAssertExpr:
					if star, ok := n.Type.(*ast.StarExpr); ok {
						if id, ok := star.X.(*ast.Ident); ok && hasBackendSuffix(id.Name) {
							t.Errorf("%s: %s asserts a backend's type (*%s); give the interface a method instead", fset.Position(n.Pos()), fn.Name.Name, id.Name)
						}
					}
					if _, ok := n.Type.(*ast.InterfaceType); ok {
						t.Errorf("%s: %s asserts an interface literal (a hidden optional method); make it a method of the interface", fset.Position(n.Pos()), fn.Name.Name)
					}
					if id, ok := n.Type.(*ast.Ident); ok && interfaces[id.Name] {
						t.Errorf("%s: %s asserts interface %s (a hidden optional method); make it a method of the interface it has", fset.Position(n.Pos()), fn.Name.Name, id.Name)
					}
				case *ast.SwitchStmt:
					if isTargetField(n.Tag) {
						t.Errorf("%s: %s switches on the run's target; only newTarget may", fset.Position(n.Pos()), fn.Name.Name)
					}
				case *ast.BinaryExpr:
					if (n.Op == token.EQL || n.Op == token.NEQ) && (isTargetField(n.X) || isTargetField(n.Y)) {
						t.Errorf("%s: %s compares the run's target; only newTarget may choose by it", fset.Position(n.Pos()), fn.Name.Name)
					}
				}
				return true
			})
		}
	}
}

// TestBackend_CoreImportsNoDriver: the engine's own (non-test) files import
// no Azure SDK; the backends beside it (sync/azure, …) do, and handler wires
// them in (DESIGN §1: the core imports no database driver, no Azure SDK).
// forbidden grows as each technology moves out of the core into its package.
func TestBackend_CoreImportsNoDriver(t *testing.T) {
	forbidden := []string{"github.com/Azure/", "modernc.org/sqlite", "github.com/go-sql-driver/mysql"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			for _, bad := range forbidden {
				if strings.HasPrefix(path, bad) {
					t.Errorf("%s imports %s: the core imports no driver and no Azure SDK; define an interface here and implement it in the backend package", name, path)
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d files: run from sync/", checked)
	}
	// Nor through another package: every dependency of the package
	// (without its tests) is checked, as the go command builds it.
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "log/slog") {
		t.Fatalf("go list -deps listed %d packages and not log/slog: the check sees nothing", len(deps))
	}
	for _, path := range deps {
		for _, bad := range forbidden {
			if strings.HasPrefix(path, bad) {
				t.Errorf("package dbsync depends on %s: the core imports no driver and no Azure SDK, not even through another package", path)
			}
		}
	}
}

// hasBackendSuffix: the names of a backend's types.
func hasBackendSuffix(name string) bool {
	for _, s := range []string{"Target", "Session", "Source", "Rows", "Reader"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// isAny matches the types any and interface{}.
func isAny(e ast.Expr) bool {
	if id, ok := e.(*ast.Ident); ok && id.Name == "any" {
		return true
	}
	it, ok := e.(*ast.InterfaceType)
	return ok && len(it.Methods.List) == 0
}

// isTargetField matches cfg.Target (any x.Target).
func isTargetField(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Target"
}

// TestBackend_SQLiteThroughInterface drives the SQLite backend only
// through the target interface, as check, history and a run do: a
// missing file has no columns and no history; after a run both are there;
// two names of one file share one guard key.
func TestBackend_SQLiteThroughInterface(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	cfg := &Config{Target: TargetSQLite, SQLite: SQLiteConfig{Path: filepath.Join(dir, "r.db"), Table: "items"}, Sync: SyncConfig{HistoryTable: "dbsync_runs"},
		Tables: []TableConfig{{Name: "items", Target: "items"}}}
	r := NewRunner(log)
	r.MySQL, r.SQLite = testMySQL, testSQLite
	tgt, err := r.openTarget(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	if detail, err := tgt.Probe(ctx); err != nil || !strings.Contains(detail, "folder writable") {
		t.Fatalf("probe: %q %v", detail, err)
	}
	if cols, err := tgt.TableColumns(ctx, "items"); err != nil || len(cols) != 0 {
		t.Fatalf("columns before the first run: %v %v", cols, err)
	}
	if _, found, err := tgt.OpenHistory(ctx, false); err != nil || found {
		t.Fatalf("history before the first run: found %v, %v", found, err)
	}
	if _, err := os.Stat(cfg.SQLite.Path); err == nil {
		t.Fatal("check or history created the target file")
	}

	rep := NewReport(cfg, TriggerCLI)
	if err := tgt.Lock(ctx, []string{"items"}); err != nil {
		t.Fatal(err)
	}
	if err := tgt.RunHistory().ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tgt.Begin(ctx, rep.RunID, rep.Target, []string{"items"}); err != nil {
		t.Fatal(err)
	}
	if err := tgt.RunHistory().start(ctx, rep, log); err != nil {
		t.Fatal(err)
	}
	rows := &repeatRows{cols: []Column{{Name: "id", Kind: KindInt}, {Name: "name", Kind: KindText}}, row: [][]byte{[]byte("1"), []byte("a")}, n: 1}
	if n, _, err := tgt.Stage(ctx, "items", rows, SchemaFail); err != nil || n != 1 {
		t.Fatalf("stage: %d %v", n, err)
	}
	if _, err := tgt.Swap(ctx); err != nil {
		t.Fatal(err)
	}
	rep.Status = StatusSucceeded
	if err := tgt.RunHistory().finish(ctx, rep); err != nil {
		t.Fatal(err)
	}
	if cols, err := tgt.TableColumns(ctx, "items"); err != nil || len(cols) != 2 || cols[1].Name != "name" {
		t.Fatalf("columns after the run: %+v %v", cols, err)
	}
	h, found, err := tgt.OpenHistory(ctx, false)
	if err != nil || !found {
		t.Fatalf("history after the run: found %v, %v", found, err)
	}
	runs, err := h.recent(ctx, TargetSQLite, []string{"items"}, 5)
	if err != nil || len(runs) != 1 || runs[0].RunID != rep.RunID || runs[0].Status != StatusSucceeded {
		t.Fatalf("history: %+v %v", runs, err)
	}

	t.Chdir(dir)
	rel := *cfg
	rel.SQLite.Path = "r.db"
	other, err := r.newTarget(&rel, log)
	if err != nil {
		t.Fatal(err)
	}
	if other.GuardKey("items") != tgt.GuardKey("items") {
		t.Errorf("guard keys differ for one file: %q and %q", other.GuardKey("items"), tgt.GuardKey("items"))
	}
}

// TestBackend_NoSQLiteBackend: a Runner that no one gave the SQLite backend
// (Runner.SQLite nil) refuses target = sqlite and the fallback with a
// message that says so, instead of a nil dereference.
func TestBackend_NoSQLiteBackend(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	r := NewRunner(log)
	cfg := &Config{Target: TargetSQLite, SQLite: SQLiteConfig{Path: filepath.Join(t.TempDir(), "r.db"), Table: "items"},
		Fallback: FallbackConfig{Path: filepath.Join(t.TempDir(), "f.db")}}
	if _, err := r.newTarget(cfg, log); err == nil || !strings.Contains(err.Error(), "no SQLite backend") {
		t.Errorf("newTarget without a SQLite backend: err = %v, want one that names the missing backend", err)
	}
	if _, err := r.openFallback(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "no SQLite backend") {
		t.Errorf("openFallback without a SQLite backend: err = %v, want one that names the missing backend", err)
	}
}

// repeatRows is a source's rows (sourceRows) that yield the same row n
// times, in text form, with exact types.
type repeatRows struct {
	cols []Column
	row  [][]byte
	n, i int
}

func (r *repeatRows) Columns() []Column { return r.cols }

func (r *repeatRows) Next() bool { r.i++; return r.i <= r.n }

func (r *repeatRows) Values() [][]byte { return r.row }

func (r *repeatRows) Err() error { return nil }

func (r *repeatRows) Close() error { return nil }

func (r *repeatRows) Binary() bool { return false }

func (r *repeatRows) ExactTypes(context.Context) error { return nil }
