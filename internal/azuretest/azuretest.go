// Package azuretest fakes, on loopback, the two Azure services dbsync
// talks to over HTTP, speaking their wire protocols so that the real
// azidentity and azsecrets code runs end to end:
//
//   - Key Vault's secrets REST API over TLS (401 bearer challenge, list
//     with nextLink paging, get), with a certificate for
//     <name>.vault.azure.net signed by a CA made for the test;
//   - the App Service managed-identity endpoint (IDENTITY_ENDPOINT with
//     X-IDENTITY-HEADER, api-version 2019-08-01);
//   - an HTTP CONNECT proxy that sends every tunnel to the fake vault, so a
//     child process with HTTPS_PROXY set reaches "https://<name>.vault.azure.net"
//     without any network.
package azuretest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Secret is one secret in the fake vault.
type Secret struct {
	Value    string
	Disabled bool
	Expires  time.Time
}

// Vault is a fake Key Vault.
type Vault struct {
	Name   string // the vault's name: https://<Name>.vault.azure.net
	URL    string // https://<Name>.vault.azure.net
	CAFile string // PEM of the CA that signed the vault's certificate
	Addr   string // where it really listens (127.0.0.1:port)
	// Token is the only bearer token the vault accepts.
	Token string
	// PageSize is how many secrets one list page holds (default 2), so
	// that listing needs nextLink paging.
	PageSize int
	// FailFirst makes the first n requests with a valid token fail with
	// this status (e.g. 429 or 503) before the vault answers normally.
	FailStatus int
	FailFirst  int

	mu      sync.Mutex
	secrets map[string]Secret
	calls   []string // "GET /secrets", "GET /secrets/name"
	srv     *httptest.Server
	caPool  *x509.CertPool
}

// NewVault starts a fake vault named name holding secrets. dir receives the
// CA file. Close it when done.
func NewVault(dir, name, token string, secrets map[string]Secret) (*Vault, error) {
	host := name + ".vault.azure.net"
	cert, caPEM, err := makeCert(host)
	if err != nil {
		return nil, err
	}
	v := &Vault{Name: name, URL: "https://" + host, Token: token, PageSize: 2, secrets: secrets}
	v.CAFile = filepath.Join(dir, "vault-ca.pem")
	if err := os.WriteFile(v.CAFile, caPEM, 0o644); err != nil {
		return nil, err
	}
	v.caPool = x509.NewCertPool()
	v.caPool.AppendCertsFromPEM(caPEM)
	v.srv = httptest.NewUnstartedServer(http.HandlerFunc(v.serve))
	v.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	v.srv.StartTLS()
	v.Addr = v.srv.Listener.Addr().String()
	return v, nil
}

// Close stops the vault.
func (v *Vault) Close() { v.srv.Close() }

// Calls lists the requests the vault answered with a valid token.
func (v *Vault) Calls() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.calls...)
}

