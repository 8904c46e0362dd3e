package mysqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	dbsync "github.com/dbsync/dbsync/sync"
)

// load writes src into plan.table: through LOAD DATA LOCAL where the target
// allows it, else through multi-row INSERTs (MySQL 8's default,
// local_infile = OFF); either way on [azure_mysql] load_streams connections
// at once, all fed from the one reader of the source. It returns the rows
// stored and the method used (LoadData or LoadInsert).
func (t *Target) load(ctx context.Context, plan loadPlan, src dbsync.RowReader) (int64, string, error) {
	n := max(1, t.cfg.LoadStreams)
	conns := make([]*sql.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := t.db.Conn(ctx)
		if err != nil {
			if n == 1 {
				return 0, "", fmt.Errorf("connect to target for loading %s: %w", plan.target, err)
			}
			return 0, "", fmt.Errorf("open load stream %d of %d ([azure_mysql] load_streams = %d) to the target for %s: %w", i+1, n, n, plan.target, err)
		}
		conns = append(conns, c)
	}
	if n > 1 {
		t.log.Info("loading with parallel streams", dbsync.LogTable, plan.target, "streams", n)
	}
	var localInfile sql.NullString
	if err := conns[0].QueryRowContext(ctx, "SELECT @@GLOBAL.local_infile").Scan(&localInfile); err != nil {
		return 0, "", fmt.Errorf("read local_infile on target: %w", err)
	}
	if localInfile.String == "1" || strings.EqualFold(localInfile.String, "ON") {
		for _, c := range conns {
			if err := waitForRows(ctx, c); err != nil {
				return 0, "", err
			}
		}
		// The readers' names must be unique while tables load at once.
		name := fmt.Sprintf("dbsync-%s-%d", t.runID, t.loads.Add(1))
		stored, err := loadDataStreams(ctx, conns, plan, src, name)
		if !errors.Is(err, errLocalInfileRefused) {
			return stored, dbsync.LoadData, err
		}
		// The server said ON but refused (a proxy, or a per-user limit):
		// nothing was read from src yet, so the INSERT path can take over.
		t.log.Warn("target refused LOAD DATA LOCAL; loading with INSERT", dbsync.LogTable, plan.target, "error", err.Error())
	}
	stored, err := insertStreams(ctx, conns, plan, src)
	return stored, dbsync.LoadInsert, err
}

// waitForRows lets the server wait for a LOAD DATA LOCAL's next rows as
// long as the run may last. The rows come from the run's own work while the
// statement is open — a merge's compare can go minutes between two
// differences, and with several streams each waits for the others' batches
// — and the server's net_read_timeout (30 s by default, on MySQL 8 too)
// would otherwise end the statement with error 1159 ("Got timeout reading
// communication packets"). The setting is the session's own.
func waitForRows(ctx context.Context, c *sql.Conn) error {
	secs := 3600
	if deadline, ok := ctx.Deadline(); ok {
		secs = max(30, int(math.Ceil(time.Until(deadline).Seconds())))
	}
	if _, err := c.ExecContext(ctx, fmt.Sprintf("SET SESSION net_read_timeout = %d", min(secs, 31536000))); err != nil {
		return fmt.Errorf("set net_read_timeout for loading on the target: %w", err)
	}
	return nil
}

// sharedPipe lets several streams take batches from one pipeline: one
// goroutine reads the source and fills batches, each stream takes the next
// ready one (so batches go round-robin to whichever stream is free).
type sharedPipe struct {
	pipe    *dbsync.BatchPipeline[[]byte]
	start   sync.Once
	touched atomic.Bool
}

// newSharedPipe returns a pipeline over n+1 batches of batchSize bytes: one
// being executed per stream, one being filled.
func newSharedPipe(ctx context.Context, n, batchSize int, fill func([]byte) ([]byte, int, error)) *sharedPipe {
	pipe := dbsync.NewBatchPipeline[[]byte](ctx, nil, nil, fill)
	pipe.Free = make(chan []byte, n+1)
	for range n + 1 {
		pipe.Free <- make([]byte, 0, batchSize)
	}
	return &sharedPipe{pipe: pipe}
}

