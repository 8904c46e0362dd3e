// Package azure is dbsync's Azure side: the process's identity (managed
// identity in Azure, the developer chain elsewhere), the Entra ID tokens
// of auth = entra (a dbsync.TokenSource) and the config pipeline's Key
// Vault step (dbsync.LoadInput.Secrets). The engine imports no Azure SDK:
// handler wires this package in.
package azure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/dbsync/dbsync/sync"
)

var (
	_ dbsync.TokenSource = (*Azure)(nil)
	_ dbsync.TokenSource = (*Identity)(nil)
)

// Identity is the Azure credential this process uses for Key Vault and for
// auth = entra, with a description for messages.
type Identity struct {
	Credential azcore.TokenCredential
	// Kind says which credential it is, for logs and errors.
	Kind string
}

// Azure is the process's one Azure identity, made on first use (making it
// touches no network) and kept, since the SDK caches tokens inside it. The
// same Azure serves the config pipeline's Key Vault step (VaultSecrets) and
// the runner's Entra tokens (Token).
type Azure struct {
	getenv func(string) string
	once   sync.Once
	id     *Identity
	err    error
}

// NewAzure returns the identity NewIdentity picks from getenv, made when
// first needed.
func NewAzure(getenv func(string) string) *Azure { return &Azure{getenv: getenv} }

func (a *Azure) identity() (*Identity, error) {
	a.once.Do(func() { a.id, a.err = NewIdentity(a.getenv, nil) })
	return a.id, a.err
}

// Token returns an access token for scope (auth = entra).
func (a *Azure) Token(ctx context.Context, scope string) (string, error) {
	id, err := a.identity()
	if err != nil {
		return "", err
	}
	return id.Token(ctx, scope)
}

// VaultSecrets is the Key Vault step of the config pipeline
// (dbsync.LoadInput.Secrets): called once per run when [keyvault] url is set. It
// logs which secrets it applied and with which identity, never their values.
func (a *Azure) VaultSecrets(ctx context.Context, log *slog.Logger) func(vaultURL string, names []string) (map[string]string, error) {
	return func(vaultURL string, names []string) (map[string]string, error) {
		id, err := a.identity()
		if err != nil {
			return nil, &dbsync.ConfigError{Key: "keyvault.url", Value: vaultURL, Reason: "Key Vault needs an Azure identity", Err: err}
		}
		secrets, err := FetchVaultSecrets(ctx, vaultURL, names, id, VaultOptions{})
		if err != nil {
			return nil, err
		}
		found := make([]string, 0, len(secrets))
		for name := range secrets {
			found = append(found, name)
		}
		sort.Strings(found)
		log.Info("secrets read from Key Vault", "vault", vaultURL, "identity", id.Kind, "secrets", strings.Join(found, ","))
		return secrets, nil
	}
}

// NewIdentity picks the credential: in Azure (IDENTITY_ENDPOINT or
// MSI_ENDPOINT set by the platform) the function app's managed identity,
// user-assigned when AZURE_CLIENT_ID is set; elsewhere the developer chain
// (DefaultAzureCredential, which honours AZURE_TOKEN_CREDENTIALS, e.g.
// "dev" or "AzureCLICredential"). Creating it touches no network.
func NewIdentity(getenv func(string) string, transport policy.Transporter) (*Identity, error) {
	opts := azcore.ClientOptions{Transport: transport}
	if getenv("IDENTITY_ENDPOINT") != "" || getenv("MSI_ENDPOINT") != "" {
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		kind := "managed identity (system-assigned)"
		if id := getenv("AZURE_CLIENT_ID"); id != "" {
			o.ID = azidentity.ClientID(id)
			kind = "managed identity (user-assigned, client id " + id + ")"
		}
		cred, err := azidentity.NewManagedIdentityCredential(o)
		if err != nil {
			return nil, fmt.Errorf("set up %s: %w", kind, err)
		}
		return &Identity{Credential: cred, Kind: kind}, nil
	}
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: opts})
	if err != nil {
		return nil, fmt.Errorf("set up the developer credential chain (check AZURE_TOKEN_CREDENTIALS): %w", err)
	}
	return &Identity{Credential: cred, Kind: "developer credential chain (DefaultAzureCredential)"}, nil
}

// Token returns an access token for scope, with an error that says what to
// do when the credential fails.
func (id *Identity) Token(ctx context.Context, scope string) (string, error) {
	tok, err := id.Credential.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		return "", fmt.Errorf("get a token with the %s: %w (%s)", id.Kind, err, id.advice())
	}
	return tok.Token, nil
}

func (id *Identity) advice() string {
	if strings.HasPrefix(id.Kind, "managed identity") {
		return "enable the function app's managed identity (Identity blade), or set AZURE_CLIENT_ID to the client id of the user-assigned identity attached to it"
	}
	return "run `az login` (or set AZURE_TOKEN_CREDENTIALS to the credential you use), or leave [keyvault] url empty and pass secrets as DBSYNC_* environment variables"
}

// VaultOptions tune FetchVaultSecrets.
type VaultOptions struct {
	// Transport replaces the HTTP client (tests); nil uses the default.
	Transport policy.Transporter
	// Timeout bounds the whole fetch (default 30 s).
	Timeout time.Duration
	// RetryDelay is the first back-off after 429 or 5xx (default 500 ms).
	RetryDelay time.Duration
}

