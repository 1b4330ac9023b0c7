package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it. It
// returns the server's TLS settings and the path of the CA's PEM file.
func testCA(t *testing.T) (*tls.Config, string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailfill test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, caFile
}

func TestFillOverTLS(t *testing.T) {
	serverConf, caFile := testCA(t)
	ts := startServer(t, serverConf)
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*config)
		want   string // empty means success
	}{
		{"trusted CA file", func(c *config) { c.caFile = caFile }, ""},
		{"unknown CA", func(c *config) {}, "pass -ca-file"},
		{"file without PEM", func(c *config) { c.caFile = notPEM }, "contains no PEM certificate"},
		{"missing CA file", func(c *config) { c.caFile = notPEM + ".gone" }, "reading -ca-file"},
		{"insecure", func(c *config) { c.insecure = true }, ""},
		{"plain to a TLS port", func(c *config) { c.tls = false; c.greetTimeout = 200 * time.Millisecond }, "for IMAPS add -tls"},
	}
	total := 0
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(ts, 40)
			cfg.seed = uint64(100 + i)
			cfg.tls = true
			tt.change(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			n, err := fill(ctx, cfg, &syncBuffer{})
			if tt.want == "" {
				if err != nil || n != cfg.count {
					t.Fatalf("fill appended %d, err %v; want %d", n, err, cfg.count)
				}
				total += n
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one saying %q", err, tt.want)
			}
		})
	}
	pool := x509.NewCertPool()
	pemBytes, err := os.ReadFile(caFile)
	if err != nil || !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("reading CA: %v", err)
	}
	if got := len(stored(t, ts.addr, &tls.Config{RootCAs: pool})); got != total {
		t.Errorf("mailbox contains %d messages, want %d", got, total)
	}
}

func TestRunWarnsWhenInsecure(t *testing.T) {
	serverConf, _ := testCA(t)
	ts := startServer(t, serverConf)
	var out syncBuffer
	args := []string{"-addr", ts.addr, "-tls", "-insecure", "-user", testUser, "-password", testPassword, "-count", "5"}
	if code := run(args, func(string) string { return "" }, &out); code != 0 {
		t.Fatalf("exit status %d, output:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "WARNING: -insecure") || strings.Contains(out.String(), testPassword) {
		t.Errorf("output:\n%s", out.String())
	}
}
