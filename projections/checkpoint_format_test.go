package projections

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"planledger/domain"
	"planledger/eventstore"
	"planledger/eventstore/retry"
)

var updateGolden = flag.Bool("update", false, "write the golden checkpoint of a new checkpoint format (never overwrites one)")

// goldenLog is testdata/checkpoint/log.ndjson: every event type of the
// catalogue (the domain's golden examples), a retraction and a foreign
// record, with fixed sequences and recorded times.
func goldenLog(t *testing.T) []domain.Record {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "checkpoint", "log.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []domain.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r domain.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line %d: %v", len(recs)+1, err)
		}
		if r.Foreign != nil {
			r.Foreign.Detail = "the body is not JSON" // not part of a record's line
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// goldenViews folds the golden log.
func goldenViews(t *testing.T, recs []domain.Record) *Views {
	t.Helper()
	history := func(_ context.Context, ref domain.Ref, upTo uint64) ([]domain.Record, error) {
		var out []domain.Record
		for _, r := range recs {
			if r.Subject == ref.String() && r.Sequence <= upTo {
				out = append(out, r)
			}
		}
		return out, nil
	}
	v := NewViews(history)
	for i := range recs {
		if err := v.Apply(context.Background(), &recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// goldenCheckpoint is the checkpoint of the golden log, indented for
// readable diffs.
func goldenCheckpoint(t *testing.T) (encoded []byte, v *Views) {
	t.Helper()
	recs := goldenLog(t)
	v = goldenViews(t, recs)
	views, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	cp := checkpointFile{Format: checkpointFormat, Stream: "PLANLEDGER", StreamCreated: time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC),
		Sequence: v.Sequence, Views: views}
	cp.LastID, cp.LastSubject = identity(&recs[len(recs)-1])
	encoded, err = json.MarshalIndent(cp, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(encoded, '\n'), v
}

func goldenPath(format int) string {
	return filepath.Join("testdata", "checkpoint", fmt.Sprintf("format-%d.json", format))
}

// TestCheckpointGolden freezes the checkpoint encoding of each format: a
// change to the views' JSON (a state field of domain renamed, added or
// removed included) without a new checkpointFormat fails here, where it
// would otherwise zero the field in every checkpoint already written.
func TestCheckpointGolden(t *testing.T) {
	got, _ := goldenCheckpoint(t)
	path := goldenPath(checkpointFormat)
	want, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
		return
	}
	if err != nil {
		t.Fatalf("%v: a new checkpoint format needs its golden file: go test ./projections -run TestCheckpointGolden -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the views' checkpoint encoding changed, but checkpointFormat is still %d (%s): a checkpoint written before "+
			"would be read wrong. Bump checkpointFormat in checkpoint.go (checkpoints of the old format are then rebuilt "+
			"from the log), then write the new golden file with go test ./projections -run TestCheckpointGolden -update.\n"+
			"first difference: %s", checkpointFormat, path, firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d is\n  %s\nwant\n  %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(al), len(bl))
}

// TestGoldenLogCoversEveryField: the golden checkpoint holds every member
// of every struct the views encode, set, so that renaming any of them
// changes the golden file.
func TestGoldenLogCoversEveryField(t *testing.T) {
	_, v := goldenCheckpoint(t)
	set := map[string]bool{} // "Type.Field" -> seen non-zero
	walkFields(reflect.ValueOf(v).Elem(), set)
	var unset []string
	for f, ok := range set {
		if !ok {
			unset = append(unset, f)
		}
	}
	sort.Strings(unset)
	if len(unset) > 0 {
		t.Errorf("the golden log leaves these fields zero, so the golden checkpoint does not show their names: %v; add events to testdata/checkpoint/log.ndjson that set them", unset)
	}
	if len(set) < 50 {
		t.Errorf("only %d fields walked; want every field of the views' states", len(set))
	}
}

var jsonMarshaler = reflect.TypeFor[json.Marshaler]()

// walkFields notes, for each exported, encoded field of each struct
// reached from v, whether it is non-zero anywhere. A type with its own
// JSON encoding (a time, a date) is a leaf.
func walkFields(v reflect.Value, set map[string]bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkFields(v.Elem(), set)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkFields(v.Index(i), set)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			walkFields(it.Value(), set)
		}
	case reflect.Struct:
		if v.Type().Implements(jsonMarshaler) || reflect.PointerTo(v.Type()).Implements(jsonMarshaler) {
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Tag.Get("json") == "-" {
				continue
			}
			key := v.Type().Name() + "." + f.Name
			set[key] = set[key] || !v.Field(i).IsZero()
			walkFields(v.Field(i), set)
		}
	}
}

// TestCheckpointReadsOnlyItsFormat: the golden file of this format reads
// back to the same views; one of another format, or with a member the
// views do not have (a field renamed), is refused whole.
func TestCheckpointReadsOnlyItsFormat(t *testing.T) {
	golden, v := goldenCheckpoint(t)
	want, _ := json.Marshal(v)
	read := func(content []byte) (*Views, error) {
		var cp checkpointFile
		if err := json.Unmarshal(content, &cp); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "views.json.gz")
		if err := writeCheckpoint(path, cp); err != nil {
			t.Fatal(err)
		}
		_, got, err := readCheckpoint(path, nil)
		return got, err
	}
	got, err := read(golden)
	if err != nil {
		t.Fatal(err)
	}
	if back, _ := json.Marshal(got); !bytes.Equal(back, want) {
		t.Fatalf("the golden checkpoint reads back as\n%s\nwant\n%s", back, want)
	}
	for name, change := range map[string][2]string{
		"an older format":   {fmt.Sprintf(`"format": %d`, checkpointFormat), `"format": 1`},
		"a newer format":    {fmt.Sprintf(`"format": %d`, checkpointFormat), fmt.Sprintf(`"format": %d`, checkpointFormat+1)},
		"a renamed field":   {`"history_events"`, `"history_event_count"`},
		"a field not known": {`"sessions"`, `"meetings": 1, "sessions"`},
	} {
		changed := bytes.Replace(golden, []byte(change[0]), []byte(change[1]), 1)
		if bytes.Equal(changed, golden) {
			t.Fatalf("%s: %s is not in the golden checkpoint", name, change[0])
		}
		if _, err := read(changed); err == nil {
			t.Errorf("%s: the checkpoint was read; want it refused (rebuilt from the log)", name)
		}
	}
	// The golden files of older formats are refused too.
	olds, _ := filepath.Glob(filepath.Join("testdata", "checkpoint", "format-*.json"))
	for _, p := range olds {
		if p == goldenPath(checkpointFormat) {
			continue
		}
		content, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := read(content); err == nil {
			t.Errorf("%s was read by format %d", p, checkpointFormat)
		}
	}
}

// TestReadErrorIsNotAMismatch: a checkpoint that cannot be checked
// because the log does not answer is neither kept nor called foreign: the
// check is retried, then fails with the read's error.
func TestReadErrorIsNotAMismatch(t *testing.T) {
	ctx := context.Background()
	s, err := eventstore.Open(ctx, eventstore.Config{DataDir: t.TempDir(), CreateKey: true})
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.StreamInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp := &checkpointFile{Format: checkpointFormat, Stream: info.Config.Name, StreamCreated: info.Created}
	if reason, err := mismatch(ctx, s, cp, 0); reason != "" || err != nil {
		t.Fatalf("mismatch = %q, %v; want a match", reason, err)
	}
	s.Close() // from now on every read fails as a lost connection does
	start := time.Now()
	reason, err := mismatch(ctx, s, cp, 0)
	if reason != "" || !eventstore.IsUnavailable(err) {
		t.Fatalf("mismatch = %q, %v; want no reason and the read's error", reason, err)
	}
	var re *retry.Error
	if !errors.As(err, &re) || re.Attempts != checkPolicy.Attempts {
		t.Errorf("mismatch = %v; want it retried %d times", err, checkPolicy.Attempts)
	}
	if elapsed := time.Since(start); elapsed < 1500*time.Millisecond {
		t.Errorf("the retries took %s; want at least their pauses (100+200+400+800 ms)", elapsed)
	}
}
