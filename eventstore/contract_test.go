package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/eventstoretest"
)

const testWindow = 100 * time.Millisecond // JetStream's smallest duplicate window

// backend is one way of reaching the log. Every contract case runs against
// each of them.
type backend struct {
	name string
	// open opens the primary store; called again after Close, it reopens
	// the same log (a restart).
	open func(t *testing.T) *eventstore.Store
	// peer opens another store on the same log, as another process would.
	peer func(t *testing.T, primary *eventstore.Store) *eventstore.Store
	// admin, if not nil, is an unrestricted JetStream connection.
	admin func(t *testing.T) jetstream.JetStream
}

func backends(t *testing.T) []func(t *testing.T) backend {
	return []func(t *testing.T) backend{embeddedBackend, externalBackend, clusterBackend}
}

func openStore(t *testing.T, cfg eventstore.Config) *eventstore.Store {
	t.Helper()
	cfg.DuplicateWindow = testWindow
	if cfg.Key == nil {
		cfg.Key = eventstoretest.Key()
	}
	s, err := eventstore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func embeddedBackend(t *testing.T) backend {
	dir := t.TempDir()
	return backend{
		name: "embedded",
		open: func(t *testing.T) *eventstore.Store {
			return openStore(t, eventstore.Config{DataDir: dir, Listen: "127.0.0.1:0"})
		},
		peer: func(t *testing.T, primary *eventstore.Store) *eventstore.Store {
			return openStore(t, eventstore.Config{URL: primary.ClientURL(), User: eventstore.LedgerUser, Password: primary.LedgerPassword()})
		},
	}
}

func externalBackend(t *testing.T) backend {
	srv := eventstoretest.StartSingle(t)
	url := srv.ClientURL()
	return backend{
		name: "external",
		open: func(t *testing.T) *eventstore.Store { return openStore(t, eventstoretest.LedgerConfig(url)) },
		peer: func(t *testing.T, _ *eventstore.Store) *eventstore.Store {
			return openStore(t, eventstoretest.LedgerConfig(url))
		},
		admin: func(t *testing.T) jetstream.JetStream { return eventstoretest.Admin(t, url) },
	}
}

// clusterBackend is three JetStream servers in a cluster and a stream of
// three replicas.
func clusterBackend(t *testing.T) backend {
	c := eventstoretest.StartCluster(t, 3)
	cfg := eventstoretest.LedgerConfig(c.AllURLs())
	cfg.Replicas = 3
	return backend{
		name:  "cluster",
		open:  func(t *testing.T) *eventstore.Store { return openStore(t, cfg) },
		peer:  func(t *testing.T, _ *eventstore.Store) *eventstore.Store { return openStore(t, cfg) },
		admin: func(t *testing.T) jetstream.JetStream { return eventstoretest.Admin(t, c.AllURLs()) },
	}
}

var contractCases = []struct {
	name string
	run  func(t *testing.T, b backend)
}{
	{"round trip", testRoundTrip},
	{"racing writers, one winner", testRace},
	{"batch rejected whole", testBatchRejectedWhole},
	{"idempotent forever", testIdempotentForever},
	{"stale peer retry is a duplicate", testStalePeerRetry},
	{"immutable stream", testImmutable},
	{"ledger cannot delete or purge", testLedgerPermissions},
	{"follow", testFollow},
}

func TestContract(t *testing.T) {
	for _, mk := range backends(t) {
		for _, c := range contractCases {
			b := mk(t)
			t.Run(b.name+"/"+c.name, func(t *testing.T) { c.run(t, b) })
		}
	}
}

var businessTime = time.Date(2021, 3, 1, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))

func event(subject, id, data string) domain.Event {
	typ, _, _ := strings.Cut(subject, "/")
	return domain.Event{SpecVersion: "1.0", ID: id, Source: "/test", Type: typ + ".registered",
		Subject: subject, Time: businessTime, Data: json.RawMessage(data)}
}

func pending(subject, id string, expected ...uint64) eventstore.Pending {
	p := eventstore.Pending{Event: event(subject, id, `{"n":"`+id+`"}`), Submitter: "tester"}
	if len(expected) > 0 {
		p.ExpectedVersion = &expected[0]
	}
	return p
}

func mustAppend(t *testing.T, s *eventstore.Store, ps ...eventstore.Pending) eventstore.Result {
	t.Helper()
	res, err := s.Append(context.Background(), ps)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return res
}

