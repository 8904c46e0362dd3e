package mysqldb

import (
	"bytes"
	"testing"
)

// FuzzAppendTSVRow: whatever the bytes, encoding a row and reading it back
// by LOAD DATA's rules gives the same values, NULL stays NULL, and the row
// has exactly one unescaped newline, at its end.
func FuzzAppendTSVRow(f *testing.F) {
	for _, seed := range [][2][]byte{
		{[]byte("plain"), []byte("")},
		{[]byte(`\N`), []byte("NULL")},
		{[]byte("tab\there\nnew\\line"), []byte{0, 0xff, '\\'}},
		{[]byte("\\"), []byte("\\\\N")},
		{[]byte("é🚀\r\x1a"), []byte("\x00")},
	} {
		f.Add(seed[0], seed[1], false)
	}
	f.Fuzz(func(t *testing.T, a, b []byte, bNull bool) {
		if a == nil {
			a = []byte{}
		}
		if bNull {
			b = nil
		} else if b == nil {
			b = []byte{}
		}
		row, _ := appendTSVRow(nil, nil, [][]byte{a, b}, []loadColumn{{}, {}})
		if bytes.Count(row, []byte("\n")) != 1 || row[len(row)-1] != '\n' {
			t.Fatalf("row %q has an unescaped newline inside", row)
		}
		fields := splitTSVRow(row)
		if len(fields) != 2 {
			t.Fatalf("row %q splits into %d fields", row, len(fields))
		}
		for i, want := range [][]byte{a, b} {
			got, null := unescapeTSV(fields[i])
			if null != (want == nil) || !bytes.Equal(got, want) {
				t.Fatalf("field %d: %q (null %v) read back as %q (null %v)", i, want, want == nil, got, null)
			}
		}
	})
}

// unescapeTSV reads one field the way LOAD DATA does with FIELDS
// TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n': \N alone is
// NULL; \0 \b \n \r \t \Z map to their bytes; a backslash before any other
// byte stands for that byte.
func unescapeTSV(field []byte) (value []byte, null bool) {
	if bytes.Equal(field, []byte(`\N`)) {
		return nil, true
	}
	out := []byte{}
	for i := 0; i < len(field); i++ {
		c := field[i]
		if c != '\\' || i+1 == len(field) {
			out = append(out, c)
			continue
		}
		i++
		switch field[i] {
		case '0':
			out = append(out, 0)
		case 'b':
			out = append(out, '\b')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'Z':
			out = append(out, 0x1a)
		default:
			out = append(out, field[i])
		}
	}
	return out, false
}

// splitTSVRow splits an encoded row on unescaped tabs, dropping the final
// newline.
func splitTSVRow(row []byte) [][]byte {
	row = bytes.TrimSuffix(row, []byte("\n"))
	var fields [][]byte
	start := 0
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++
		case '\t':
			fields = append(fields, row[start:i])
			start = i + 1
		}
	}
	return append(fields, row[start:])
}
