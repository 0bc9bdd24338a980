package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"planledger/eventstore"
	"planledger/eventstore/eventstoretest"
)

func weakConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:               eventstore.DefaultStream,
		Subjects:           []string{eventstore.SubjectPrefix + ".>"},
		Storage:            jetstream.FileStorage,
		MaxAge:             24 * time.Hour,
		AllowDirect:        true,
		AllowAtomicPublish: true,
	}
}

func wantWeakRefusal(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("the store opened on a stream that allows deletes and expires events")
	}
	for _, want := range []string{"deny_delete is off", "deny_purge is off", "max_age is 24h0m0s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestOpenRefusesWeakStream(t *testing.T) {
	t.Run("external", func(t *testing.T) {
		srv := eventstoretest.StartSingle(t)
		admin := eventstoretest.Admin(t, srv.ClientURL())
		if _, err := admin.CreateStream(context.Background(), weakConfig()); err != nil {
			t.Fatal(err)
		}
		_, err := eventstore.Open(context.Background(), eventstoretest.LedgerConfig(srv.ClientURL()))
		wantWeakRefusal(t, err)
	})
	t.Run("embedded", func(t *testing.T) {
		dir := t.TempDir()
		// Someone ran a plain nats-server on the data folder and made the
		// stream themselves.
		opts := eventstoretest.Options(dir)
		srv := eventstoretest.Start(t, opts)
		admin := eventstoretest.Admin(t, srv.ClientURL())
		if _, err := admin.CreateStream(context.Background(), weakConfig()); err != nil {
			t.Fatal(err)
		}
		srv.Stop()
		_, err := eventstore.Open(context.Background(), eventstore.Config{DataDir: dir})
		wantWeakRefusal(t, err)
	})
}

func TestOpenIsIdempotent(t *testing.T) {
	srv := eventstoretest.StartSingle(t)
	for i := 0; i < 3; i++ {
		s, err := eventstore.Open(context.Background(), eventstoretest.LedgerConfig(srv.ClientURL()))
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		s.Close()
	}
}

func TestDataFolderLocked(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, eventstore.Config{DataDir: dir})
	_, err := eventstore.Open(context.Background(), eventstore.Config{DataDir: dir})
	if !errors.Is(err, eventstore.ErrDataDirInUse) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second open: %v; want ErrDataDirInUse naming the folder and the holder", err)
	}
	s.Close()
	// Released on close: the folder opens again.
	openStore(t, eventstore.Config{DataDir: dir}).Close()
}

func blockFile(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "jetstream", "$G", "streams", eventstore.DefaultStream, "msgs", "*.blk"))
	if len(files) != 1 {
		t.Fatalf("block files %v, want one", files)
	}
	return files[0]
}

func TestOpenRefusesDamagedLog(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, blk string)
		want   []string
	}{
		{"last record truncated", func(t *testing.T, blk string) {
			st, _ := os.Stat(blk)
			if err := os.Truncate(blk, st.Size()-40); err != nil {
				t.Fatal(err)
			}
		}, []string{"1 acknowledged events are missing (sequences 30)", "damaged block file(s): ", "1.blk"}},
		{"block file removed", func(t *testing.T, blk string) {
			if err := os.Remove(blk); err != nil {
				t.Fatal(err)
			}
		}, []string{"30 acknowledged events are missing (sequences 1, 2,", "no readable block file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, eventstore.Config{DataDir: dir})
			for i := 0; i < 30; i++ {
				mustAppend(t, s, pending("society/a", fmt.Sprint("e", i)))
			}
			s.Close()
			c.damage(t, blockFile(t, dir))
			_, err := eventstore.Open(context.Background(), eventstore.Config{DataDir: dir})
			if err == nil {
				t.Fatal("the store opened on a log that lost an acknowledged event")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestListenForCLI: --nats-listen opens a TCP port on which the read-only
// operator user, with the password file of the data folder, reads the
// stream every way the nats CLI does, and may change nothing.
func TestListenForCLI(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, eventstore.Config{DataDir: dir, Listen: "127.0.0.1:0"})
	mustAppend(t, s, pending("society/a", "a1", 0))
	if _, err := os.Stat(filepath.Join(dir, "nats.password")); !os.IsNotExist(err) {
		t.Fatalf("the ledger's own password is in a file: %v", err)
	}
	pw, err := os.ReadFile(filepath.Join(dir, eventstore.OperatorPasswordFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, eventstore.OperatorPasswordFile)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file mode %v, want 0600", fi.Mode().Perm())
	}
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(eventstore.OperatorUser, strings.TrimSpace(string(pw))),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})) // the refusals below are expected
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc, jetstream.WithDefaultTimeout(2*time.Second))

	// Reads: stream info, a message by sequence, an ordered consumer, a
	// subscription to new events.
	str, err := js.Stream(ctx, eventstore.DefaultStream)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	m, err := str.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Data), `"id":"a1"`) || !strings.Contains(string(m.Data), `"submitter":"tester"`) {
		t.Fatalf("stored message is not readable JSON of the record: %s", m.Data)
	}
	cons, err := str.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("ordered consumer: %v", err)
	}
	got, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
	if err != nil || !strings.Contains(string(got.Data()), `"id":"a1"`) {
		t.Fatalf("read through the ordered consumer: %v", err)
	}
	sub, err := nc.SubscribeSync(eventstore.SubjectPrefix + ".>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil { // the server knows of the subscription
		t.Fatal(err)
	}
	mustAppend(t, s, pending("society/a", "a2", 1))
	if live, err := sub.NextMsg(2 * time.Second); err != nil || !strings.Contains(string(live.Data), `"id":"a2"`) {
		t.Fatalf("subscription to new events: %v", err)
	}

	// Writes: a publish on the log's subjects, a stream delete, a consumer
	// delete are refused, and the log is unchanged.
	if _, err := js.Publish(ctx, eventstore.SubjectPrefix+".society.x", []byte(`{}`)); err == nil {
		t.Fatal("the operator user published to the log")
	}
	if err := js.DeleteStream(ctx, eventstore.DefaultStream); err == nil {
		t.Fatal("the operator user deleted the stream")
	}
	if err := str.DeleteConsumer(ctx, cons.CachedInfo().Name); err == nil {
		t.Fatal("the operator user deleted a consumer")
	}
	if n := lastSeq(t, s); n != 2 {
		t.Fatalf("the log has %d records after the operator's attempts; want 2", n)
	}
	if _, err := nats.Connect(s.ClientURL(), nats.UserInfo(eventstore.LedgerUser, "wrong")); err == nil {
		t.Fatal("connected with a wrong password")
	}
}
