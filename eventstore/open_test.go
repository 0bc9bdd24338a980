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

// TestListenForCLI: --nats-listen opens a TCP port on which the ledger's
// user, with the password file of the data folder, reads the stream.
func TestListenForCLI(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, eventstore.Config{DataDir: dir, Listen: "127.0.0.1:0"})
	mustAppend(t, s, pending("society/a", "a1", 0))
	pw, err := os.ReadFile(filepath.Join(dir, "nats.password"))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(eventstore.LedgerUser, strings.TrimSpace(string(pw))))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	str, err := js.Stream(context.Background(), eventstore.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := str.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Data), `"id":"a1"`) || !strings.Contains(string(m.Data), `"submitter":"tester"`) {
		t.Fatalf("stored message is not readable JSON of the record: %s", m.Data)
	}
	if _, err := nats.Connect(s.ClientURL(), nats.UserInfo(eventstore.LedgerUser, "wrong")); err == nil {
		t.Fatal("connected with a wrong password")
	}
}
