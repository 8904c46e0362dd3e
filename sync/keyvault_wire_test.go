package dbsync_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/dbsync/dbsync/internal/azuretest"
	"github.com/dbsync/dbsync/sync"
	azureid "github.com/dbsync/dbsync/sync/azure"
)

const (
	vaultToken = "vault-token-eyJ0eXAiOiJKV1QifQ.fake"
	mysqlToken = "mysql-token-eyJhbGciOiJSUzI1NiJ9.fake-entra-access-token-0123456789"
)

// azureFakes starts the fake vault and managed-identity endpoint and points
// this process's IDENTITY_ENDPOINT/IDENTITY_HEADER at it, as App Service
// does for a function app.
func azureFakes(t *testing.T, secrets map[string]azuretest.Secret) (*azuretest.Vault, *azuretest.IdentityEndpoint) {
	t.Helper()
	vault, err := azuretest.NewVault(t.TempDir(), "dbsync-wire", vaultToken, secrets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vault.Close)
	idp := azuretest.NewIdentityEndpoint(map[string]string{
		"https://vault.azure.net":                   vaultToken,
		"https://ossrdbms-aad.database.windows.net": mysqlToken,
	})
	t.Cleanup(idp.Close)
	t.Setenv("IDENTITY_ENDPOINT", idp.URL)
	t.Setenv("IDENTITY_HEADER", idp.Header)
	return vault, idp
}

// TestKeyVault_Wire runs the real ManagedIdentityCredential and
// azsecrets.Client against Key Vault's REST API: the 401 challenge, list
// with nextLink paging, get; then a full sync whose target password exists
// only in the vault.
func TestKeyVault_Wire(t *testing.T) {
	e := newEnv(t, azure)
	seedItems(t, e.srcDBConn(), 9)
	vault, idp := azureFakes(t, map[string]azuretest.Secret{
		"azure-mysql--password": {Value: e.target.Password},
		"source--password":      {Value: primary.Password},
		"a-other":               {Value: "x1"},
		"b-other":               {Value: "x2"},
		"c-other":               {Value: "x3"},
	})
	t.Setenv("AZURE_CLIENT_ID", "22222222-2222-2222-2222-222222222222")
	// Passwords only in the vault: config.ini holds none.
	e.extra = "[keyvault]\nurl = " + vault.URL + "\n[azure_mysql]\npassword =\n[source]\npassword =\n"
	id, err := azureid.NewIdentity(os.Getenv, vault.HTTPClient())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(id.Kind, "user-assigned") {
		t.Errorf("identity %q; want the user-assigned managed identity", id.Kind)
	}
	var logs strings.Builder
	path := e.dir + "/config.ini"
	if err := os.WriteFile(path, []byte(e.configText()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := dbsync.LoadConfig(dbsync.LoadInput{Path: path, Explicit: true,
		Secrets: func(url string, names []string) (map[string]string, error) {
			return azureid.FetchVaultSecrets(context.Background(), url, names, id, azureid.VaultOptions{Transport: vault.HTTPClient()})
		}})
	if err != nil {
		t.Fatalf("load config through the vault: %v", err)
	}
	if o := cfg.Origin("azure_mysql.password"); o != "Key Vault secret azure-mysql--password" {
		t.Errorf("azure_mysql.password from %q", o)
	}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(&logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
	err = newRunner(log).Run(context.Background(), cfg, rep, log)
	if err != nil {
		t.Fatalf("sync with vault secrets: %v", err)
	}
	if n := count(t, e.dstDBConn(), "items"); n != 9 {
		t.Fatalf("target has %d rows", n)
	}
	// One list (3 pages of 2), then a get per known secret; unknown ones
	// are never fetched.
	var lists int
	var gets []string
	for _, c := range vault.Calls() {
		if c == "GET /secrets" {
			lists++
		} else {
			gets = append(gets, c)
		}
	}
	if lists != 3 || strings.Join(gets, ",") != "GET /secrets/azure-mysql--password,GET /secrets/source--password" {
		t.Errorf("vault calls: %d list pages, gets %v; want 3 pages and one get per known secret", lists, gets)
	}
	if logs.Len() == 0 {
		t.Fatal("no logs captured")
	}
	if ids := idp.ClientIDs(); len(ids) == 0 || ids[0] != "22222222-2222-2222-2222-222222222222" {
		t.Errorf("identity endpoint saw client ids %v; want the user-assigned one", ids)
	}
	assertNoSecrets(t, []string{e.target.Password, primary.Password, vaultToken}, fmt.Sprintf("%+v", rep), logs.String(), fmt.Sprintf("%+v %#v", cfg, cfg))
}

// TestKeyVault_WireThrottled: 429s on the wire are retried by the SDK.
func TestKeyVault_WireThrottled(t *testing.T) {
	vault, _ := azureFakes(t, map[string]azuretest.Secret{"source--password": {Value: "pw"}})
	vault.FailStatus, vault.FailFirst = 429, 2
	id, err := azureid.NewIdentity(os.Getenv, vault.HTTPClient())
	if err != nil {
		t.Fatal(err)
	}
	got, err := azureid.FetchVaultSecrets(context.Background(), vault.URL, dbsync.VaultSecretNames(), id, azureid.VaultOptions{Transport: vault.HTTPClient(), RetryDelay: 1})
	if err != nil || got["source--password"] != "pw" {
		t.Fatalf("got %v, %v", got, err)
	}
}

// TestEntra_MySQLLogin: auth = entra logs in with a token from the
// managed-identity endpoint as the password. A MariaDB user whose password
// is that token (over TLS) stands in for an Entra ID user on Azure MySQL.
func TestEntra_MySQLLogin(t *testing.T) {
	e := newEnv(t, azure)
	seedItems(t, e.srcDBConn(), 4)
	_, idp := azureFakes(t, nil)
	user := "entra_" + strings.ReplaceAll(e.targetDB, "dst_", "")
	azure.MustExec(t,
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s' REQUIRE SSL", user, mysqlToken),
		fmt.Sprintf("GRANT ALL ON `%s`.* TO '%s'@'%%'", e.targetDB, user))
	e.extra = fmt.Sprintf("[azure_mysql]\nauth = entra\nuser = %s\npassword =\n", user)
	cfg, err := e.config(dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := azureid.NewIdentity(os.Getenv, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := testLogger(t)
	runner := newRunner(log)
	runner.Tokens = id
	rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
	if err := runner.Run(context.Background(), cfg, rep, log); err != nil {
		t.Fatalf("entra sync: %v", err)
	}
	if n := count(t, e.dstDBConn(), "items"); n != 4 {
		t.Fatalf("target has %d rows", n)
	}
	if reqs := idp.Requests(); len(reqs) == 0 || reqs[0] != "https://ossrdbms-aad.database.windows.net" {
		t.Errorf("token requests %v", reqs)
	}
	assertNoSecrets(t, []string{mysqlToken}, fmt.Sprintf("%+v", rep))

	// Refused below verified TLS: the token would cross in clear.
	e.extra += "ssl_mode = required\n"
	_, err = e.config(dbsync.RunOptions{})
	var ce *dbsync.ConfigError
	if !errors.As(err, &ce) || ce.Key != "azure_mysql.ssl_mode" {
		t.Fatalf("auth = entra with ssl_mode = required: %v", err)
	}
}

func assertNoSecrets(t *testing.T, secrets []string, outputs ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, out := range outputs {
			if strings.Contains(out, s) {
				t.Fatalf("a secret appears in the output: …%s…", out[max(0, strings.Index(out, s)-40):min(len(out), strings.Index(out, s)+len(s)+10)])
			}
		}
	}
}
