package mysqldb

import (
	"strings"
	"testing"

	dbsync "github.com/dbsync/dbsync/sync"
)

// TestPickKeyColumns: the target's key columns are found by name as MySQL
// compares names (case-insensitively), in the key's order, and a key
// column the table lacks is an error naming both.
func TestPickKeyColumns(t *testing.T) {
	cols := []mergeColumn{
		{TargetColumn: dbsync.TargetColumn{Name: "Name", DataType: "varchar"}, charset: "utf8mb4"},
		{TargetColumn: dbsync.TargetColumn{Name: "id", DataType: "int"}},
	}
	got, err := pickKeyColumns(cols, []dbsync.KeyColumn{{Name: "ID"}, {Name: "name"}}, "items")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "id" || got[1].Name != "Name" || got[1].charset != "utf8mb4" {
		t.Fatalf("picked %+v; want id then Name, as the table has them", got)
	}
	_, err = pickKeyColumns(cols, []dbsync.KeyColumn{{Name: "sku"}}, "items")
	if err == nil || !strings.Contains(err.Error(), "`items`") || !strings.Contains(err.Error(), "`sku`") {
		t.Fatalf("err %v; want one naming table `items` and column `sku`", err)
	}
}