// HTTPClient returns a client that reaches the vault at its real-looking
// URL (dialing 127.0.0.1) and trusts its CA, and reaches any other
// address (the identity endpoint) as usual: for in-process tests.
func (v *Vault) HTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	vaultHost := strings.TrimPrefix(v.URL, "https://") + ":443"
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == vaultHost {
				addr = v.Addr
			}
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: v.caPool},
	}}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (v *Vault) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("api-version") == "" {
		writeError(w, 400, "MissingApiVersionParameter", "api-version is required")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+v.Token {
		// Key Vault's challenge: which authority and resource to get a
		// token for.
		w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"`)
		writeError(w, 401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	v.mu.Lock()
	path := strings.TrimSuffix(r.URL.Path, "/")
	v.calls = append(v.calls, r.Method+" "+path)
	if v.FailFirst > 0 {
		v.FailFirst--
		v.mu.Unlock()
		w.Header().Set("Retry-After", "0")
		writeError(w, v.FailStatus, "Throttled", "try again")
		return
	}
	v.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && path == "/secrets":
		v.list(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/secrets/"):
		v.get(w, strings.TrimPrefix(path, "/secrets/"))
	default:
		writeError(w, 404, "NotFound", "no such operation")
	}
}

func (v *Vault) attributes(s Secret) map[string]any {
	a := map[string]any{"enabled": !s.Disabled, "created": 1700000000, "updated": 1700000000, "recoveryLevel": "Recoverable+Purgeable"}
	if !s.Expires.IsZero() {
		a["exp"] = s.Expires.Unix()
	}
	return a
}

func (v *Vault) list(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	names := make([]string, 0, len(v.secrets))
	for n := range v.secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	skip, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	end := min(skip+v.PageSize, len(names))
	var items []map[string]any
	for _, n := range names[skip:end] {
		items = append(items, map[string]any{"id": v.URL + "/secrets/" + n, "attributes": v.attributes(v.secrets[n])})
	}
	v.mu.Unlock()
	page := map[string]any{"value": items}
	if end < len(names) {
		page["nextLink"] = v.URL + "/secrets?api-version=" + url.QueryEscape(r.URL.Query().Get("api-version")) + "&$skiptoken=" + strconv.Itoa(end)
	} else {
		page["nextLink"] = nil
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

func (v *Vault) get(w http.ResponseWriter, name string) {
	v.mu.Lock()
	s, ok := v.secrets[name]
	v.mu.Unlock()
	if !ok {
		writeError(w, 404, "SecretNotFound", "A secret with (name/id) "+name+" was not found in this key vault.")
		return
	}
	if s.Disabled {
		writeError(w, 403, "Forbidden", "Operation get is not allowed on a disabled secret.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"value": s.Value, "id": v.URL + "/secrets/" + name + "/0123456789abcdef0123456789abcdef",
		"attributes": v.attributes(s),
	})
}

// IdentityEndpoint is a fake App Service managed-identity endpoint.
type IdentityEndpoint struct {
	URL    string // IDENTITY_ENDPOINT
	Header string // IDENTITY_HEADER
	// Tokens maps a resource to the token issued for it.
	Tokens map[string]string

	mu        sync.Mutex
	requests  []string // resource per request
	clientIDs []string
	srv       *httptest.Server
}

// NewIdentityEndpoint starts the endpoint. Close it when done.
func NewIdentityEndpoint(tokens map[string]string) *IdentityEndpoint {
	e := &IdentityEndpoint{Header: "identity-header-" + strconv.Itoa(int(time.Now().UnixNano()%1e6)), Tokens: tokens}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	e.URL = e.srv.URL + "/msi/token"
	return e
}

// Close stops it.
func (e *IdentityEndpoint) Close() { e.srv.Close() }

// Requests lists the resources tokens were asked for.
func (e *IdentityEndpoint) Requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.requests...)
}

// ClientIDs lists the client_id of each request ("" for system-assigned).
func (e *IdentityEndpoint) ClientIDs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.clientIDs...)
}

func (e *IdentityEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.URL.Path != "/msi/token" || r.Header.Get("X-IDENTITY-HEADER") != e.Header || q.Get("api-version") != "2019-08-01" {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	resource := q.Get("resource")
	e.mu.Lock()
	e.requests = append(e.requests, resource)
	e.clientIDs = append(e.clientIDs, q.Get("client_id"))
	e.mu.Unlock()
	tok, ok := e.Tokens[strings.TrimSuffix(resource, "/")]
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"statusCode":400,"message":"No managed identity token for resource `+resource+`"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"access_token": tok, "expires_on": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
		"resource": resource, "token_type": "Bearer", "client_id": "11111111-1111-1111-1111-111111111111",
	})
}

// ConnectProxy tunnels every CONNECT to one address.
type ConnectProxy struct {
	URL string
	ln  net.Listener
}

// NewConnectProxy starts a proxy that sends every tunnel to target.
func NewConnectProxy(target string) (*ConnectProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &ConnectProxy{URL: "http://" + ln.Addr().String(), ln: ln}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodConnect {
				http.Error(w, "only CONNECT", http.StatusMethodNotAllowed)
				return
			}
			upstream, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			hj, _ := w.(http.Hijacker)
			client, buf, err := hj.Hijack()
			if err != nil {
				upstream.Close()
				return
			}
			_, _ = client.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
			go func() { _, _ = io.Copy(upstream, buf); upstream.Close() }()
			_, _ = io.Copy(client, upstream)
			client.Close()
		}))
	}()
	return p, nil
}

// Close stops the proxy.
func (p *ConnectProxy) Close() { p.ln.Close() }

func makeCert(host string) (tls.Certificate, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "azuretest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caPEM, nil
}
