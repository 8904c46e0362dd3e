package main

import (
	"context"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"

	dbsync "github.com/dbsync/dbsync/sync"
)

// azureIdentity is the process's Azure credential, made on first use (no
// network) and kept: the SDK caches tokens inside it.
type azureIdentity struct {
	once sync.Once
	id   *dbsync.Identity
	err  error
}

func (a *azureIdentity) get() (*dbsync.Identity, error) {
	a.once.Do(func() { a.id, a.err = dbsync.NewIdentity(os.Getenv, nil) })
	return a.id, a.err
}

// token is the Runner's token source for auth = entra.
func (a *azureIdentity) token(ctx context.Context, scope string) (string, error) {
	id, err := a.get()
	if err != nil {
		return "", err
	}
	return id.Token(ctx, scope)
}

// vaultSecrets is the Key Vault step of the config pipeline: called once
// per run when [keyvault] url is set. It logs which secrets it applied,
// never their values.
func vaultSecrets(ctx context.Context, ident *azureIdentity, log *slog.Logger) func(string, []string) (map[string]string, error) {
	return func(vaultURL string, names []string) (map[string]string, error) {
		id, err := ident.get()
		if err != nil {
			return nil, &dbsync.ConfigError{Key: "keyvault.url", Value: vaultURL, Reason: "Key Vault needs an Azure identity", Err: err}
		}
		secrets, err := dbsync.FetchVaultSecrets(ctx, vaultURL, names, id, dbsync.VaultOptions{})
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
