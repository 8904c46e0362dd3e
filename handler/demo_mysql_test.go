package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoMySQL runs `make demo-mysql`'s program (demo/mysql) with this
// test's binary: two servers of its own, check, a replace, a change, a
// merge, each step's result printed; the replica equals the primary; the
// servers are gone after (#19.15).
func TestDemoMySQL(t *testing.T) {
	t.Parallel()
	demo := filepath.Join(t.TempDir(), "demo-mysql")
	if out, err := exec.Command("go", "build", "-o", demo, "../demo/mysql").CombinedOutput(); err != nil {
		t.Fatalf("build demo/mysql: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, demo, "-handler", binary)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil {
		t.Fatalf("demo-mysql: %v\n%s", err, text)
	}
	at := 0
	for _, want := range []string{
		"==> starting two throwaway MariaDB servers",
		"    target  localhost:",
		"==> check: ",
		"ok   primary   127.0.0.1:",
		"ok   target    mysql localhost:", "TLS TLSv1.3", "orders: table exists, merged by key (id)",
		"==> first sync: ",
		"succeeded: azure tables customers, orders from primary in ",
		"\n      orders: merged: +5000 ~0 -0 =0 (",
		"==> a change on the primary: ",
		"==> second sync: ",
		"succeeded: azure tables customers, orders from primary in ",
		"\n      customers: replaced: 1000 rows (",
		"\n      orders: merged: +1 ~300 -100 =4600 (",
		"\n    customers 1000 rows, checksum ", " on both",
		"\n    orders    4901 rows, checksum ", " on both",
		"==> the run history", "succeeded merge    4901 +1 ~300 -100 =4600\n",
		"==> stopped both servers and removed their files\n",
	} {
		i := strings.Index(text[at:], want)
		if i < 0 {
			t.Fatalf("output lacks %q after offset %d:\n%s", want, at, text)
		}
		at += i + len(want)
	}
	if strings.Contains(text, "level=") || strings.Contains(text, "pw-") {
		t.Errorf("log lines or a password in the output:\n%s", text)
	}
	ca := regexp.MustCompile(`own CA (\S+)`).FindStringSubmatch(text)
	if ca == nil {
		t.Fatalf("no CA path in the output")
	}
	if _, err := os.Stat(filepath.Dir(ca[1])); !os.IsNotExist(err) {
		t.Errorf("the target's folder %s is still there (%v)", filepath.Dir(ca[1]), err)
	}
}
