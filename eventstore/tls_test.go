package eventstore_test

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
	"testing"
	"time"

	"planledger/eventstore"
	"planledger/eventstore/eventstoretest"
)

// writeCert makes a certificate signed by parent (self-signed if nil) and
// writes it and its key as PEM files.
func writeCert(t *testing.T, dir, name string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:         isCA, BasicConstraintsValid: true,
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, name+"-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}

// TestMutualTLS: --nats-tls-ca, --nats-tls-cert and --nats-tls-key reach a
// server that requires client certificates; without them the store says
// it cannot connect.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := writeCert(t, dir, "ca", true, nil, nil)
	writeCert(t, dir, "server", false, ca, caKey)
	writeCert(t, dir, "client", false, ca, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	serverCert, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	opts := eventstoretest.Options(t.TempDir())
	opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	opts.TLSVerify = true
	srv := eventstoretest.Start(t, opts)
	url := "tls://" + srv.Addr().String()

	cfg := eventstoretest.LedgerConfig(url)
	cfg.Timeout = time.Second
	if s, err := eventstore.Open(context.Background(), cfg); err == nil {
		s.Close()
		t.Fatal("connected without a client certificate")
	}
	cfg.TLSCA = filepath.Join(dir, "ca.pem")
	cfg.TLSCert = filepath.Join(dir, "client.pem")
	cfg.TLSKey = filepath.Join(dir, "client-key.pem")
	s := openStore(t, cfg)
	mustAppend(t, s, pending("society/tls", "t1", 0))
	if n := lastSeq(t, s); n != 1 {
		t.Fatalf("log has %d records", n)
	}
}
