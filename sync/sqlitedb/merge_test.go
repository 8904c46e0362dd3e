package sqlitedb

import dbsync "github.com/dbsync/dbsync/sync"

import "testing"

func TestApplySQL_SQLite(t *testing.T) {
	s := applySQL("users", "users__dbsync_delta", []dbsync.TargetColumn{{Name: "id"}, {Name: "email"}}, []int{0}, []string{"email"})
	if want := `UPDATE "users__dbsync_delta" AS d SET "dbsync_op" = 'M' WHERE d."dbsync_op" = 'U' AND EXISTS (SELECT 1 FROM "users" WHERE d."id" = "users"."id" AND ((d."email" IS NOT "users"."email" COLLATE BINARY OR typeof(d."email") <> typeof("users"."email"))))`; s.mark != want {
		t.Errorf("sqlite mark:\ngot  %s\nwant %s", s.mark, want)
	}
}
