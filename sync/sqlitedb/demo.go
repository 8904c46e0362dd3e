package sqlitedb

import (
	"context"
	"fmt"
	"time"
)

// WriteDemoData (re)creates the table "items" with n sample rows in the
// SQLite file at path. It exists for the demo and the tests; a sync never
// calls it.
func WriteDemoData(ctx context.Context, path string, n int) error {
	db, err := Open(path, false)
	if err != nil {
		return fmt.Errorf("open demo database %s: %w", path, err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range []string{
		`DROP TABLE IF EXISTS items`,
		`CREATE TABLE items (
			id INTEGER PRIMARY KEY,
			name TEXT NOT NULL,
			price DECIMAL(10,2),
			weight REAL,
			in_stock BOOLEAN,
			added DATETIME,
			notes TEXT,
			thumbnail BLOB
		)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create demo table: %w", err)
		}
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO items VALUES (?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	base := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	names := []string{"bolt", "nut", "washer", "gear ⚙", "spring", "café mug", "naïve widget", "🚀 rocket"}
	for i := 1; i <= n; i++ {
		var notes any
		if i%3 == 0 {
			notes = fmt.Sprintf("batch %d\tline two\nback\\slash 'quoted'", i/3)
		}
		_, err := stmt.ExecContext(ctx, i, names[i%len(names)]+fmt.Sprintf(" #%d", i),
			fmt.Sprintf("%d.%02d", i%500, i%100), float64(i)*0.25, i%2 == 0,
			base.Add(time.Duration(i)*time.Minute).Format("2006-01-02 15:04:05"),
			notes, []byte{byte(i), 0, '\\', '\t', byte(i >> 8)})
		if err != nil {
			return fmt.Errorf("insert demo row %d: %w", i, err)
		}
	}
	return tx.Commit()
}
