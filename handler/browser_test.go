package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// browser is Debian's chromium, headless, behind a local server that is
// both the site (it serves the pages the test gives it) and the browser's
// proxy for every request, to any host: so every request the page makes
// is seen, also one the page's CSP would block.
type browser struct {
	t     *testing.T
	bin   string
	srv   *httptest.Server
	mu    sync.Mutex
	pages map[string]servedPage
	seen  []string // every request, as METHOD URL
}

// servedPage is an answer of the site: what the Functions host makes of
// an HTTP function's res output.
type servedPage struct {
	status  int
	headers map[string]string
	body    string
}

// newBrowser finds chromium; a missing browser fails the test (make
// test-deps installs Debian's chromium), it never skips it.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (%v): the status page tests need a real browser; run make test-deps, which installs Debian's chromium", err)
	}
	b := &browser{t: t, bin: bin, pages: map[string]servedPage{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := r.URL.String()
		if r.Method == http.MethodConnect || r.URL.Host == "" {
			u = r.Host + r.URL.RequestURI()
		}
		b.mu.Lock()
		b.seen = append(b.seen, r.Method+" "+u)
		p, ok := b.pages[r.URL.Path]
		b.mu.Unlock()
		if !ok || r.Host != b.srv.Listener.Addr().String() {
			http.Error(w, "not served by the test", http.StatusBadGateway)
			return
		}
		for k, v := range p.headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(p.status)
		_, _ = w.Write([]byte(p.body))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// serve makes the site answer path with p; url is where the browser finds it.
func (b *browser) serve(path string, p servedPage) (url string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pages[path] = p
	return b.srv.URL + path
}

// requests returns the requests seen so far and forgets them.
func (b *browser) requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.seen
	b.seen = nil
	return out
}

// run runs chromium headless on url with extra flags and a fresh profile;
// it returns stdout.
func (b *browser) run(url string, extra ...string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// Chromium's own services call home even with these flags (the
	// component updater, sign-in): they go around the proxy, to nowhere,
	// so the proxy sees only what pages ask for. A page that named these
	// hosts would go unseen by the proxy, but not by the CSP nor by
	// externalRefs.
	var bypass, nowhere []string
	for _, host := range []string{"update.googleapis.com", "accounts.google.com", "clients2.google.com"} {
		bypass = append(bypass, host)
		nowhere = append(nowhere, "MAP "+host+" ~NOTFOUND")
	}
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--no-first-run", "--disable-quic", "--disable-extensions", "--hide-scrollbars",
		"--disable-features=NetworkTimeServiceQuerying",
		"--user-data-dir=" + b.t.TempDir(),
		"--proxy-server=" + b.srv.URL, "--proxy-bypass-list=<-loopback>;" + strings.Join(bypass, ";"),
		"--host-resolver-rules=" + strings.Join(nowhere, ", "),
	}, extra...)
	cmd := exec.CommandContext(ctx, b.bin, append(args, url)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		b.t.Fatalf("chromium %s: %v\n%s", url, err, errOut.String())
	}
	return out.Bytes()
}

// dom is the document chromium rendered from url, serialized.
func (b *browser) dom(url string) string {
	b.t.Helper()
	return string(b.run(url, "--dump-dom"))
}

// screenshot renders url at width×height and returns the PNG.
func (b *browser) screenshot(url string, width, height int) []byte {
	b.t.Helper()
	file := filepath.Join(b.t.TempDir(), "shot.png")
	b.run(url, "--screenshot="+file, fmt.Sprintf("--window-size=%d,%d", width, height))
	data, err := os.ReadFile(file)
	if err != nil {
		b.t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	return data
}

// pngStats decodes a PNG and counts its distinct colours, the share of
// pixels that are not (near) white, and the pixels of the failure red.
func pngStats(t *testing.T, data []byte) (colours int, inked float64, red int, bounds image.Rectangle) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	var ink int
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			seen[[3]uint32{r, g, bl}] = true
			if r < 240 || g < 240 || bl < 240 {
				ink++
			}
			if r > 170 && g < 90 && bl < 90 {
				red++
			}
		}
	}
	return len(seen), float64(ink) / float64(b.Dx()*b.Dy()), red, b
}

// externalRefs lists the src, href and action attributes of a
// serialized DOM that point anywhere but the page itself (data: and
// fragments are the page's own). Chromium serializes every attribute in
// double quotes and escapes < and > in text, so a tag is "<name …>" and
// text never looks like one.
func externalRefs(dom string) []string {
	var out []string
	for _, tag := range regexp.MustCompile(`<[a-zA-Z][^<>]*>`).FindAllString(dom, -1) {
		for _, m := range regexp.MustCompile(`\s(src|href|xlink:href|action|srcset|poster|data)="([^"]*)"`).FindAllStringSubmatch(tag, -1) {
			if v := m[2]; !strings.HasPrefix(v, "data:") && !strings.HasPrefix(v, "#") {
				out = append(out, m[1]+"="+v)
			}
		}
	}
	return out
}
