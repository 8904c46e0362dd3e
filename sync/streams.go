package sync

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	gosync "sync"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
)

// loadData loads the staging table with LOAD DATA LOCAL: on one connection,
// or on [azure_mysql] load_streams connections at once.
func (t *mysqlTarget) loadData(ctx context.Context, conn *sql.Conn, p loadPlan, src rowReader) (int64, error) {
	// The readers' names must be unique while tables load at once.
	name := fmt.Sprintf("%s-%d", t.runID, t.loads.Add(1))
	if t.cfg.LoadStreams <= 1 {
		return loadDataLocal(ctx, conn, p, src, name)
	}
	t.log.Info("loading with parallel streams", "streams", t.cfg.LoadStreams)
	// The run lock's connection, and per table staged at once its
	// connection, its streams and one for queries.
	t.db.SetMaxOpenConns(2 + max(1, t.parallel)*(t.cfg.LoadStreams+2))
	return loadDataStreams(ctx, t.db, conn, p, src, name, t.cfg.LoadStreams)
}

// sharedPipe lets several streams take batches from one pipeline: one
// goroutine reads the source and fills batches, each stream takes the next
// ready one (so batches go round-robin to whichever stream is free).
type sharedPipe struct {
	pipe    *batchPipeline[[]byte]
	start   gosync.Once
	touched atomic.Bool
}

func (s *sharedPipe) next() ([]byte, bool) {
	s.touched.Store(true)
	s.start.Do(func() {
		s.pipe.started = true
		go s.pipe.run()
	})
	b, ok := <-s.pipe.ready
	return b, ok
}

// streamReader is the file one stream's LOAD DATA LOCAL reads.
type streamReader struct {
	shared    *sharedPipe
	batchSize int
	cur       []byte
	off       int
}

func (r *streamReader) Read(b []byte) (int, error) {
	for r.off == len(r.cur) {
		if r.cur != nil {
			if cap(r.cur) > 2*r.batchSize {
				r.cur = make([]byte, 0, r.batchSize) // let a huge row's buffer go
			}
			r.shared.pipe.release(r.cur)
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

// loadDataStreams loads src through n LOAD DATA LOCAL statements into the
// same staging table at once, each on its own connection (first is one of
// them), fed from the one reader of the source. Memory is n+1 batches.
// When one stream fails, the source stops, the others end, and the load
// fails with that stream's error; the run then drops the staging table.
func loadDataStreams(ctx context.Context, db *sql.DB, first *sql.Conn, p loadPlan, src rowReader, runID string, n int) (int64, error) {
	const batchSize = tsvBatchSize
	conns := []*sql.Conn{first}
	defer func() {
		for _, c := range conns[1:] {
			c.Close()
		}
	}()
	for i := 1; i < n; i++ {
		c, err := db.Conn(ctx)
		if err != nil {
			return 0, fmt.Errorf("open load stream %d of %d ([azure_mysql] load_streams = %d) to the target: %w", i+1, n, n, err)
		}
		conns = append(conns, c)
	}

	var sent int64
	fill := tsvFill(p, src, &sent)
	pipe := newBatchPipeline(ctx, make([]byte, 0, batchSize+4096), make([]byte, 0, batchSize+4096), fill)
	// One batch per stream being read, one being filled.
	pipe.free = make(chan []byte, n+1)
	for range n + 1 {
		pipe.free <- make([]byte, 0, batchSize+4096)
	}
	shared := &sharedPipe{pipe: pipe}

	errs := make([]error, n)
	stored := make([]int64, n)
	var wg gosync.WaitGroup
	for i, c := range conns {
		name := fmt.Sprintf("dbsync-%s-%d", runID, i)
		mysql.RegisterReaderHandler(name, func() io.Reader { return &streamReader{shared: shared, batchSize: batchSize} })
		defer mysql.DeregisterReaderHandler(name)
		wg.Go(func() {
			res, err := c.ExecContext(ctx, loadDataStatement(p, name))
			if err == nil {
				err = checkWarnings(ctx, c, p.table)
			}
			if err == nil {
				stored[i], err = res.RowsAffected()
			}
			if err != nil {
				errs[i] = err
				pipe.cancel() // stop the source: the other streams then end
			}
		})
	}
	wg.Wait()

	var execErr error
	for i, err := range errs {
		if err == nil {
			continue
		}
		if no := mysqlErrorNumber(err); (no == 1148 || no == 3948) && !shared.touched.Load() {
			pipe.wait(nil)
			return 0, fmt.Errorf("%w: %v", errLocalInfileRefused, err)
		}
		if execErr == nil {
			execErr = fmt.Errorf("load rows into %s (stream %d of %d of [azure_mysql] load_streams; a row number in the server's message counts that stream's rows only): %w", p.table, i+1, n, err)
		}
	}
	if err := pipe.wait(execErr); err != nil {
		return sent, err
	}
	var loaded int64
	for _, s := range stored {
		loaded += s
	}
	if loaded != sent {
		return loaded, fmt.Errorf("verify %s: the server stored %d rows but %d were sent (duplicate keys in the source?)", p.table, loaded, sent)
	}
	return loaded, nil
}
