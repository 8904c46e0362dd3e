package mysqldb

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unsafe"

	dbsync "github.com/dbsync/dbsync/sync"
)

// encoding says how one cell is written for the target column.
type encoding int

const (
	encText       encoding = iota // the text as it is
	encHex                        // bytes as hex, decoded by the server (binary and BIT columns)
	encNumber                     // an unsigned number sent as a number, not a string (BIT, YEAR)
	encBitToDigit                 // BIT bytes into a non-BIT column, as a decimal number
	encFloat32                    // a FLOAT source value into a FLOAT column, printed exactly
)

// encodingFor picks how a source kind is written into a target column of
// the given MySQL DATA_TYPE. Binary data travels as hex so that no byte is
// reinterpreted through the connection's character set. A number goes
// into YEAR as a number: YEAR reads the string '0' (how the binary
// protocol prints YEAR 0000) and even '0000' as 2000, the number 0 as 0000
// (https://dev.mysql.com/doc/refman/8.0/en/year.html).
func encodingFor(src dbsync.ColumnKind, dataType string) encoding {
	switch dataType {
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return encHex
	case "bit":
		if src == dbsync.KindBit || src == dbsync.KindBinary {
			return encHex
		}
		return encNumber
	case "year":
		if src == dbsync.KindYear || src == dbsync.KindInt || src == dbsync.KindUint {
			return encNumber
		}
	case "float":
		if src == dbsync.KindFloat {
			return encFloat32
		}
	}
	if src == dbsync.KindBit {
		return encBitToDigit
	}
	return encText
}

type loadColumn struct {
	name string
	mode encoding
	// enumWithoutEmpty is the column's type when it is an ENUM that does
	// not list '': it cannot store the source's invalid ENUM value ''.
	enumWithoutEmpty string
}

// loadPlan is where and how rows are loaded.
type loadPlan struct {
	table   string // the staging table
	target  string // the target table, for messages
	columns []loadColumn
	// checked lists the columns whose values checkRow looks at.
	checked []int
}

// checkRow refuses a value the target column cannot store exactly, before
// the server turns it into a bare "Data truncated" error or warning: an
// ENUM's invalid value ” (index 0), which MySQL stores for an out-of-list
// value written in non-strict mode, into an ENUM that does not list ”.
// row counts from 1.
func (p *loadPlan) checkRow(cells [][]byte, row int64) error {
	for _, i := range p.checked {
		if c := cells[i]; c != nil && len(c) == 0 {
			col := dbsync.QuoteMySQL(p.columns[i].name)
			return fmt.Errorf("column %s of table %s, row %d: the source holds '', the invalid ENUM value (index 0) that MySQL keeps for an out-of-list value written in non-strict mode, and the target column %s does not list ''; "+
				"set those rows to a listed value or NULL on the source, map it in the query (e.g. NULLIF(%s, '') AS %s), or add '' to the target column's ENUM list",
				col, dbsync.QuoteMySQL(p.target), row, p.columns[i].enumWithoutEmpty, col, col)
		}
	}
	return nil
}

// enumListsEmpty reports whether a MySQL COLUMN_TYPE such as
// "enum('a','it”s',”)" lists the empty string.
func enumListsEmpty(columnType string) bool {
	s, ok := strings.CutPrefix(strings.ToLower(columnType), "enum(")
	if !ok {
		return false
	}
	for len(s) > 0 && s[0] == '\'' {
		// One quoted member: '' inside it is a quote.
		i := 1
		for i < len(s) {
			if s[i] == '\\' {
				i += 2
				continue
			}
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					i += 2
					continue
				}
				break
			}
			i++
		}
		if i == 1 {
			return true
		}
		if i+1 >= len(s) {
			return false
		}
		s = s[i+2:] // past the closing quote and the comma or parenthesis
	}
	return false
}

var errLocalInfileRefused = errors.New("the server refused LOAD DATA LOCAL")

