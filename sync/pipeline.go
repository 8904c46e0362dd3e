package dbsync

import (
	"context"
	"io"
)

// BatchPipeline overlaps reading with writing: one goroutine fills the next
// batch from the source while the caller executes the current one. Two
// batches circulate, so memory is two batches whatever the row count. Every
// load path (LOAD DATA, multi-row INSERT, SQLite) runs on it, so they share
// one rule for which error wins (pipelineError).
//
// The filler starts at the first next: a load that the server refuses
// before it asks for data leaves the source untouched, and another load
// path can start on it.
type BatchPipeline[B any] struct {
	ctx     context.Context
	Cancel  context.CancelFunc
	fill    func(B) (B, int, error)
	Free    chan B
	Ready   chan B
	done    chan error
	Started bool
}

// NewBatchPipeline returns a pipeline over the two batches a and b. fill
// adds rows to the batch it is given and returns it with the number of rows
// it added, and nil while there may be more rows, io.EOF with the last rows
// (or none), or any other error to stop.
func NewBatchPipeline[B any](ctx context.Context, a, b B, fill func(B) (B, int, error)) *BatchPipeline[B] {
	ctx, cancel := context.WithCancel(ctx)
	p := &BatchPipeline[B]{ctx: ctx, Cancel: cancel, fill: fill,
		Free: make(chan B, 2), Ready: make(chan B), done: make(chan error, 1)}
	p.Free <- a
	p.Free <- b
	return p
}

func (p *BatchPipeline[B]) Run() {
	defer close(p.Ready)
	for {
		// A select picks at random among ready cases: stop here, or a
		// cancelled pipeline could go on reading the source.
		if err := p.ctx.Err(); err != nil {
			p.done <- err
			return
		}
		var b B
		select {
		case b = <-p.Free:
		case <-p.ctx.Done():
			p.done <- p.ctx.Err()
			return
		}
		b, n, err := p.fill(b)
		if err != nil && err != io.EOF {
			p.done <- err
			return
		}
		if n > 0 {
			select {
			case p.Ready <- b:
			case <-p.ctx.Done():
				p.done <- p.ctx.Err()
				return
			}
		}
		if err == io.EOF || n == 0 {
			p.done <- nil
			return
		}
	}
}

// next returns the next filled batch; false when the source is done or the
// filler stopped (wait says why).
func (p *BatchPipeline[B]) Next() (B, bool) {
	if !p.Started {
		p.Started = true
		go p.Run()
	}
	b, ok := <-p.Ready
	return b, ok
}

// untouched reports whether no batch was ever asked for, so the source has
// not been read. Only the goroutine that calls next may ask.
func (p *BatchPipeline[B]) untouched() bool { return !p.Started }

// release hands an executed batch back to the filler.
func (p *BatchPipeline[B]) Release(b B) {
	p.Free <- b
}

// wait ends the pipeline and returns the error that decides the load's
// outcome, given the caller's own error from executing batches (nil if
// none). It stops the filler when execErr is set.
func (p *BatchPipeline[B]) Wait(execErr error) error {
	defer p.Cancel()
	if !p.Started {
		return execErr
	}
	if execErr != nil {
		p.Cancel()
	}
	for b := range p.Ready {
		p.Release(b)
	}
	return pipelineError(<-p.done, execErr)
}

// pipelineError is the one rule for which error wins when the filler and the
// writer both stop. A source error wins: it is what makes a run fall back to
// the other source, and a write error that follows it (a half-sent LOAD DATA,
// a cancelled statement) is only its echo. Otherwise the writer's error wins
// over the filler's: the filler was stopped because the write failed.
func pipelineError(fillErr, execErr error) error {
	switch {
	case fillErr != nil && isSourceError(fillErr):
		return fillErr
	case execErr != nil:
		return execErr
	}
	return fillErr
}
