package mysqldb

import (
	"testing"

	dbsync "github.com/dbsync/dbsync/sync"
)

func TestApplySQL(t *testing.T) {
	cols := []mergeColumn{{TargetColumn: dbsync.TargetColumn{Name: "id", DataType: "int"}}, {TargetColumn: dbsync.TargetColumn{Name: "email", DataType: "varchar"}, charset: "utf8mb4"}, {TargetColumn: dbsync.TargetColumn{Name: "n", DataType: "int"}}}
	a := applySQL("users", "users__dbsync_delta", cols, []dbsync.KeyColumn{{Name: "id", Order: dbsync.OrderNumber}}, []int{0}, []string{"email"})
	for got, want := range map[string]string{
		a.mark:     "UPDATE `users__dbsync_delta` AS d JOIN `users` AS t ON t.`id` = d.`id` SET d.`dbsync_op` = 'M' WHERE d.`dbsync_op` = 'U' AND NOT (CAST(t.`email` AS BINARY) <=> CAST(d.`email` AS BINARY))",
		a.del:      "DELETE t FROM `users` AS t JOIN `users__dbsync_delta` AS d ON t.`id` = d.`id` WHERE d.`dbsync_op` = 'D'",
		a.delMoved: "DELETE t FROM `users` AS t JOIN `users__dbsync_delta` AS d ON t.`id` = d.`id` WHERE d.`dbsync_op` = 'M'",
		a.insert:   "INSERT INTO `users` (`id`, `email`, `n`) SELECT `id`, `email`, `n` FROM `users__dbsync_delta` WHERE `dbsync_op` IN ('I', 'M') ORDER BY `dbsync_seq`",
	} {
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	if b := applySQL("users", "d", cols, []dbsync.KeyColumn{{Name: "id", Order: dbsync.OrderNumber}}, []int{0}, nil); b.mark != "" {
		t.Errorf("no move columns, but a mark statement: %s", b.mark)
	}
}
