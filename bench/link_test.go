package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseLinkRate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64 // bytes per second
		err  bool
	}{
		{in: "50mbit", want: 50e6 / 8},
		{in: "50Mbit", want: 50e6 / 8},
		{in: "800kbit", want: 800e3 / 8},
		{in: "1.5gbit", want: 1.5e9 / 8},
		{in: "9600bit", want: 1200},
		{in: " 10 mbit ", want: 10e6 / 8},
		{in: "", err: true},
		{in: "50", err: true},
		{in: "50mb", err: true},
		{in: "50mbps", err: true},
		{in: "mbit", err: true},
		{in: "0mbit", err: true},
		{in: "-5mbit", err: true},
		{in: "nanmbit", err: true},
		{in: "infgbit", err: true},
	} {
		got, err := parseLinkRate(c.in)
		if c.err {
			if err == nil {
				t.Errorf("parseLinkRate(%q) = %v, want an error", c.in, got)
			} else if !strings.Contains(err.Error(), "kbit, mbit or gbit") {
				t.Errorf("parseLinkRate(%q): error %q does not say what to write", c.in, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseLinkRate(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseLink(t *testing.T) {
	for _, c := range []struct {
		spec   string
		rtt    time.Duration // -link-rtt
		rttSet bool
		want   linkShape
		err    string
	}{
		{spec: "50mbit", rtt: defaultLinkRTT, want: linkShape{rate: 50e6 / 8, rtt: 20 * time.Millisecond}},
		{spec: "50mbit", rtt: 80 * time.Millisecond, rttSet: true, want: linkShape{rate: 50e6 / 8, rtt: 80 * time.Millisecond}},
		{spec: "50mbit,rtt=40ms", rtt: defaultLinkRTT, want: linkShape{rate: 50e6 / 8, rtt: 40 * time.Millisecond}},
		{spec: "1gbit,rtt=0s", rtt: defaultLinkRTT, want: linkShape{rate: 1e9 / 8}},
		{spec: "50mbit,rtt=40ms", rtt: 40 * time.Millisecond, rttSet: true, want: linkShape{rate: 50e6 / 8, rtt: 40 * time.Millisecond}},
		{spec: "50mbit,rtt=40ms", rtt: 20 * time.Millisecond, rttSet: true, err: "disagree"},
		{spec: "50mbit,rtt=fast", rtt: defaultLinkRTT, err: "rtt=fast"},
		{spec: "50mbit,rtt=-1ms", rtt: defaultLinkRTT, err: "rtt=-1ms"},
		{spec: "50mbit,loss=1%", rtt: defaultLinkRTT, err: "unknown option"},
		{spec: "50mbit", rtt: -time.Millisecond, rttSet: true, err: "negative"},
		{spec: "fast", rtt: defaultLinkRTT, err: "-link fast"},
	} {
		got, err := parseLink(c.spec, c.rtt, c.rttSet)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parseLink(%q, %v, %v) = %+v, %v; want an error with %q", c.spec, c.rtt, c.rttSet, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseLink(%q, %v, %v) = %+v, %v; want %+v", c.spec, c.rtt, c.rttSet, got, err, c.want)
		}
	}
}

func TestLinkShapeString(t *testing.T) {
	for _, c := range []struct {
		s    linkShape
		want string
	}{
		{linkShape{rate: 50e6 / 8, rtt: 20 * time.Millisecond}, "50 Mbit/s each direction, 20ms added round trip"},
		{linkShape{rate: 1.5e9 / 8, rtt: 0}, "1.5 Gbit/s each direction, 0s added round trip"},
		{linkShape{rate: 800e3 / 8, rtt: time.Second}, "800 kbit/s each direction, 1s added round trip"},
		{linkShape{rate: 100, rtt: time.Millisecond}, "800 bit/s each direction, 1ms added round trip"},
	} {
		if got := c.s.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.s, got, c.want)
		}
		if back, err := parseLink(c.s.flag(), defaultLinkRTT, false); err != nil || back != c.s {
			t.Errorf("parseLink(%q) = %+v, %v; want %+v back", c.s.flag(), back, err, c.s)
		}
	}
}

// The pipe model, on a clock of its own: chunks are spaced by their size
// over the rate, not by the delay, and an idle link banks no burst.
func TestLinkPipeSchedule(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	p := &linkPipe{rate: 1000, delay: 10 * time.Millisecond} // 1000 bytes/s: 1 ms a byte
	for i, c := range []struct {
		arrival       time.Time
		n             int
		sent, deliver time.Time
	}{
		{ms(0), 100, ms(100), ms(110)},      // an idle link: sent at the rate, delivered a delay later
		{ms(0), 100, ms(200), ms(210)},      // queued behind the first: 100 ms later, not a round trip later
		{ms(150), 50, ms(250), ms(260)},     // still behind the queue
		{ms(1000), 100, ms(1100), ms(1110)}, // after idling: no burst banked
	} {
		sent, deliver := p.schedule(c.arrival, c.n)
		if !sent.Equal(c.sent) || !deliver.Equal(c.deliver) {
			t.Errorf("chunk %d: sent %v, delivered %v; want %v, %v", i, sent.Sub(t0), deliver.Sub(t0), c.sent.Sub(t0), c.deliver.Sub(t0))
		}
	}
	unlimited := &linkPipe{delay: 5 * time.Millisecond}
	for range 3 {
		if sent, deliver := unlimited.schedule(ms(7), 1<<20); !sent.Equal(ms(7)) || !deliver.Equal(ms(12)) {
			t.Errorf("unlimited rate: sent %v, delivered %v; want 7ms, 12ms", sent.Sub(t0), deliver.Sub(t0))
		}
	}
}

// testServer serves each connection with handle on loopback until the test
// ends.
func testServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // no hang
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

func startTestLink(t *testing.T, target string, shape linkShape) *linkProxy {
	t.Helper()
	p, err := startLink(target, shape)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dialLink(t *testing.T, p *linkProxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // no hang
	return c
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// Bytes pass unchanged both ways, and the primary closing its side closes
// the client's.
func TestLinkProxy_BytesUnchanged(t *testing.T) {
	up, down := randomBytes(t, 3<<20+17), randomBytes(t, 2<<20+5)
	gotUp := make(chan []byte, 1)
	addr := testServer(t, func(c net.Conn) {
		b := make([]byte, len(up))
		_, err := io.ReadFull(c, b)
		gotUp <- b
		if err == nil {
			_, _ = c.Write(down)
		}
	})
	p := startTestLink(t, addr, linkShape{rate: 1e9 / 8, rtt: 2 * time.Millisecond})
	c := dialLink(t, p)
	if _, err := c.Write(up); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c) // to the end: the server closed, so the proxy closes the client
	if err != nil {
		t.Fatalf("read through the link: %v (after %d bytes)", err, len(got))
	}
	if b := <-gotUp; !bytes.Equal(b, up) {
		t.Errorf("client → server: %d bytes arrived changed", len(up))
	}
	if !bytes.Equal(got, down) {
		t.Errorf("server → client: got %d bytes, want the %d sent, unchanged", len(got), len(down))
	}
	if u, d := p.carried(); u != int64(len(up)) || d != int64(len(down)) {
		t.Errorf("carried() = %d up, %d down; want %d, %d", u, d, len(up), len(down))
	}
}

// N bytes each way at R take at least about N/R each way: the lower bound
// proves the throttle without a tight wall-clock assertion.
func TestLinkProxy_Rate(t *testing.T) {
	const rate = 1e6 // bytes per second (8 mbit)
	const n = 400_000
	payload := randomBytes(t, n)
	upTook := make(chan time.Duration, 1)
	start := make(chan time.Time, 1)
	addr := testServer(t, func(c net.Conn) {
		go func() { _, _ = c.Write(payload) }()
		b := make([]byte, n)
		_, err := io.ReadFull(c, b)
		if err != nil || !bytes.Equal(b, payload) {
			t.Errorf("server read %v, unchanged %v", err, bytes.Equal(b, payload))
		}
		upTook <- time.Since(<-start)
		_, _ = io.Copy(io.Discard, c) // until the client closes
	})
	p := startTestLink(t, addr, linkShape{rate: rate})
	c := dialLink(t, p)
	t0 := time.Now()
	start <- t0
	go func() { _, _ = c.Write(payload) }()
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	downTook := time.Since(t0)
	if !bytes.Equal(b, payload) {
		t.Error("server → client: bytes changed")
	}
	min := time.Duration(0.8 * n / rate * float64(time.Second))
	if downTook < min {
		t.Errorf("server → client: %d bytes at %v bytes/s took %v, want at least %v", n, rate, downTook, min)
	}
	if up := <-upTook; up < min {
		t.Errorf("client → server: %d bytes at %v bytes/s took %v, want at least %v", n, rate, up, min)
	}
	c.Close()
}

// A ping-pong exchange through the link takes at least the added round trip.
func TestLinkProxy_RTT(t *testing.T) {
	const rtt = 100 * time.Millisecond
	addr := testServer(t, func(c net.Conn) { _, _ = io.Copy(c, c) }) // echo
	p := startTestLink(t, addr, linkShape{rtt: rtt})
	c := dialLink(t, p)
	b := []byte{0}
	for i := range 3 {
		t0 := time.Now()
		b[0] = byte(i)
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, b); err != nil || b[0] != byte(i) {
			t.Fatalf("ping %d: got %v, %v", i, b, err)
		}
		if took := time.Since(t0); took < rtt {
			t.Errorf("ping %d took %v, want at least the added round trip %v", i, took, rtt)
		}
	}
}

// Closing either side closes the other, Close ends the connections still
// open, and no goroutine of the proxy outlives it.
func TestLinkProxy_Close(t *testing.T) {
	serverSaw := make(chan error, 4)
	addr := testServer(t, func(c net.Conn) {
		if _, err := c.Write([]byte("hello")); err != nil {
			serverSaw <- err
			return
		}
		var b [1]byte
		_, err := c.Read(b[:])
		if err == nil && b[0] == 'q' {
			return // the server closes
		}
		serverSaw <- err
	})
	before := runtime.NumGoroutine() // the test server's accept loop included
	p, err := startLink(addr, linkShape{rate: 1e9 / 8, rtt: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hello := func(c net.Conn) {
		t.Helper()
		b := make([]byte, 5)
		if _, err := io.ReadFull(c, b); err != nil || string(b) != "hello" {
			t.Fatalf("greeting through the link: %q, %v", b, err)
		}
	}

	// The client closes: the server reads the end of the stream.
	c1 := dialLink(t, p)
	hello(c1)
	c1.Close()
	if err := <-serverSaw; !errors.Is(err, io.EOF) {
		t.Errorf("client closed: the server read %v, want EOF", err)
	}

	// The server closes: the client reads the end of the stream.
	c2 := dialLink(t, p)
	hello(c2)
	if _, err := c2.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	if n, err := c2.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("server closed: the client read %d bytes, %v; want EOF", n, err)
	}

	// Close with a connection open: it ends it and returns.
	c3 := dialLink(t, p)
	hello(c3)
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with a connection open")
	}
	// Close waited for every goroutine of the proxy: none is left now.
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "bench.(*linkProxy)") || strings.Contains(g, "bench.forward") {
			t.Errorf("a goroutine of the proxy outlived Close:\n%s", g)
		}
	}
	if n, err := c3.Read(make([]byte, 1)); err == nil {
		t.Errorf("after Close the client read %d bytes, want the connection closed", n)
	}
	if err := <-serverSaw; err == nil {
		t.Error("after Close the server read a byte, want the connection closed")
	}
	if _, err := net.DialTimeout("tcp", p.ln.Addr().String(), time.Second); err == nil {
		t.Error("after Close the proxy still accepts connections")
	}
	c1.Close()
	c2.Close()
	c3.Close()
	// The test server's goroutines end with their connections; the proxy's
	// have ended in Close. Poll a little for the server's.
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
