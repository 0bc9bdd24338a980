package eventstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/eventstoretest"
	"planledger/eventstore/logkey"
)

// TestKeyOnFirstStart: a ledger whose log predates record proofs gets its
// key on the first start of a version that makes them: the records so far
// stay its own (the key file says through which sequence), new ones carry
// proofs; an instance without the key file is then refused a new key, and
// a store without a key reads without checking and cannot append.
func TestKeyOnFirstStart(t *testing.T) {
	ctx := context.Background()
	url := eventstoretest.StartSingle(t).ClientURL()
	cfg := eventstoretest.LedgerConfig(url)
	cfg.Key = nil
	noKey, err := eventstore.Open(ctx, cfg) // makes the stream
	if err != nil {
		t.Fatal(err)
	}
	defer noKey.Close()
	if _, err := noKey.Append(ctx, []eventstore.Pending{pending("society/a", "a0")}); err == nil || !strings.Contains(err.Error(), "no log key") {
		t.Fatalf("append without a key: %v", err)
	}
	// Records as versions before proofs wrote them: no Planledger-Mac.
	for i, id := range []string{"a1", "a2", "a3"} {
		m := nats.NewMsg("planledger.events.society.a")
		m.Data = []byte(`{"specversion":"1.0","id":"` + id + `","source":"/t","type":"society.registered","subject":"society/a","time":"2021-03-01T09:00:00Z","data":{},"version":` + string(rune('1'+i)) + `,"submitter":"old"}`)
		if _, err := noKey.JetStream().PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	keyed := cfg
	keyed.KeyFile, keyed.CreateKey = filepath.Join(dir, logkey.FileName), true
	s, err := eventstore.Open(ctx, keyed)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Key() == nil || s.Key().LegacyThrough != 3 {
		t.Fatalf("key %+v: want one whose records before proofs run through sequence 3", s.Key())
	}
	recs, err := s.ReadAggregate(ctx, domain.Ref{Type: domain.AggregateSociety, ID: "a"})
	if err != nil || len(recs) != 3 {
		t.Fatalf("the records before proofs: %d %v", len(recs), err)
	}
	res := mustAppend(t, s, pending("society/a", "a4", 3))
	if r := res.Records[0]; r.Version != 4 || r.MAC == "" {
		t.Fatalf("appended %+v: want version 4 with a proof", r)
	}

	// A second instance started without the ledger's key file.
	other := cfg
	other.KeyFile, other.CreateKey = filepath.Join(t.TempDir(), logkey.FileName), true
	if _, err := eventstore.Open(ctx, other); err == nil || !strings.Contains(err.Error(), "carry proofs made with a key") {
		t.Fatalf("a new key for a log with proofs: %v", err)
	}
	// Given the file, it reads what the first wrote as the ledger's own.
	shared := cfg
	shared.KeyFile = keyed.KeyFile
	s2, err := eventstore.Open(ctx, shared)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := s2.Get(ctx, 4)
	if err != nil || got.Foreign != nil || got.ID != "a4" {
		t.Fatalf("the shared key's reading of sequence 4: %+v %v", got, err)
	}
	// Without any key: records read unchecked.
	got, err = noKey.Get(ctx, 4)
	if err != nil || got.Foreign != nil || got.MAC == "" {
		t.Fatalf("a keyless reading of sequence 4: %+v %v", got, err)
	}
}