func lastSeq(t *testing.T, s *eventstore.Store) uint64 {
	t.Helper()
	n, err := s.LastSequence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func testRoundTrip(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	before := time.Now().Add(-time.Second)
	one := mustAppend(t, s, pending("society/hn-chem", "e1", 0))
	if one.Duplicate || len(one.Records) != 1 {
		t.Fatalf("got %+v, want one new record", one)
	}
	r := one.Records[0]
	if r.Sequence != 1 || r.Version != 1 || r.Submitter != "tester" || r.RecordedTime.Before(before) {
		t.Fatalf("record = seq %d version %d submitter %q recorded %v; want 1, 1, tester, now", r.Sequence, r.Version, r.Submitter, r.RecordedTime)
	}
	batch := mustAppend(t, s,
		pending("society/hn-chem", "e2", 1),
		pending("project/p-1", "e1", 0),
		pending("society/hn-chem", "e3"),
		pending("project/p-1", "e2"),
	)
	wantSeq := []uint64{2, 3, 4, 5}
	wantVer := []uint64{2, 1, 3, 2}
	for i, r := range batch.Records {
		if r.Sequence != wantSeq[i] || r.Version != wantVer[i] {
			t.Errorf("batch record %d: seq %d version %d, want %d %d", i, r.Sequence, r.Version, wantSeq[i], wantVer[i])
		}
	}
	got, err := s.Get(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "e3" || got.Subject != "society/hn-chem" || !got.Time.Equal(businessTime) || string(got.Data) != `{"n":"e3"}` || got.Version != 3 {
		t.Fatalf("Get(4) = %+v", got)
	}
	if !got.RecordedTime.Equal(batch.Records[2].RecordedTime) || got.RecordedTime.Before(one.Records[0].RecordedTime) {
		t.Fatalf("Get(4).RecordedTime = %v, append said %v", got.RecordedTime, batch.Records[2].RecordedTime)
	}
	if _, err := s.Get(ctx, 99); !domain.IsKind(err, domain.KindNotFound) {
		t.Fatalf("Get(99) err = %v, want not found", err)
	}
	agg, err := s.ReadAggregate(ctx, domain.Ref{Type: domain.AggregateSociety, ID: "hn-chem"})
	if err != nil {
		t.Fatal(err)
	}
	if ids := recordIDs(agg); ids != "e1 e2 e3" {
		t.Fatalf("aggregate ids = %q, want e1 e2 e3", ids)
	}
	page, err := s.Read(ctx, 1, 2, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].Sequence != 2 || page[1].Sequence != 3 {
		t.Fatalf("Read(after 1, limit 2) = %v", recordIDs(page))
	}
	projects, err := s.Read(ctx, 0, 10, eventstore.Filter{Type: domain.AggregateProject})
	if err != nil || recordIDs(projects) != "e1 e2" || projects[0].Sequence != 3 {
		t.Fatalf("Read(projects) = %v, %v", recordIDs(projects), err)
	}
	var all []domain.Record
	if err := s.Each(ctx, 1, func(r domain.Record) error { all = append(all, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 {
		t.Fatalf("Each read %d records, want 5", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Sequence != all[i-1].Sequence+1 || all[i].RecordedTime.Before(all[i-1].RecordedTime) {
			t.Fatalf("records %d and %d out of order: %+v %+v", i-1, i, all[i-1], all[i])
		}
	}
	v, err := s.Version(ctx, domain.Ref{Type: domain.AggregateProject, ID: "p-1"})
	if err != nil || v != 2 {
		t.Fatalf("Version(project/p-1) = %d, %v; want 2", v, err)
	}
}

func recordIDs(rs []domain.Record) string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return strings.Join(ids, " ")
}

// testRace: 16 writers on 4 connections race to write the same version of
// one aggregate, again and again; each race has exactly one winner.
func testRace(t *testing.T, b backend) {
	primary := b.open(t)
	stores := []*eventstore.Store{primary, b.peer(t, primary), b.peer(t, primary), b.peer(t, primary)}
	const writers, rounds = 16, 5
	for round := uint64(0); round < rounds; round++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		var unexpected []error
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := pending("conference/race", fmt.Sprintf("r%d-w%d", round, w), round)
				_, err := stores[w%len(stores)].Append(context.Background(), []eventstore.Pending{p})
				mu.Lock()
				defer mu.Unlock()
				var de *domain.Error
				switch {
				case err == nil:
					wins++
				case errors.As(err, &de) && de.Conflict != nil && de.Conflict.Current == round+1:
					conflicts++
				default:
					unexpected = append(unexpected, err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 || conflicts != writers-1 || len(unexpected) > 0 {
			t.Fatalf("round %d: %d winners, %d conflicts at version %d, other errors %v; want 1 and %d", round, wins, conflicts, round+1, unexpected, writers-1)
		}
	}
	recs, err := primary.ReadAggregate(context.Background(), domain.Ref{Type: domain.AggregateConference, ID: "race"})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if r.Version != uint64(i+1) {
			t.Fatalf("record %d has version %d", i, r.Version)
		}
	}
	if len(recs) != rounds {
		t.Fatalf("%d records, want %d", len(recs), rounds)
	}
}

func testBatchRejectedWhole(t *testing.T, b backend) {
	s := b.open(t)
	mustAppend(t, s, pending("society/a", "a1", 0))
	before := lastSeq(t, s)
	_, err := s.Append(context.Background(), []eventstore.Pending{
		pending("society/b", "b1", 0),
		pending("society/a", "a2", 5), // a is at 1
		pending("society/b", "b2"),
	})
	var de *domain.Error
	if !errors.As(err, &de) || de.Conflict == nil || de.Conflict.Current != 1 || de.Conflict.Aggregate.ID != "a" {
		t.Fatalf("err = %v, want a version conflict on society/a at 1", err)
	}
	if got := lastSeq(t, s); got != before {
		t.Fatalf("log grew from %d to %d after a rejected batch", before, got)
	}
	// A peer with a stale view of society/a: its expectation is checked by
	// JetStream at commit, and the whole batch is still refused.
	peer := b.peer(t, s)
	if v, err := peer.Version(context.Background(), domain.Ref{Type: domain.AggregateSociety, ID: "a"}); err != nil || v != 1 {
		t.Fatalf("peer version = %d, %v", v, err)
	}
	mustAppend(t, s, pending("society/a", "a2", 1))
	before = lastSeq(t, s)
	_, err = peer.Append(context.Background(), []eventstore.Pending{pending("society/c", "c1", 0), pending("society/a", "a3", 1)})
	if !errors.As(err, &de) || de.Conflict == nil || de.Conflict.Current != 2 {
		t.Fatalf("stale peer batch: err = %v, want conflict at version 2", err)
	}
	if got := lastSeq(t, s); got != before {
		t.Fatalf("log grew from %d to %d after a rejected batch", before, got)
	}
	if v, _ := peer.Version(context.Background(), domain.Ref{Type: domain.AggregateSociety, ID: "c"}); v != 0 {
		t.Fatalf("society/c exists at version %d after a rejected batch", v)
	}
}

func testIdempotentForever(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	first := mustAppend(t, s, pending("project/x", "p1", 0))
	batch := mustAppend(t, s, pending("project/x", "p2", 1), pending("society/y", "s1", 0))

	check := func(when string, s *eventstore.Store) {
		t.Helper()
		again := mustAppend(t, s, pending("project/x", "p1", 0)) // stale expectation, as a retry would carry
		if !again.Duplicate || again.Records[0].Sequence != first.Records[0].Sequence ||
			!again.Records[0].RecordedTime.Equal(first.Records[0].RecordedTime) {
			t.Fatalf("%s: resubmission = %+v, want the original record", when, again)
		}
		b2 := mustAppend(t, s, pending("project/x", "p2", 1), pending("society/y", "s1", 0))
		if !b2.Duplicate || b2.Records[1].Sequence != batch.Records[1].Sequence {
			t.Fatalf("%s: batch resubmission = %+v, want the originals", when, b2)
		}
		changed := pending("project/x", "p1")
		changed.Event.Data = json.RawMessage(`{"n":"other"}`)
		if _, err := s.Append(ctx, []eventstore.Pending{changed}); !domain.IsKind(err, domain.KindConflict) {
			t.Fatalf("%s: same id, other content: err = %v, want conflict", when, err)
		}
		if _, err := s.Append(ctx, []eventstore.Pending{pending("project/x", "p1"), pending("project/x", "p9")}); !domain.IsKind(err, domain.KindConflict) {
			t.Fatalf("%s: half-stored batch: err = %v, want conflict", when, err)
		}
		if got := lastSeq(t, s); got != 3 {
			t.Fatalf("%s: log has %d records, want 3", when, got)
		}
	}
	check("at once", s)
	time.Sleep(3 * testWindow) // let JetStream forget the message ids: the test is about after the window
	check("after the duplicate window", s)
	s.Close()
	s = b.open(t)
	check("after a restart", s)
	// Member order and white space in data do not make another event.
	reordered := pending("society/y", "s2", 1)
	reordered.Event.Data = json.RawMessage(`{"a":1,"b":[1,2]}`)
	s2 := b.peer(t, s)
	r1 := mustAppend(t, s2, reordered)
	reordered.Event.Data = json.RawMessage(` { "b" : [1, 2], "a": 1 } `)
	if r2 := mustAppend(t, s2, reordered); !r2.Duplicate || r2.Records[0].Sequence != r1.Records[0].Sequence {
		t.Fatalf("reordered data not recognised as the same event: %+v", r2)
	}
}

// testStalePeerRetry: an event lands through one process; another, whose
// view of the aggregate is older, gets the same event (a client retrying
// through another instance). It must answer with the original.
func testStalePeerRetry(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	peer := b.peer(t, s)
	mustAppend(t, s, pending("service_team/t", "t1", 0))
	if _, err := peer.Version(ctx, domain.Ref{Type: domain.AggregateServiceTeam, ID: "t"}); err != nil {
		t.Fatal(err)
	}
	orig := mustAppend(t, s, pending("service_team/t", "t2", 1), pending("service_team/t", "t3"))
	got := mustAppend(t, peer, pending("service_team/t", "t2", 1), pending("service_team/t", "t3"))
	if !got.Duplicate || got.Records[0].Sequence != orig.Records[0].Sequence || got.Records[1].Sequence != orig.Records[1].Sequence {
		t.Fatalf("stale peer retry = %+v, want originals %+v", got, orig)
	}
	single := mustAppend(t, s, pending("service_team/t", "t4", 3))
	got = mustAppend(t, peer, pending("service_team/t", "t4", 3))
	if !got.Duplicate || got.Records[0].Sequence != single.Records[0].Sequence {
		t.Fatalf("stale peer single retry = %+v, want original %+v", got, single)
	}
	if n := lastSeq(t, s); n != 4 {
		t.Fatalf("log has %d records, want 4", n)
	}
	// A new event expecting the true current version through the stale peer
	// is not a conflict: the peer reads what it missed and appends.
	mustAppend(t, s, pending("service_team/t", "t5", 4))
	if got := mustAppend(t, peer, pending("service_team/t", "t6", 5)); got.Records[0].Version != 6 {
		t.Fatalf("append through a stale peer: version %d, want 6", got.Records[0].Version)
	}
}

func testImmutable(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	mustAppend(t, s, pending("society/a", "a1", 0), pending("society/a", "a2"))
	info, err := s.StreamInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := eventstore.CheckStreamConfig(info.Config, 0); len(p) != 0 {
		t.Fatalf("created stream is not immutable: %v", p)
	}
	if b.admin == nil {
		return // the embedded server has no user allowed to try
	}
	admin := b.admin(t)
	str, err := admin.Stream(ctx, s.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	if err := str.DeleteMsg(ctx, 1); err == nil {
		t.Fatal("admin deleted a message from the ledger's stream")
	}
	if err := str.Purge(ctx); err == nil {
		t.Fatal("admin purged the ledger's stream")
	}
	weaker := info.Config
	weaker.DenyDelete = false
	if _, err := admin.UpdateStream(ctx, weaker); err == nil {
		t.Fatal("admin turned deny_delete off")
	}
	if n := lastSeq(t, s); n != 2 {
		t.Fatalf("log has %d records after the attempts, want 2", n)
	}
}

func testLedgerPermissions(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	mustAppend(t, s, pending("society/a", "a1", 0))
	js := s.JetStream()
	// A denied request gets no reply: each attempt ends at its deadline.
	// What counts is what the stream looks like afterwards.
	attempt := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, time.Second) }
	c1, cancel1 := attempt()
	defer cancel1()
	if err := js.DeleteStream(c1, s.StreamName()); err == nil {
		t.Fatal("the ledger's connection deleted its stream")
	}
	str, err := js.Stream(ctx, s.StreamName())
	if err != nil {
		t.Fatalf("stream gone after delete attempt: %v", err)
	}
	c2, cancel2 := attempt()
	defer cancel2()
	if err := str.Purge(c2); err == nil {
		t.Fatal("the ledger's connection purged its stream")
	}
	c3, cancel3 := attempt()
	defer cancel3()
	if err := str.DeleteMsg(c3, 1); err == nil {
		t.Fatal("the ledger's connection deleted a message")
	}
	weaker := str.CachedInfo().Config
	weaker.MaxAge = time.Hour
	c4, cancel4 := attempt()
	defer cancel4()
	if _, err := js.UpdateStream(c4, weaker); err == nil {
		t.Fatal("the ledger's connection added a max age to its stream")
	}
	info, err := s.StreamInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 || info.Config.MaxAge != 0 {
		t.Fatalf("after the attempts: %d messages, max age %v; want 1 and none", info.State.Msgs, info.Config.MaxAge)
	}
}

func testFollow(t *testing.T, b backend) {
	s := b.open(t)
	mustAppend(t, s, pending("society/f", "f1", 0))
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan domain.Record, 10)
	done := make(chan error, 1)
	go func() {
		done <- s.Follow(ctx, 1, func(r domain.Record) error { got <- r; return nil })
	}()
	want := []string{"f1", "f2", "f3"}
	mustAppend(t, s, pending("society/f", "f2", 1), pending("society/f", "f3", 2))
	for i, id := range want {
		select {
		case r := <-got:
			if r.ID != id || r.Sequence != uint64(i+1) {
				t.Fatalf("followed %s at %d, want %s at %d", r.ID, r.Sequence, id, i+1)
			}
		case err := <-done:
			t.Fatalf("Follow ended before record %s: %v", id, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("no record %s within 30s", id)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow returned %v after cancel, want context.Canceled", err)
	}
}
