package mysqldb

import (
	"strings"
	"testing"
)

// benchRow is one row of the benchmark table as the source delivers it.
var benchRow = [][]byte{
	[]byte("123456"), []byte("Eve 🚀 123456"), []byte("user123456@example.com"), []byte("7919.1234"),
	[]byte("17636.571428571428"), []byte("1"), []byte("2020-01-15 06:17:36.000000"), nil,
	[]byte("note 123456\t\"tab\"\nline\\xxxxxxxxxxxxxxxxxxxxxxxxxxxxx'q'"), []byte(`{"k": 123456, "tags": ["a", "b"]}`),
	[]byte("\x8d\x96\x9e\xef\x6e\xca\xd3\xc2\x9a\x3a\x62\x92\x80\xe6\x86\xcf\x0c\x3f\x5d\x5a\x86\xaf\xf3\xca\x12\x02\x0c\x92\x3a\xdc\x6c\x92"),
}

var benchCols = func() []loadColumn {
	cols := make([]loadColumn, len(benchRow))
	cols[len(cols)-1].mode = encHex
	return cols
}()

func TestAppendTSVRow(t *testing.T) {
	cells := [][]byte{[]byte("a\tb\nc\\d\x00e"), nil, {}, []byte(`\N`), []byte{0, 0xff}, []byte{1, 2}}
	cols := []loadColumn{{}, {}, {}, {}, {mode: encHex}, {mode: encBitToDigit}}
	row, _ := appendTSVRow(nil, nil, cells, cols)
	want := "a\\tb\\nc\\\\d\\0e\t\\N\t\t\\\\N\t00ff\t258\n"
	if string(row) != want {
		t.Errorf("got  %q\nwant %q", row, want)
	}
}

// TestAppendTSVRow_NoAllocs: once its buffers have grown, the encoder
// allocates nothing per row.
func TestAppendTSVRow_NoAllocs(t *testing.T) {
	row, scratch := appendTSVRow(nil, nil, benchRow, benchCols)
	allocs := testing.AllocsPerRun(1000, func() {
		row, scratch = appendTSVRow(row[:0], scratch, benchRow, benchCols)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per row", allocs)
	}
}

func TestAppendSQLValue(t *testing.T) {
	cases := []struct {
		cell []byte
		mode encoding
		want string
	}{
		{nil, encText, "NULL"},
		{[]byte{}, encText, "''"},
		{[]byte("it's \\ \"q\"\n\r\x00\x1a"), encText, `'it\'s \\ \"q\"\n\r\0\Z'`},
		{[]byte{0, 0xff}, encHex, "X'00ff'"},
		{[]byte("42"), encNumber, "42"},
		{[]byte{1, 0}, encBitToDigit, "'256'"},
	}
	for _, c := range cases {
		got, _, err := appendSQLValue(nil, nil, c.cell, c.mode)
		if err != nil || string(got) != c.want {
			t.Errorf("%q mode %d: got %s, %v; want %s", c.cell, c.mode, got, err, c.want)
		}
	}
	if _, _, err := appendSQLValue(nil, nil, []byte("1; DROP TABLE x"), encNumber); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Errorf("non-number into BIT: %v", err)
	}
}

func BenchmarkAppendTSVRow(b *testing.B) {
	row, scratch := appendTSVRow(nil, nil, benchRow, benchCols)
	b.ReportAllocs()
	b.SetBytes(int64(len(row)))
	for b.Loop() {
		row, scratch = appendTSVRow(row[:0], scratch, benchRow, benchCols)
	}
}

// BenchmarkInsertBatch encodes rows into INSERT statements as insertRows
// does, 2 MiB a batch.
func BenchmarkInsertBatch(b *testing.B) {
	batch := make([]byte, 0, 2<<20)
	var scratch []byte
	row := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		row = append(row[:0], '(')
		for i, cell := range benchRow {
			if i > 0 {
				row = append(row, ',')
			}
			row, scratch, _ = appendSQLValue(row, scratch, cell, benchCols[i].mode)
		}
		row = append(row, ')')
		if len(batch)+len(row)+1 > cap(batch) {
			batch = batch[:0]
		}
		batch = append(append(batch, ','), row...)
	}
}

func TestEnumListsEmpty(t *testing.T) {
	for _, c := range []struct {
		columnType string
		want       bool
	}{
		{"enum('a','b')", false},
		{"enum('','a')", true},
		{"enum('a','')", true},
		{"enum('')", true},
		{"enum('''','a')", false},
		{"enum('it''s','x,''')", false},
		{"enum('a\\\\','')", true},
		{"set('','a')", false},
		{"varchar(10)", false},
	} {
		if got := enumListsEmpty(c.columnType); got != c.want {
			t.Errorf("enumListsEmpty(%s) = %v, want %v", c.columnType, got, c.want)
		}
	}
}

func TestAppendFloat32Exact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"3.4028235e+38", "3.4028234663852886e+38"},
		{"-3.4028235e+38", "-3.4028234663852886e+38"},
		{"1e-45", "1.401298464324817e-45"},
		{"-0", "-0"},
		{"0.1234567", "0.12345670163631439"},
		{"not a number", "not a number"},
	} {
		if got := string(appendFloat32Exact(nil, []byte(c.in))); got != c.want {
			t.Errorf("appendFloat32Exact(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}