// loadDataStatement builds the LOAD DATA statement. Hex and BIT-number
// columns go through user variables and a SET clause.
func loadDataStatement(p loadPlan, readerName string) string {
	var cols, sets []string
	for i, c := range p.columns {
		v := "@v" + strconv.Itoa(i)
		switch c.mode {
		case encHex:
			cols = append(cols, v)
			sets = append(sets, dbsync.QuoteMySQL(c.name)+" = UNHEX("+v+")")
		case encNumber:
			cols = append(cols, v)
			sets = append(sets, dbsync.QuoteMySQL(c.name)+" = CAST("+v+" AS UNSIGNED)")
		default:
			cols = append(cols, dbsync.QuoteMySQL(c.name))
		}
	}
	q := "LOAD DATA LOCAL INFILE " + quoteString("Reader::"+readerName) +
		" INTO TABLE " + dbsync.QuoteMySQL(p.table) +
		" CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'" +
		" (" + strings.Join(cols, ", ") + ")"
	if len(sets) > 0 {
		q += " SET " + strings.Join(sets, ", ")
	}
	return q
}

// tsvBatchSize: LOAD DATA batches of about 256 KiB; past that size the
// server's reads gain nothing.
const tsvBatchSize = 256 << 10

// tsvFill is the pipeline's filler for LOAD DATA: src's rows as TSV,
// checked (checkRow), in batches of about tsvBatchSize; *sent counts them.
func tsvFill(p loadPlan, src dbsync.RowReader, sent *int64) func([]byte) ([]byte, int, error) {
	var scratch []byte
	return func(buf []byte) ([]byte, int, error) {
		buf = buf[:0]
		added := 0
		for src.Next() {
			if err := p.checkRow(src.Values(), *sent+1); err != nil {
				return buf, added, err
			}
			buf, scratch = appendTSVRow(buf, scratch, src.Values(), p.columns)
			added++
			*sent++
			if len(buf) >= tsvBatchSize {
				return buf, added, nil
			}
		}
		if err := src.Err(); err != nil {
			return buf, added, dbsync.AsSourceError(err)
		}
		return buf, added, io.EOF
	}
}

