package dbsync

import (
	"context"
	"errors"
	"io"
	"testing"
)

// counterFill fills batches of up to size ints from 1..total, failing with
// failErr (if set) once failAt numbers have been produced.
func counterFill(total, size, failAt int, failErr error, produced *int) func([]int) ([]int, int, error) {
	return func(b []int) ([]int, int, error) {
		b = b[:0]
		for *produced < total {
			if failErr != nil && *produced == failAt {
				return b, len(b), failErr
			}
			*produced++
			b = append(b, *produced)
			if len(b) == size {
				return b, len(b), nil
			}
		}
		return b, len(b), io.EOF
	}
}

func TestBatchPipeline(t *testing.T) {
	sourceErr := AsSourceError(errors.New("primary went away"))
	encodeErr := errors.New("value does not fit")
	execErr := errors.New("target refused")
	cases := []struct {
		name        string
		total       int
		failAt      int
		failErr     error
		execFailAt  int // batch number whose execution fails (1-based; 0 never)
		wantErr     error
		wantSum     int  // sum of executed numbers
		wantAllRead bool // the filler read the whole source
	}{
		{name: "all rows", total: 10, wantSum: 55, wantAllRead: true},
		{name: "empty source", total: 0, wantSum: 0, wantAllRead: true},
		{name: "exact multiple of the batch", total: 9, wantSum: 45, wantAllRead: true},
		{name: "source error alone", total: 100, failAt: 7, failErr: sourceErr, wantErr: sourceErr},
		{name: "encode error", total: 100, failAt: 4, failErr: encodeErr, wantErr: encodeErr},
		{name: "write error stops the filler", total: 1000, execFailAt: 1, wantErr: execErr},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			produced := 0
			a, b := make([]int, 0, 3), make([]int, 0, 3)
			pipe := NewBatchPipeline(context.Background(), a, b, counterFill(tc.total, 3, tc.failAt, tc.failErr, &produced))
			var err error
			sum, batches := 0, 0
			seen := map[*int]bool{}
			for batch, ok := pipe.Next(); ok; batch, ok = pipe.Next() {
				batches++
				seen[&batch[:1][0]] = true
				if batches == tc.execFailAt {
					err = execErr
					break
				}
				for _, v := range batch {
					sum += v
				}
				pipe.Release(batch)
			}
			err = pipe.Wait(err)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("wait() = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && sum != tc.wantSum {
				t.Errorf("executed sum = %d, want %d", sum, tc.wantSum)
			}
			if len(seen) > 2 {
				t.Errorf("%d distinct batch buffers circulated, want at most 2", len(seen))
			}
			if got := produced == tc.total; got != tc.wantAllRead {
				t.Errorf("filler read %d of %d numbers; whole source read = %v, want %v", produced, tc.total, got, tc.wantAllRead)
			}
		})
	}
}

// TestBatchPipeline_untouched: a load refused before it asks for data leaves
// the source unread, so another load path can start on it.
func TestBatchPipeline_untouched(t *testing.T) {
	produced := 0
	pipe := NewBatchPipeline(context.Background(), make([]int, 0, 3), make([]int, 0, 3), counterFill(10, 3, 0, nil, &produced))
	if !pipe.untouched() {
		t.Fatal("untouched() = false before any next")
	}
	refused := errors.New("refused")
	if err := pipe.Wait(refused); err != refused {
		t.Fatalf("wait = %v, want the caller's error", err)
	}
	if produced != 0 {
		t.Fatalf("filler read %d numbers of a load that never asked for data", produced)
	}
}

// TestBatchPipeline_cancelled: a cancelled context stops a filler blocked on
// a full pipeline, and wait returns.
func TestBatchPipeline_cancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	produced := 0
	pipe := NewBatchPipeline(ctx, make([]int, 0, 3), make([]int, 0, 3), counterFill(1000, 3, 0, nil, &produced))
	if _, ok := pipe.Next(); !ok {
		t.Fatal("no first batch")
	}
	cancel()
	if err := pipe.Wait(nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait = %v, want context.Canceled", err)
	}
	if produced == 1000 {
		t.Fatal("filler read the whole source after the context was cancelled")
	}
}

func TestPipelineError(t *testing.T) {
	sourceErr := AsSourceError(errors.New("primary went away"))
	encodeErr := errors.New("value does not fit")
	execErr := errors.New("target refused")
	cases := []struct {
		name       string
		fill, exec error
		want       error
	}{
		{"clean end", nil, nil, nil},
		{"source error wins over the write error it causes", sourceErr, execErr, sourceErr},
		{"source error alone", sourceErr, nil, sourceErr},
		{"write error wins over the filler being stopped", context.Canceled, execErr, execErr},
		{"write error alone", nil, execErr, execErr},
		{"encode error", encodeErr, nil, encodeErr},
		{"write error wins over an encode error", encodeErr, execErr, execErr},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := pipelineError(tc.fill, tc.exec); got != tc.want {
				t.Fatalf("pipelineError(%v, %v) = %v, want %v", tc.fill, tc.exec, got, tc.want)
			}
		})
	}
}