func (s *sharedPipe) next() ([]byte, bool) {
	s.touched.Store(true)
	s.start.Do(func() {
		s.pipe.Started = true
		go s.pipe.Run()
	})
	b, ok := <-s.pipe.Ready
	return b, ok
}

// release hands an executed batch back, letting a huge row's buffer go.
func (s *sharedPipe) release(b []byte, batchSize int) {
	if cap(b) > 2*batchSize {
		b = make([]byte, 0, batchSize)
	}
	s.pipe.Release(b)
}

// runStreams runs stream on every connection at once and waits for all.
// When one fails, the source stops, the others end, and the load fails
// with the first failed stream's error (pipelineError decides between it
// and the source's); the run then drops the table being loaded. It returns
// the rows the streams stored, together, and each stream's error.
func runStreams(conns []*sql.Conn, shared *sharedPipe, stream func(c *sql.Conn) (int64, error)) (int64, []error) {
	errs := make([]error, len(conns))
	stored := make([]int64, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			stored[i], errs[i] = stream(c)
			if errs[i] != nil {
				shared.pipe.Cancel() // stop the source: the other streams then end
			}
		})
	}
	wg.Wait()
	var total int64
	for _, s := range stored {
		total += s
	}
	return total, errs
}

// streamError is the load's write error: the first stream's that failed,
// saying which stream when there are several.
func streamError(errs []error, what, table string) error {
	for i, err := range errs {
		if err == nil {
			continue
		}
		if len(errs) == 1 {
			return fmt.Errorf("%s %s: %w", what, table, err)
		}
		return fmt.Errorf("%s %s (stream %d of %d of [azure_mysql] load_streams; a row number in the server's message counts that stream's rows only): %w", what, table, i+1, len(errs), err)
	}
	return nil
}

// streamReader is the file one stream's LOAD DATA LOCAL reads: the shared
// pipeline's batches, one after another.
type streamReader struct {
	shared *sharedPipe
	cur    []byte
	off    int
}

func (r *streamReader) Read(b []byte) (int, error) {
	for r.off == len(r.cur) {
		if r.cur != nil {
			r.shared.release(r.cur, tsvBatchSize)
			r.cur = nil
		}
		next, ok := r.shared.next()
		if !ok {
			return 0, io.EOF // wait says whether the source ended or failed
		}
		r.cur, r.off = next, 0
	}
	n := copy(b, r.cur[r.off:])
	r.off += n
	return n, nil
}

// loadDataStreams loads src through one LOAD DATA LOCAL statement per
// connection into the same table, fed batch by batch while rows are still
// arriving from the source: memory stays at one batch per stream and one
// more, whatever the row count.
func loadDataStreams(ctx context.Context, conns []*sql.Conn, p loadPlan, src dbsync.RowReader, name string) (int64, error) {
	var sent int64
	// The pipeline takes no row from src until the server asks for the
	// file: if the server refuses LOAD DATA LOCAL, the INSERT path can
	// start on an untouched source.
	shared := newSharedPipe(ctx, len(conns), tsvBatchSize+4096, tsvFill(p, src, &sent))
	var i atomic.Int32
	stored, errs := runStreams(conns, shared, func(c *sql.Conn) (int64, error) {
		reader := fmt.Sprintf("%s-%d", name, i.Add(1))
		mysql.RegisterReaderHandler(reader, func() io.Reader { return &streamReader{shared: shared} })
		defer mysql.DeregisterReaderHandler(reader)
		res, err := c.ExecContext(ctx, loadDataStatement(p, reader))
		if err != nil {
			return 0, err
		}
		if err := checkWarnings(ctx, c, p.table); err != nil {
			return 0, err
		}
		return res.RowsAffected()
	})
	for _, err := range errs {
		if no := errorNumber(err); (no == 1148 || no == 3948) && !shared.touched.Load() {
			shared.pipe.Wait(nil)
			return 0, fmt.Errorf("%w: %v", errLocalInfileRefused, err)
		}
	}
	if err := shared.pipe.Wait(streamError(errs, "load rows into", p.table)); err != nil {
		return sent, err
	}
	if stored != sent {
		return stored, fmt.Errorf("verify %s: the server stored %d rows but %d were sent (duplicate keys in the source?)", p.table, stored, sent)
	}
	return stored, nil
}
