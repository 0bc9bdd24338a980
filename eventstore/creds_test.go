package eventstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/eventstoretest"
)

// operatorServer starts a JetStream server in operator (decentralised JWT)
// mode, the way NGS and most managed NATS deployments run, and returns it
// with the signing key of the one account that has JetStream.
func operatorServer(t *testing.T) (*eventstoretest.Server, nkeys.KeyPair) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	okp, err := nkeys.CreateOperator()
	must(err)
	opub, _ := okp.PublicKey()
	sys, err := nkeys.CreateAccount()
	must(err)
	syspub, _ := sys.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.SystemAccount = syspub
	_, err = oc.Encode(okp)
	must(err)
	sysJWT, err := jwt.NewAccountClaims(syspub).Encode(okp)
	must(err)

	akp, err := nkeys.CreateAccount()
	must(err)
	apub, _ := akp.PublicKey()
	ac := jwt.NewAccountClaims(apub)
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	accJWT, err := ac.Encode(okp)
	must(err)

	resolver := &server.MemAccResolver{}
	must(resolver.Store(syspub, sysJWT))
	must(resolver.Store(apub, accJWT))
	opts := eventstoretest.Options(t.TempDir())
	opts.Users = nil
	opts.TrustedOperators = []*jwt.OperatorClaims{oc}
	opts.SystemAccount = syspub
	opts.AccountResolver = resolver
	return eventstoretest.Start(t, opts), akp
}

// writeCreds issues a user of the account signed by issuer and writes its
// credentials file (JWT and seed), as `nsc generate creds` would. The user
// has the ledger's deny list, as `nsc add user --deny-pub` would write it,
// or perms's if given.
func writeCreds(t *testing.T, dir, name string, issuer nkeys.KeyPair, account string, perms ...*server.Permissions) string {
	t.Helper()
	ukp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.IssuerAccount = account
	if len(perms) == 0 {
		uc.Pub.Deny.Add(eventstore.LedgerPermissions(eventstore.DefaultStream).Publish.Deny...)
	} else { // --allow-pub, --allow-sub
		uc.Pub.Allow.Add(perms[0].Publish.Allow...)
		uc.Sub.Allow.Add(perms[0].Subscribe.Allow...)
	}
	ujwt, err := uc.Encode(issuer)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := ukp.Seed()
	creds, err := jwt.FormatUserConfig(ujwt, seed)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".creds")
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCredsFile: --nats-creds reaches a server in operator mode, and the
// user's deny list keeps the stream from being deleted; a user
// signed by an account the server does not trust is refused, and so is a
// missing file, each with an error that says so.
func TestCredsFile(t *testing.T) {
	srv, akp := operatorServer(t)
	apub, _ := akp.PublicKey()
	dir := t.TempDir()
	url := srv.ClientURL()

	stranger, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	spub, _ := stranger.PublicKey()
	for name, creds := range map[string]string{
		"untrusted account": writeCreds(t, dir, "stranger", stranger, spub),
		"missing file":      filepath.Join(dir, "absent.creds"),
	} {
		s, err := eventstore.Open(context.Background(), eventstore.Config{URL: url, CredsFile: creds, Timeout: time.Second})
		if err == nil {
			s.Close()
			t.Fatalf("%s: connected", name)
		}
		t.Logf("%s: %v", name, err)
		if !strings.Contains(err.Error(), "connect") {
			t.Errorf("%s: error %q does not say the connection failed", name, err)
		}
	}

	creds := writeCreds(t, dir, "ledger", akp, apub)
	s := openStore(t, eventstore.Config{URL: url, CredsFile: creds})
	mustAppend(t, s, pending("society/creds", "c1", 0), pending("society/creds", "c2", 1))
	if n := lastSeq(t, s); n != 2 {
		t.Fatalf("log has %d records, want 2", n)
	}
	ref, _ := domain.ParseRef("society/creds")
	recs, err := s.ReadAggregate(context.Background(), ref)
	if err != nil || len(recs) != 2 || recs[1].ID != "c2" {
		t.Fatalf("read back %v, %v", recs, err)
	}

	nc, err := nats.Connect(url, nats.UserCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, s.StreamName()); err == nil {
		t.Fatal("the ledger's credentials deleted the stream")
	}
	if n := lastSeq(t, s); n != 2 {
		t.Fatalf("after the delete attempt the log has %d records, want 2", n)
	}

	// The README's read-only operator user: it reads, and may not write.
	op, err := nats.Connect(url, nats.UserCredentials(writeCreds(t, dir, "operator", akp, apub, eventstore.OperatorPermissions(eventstore.DefaultStream))),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	ojs, _ := jetstream.New(op, jetstream.WithDefaultTimeout(time.Second))
	str, err := ojs.Stream(context.Background(), s.StreamName())
	if err != nil {
		t.Fatalf("operator: stream info: %v", err)
	}
	if m, err := str.GetMsg(context.Background(), 2); err != nil || !strings.Contains(string(m.Data), `"id":"c2"`) {
		t.Fatalf("operator: read sequence 2: %v", err)
	}
	if _, err := ojs.Publish(context.Background(), eventstore.SubjectPrefix+".society.creds", []byte(`{}`)); err == nil {
		t.Fatal("the operator user published to the log")
	}
	if n := lastSeq(t, s); n != 2 {
		t.Fatalf("after the operator's publish the log has %d records, want 2", n)
	}
}
