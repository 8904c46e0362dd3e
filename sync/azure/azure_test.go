package azure_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets/fake"

	"github.com/dbsync/dbsync/internal/dbtest"
	"github.com/dbsync/dbsync/sync"
	"github.com/dbsync/dbsync/sync/azure"
)

const fakeVaultURL = "https://dbsync-test.vault.azure.net"

// fakeVault is the SDK's own fake server (azsecrets/fake) holding secrets,
// with knobs for the failures the cases need.
type fakeVault struct {
	secrets   map[string]string
	disabled  map[string]bool
	expired   map[string]bool
	listErr   int // HTTP status for every list call
	getErr    map[string]int
	failFirst int // the first n requests answer 429
	mu        sync.Mutex
	gets      int
	lists     int
}

func (v *fakeVault) server() *fake.Server {
	return &fake.Server{
		NewListSecretPropertiesPager: func(*azsecrets.ListSecretPropertiesOptions) (resp azfake.PagerResponder[azsecrets.ListSecretPropertiesResponse]) {
			v.mu.Lock()
			v.lists++
			v.mu.Unlock()
			if v.listErr != 0 {
				resp.AddResponseError(v.listErr, "Forbidden")
				return
			}
			var props []*azsecrets.SecretProperties
			for name := range v.secrets {
				attrs := &azsecrets.SecretAttributes{Enabled: to.Ptr(!v.disabled[name])}
				if v.expired[name] {
					attrs.Expires = to.Ptr(time.Now().Add(-time.Hour))
				}
				props = append(props, &azsecrets.SecretProperties{ID: to.Ptr(azsecrets.ID(fakeVaultURL + "/secrets/" + name)), Attributes: attrs})
			}
			// Two pages, so paging is exercised.
			half := len(props) / 2
			resp.AddPage(http.StatusOK, azsecrets.ListSecretPropertiesResponse{SecretPropertiesListResult: azsecrets.SecretPropertiesListResult{Value: props[:half]}}, nil)
			resp.AddPage(http.StatusOK, azsecrets.ListSecretPropertiesResponse{SecretPropertiesListResult: azsecrets.SecretPropertiesListResult{Value: props[half:]}}, nil)
			return
		},
		GetSecret: func(_ context.Context, name, version string, _ *azsecrets.GetSecretOptions) (resp azfake.Responder[azsecrets.GetSecretResponse], errResp azfake.ErrorResponder) {
			v.mu.Lock()
			v.gets++
			v.mu.Unlock()
			if status := v.getErr[name]; status != 0 {
				errResp.SetResponseError(status, "Error")
				return
			}
			resp.SetResponse(http.StatusOK, azsecrets.GetSecretResponse{Secret: azsecrets.Secret{Value: to.Ptr(v.secrets[name])}}, nil)
			return
		},
	}
}

func (v *fakeVault) fetch(cred *azfake.TokenCredential) (map[string]string, error) {
	id := &azure.Identity{Credential: cred, Kind: "test credential"}
	var transport policy.Transporter = fake.NewServerTransport(v.server())
	if v.failFirst > 0 {
		transport = &throttleFirst{n: v.failFirst, next: transport}
	}
	return azure.FetchVaultSecrets(context.Background(), fakeVaultURL, dbsync.VaultSecretNames(), id,
		azure.VaultOptions{Transport: transport, RetryDelay: time.Millisecond})
}

// throttleFirst answers the first n requests with a real HTTP 429, as Key
// Vault does under load, then hands over to the fake server. (The fake's
// own error responses are returned as non-retriable errors, so they cannot
// show the SDK's retry policy at work.)
type throttleFirst struct {
	mu    sync.Mutex
	n     int
	tries int
	next  policy.Transporter
}

func (t *throttleFirst) Do(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.tries++
	throttle := t.n > 0
	if throttle {
		t.n--
	}
	t.mu.Unlock()
	if throttle {
		return &http.Response{StatusCode: http.StatusTooManyRequests, Status: "429 Too Many Requests",
			Header: http.Header{"Retry-After": {"0"}}, Body: http.NoBody, Request: req}, nil
	}
	return t.next.Do(req)
}

