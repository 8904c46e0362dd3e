package mysqldb

import (
	"context"
	"time"

	dbsync "github.com/dbsync/dbsync/sync"
)

var history = dbsync.HistoryDialect{
	Quote: dbsync.QuoteMySQL,
	Types: map[dbsync.HistoryType]string{
		dbsync.HistoryKey: "VARCHAR(64) NOT NULL", dbsync.HistoryWord: "VARCHAR(16)", dbsync.HistoryName: "VARCHAR(64) NOT NULL DEFAULT ''",
		dbsync.HistoryText: "TEXT", dbsync.HistoryInt: "BIGINT", dbsync.HistoryFloat: "DOUBLE", dbsync.HistoryTime: "DATETIME(6) NULL", dbsync.HistoryBool: "BOOLEAN",
	},
	// The session's time zone is UTC; DATETIME(6) keeps microseconds (MySQL
	// 8 would round finer digits, MariaDB truncates: truncate for both).
	Time:         func(v time.Time) any { return v.UTC().Truncate(time.Microsecond) },
	TableOptions: ", PRIMARY KEY (`run_id`, `table`), KEY `started_at` (`started_at`)) DEFAULT CHARSET=utf8mb4",
	ColumnsSQL:   "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
	KeySQL:       "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY'",
	Rekey: func(ctx context.Context, h dbsync.HistoryStore) error {
		q := h.Dialect.Quote
		if _, err := h.Db.ExecContext(ctx, "UPDATE "+h.Table()+" SET "+q("table")+" = '' WHERE "+q("table")+" IS NULL"); err != nil {
			return err
		}
		_, err := h.Db.ExecContext(ctx, "ALTER TABLE "+h.Table()+" MODIFY "+q("table")+" "+h.Dialect.Types[dbsync.HistoryName]+", DROP PRIMARY KEY, ADD PRIMARY KEY ("+q("run_id")+", "+q("table")+")")
		return err
	},
}
