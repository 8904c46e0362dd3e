package dbsync

import (
	"bytes"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

func TestPlanStage(t *testing.T) {
	src := []Column{{Name: "id", Kind: KindInt}, {Name: "Name", Kind: KindText}}
	cases := []struct {
		name       string
		existing   []TargetColumn
		policy     string
		fromSource bool
		order      []int
		diffs      []string // substrings, in order
		wantErr    bool
		warns      bool
	}{
		{name: "no target table: from the source", policy: SchemaFail, fromSource: true},
		{name: "same columns, other order and case", policy: SchemaFail,
			existing: []TargetColumn{{Name: "name", DataType: "text"}, {Name: "ID", DataType: "int"}}, order: []int{1, 0}},
		{name: "extra nullable target column is fine", policy: SchemaFail,
			existing: []TargetColumn{{Name: "id"}, {Name: "name"}, {Name: "note"}}, order: []int{0, 1}},
		{name: "source column missing, fail", policy: SchemaFail,
			existing: []TargetColumn{{Name: "id"}}, diffs: []string{"source column `Name` is not in the target table"}, wantErr: true},
		{name: "required target column missing, fail", policy: SchemaFail,
			existing: []TargetColumn{{Name: "id"}, {Name: "name"}, {Name: "must", Required: true}}, diffs: []string{"target column `must` (NOT NULL, no default)"}, wantErr: true},
		{name: "generated target column, fail", policy: SchemaFail,
			existing: []TargetColumn{{Name: "id"}, {Name: "name", Generated: true}}, diffs: []string{"source column `Name` is a generated column"}, wantErr: true},
		{name: "differences with recreate: rebuild and warn", policy: SchemaRecreate,
			existing: []TargetColumn{{Name: "id"}}, fromSource: true, diffs: []string{"source column `Name` is not in the target table"}, warns: true},
		{name: "no differences with recreate: keep the table", policy: SchemaRecreate,
			existing: []TargetColumn{{Name: "id"}, {Name: "name"}}, order: []int{0, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logged bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logged, nil))
			plan, err := PlanStage("items", src, tc.existing, tc.policy, log)
			diffs := plan.differences
			var se *schemaError
			if errors.As(err, &se) {
				diffs = se.Differences
				if se.Table != "items" {
					t.Errorf("schema error names table %q", se.Table)
				}
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if plan.FromSource != tc.fromSource || !reflect.DeepEqual(plan.Order, tc.order) {
				t.Errorf("plan %+v, want fromSource %v order %v", plan, tc.fromSource, tc.order)
			}
			if len(diffs) != len(tc.diffs) {
				t.Fatalf("differences %q, want %d", diffs, len(tc.diffs))
			}
			for i, d := range tc.diffs {
				if !strings.Contains(diffs[i], d) {
					t.Errorf("difference %q does not say %q", diffs[i], d)
				}
			}
			if warned := strings.Contains(logged.String(), "level=WARN") && strings.Contains(logged.String(), "on_schema_change = recreate"); warned != tc.warns {
				t.Errorf("warning logged = %v, want %v: %s", warned, tc.warns, logged.String())
			}
			if plan2, err2 := PlanStage("items", src, tc.existing, tc.policy, nil); !reflect.DeepEqual(plan, plan2) || (err == nil) != (err2 == nil) {
				t.Errorf("without a log the plan differs: %+v %v", plan2, err2)
			}
		})
	}
}