func TestKeyVault_Overlay(t *testing.T) {
	v := &fakeVault{secrets: map[string]string{
		"azure-mysql--password": "from-vault",
		"Source--User":          "vault-user", // Key Vault names are case-insensitive
		"unrelated--thing":      "ignored",
		"plain-secret":          "ignored",
	}}
	cfgPath := dbtest.WriteConfig(t, dbtest.ValidConfig+"\n[keyvault]\nurl = "+fakeVaultURL+"\n")
	cfg, err := dbsync.LoadConfig(dbsync.LoadInput{
		Path: cfgPath, Explicit: true, Options: dbsync.RunOptions{Target: "azure"},
		Environ: []string{"DBSYNC_AZURE_MYSQL_PASSWORD=from-env", "DBSYNC_SOURCE_PASSWORD=env-source-pw"},
		Secrets: func(url string, names []string) (map[string]string, error) {
			if url != fakeVaultURL {
				t.Errorf("vault url %q", url)
			}
			return v.fetch(&azfake.TokenCredential{})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.AzureMySQL.Password.Reveal(); got != "from-vault" {
		t.Errorf("azure_mysql.password = %q, want the vault's", got)
	}
	if cfg.Source.User != "vault-user" || cfg.Origin("source.user") != "Key Vault secret source--user" {
		t.Errorf("source.user = %q from %q", cfg.Source.User, cfg.Origin("source.user"))
	}
	// Not in the vault: the environment's value stays.
	if got := cfg.Source.Password.Reveal(); got != "env-source-pw" {
		t.Errorf("source.password = %q, want the environment's", got)
	}
	if v.lists != 1 || v.gets != 2 {
		t.Errorf("vault calls: %d lists, %d gets; want 1 list and a get for each of the 2 known secrets", v.lists, v.gets)
	}
}

func TestKeyVault_Errors(t *testing.T) {
	cases := []struct {
		name  string
		vault *fakeVault
		cred  error
		want  string
	}{
		{"disabled secret", &fakeVault{secrets: map[string]string{"azure-mysql--password": "x"}, disabled: map[string]bool{"azure-mysql--password": true}},
			nil, "Key Vault secret azure-mysql--password is disabled"},
		{"expired secret", &fakeVault{secrets: map[string]string{"source--password": "x"}, expired: map[string]bool{"source--password": true}},
			nil, "Key Vault secret source--password expired"},
		{"404 on get", &fakeVault{secrets: map[string]string{"source--password": "x"}, getErr: map[string]int{"source--password": 404}},
			nil, "secret source--password was listed but cannot be read"},
		{"403 on list", &fakeVault{listErr: 403}, nil, `grant it the "Key Vault Secrets User" role`},
		{"credential error", &fakeVault{}, errors.New("no managed identity is assigned"), "no managed identity is assigned"},
		{"500 on every get", &fakeVault{secrets: map[string]string{"source--password": "x"}, getErr: map[string]int{"source--password": 500}},
			nil, "get secret source--password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cred := &azfake.TokenCredential{}
			if tc.cred != nil {
				cred.SetError(tc.cred)
			}
			_, err := tc.vault.fetch(cred)
			var ce *dbsync.ConfigError
			if !errors.As(err, &ce) || ce.Key != "keyvault.url" {
				t.Fatalf("err %v, want a ConfigError on keyvault.url", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), `"x"`) {
				t.Errorf("error holds a secret value: %v", err)
			}
		})
	}
}

func TestKeyVault_RetriesThrottling(t *testing.T) {
	v := &fakeVault{secrets: map[string]string{"source--password": "pw"}, failFirst: 2}
	got, err := v.fetch(&azfake.TokenCredential{})
	if err != nil {
		t.Fatalf("fetch after 429s: %v", err)
	}
	if got["source--password"] != "pw" || v.gets != 1 || v.lists != 1 {
		t.Fatalf("got %v after %d lists and %d gets; want the value once the 2 throttled requests were retried", got, v.lists, v.gets)
	}
}
