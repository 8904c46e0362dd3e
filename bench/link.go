package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A slow link between dbsync and the primary (issue #22): in production the
// primary is often on premises or in another cloud, tens of milliseconds and
// tens of Mbit/s away from the function, while the bench's servers are on
// loopback. `-link 50mbit` puts a TCP proxy in Go in front of the primary
// that shapes both directions like such a link: no root, no kernel module
// (the kernel here has no netem), nothing outside the bench process.

// defaultLinkRTT is the round trip -link adds when neither ",rtt=" nor
// -link-rtt says otherwise: 20 ms, typical from an on-premises data centre
// to an Azure region in the same geography over VPN or ExpressRoute.
const defaultLinkRTT = 20 * time.Millisecond

// linkShape is what the link does to the bytes: rate is the bandwidth of
// each direction in bytes per second (0: unlimited), rtt the round trip it
// adds (half of it each way).
type linkShape struct {
	rate float64
	rtt  time.Duration
}

func (s linkShape) String() string {
	r := "unlimited"
	if s.rate > 0 {
		r = formatBits(s.rate*8) + "/s each direction"
	}
	return fmt.Sprintf("%s, %s added round trip", r, s.rtt)
}

// flag is the -link value that gives this shape.
func (s linkShape) flag() string {
	return fmt.Sprintf("%s,rtt=%s", strings.ToLower(strings.ReplaceAll(formatBits(s.rate*8), " ", "")), s.rtt)
}

// formatBits prints a bit rate the way -link takes it: 50 Mbit, 1.5 Gbit.
func formatBits(bits float64) string {
	for _, u := range []struct {
		name string
		v    float64
	}{{"Gbit", 1e9}, {"Mbit", 1e6}, {"kbit", 1e3}} {
		if bits >= u.v {
			return strconv.FormatFloat(bits/u.v, 'f', -1, 64) + " " + u.name
		}
	}
	return strconv.FormatFloat(bits, 'f', -1, 64) + " bit"
}

// parseLinkRate reads a bandwidth as tc writes one: a number and bit,
// kbit, mbit or gbit (decimal: 50mbit = 50,000,000 bits/s), in any case.
// It returns bytes per second.
func parseLinkRate(s string) (float64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	units := []struct {
		suffix string
		bits   float64
	}{{"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}, {"bit", 1}} // "bit" last: the others end in it
	for _, u := range units {
		num, ok := strings.CutSuffix(t, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || !(v > 0 && v <= 1e12) /* also NaN, Inf */ {
			break
		}
		return v * u.bits / 8, nil
	}
	return 0, fmt.Errorf("link rate %q: want a positive number and a unit, bit, kbit, mbit or gbit (e.g. 50mbit)", s)
}

// parseLink reads the -link flag: a rate and optionally ",rtt=" and a Go
// duration (50mbit,rtt=40ms). rtt is the round trip from -link-rtt, used
// when the flag has no ",rtt="; rttSet says -link-rtt was given, and then
// a different ",rtt=" is an error rather than a silent choice of one.
func parseLink(spec string, rtt time.Duration, rttSet bool) (linkShape, error) {
	ratePart, opts, _ := strings.Cut(spec, ",")
	rate, err := parseLinkRate(ratePart)
	if err != nil {
		return linkShape{}, fmt.Errorf("-link %s: %w", spec, err)
	}
	if rtt < 0 {
		return linkShape{}, fmt.Errorf("-link-rtt %s: the round trip cannot be negative", rtt)
	}
	shape := linkShape{rate: rate, rtt: rtt}
	if opts == "" {
		return shape, nil
	}
	for _, opt := range strings.Split(opts, ",") {
		key, val, _ := strings.Cut(strings.TrimSpace(opt), "=")
		if key != "rtt" {
			return linkShape{}, fmt.Errorf("-link %s: unknown option %q (the only one is rtt=, e.g. 50mbit,rtt=20ms)", spec, opt)
		}
		d, err := time.ParseDuration(val)
		if err != nil || d < 0 {
			return linkShape{}, fmt.Errorf("-link %s: rtt=%s: want a duration of 0 or more, e.g. rtt=20ms", spec, val)
		}
		if rttSet && d != rtt {
			return linkShape{}, fmt.Errorf("-link %s and -link-rtt %s disagree on the round trip: give it once", spec, rtt)
		}
		shape.rtt = d
	}
	return shape, nil
}

// linkPipe is one direction of the link, shared by every connection
// through it as a real link is. It models a pipe: the link sends one
// byte after another at rate (a token bucket that holds no more than the
// chunk in hand: an idle link does not bank a burst), and every byte
// arrives delay after it was sent. Chunks are stamped, not held one at a
// time, so a bulk transfer runs at rate however long the delay: a chunk
// is on the wire while the next is being sent.
type linkPipe struct {
	rate  float64       // bytes per second; 0: unlimited
	delay time.Duration // one way

	mu    sync.Mutex
	free  time.Time // when the link has sent everything it accepted
	bytes int64     // carried so far
}

// schedule takes n bytes that reached the link at arrival and returns when
// their last byte has been sent (the link is busy until then: the sender
// is held back to rate) and when it reaches the far end.
func (p *linkPipe) schedule(arrival time.Time, n int) (sent, deliver time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := arrival
	if p.free.After(start) {
		start = p.free // queued behind bytes still being sent
	}
	sent = start
	if p.rate > 0 {
		sent = start.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
	}
	p.free = sent
	p.bytes += int64(n)
	return sent, sent.Add(p.delay)
}

const (
	// linkChunk is the most the proxy reads at once: 32 KiB is 5 ms at
	// 50 Mbit/s, fine enough for the pacing.
	linkChunk = 32 << 10
	// linkSlack: the reader waits for the link only until this long before
	// its chunk is sent, so that the next chunk is already queued when the
	// link frees up (timer lateness would otherwise idle the link a little
	// after every chunk and the rate would come out low).
	linkSlack = 2 * time.Millisecond
	// linkQueue bounds the chunks of one direction of one connection that
	// are on the wire (sent, not yet delivered).
	linkQueue = 1024
)

// linkProxy listens on loopback and forwards every connection to target
// through the two pipes.
type linkProxy struct {
	ln     net.Listener
	target string
	up     *linkPipe // client → target
	down   *linkPipe // target → client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startLink listens on 127.0.0.1 (loopback only: the proxy has no
// authentication of its own) on a free port and forwards to target.
func startLink(target string, shape linkShape) (*linkProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("link proxy: listen on 127.0.0.1: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &linkProxy{ln: ln, target: target, ctx: ctx, cancel: cancel,
		up:   &linkPipe{rate: shape.rate, delay: shape.rtt / 2},
		down: &linkPipe{rate: shape.rate, delay: shape.rtt - shape.rtt/2}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Port is the port to give dbsync instead of the primary's.
func (p *linkProxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Close stops listening, closes every connection through the proxy and
// returns when all its goroutines have ended.
func (p *linkProxy) Close() error {
	p.cancel()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// carried returns the bytes the link has carried each way so far.
func (p *linkProxy) carried() (up, down int64) {
	p.up.mu.Lock()
	up = p.up.bytes
	p.up.mu.Unlock()
	p.down.mu.Lock()
	defer p.down.mu.Unlock()
	return up, p.down.bytes
}

func (p *linkProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if p.ctx.Err() == nil {
				logf("link proxy: accept on %s: %v (no new connections reach the primary)", p.ln.Addr(), err)
			}
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve carries one connection. Either direction ending (end of stream or
// an error, on either side) closes both sides once the bytes already on
// the wire in that direction are delivered: MySQL's protocol never
// half-closes, so neither does the proxy.
func (p *linkProxy) serve(client net.Conn) {
	defer p.wg.Done()
	var d net.Dialer
	server, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		client.Close()
		if p.ctx.Err() == nil {
			logf("link proxy: connect to the primary at %s: %v", p.target, err)
		}
		return
	}
	ctx, cancel := context.WithCancel(p.ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); forward(ctx, cancel, client, server, p.up) }()
	go func() { defer wg.Done(); forward(ctx, cancel, server, client, p.down) }()
	<-ctx.Done()
	client.Close()
	server.Close()
	wg.Wait()
}

type linkChunkAt struct {
	b       []byte
	deliver time.Time
}

// forward copies src to dst through pipe: a reader stamps each chunk and
// is held back to the link's rate, a writer delivers each chunk at its
// time. When src ends and what was read is delivered, when writing to dst
// fails, or when ctx is done, it cancels the connection (serve closes both
// sides, which ends a reader blocked in Read) and returns once its reader
// has ended.
func forward(ctx context.Context, cancel context.CancelFunc, src io.Reader, dst io.Writer, pipe *linkPipe) {
	queue := make(chan linkChunkAt, linkQueue)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer close(queue)
		buf := make([]byte, linkChunk)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				sent, deliver := pipe.schedule(time.Now(), n)
				c := linkChunkAt{b: append([]byte(nil), buf[:n]...), deliver: deliver}
				select {
				case queue <- c:
				case <-ctx.Done():
					return
				}
				if !sleepUntil(ctx, sent.Add(-linkSlack)) {
					return
				}
			}
			if err != nil {
				return // io.EOF or the connection closed: the writer ends the connection
			}
		}
	}()
	defer func() { cancel(); <-readerDone }()
	for c := range queue {
		if !sleepUntil(ctx, c.deliver) {
			return
		}
		if _, err := dst.Write(c.b); err != nil {
			if !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
				logf("link proxy: write: %v", err)
			}
			return
		}
	}
}

// sleepUntil waits until t or until ctx is done; it says whether t came.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
