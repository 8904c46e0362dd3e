package main

import (
	"strings"
	"testing"

	"github.com/dbsync/dbsync/internal/azuretest"
)

// TestBinary_KeyVault runs the real binary as it runs in Azure: a managed
// identity (IDENTITY_ENDPOINT/IDENTITY_HEADER), DBSYNC_KEYVAULT_URL, and
// the target password only in the vault. HTTPS_PROXY sends the vault's
// real-looking address to the local fake and SSL_CERT_FILE trusts its CA,
// so the binary needs no test hook and nothing leaves the machine.
func TestBinary_KeyVault(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 7)
	const vaultToken = "e2e-vault-token-0123456789abcdef"
	vault, err := azuretest.NewVault(t.TempDir(), "dbsync-e2e", vaultToken, map[string]azuretest.Secret{
		"azure-mysql--password": {Value: azure.Password},
		"unrelated":             {Value: "not-ours"},
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
	a.extra = "[azure_mysql]\npassword =\n"
	a.writeConfig()
	env := []string{
		"IDENTITY_ENDPOINT=" + idp.URL, "IDENTITY_HEADER=" + idp.Header,
		"HTTPS_PROXY=" + proxy.URL, "SSL_CERT_FILE=" + vault.CAFile,
		"DBSYNC_KEYVAULT_URL=" + vault.URL,
	}
	secrets := []string{azure.Password, primary.Password, vaultToken}

	r := a.run(env, "sync", "--json")
	if r.code != 0 {
		t.Fatalf("sync: exit %d\n%s", r.code, r.stderr)
	}
	if n := a.count(a.dst, "items"); n != 7 {
		t.Fatalf("target has %d rows", n)
	}
	if !strings.Contains(r.stderr, `msg="secrets read from Key Vault"`) || !strings.Contains(r.stderr, "secrets=azure-mysql--password") ||
		!strings.Contains(r.stderr, "managed identity (system-assigned)") {
		t.Errorf("no log of which secrets came from the vault:\n%s", r.stderr)
	}
	noSecrets(t, secrets, r.stdout, r.stderr)

	r = a.run(env, "check")
	if r.code != 0 || !strings.Contains(r.stdout, "azure_mysql.password         from Key Vault secret azure-mysql--password") {
		t.Fatalf("check: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	noSecrets(t, secrets, r.stdout, r.stderr)

	// The same under the emulated Functions host.
	a.exec("DELETE FROM items WHERE id > 3")
	h := startHandler(t, a, env...)
	code, ir := h.timerRun("timer.json", "inv-kv")
	if code != 200 || a.count(a.dst, "items") != 3 {
		t.Fatalf("timer with Key Vault: %d %v", code, ir.Logs)
	}
	h.kill()
	noSecrets(t, secrets, strings.Join(h.lines(false), "\n"), strings.Join(h.lines(true), "\n"))

	// Without access to the vault: a clear error, exit 2, target untouched.
	r = a.run(append(env[:4:4], "DBSYNC_KEYVAULT_URL=https://dbsync-e2e.vault.azure.net", "IDENTITY_HEADER=wrong"), "sync")
	if r.code != exitUsage || !strings.Contains(lastLine(r.stderr), "keyvault.url") || !strings.Contains(lastLine(r.stderr), "managed identity") {
		t.Fatalf("broken identity: exit %d\n%s", r.code, r.stderr)
	}
	noSecrets(t, secrets, r.stdout, r.stderr)
	if n := a.count(a.dst, "items"); n != 3 {
		t.Fatalf("target changed: %d rows", n)
	}
}

func noSecrets(t *testing.T, secrets []string, outputs ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, out := range outputs {
			if i := strings.Index(out, s); i >= 0 {
				t.Fatalf("a secret appears in the output: …%s…", out[max(0, i-60):min(len(out), i+len(s)+10)])
			}
		}
	}
}