// FetchVaultSecrets reads the secrets among names that exist in the vault:
// it lists the vault once, then gets each wanted secret that is there.
// Unknown secrets are ignored; a wanted secret that is disabled or expired
// is an error naming it. Throttling (429) and server errors (5xx) are
// retried with exponential back-off within the deadline.
func FetchVaultSecrets(ctx context.Context, vaultURL string, names []string, id *Identity, o VaultOptions) (map[string]string, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 500 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	// Get a token first, so a credential problem is reported as one, with
	// what to do; the credential caches it for the calls below. The scope
	// is what the vault's challenge names: its host without the vault's
	// own name (vault.azure.net, or a sovereign cloud's).
	u, err := url.Parse(vaultURL)
	if err != nil || u.Scheme != "https" || !strings.Contains(u.Hostname(), ".") {
		return nil, &dbsync.ConfigError{Key: "keyvault.url", Value: vaultURL, Reason: "want https://<vault-name>.vault.azure.net"}
	}
	_, domain, _ := strings.Cut(u.Host, ".")
	if _, err := id.Token(ctx, "https://"+domain+"/.default"); err != nil {
		return nil, &dbsync.ConfigError{Key: "keyvault.url", Value: vaultURL, Reason: "Key Vault needs an Azure identity", Err: err}
	}
	client, err := azsecrets.NewClient(vaultURL, id.Credential, &azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: o.Transport,
		Retry: policy.RetryOptions{
			MaxRetries:    5,
			RetryDelay:    o.RetryDelay,
			MaxRetryDelay: 8 * time.Second,
			StatusCodes:   []int{http.StatusRequestTimeout, http.StatusTooManyRequests, 500, 502, 503, 504},
		},
	}})
	if err != nil {
		return nil, vaultError(vaultURL, "", "open the vault", err, id)
	}
	// Key Vault names are case-insensitive, so a secret created as
	// table--Orders--query is the one wanted as table--orders--query:
	// wanted maps the lower-case name to the name dbsync asks for.
	// https://learn.microsoft.com/azure/key-vault/general/about-keys-secrets-certificates#object-identifiers
	wanted := map[string]string{}
	for _, n := range names {
		wanted[strings.ToLower(n)] = n
	}
	present := map[string]*azsecrets.SecretProperties{} // by the wanted name
	pager := client.NewListSecretPropertiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, vaultError(vaultURL, "", "list secrets", err, id)
		}
		for _, p := range page.Value {
			if p == nil || p.ID == nil {
				continue
			}
			if name, ok := wanted[strings.ToLower(p.ID.Name())]; ok {
				present[name] = p
			}
		}
	}
	found := make([]string, 0, len(present))
	for name := range present {
		found = append(found, name)
	}
	sort.Strings(found)
	out := map[string]string{}
	now := time.Now()
	for _, name := range found {
		if a := present[name].Attributes; a != nil {
			if a.Enabled != nil && !*a.Enabled {
				return nil, &dbsync.ConfigError{Key: "keyvault.url", Value: vaultURL, Reason: fmt.Sprintf("Key Vault secret %s is disabled: enable it, or delete it to use the value from the environment or config.ini", name)}
			}
			if a.Expires != nil && a.Expires.Before(now) {
				return nil, &dbsync.ConfigError{Key: "keyvault.url", Value: vaultURL, Reason: fmt.Sprintf("Key Vault secret %s expired at %s: set a new version or remove its expiry", name, a.Expires.UTC().Format(time.RFC3339))}
			}
		}
		resp, err := client.GetSecret(ctx, present[name].ID.Name(), "", nil)
		if err != nil {
			return nil, vaultError(vaultURL, name, "get secret "+name, err, id)
		}
		if resp.Value == nil {
			return nil, &dbsync.ConfigError{Key: "keyvault.url", Value: vaultURL, Reason: fmt.Sprintf("Key Vault secret %s has no value", name)}
		}
		out[name] = *resp.Value
	}
	return out, nil
}

// vaultError turns an SDK error into a ConfigError that says what to do.
// Key Vault problems are setup problems: they stop the run before any
// database is touched.
func vaultError(vaultURL, secret, what string, err error, id *Identity) error {
	var re *azcore.ResponseError
	var authErr *azidentity.AuthenticationFailedError
	reason := fmt.Sprintf("Key Vault: %s", what)
	switch {
	case errors.As(err, &re) && (re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized):
		reason += fmt.Sprintf(": the %s may not read this vault's secrets (HTTP %d %s): grant it the \"Key Vault Secrets User\" role on the vault (or Get and List in its access policies)", id.Kind, re.StatusCode, re.ErrorCode)
		return &dbsync.ConfigError{Key: "keyvault.url", Value: vaultURL, Reason: reason}
	case errors.As(err, &re) && re.StatusCode == http.StatusNotFound && secret != "":
		reason += fmt.Sprintf(": secret %s was listed but cannot be read (HTTP 404)", secret)
		return &dbsync.ConfigError{Key: "keyvault.url", Value: vaultURL, Reason: reason}
	case errors.As(err, &authErr):
		reason += fmt.Sprintf(": the %s could not get a token (%s)", id.Kind, id.advice())
	case errors.Is(err, context.DeadlineExceeded):
		reason += ": no answer within the deadline; check the vault URL and network access to it"
	}
	return &dbsync.ConfigError{Key: "keyvault.url", Value: vaultURL, Reason: reason, Err: err}
}
