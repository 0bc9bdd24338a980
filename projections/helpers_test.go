package projections_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/projections"
)

// ledgerLog appends domain events straight to a real embedded store.
type ledgerLog struct {
	t     *testing.T
	store *eventstore.Store
	n     int
	recs  []domain.Record
}

func newLog(t *testing.T) *ledgerLog {
	t.Helper()
	s, err := eventstore.Open(context.Background(), eventstore.Config{DataDir: t.TempDir(), CreateKey: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	l := &ledgerLog{t: t, store: s}
	plan := domain.Plan2021()
	l.appendEvent(plan)
	return l
}

func (l *ledgerLog) appendEvent(ev domain.Event) domain.Record {
	l.t.Helper()
	res, err := l.store.Append(context.Background(), []eventstore.Pending{{Event: ev, Submitter: "test"}})
	if err != nil {
		l.t.Fatalf("append %s %s: %v", ev.Type, ev.Subject, err)
	}
	l.recs = append(l.recs, res.Records[0])
	return res.Records[0]
}

// add appends one event happening at business time when ("" for a default
// in 2021) and returns its id.
func (l *ledgerLog) add(subject, typ, data string, when ...string) string {
	l.t.Helper()
	l.n++
	at := time.Date(2021, 5, 1, 10, 0, 0, 0, domain.CST)
	if len(when) > 0 {
		var err error
		if at, err = time.Parse(time.RFC3339, when[0]); err != nil {
			l.t.Fatal(err)
		}
	}
	id := fmt.Sprintf("ev-%d", l.n)
	l.appendEvent(domain.Event{SpecVersion: "1.0", ID: id, Source: "/test", Type: typ, Subject: subject, Time: at, Data: json.RawMessage(data)})
	return id
}

func (l *ledgerLog) retract(subject, id string) {
	l.t.Helper()
	typ, _, _ := cut(subject)
	l.add(subject, typ+".event_retracted", fmt.Sprintf(`{"event_id":%q,"reason":"wrong"}`, id))
}

func cut(subject string) (string, string, bool) {
	for i := 0; i < len(subject); i++ {
		if subject[i] == '/' {
			return subject[:i], subject[i+1:], true
		}
	}
	return subject, "", false
}

// replay builds the views of the whole log.
func (l *ledgerLog) replay() *projections.Views {
	l.t.Helper()
	v, err := projections.Replay(context.Background(), l.store, time.Now().Add(time.Hour), projections.AxisRecorded)
	if err != nil {
		l.t.Fatal(err)
	}
	return v
}

// renderAll renders every view as JSON against clock.
func renderAll(t *testing.T, v *projections.Views, clock time.Time) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range projections.ViewNames {
		r, err := v.Render(name, clock)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r)
		out[name] = string(b)
	}
	return out
}

func sameViews(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for name := range want {
		if got[name] != want[name] {
			t.Fatalf("%s: view %s\n got %s\nwant %s", what, name, got[name], want[name])
		}
	}
}

// tamper rewrites a gzip-compressed file, replacing old with new once.
func tamper(t *testing.T, path, old, new string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(plain, []byte(old)) {
		t.Fatalf("%s does not contain %s", path, old)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Replace(plain, []byte(old), []byte(new), 1))
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}
