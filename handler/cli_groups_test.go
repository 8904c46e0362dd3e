package main

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/dbsync/dbsync/internal/azuretest"
)

// TestCLI_GroupsOneDocument (#18 item 15, #19 item 8): sync of a job with
// two groups through the real binary, with the target password in Key
// Vault and a stray DBSYNC_ variable. The config is loaded once: Key Vault
// is listed once and each warning printed once, not once per group; and
// --json prints exactly one JSON document holding both groups' reports.
func TestCLI_GroupsOneDocument(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 9)
	groupsJob(a, false)
	a.extra += "[azure_mysql]\npassword =\n"
	a.writeConfig()
	const vaultToken = "groups-vault-token-0123456789abcdef"
	vault, err := azuretest.NewVault(t.TempDir(), "dbsync-groups", vaultToken, map[string]azuretest.Secret{
		"azure-mysql--password": {Value: azure.Password},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer vault.Close()
	idp := azuretest.NewIdentityEndpoint(map[string]string{"https://vault.azure.net": vaultToken})
	defer idp.Close()
	proxy, err := azuretest.NewConnectProxy(vault.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	env := []string{
		"IDENTITY_ENDPOINT=" + idp.URL, "IDENTITY_HEADER=" + idp.Header,
		"HTTPS_PROXY=" + proxy.URL, "SSL_CERT_FILE=" + vault.CAFile,
		"DBSYNC_KEYVAULT_URL=" + vault.URL,
		"DBSYNC_TABLE__NOPE__QUERY=SELECT 1", // names no table: warned about
	}

	r := a.run(env, "sync", "--json")
	if r.code != 0 {
		t.Fatalf("sync: exit %d\n%s", r.code, r.stderr)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var doc struct {
		Status string `json:"status"`
		Groups []struct {
			Group  string `json:"group"`
			RunID  string `json:"run_id"`
			Status string `json:"status"`
			Table  string `json:"table"`
			Rows   int64  `json:"rows"`
		} `json:"groups"`
	}
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	var more json.RawMessage
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		t.Errorf("stdout holds more than one JSON document (then %.80s…, %v)", more, err)
	}
	if doc.Status != "succeeded" || len(doc.Groups) != 2 ||
		doc.Groups[0].Group != "default" || doc.Groups[0].Table != "a" || doc.Groups[0].Rows != 9 || doc.Groups[0].Status != "succeeded" ||
		doc.Groups[1].Group != "g1" || doc.Groups[1].Table != "b" || doc.Groups[1].Rows != 9 ||
		doc.Groups[0].RunID == "" || doc.Groups[0].RunID == doc.Groups[1].RunID {
		t.Errorf("--json document %+v; want status succeeded and the reports of groups default (a) and g1 (b)", doc)
	}
	if n := strings.Count(r.stderr, "DBSYNC_TABLE__NOPE__QUERY"); n != 1 {
		t.Errorf("the warning about DBSYNC_TABLE__NOPE__QUERY is printed %d times, want once:\n%s", n, r.stderr)
	}
	if n := strings.Count(r.stderr, `msg="config loaded"`); n != 1 {
		t.Errorf("config loaded %d times, want once:\n%s", n, r.stderr)
	}
	lists := 0
	for _, c := range vault.Calls() {
		if c == "GET /secrets" {
			lists++
		}
	}
	if lists != 1 {
		t.Errorf("Key Vault listed %d times in one sync, want once: %q", lists, vault.Calls())
	}
	if a.count(a.dst, "a") != 9 || a.count(a.dst, "b") != 9 {
		t.Errorf("a has %d rows, b %d; want 9 each", a.count(a.dst, "a"), a.count(a.dst, "b"))
	}

	// One group asked for: the one report, as before.
	r = a.run(env, "sync", "--json", "--group", "g1")
	var one struct {
		RunID string `json:"run_id"`
		Table string `json:"table"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &one) != nil || one.Table != "b" || one.RunID == "" {
		t.Errorf("sync --group g1 --json: exit %d, stdout %s", r.code, r.stdout)
	}
}

// TestCLI_ZeroThresholds (#18 items 14, 16): max_delete = 0 forbids
// deletes and merge_max_changes = 0 forbids merging: 0 is a value, not
// "unset". A merge table replaced instead reports its stage_plan.
func TestCLI_ZeroThresholds(t *testing.T) {
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			a := newApp(t)
			mixedJob(a, 50, "max_delete = 1\nmerge_max_changes = 0")
			dst := replica(t, a, target)
			r := a.run(nil, "sync", "--target", target, "--json")
			if r.code != 0 {
				t.Fatalf("first run: exit %d\n%s", r.code, r.stderr)
			}
			if plan := stagePlan(t, r.stdout, "m"); plan == "" {
				t.Errorf("first run (m replaced: it does not exist yet): no stage_plan for m")
			}

			a.exec("UPDATE m SET name = 'changed' WHERE id = 3")
			r = a.run(nil, "sync", "--target", target, "--json")
			var rep2 mergeReport
			if err := json.Unmarshal([]byte(r.stdout), &rep2); err != nil || r.code != 0 {
				t.Fatalf("sync: exit %d (%v)\n%s", r.code, err, r.stderr)
			}
			if got := rep2.counts("m"); !strings.HasPrefix(got, "replace 50") || !strings.Contains(rep2.reason("m"), "merge_max_changes = 0") {
				t.Errorf("one update with merge_max_changes = 0: m is %q (%q); want it replaced instead, naming merge_max_changes", got, rep2.reason("m"))
			}
			if plan := stagePlan(t, r.stdout, "m"); plan == "" {
				t.Errorf("merge table replaced instead has no stage_plan")
			}
			if got, want := dump(t, dst, "m"), dump(t, a.src, "m"); got != want {
				t.Errorf("m differs from the source")
			}

			// mixedJob writes the source anew: id 3 is back as it was.
			mixedJob(a, 50, "max_delete = 0\nmerge_max_changes = 1")
			a.exec("DELETE FROM m WHERE id = 7")
			rep, _ := syncJSON(t, a, target, 1)
			if !strings.Contains(rep.Error, "max_delete = 0") {
				t.Errorf("one delete with max_delete = 0: %q; want the run refused naming max_delete", rep.Error)
			}
			if n := a.count(dst, "m"); n != 50 {
				t.Errorf("the refused merge changed m: %d rows", n)
			}
		})
	}
}

// stagePlan is table's stage_plan in a --json report.
func stagePlan(t *testing.T, report, table string) string {
	t.Helper()
	var rep struct {
		Tables []struct {
			Table     string `json:"table"`
			StagePlan string `json:"stage_plan"`
		} `json:"tables"`
	}
	if err := json.Unmarshal([]byte(report), &rep); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, report)
	}
	for _, tr := range rep.Tables {
		if tr.Table == table {
			return tr.StagePlan
		}
	}
	return ""
}

// TestCLI_DeltaHelperName (#18 item 9): a target named like another
// table's merge delta table is a configuration error, as the staging and
// old-copy names are: check and sync exit 2 naming the key, and nothing is
// created on the target.
func TestCLI_DeltaHelperName(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 4)
	a.extra = "[source]\nquery =\n[fallback]\nquery =\n[azure_mysql]\ntable =\n[sqlite]\ntable =\n" +
		"[table.a]\nquery = SELECT * FROM items\nmode = merge\n" +
		"[table.b]\nquery = SELECT * FROM items\ntarget = a__dbsync_delta\n"
	a.writeConfig()
	for _, cmd := range []string{"check", "sync"} {
		r := a.run(nil, cmd)
		if last := lastLine(r.stderr); r.code != exitUsage || !strings.Contains(last, "table.b.target") || !strings.Contains(last, "helper table") {
			t.Errorf("%s: exit %d, %q; want exit %d naming table.b.target as a helper table", cmd, r.code, last, exitUsage)
		}
	}
	var n int
	if err := a.dst.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&n); err != nil || n != 0 {
		t.Errorf("the refused config left %d tables on the target (%v)", n, err)
	}
}