// checkWarnings fails the load on any warning: with LOAD DATA LOCAL the
// server turns data errors (truncation, bad values, duplicate keys) into
// warnings, and each of them is a changed or lost value.
func checkWarnings(ctx context.Context, conn *sql.Conn, table string) error {
	var count int64
	if err := conn.QueryRowContext(ctx, "SHOW COUNT(*) WARNINGS").Scan(&count); err != nil {
		return fmt.Errorf("read warnings of load into %s: %w", table, err)
	}
	if count == 0 {
		return nil
	}
	rows, err := conn.QueryContext(ctx, "SHOW WARNINGS LIMIT 3")
	if err != nil {
		return fmt.Errorf("read warnings of load into %s: %w", table, err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var level, msg string
		var code int
		if err := rows.Scan(&level, &code, &msg); err != nil {
			return err
		}
		msgs = append(msgs, fmt.Sprintf("%s %d: %s", level, code, msg))
	}
	return fmt.Errorf("load into %s: the server reported %d warning(s), so values would change; first: %s", table, count, strings.Join(msgs, "; "))
}

// tsvEscapes are the bytes LOAD DATA needs escaped, each with the
// letter that follows its backslash (appendEscaped).
var tsvEscapes = [256]byte{'\\': '\\', '\t': 't', '\n': 'n', 0: '0'}

// appendEscaped appends cell with each byte that escapes marks written as
// a backslash and its letter there; the other bytes as they are, copied a
// run at a time. The TSV and the SQL literal encoders differ only in
// their tables.
func appendEscaped(dst, cell []byte, escapes *[256]byte) []byte {
	start := 0
	for j, c := range cell {
		if escapes[c] == 0 {
			continue
		}
		dst = append(dst, cell[start:j]...)
		dst = append(dst, '\\', escapes[c])
		start = j + 1
	}
	return append(dst, cell[start:]...)
}

// appendTSVRow appends one row in LOAD DATA's default format: tab between
// fields, newline after, \N for NULL, and \\ \t \n \0 escaped. It does not
// allocate once row and scratch have grown to the largest row.
func appendTSVRow(row, scratch []byte, cells [][]byte, cols []loadColumn) ([]byte, []byte) {
	for i, cell := range cells {
		if i > 0 {
			row = append(row, '\t')
		}
		if cell == nil {
			row = append(row, '\\', 'N')
			continue
		}
		if cols[i].mode == encHex {
			row = hex.AppendEncode(row, cell)
			continue
		}
		cell, scratch = convertCell(scratch, cell, cols[i].mode)
		row = appendEscaped(row, cell, &tsvEscapes)
	}
	return append(row, '\n'), scratch
}

// convertCell is the text the server reads right for a cell whose bytes it
// would misread, written into scratch: a BIT's bytes as its decimal
// number, a FLOAT as the double digits of its value (appendFloat32Exact);
// any other cell as it is. Both the TSV and the INSERT encoders escape the
// result.
func convertCell(scratch, cell []byte, mode encoding) ([]byte, []byte) {
	switch mode {
	case encBitToDigit:
		scratch = appendBitDecimal(scratch[:0], cell)
		return scratch, scratch
	case encFloat32:
		scratch = appendFloat32Exact(scratch[:0], cell)
		return scratch, scratch
	}
	return cell, scratch
}

// appendBitDecimal writes BIT bytes (big-endian) as a decimal number.
func appendBitDecimal(dst, bits []byte) []byte {
	var v uint64
	for _, b := range bits {
		v = v<<8 | uint64(b)
	}
	return strconv.AppendUint(dst, v, 10)
}

// appendFloat32Exact rewrites a FLOAT value, printed as the shortest
// decimal that identifies the float32 ("3.4028235e+38"), as the shortest
// decimal of the same value as a double ("3.4028234663852886e+38"). The
// server parses a number as a double before storing it as a FLOAT: the
// short form of FLT_MAX parses above FLT_MAX (error 1264), and other
// values could round twice. Text that is not a number is left as it is,
// for the server to judge.
func appendFloat32Exact(dst, cell []byte) []byte {
	f, err := strconv.ParseFloat(string(cell), 32)
	if err != nil {
		return append(dst, cell...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// sqlLiteralEscapes are the bytes escaped inside a quoted MySQL string,
// each with the letter that follows its backslash (appendEscaped).
var sqlLiteralEscapes = [256]byte{0: '0', '\'': '\'', '"': '"', '\\': '\\', '\n': 'n', '\r': 'r', 0x1a: 'Z'}

// appendSQLValue appends one cell as a MySQL literal for INSERT.
func appendSQLValue(dst, scratch, cell []byte, mode encoding) ([]byte, []byte, error) {
	if cell == nil {
		return append(dst, "NULL"...), scratch, nil
	}
	switch mode {
	case encHex:
		dst = append(dst, "X'"...)
		dst = hex.AppendEncode(dst, cell)
		return append(dst, '\''), scratch, nil
	case encNumber:
		if _, err := strconv.ParseUint(string(cell), 10, 64); err != nil {
			return dst, scratch, fmt.Errorf("value %q is not a number for a BIT or YEAR column", cell)
		}
		return append(dst, cell...), scratch, nil
	}
	cell, scratch = convertCell(scratch, cell, mode)
	dst = append(dst, '\'')
	dst = appendEscaped(dst, cell, &sqlLiteralEscapes)
	return append(dst, '\''), scratch, nil
}

// insertBatchSize is the size INSERT statements aim at with n streams.
func insertBatchSize(n int) int {
	return max(256<<10, min(1<<20, (4<<20)/(n+1)))
}

// insertStreams loads src with multi-row INSERTs sized in bytes under the
// server's max_allowed_packet, on every connection at once. One goroutine
// encodes the next statements while the connections execute theirs, so
// reading and writing overlap.
func insertStreams(ctx context.Context, conns []*sql.Conn, p loadPlan, src dbsync.RowReader) (int64, error) {
	var maxPacket int64
	if err := conns[0].QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&maxPacket); err != nil {
		return 0, fmt.Errorf("read max_allowed_packet on target: %w", err)
	}
	// A statement must fit max_allowed_packet (less room for the packet
	// header); a larger row goes in a statement of its own. Batches aim at
	// 1 MiB, as fast as 2 MiB in the bench at two thirds of the peak RSS
	// (each statement is also copied into the driver's own buffer), and
	// shrink with more streams to keep all of them near 4 MiB, down to
	// 256 KiB.
	hard := int(maxPacket - 16<<10)
	limit := min(hard, insertBatchSize(len(conns)))
	names := make([]string, len(p.columns))
	for i, c := range p.columns {
		names[i] = dbsync.QuoteMySQL(c.name)
	}
	header := "INSERT INTO " + dbsync.QuoteMySQL(p.table) + " (" + strings.Join(names, ", ") + ") VALUES "

	var sent int64
	var scratch []byte
	row := make([]byte, 0, 4096)
	pending := false // row holds an encoded row that did not fit the last batch
	fill := func(batch []byte) ([]byte, int, error) {
		batch = append(batch[:0], header...)
		added := 0
		if pending {
			batch = append(batch, row...)
			added, pending = 1, false
		}
		for src.Next() {
			if err := p.checkRow(src.Values(), sent+1); err != nil {
				return batch, added, err
			}
			row = append(row[:0], '(')
			for i, cell := range src.Values() {
				if i > 0 {
					row = append(row, ',')
				}
				var err error
				row, scratch, err = appendSQLValue(row, scratch, cell, p.columns[i].mode)
				if err != nil {
					return batch, added, fmt.Errorf("encode rows for %s: row %d column %s: %w", p.table, sent+1, dbsync.QuoteMySQL(p.columns[i].name), err)
				}
			}
			row = append(row, ')')
			if len(header)+len(row) > hard {
				return batch, added, fmt.Errorf("encode rows for %s: row %d is %d bytes as SQL, more than the target's max_allowed_packet (%d) allows; raise max_allowed_packet on the server", p.table, sent+1, len(row), maxPacket)
			}
			sent++
			if added > 0 && len(batch)+1+len(row) > limit {
				pending = true
				return batch, added, nil
			}
			if added > 0 {
				batch = append(batch, ',')
			}
			batch = append(batch, row...)
			added++
		}
		if err := src.Err(); err != nil {
			return batch, added, dbsync.AsSourceError(err)
		}
		return batch, added, io.EOF
	}
	shared := newSharedPipe(ctx, len(conns), limit, fill)
	stored, errs := runStreams(conns, shared, func(c *sql.Conn) (int64, error) {
		var stored int64
		for batch, ok := shared.next(); ok; batch, ok = shared.next() {
			// No copy of the batch: the driver writes the query into its
			// own buffer during the call and keeps no reference to it, and
			// batch is not touched until the call returns.
			res, err := c.ExecContext(ctx, unsafe.String(unsafe.SliceData(batch), len(batch)))
			if err == nil {
				err = checkWarnings(ctx, c, p.table)
			}
			if err != nil {
				return stored, err
			}
			affected, _ := res.RowsAffected()
			stored += affected
			shared.release(batch, limit)
		}
		return stored, nil
	})
	if err := shared.pipe.Wait(streamError(errs, "insert rows into", p.table)); err != nil {
		return stored, err
	}
	if stored != sent {
		return stored, fmt.Errorf("verify %s: the server stored %d rows but %d were sent", p.table, stored, sent)
	}
	return stored, nil
}
