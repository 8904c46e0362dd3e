package main

import (
	"context"
	"log/slog"

	dbsync "github.com/dbsync/dbsync/sync"
)

// vaultSecrets returns the Key Vault step of the config pipeline.
func vaultSecrets(ctx context.Context, log *slog.Logger) func(string, []string) (map[string]string, error) {
	return func(url string, names []string) (map[string]string, error) {
		return nil, &dbsync.ConfigError{Key: "keyvault.url", Value: url, Reason: "Key Vault is not supported by this build; unset it and pass secrets as app settings (DBSYNC_AZURE_MYSQL_PASSWORD)"}
	}
}
