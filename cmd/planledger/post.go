package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"

	"planledger/cmd/planledger/client"
	"planledger/domain"
)

// post wraps data in a CloudEvent and posts it, or posts a batch of
// events from an NDJSON file, and says what the ledger stored or why it
// refused.

// postDefaultSource is the source of the events post makes.
const postDefaultSource = "/planledger/post"

func runPost(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("post", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage:
  planledger post --type TYPE --subject SUBJECT [--time T] [--id ID] DATAFILE|-
  planledger post --batch EVENTS.ndjson|-

The first wraps a data object (a JSON file, or - for standard input) in a
CloudEvent and posts it; the second posts one event a line as a batch (all
or nothing), filling in specversion, id, source and time where a line has
none. The stored record is printed as JSON; a refusal is explained and the
exit status is 1.

`)
		fs.PrintDefaults()
	}
	srv := fs.String("server", "http://127.0.0.1:8080", "the ledger's HTTP API")
	token := fs.String("token", "", "bearer token (or $PLANLEDGER_TOKEN)")
	typ := fs.String("type", "", "event type (society.registered, ...; see docs/events.md)")
	subject := fs.String("subject", "", "the aggregate: <aggregate-type>/<id>, e.g. society/hn-chem")
	at := fs.String("time", "", "when it happened, RFC 3339 (default: now)")
	id := fs.String("id", "", "event id (default: a new UUIDv7); the same id again stores nothing new")
	source := fs.String("source", postDefaultSource, "the event's source")
	batch := fs.Bool("batch", false, "post the NDJSON file's events as one batch")
	file, err := parseWithArg(fs, args, "DATAFILE")
	if err != nil {
		return err
	}
	src := sourceFlags{token: *token}
	c := client.New(*srv, src.bearer())
	input, err := readInput(file)
	if err != nil {
		return err
	}
	defaults := eventDefaults{typ: *typ, subject: *subject, time: *at, id: *id, source: *source, now: time.Now()}
	var events []json.RawMessage
	if *batch {
		events, err = batchEvents(input, defaults)
	} else {
		events, err = singleEvent(input, defaults)
	}
	if err != nil {
		return err
	}
	res, err := c.PostEvents(ctx, events, *batch)
	var p *client.Problem
	if errors.As(err, &p) {
		fmt.Fprintf(stderr, "planledger post: the ledger refused it: %v\n", p)
		return errReported
	}
	if err != nil {
		return err
	}
	for _, rec := range res.Records {
		what := "stored"
		if !res.Created {
			what = "already stored (nothing new)"
		}
		fmt.Fprintf(stderr, "%s: %s event %s, version %d of %s, sequence %d\n", what, rec.Type, rec.ID, rec.Version, rec.Subject, rec.Sequence)
	}
	if *batch {
		return printJSON(stdout, res.Records)
	}
	return printJSON(stdout, res.Records[0])
}

// parseWithArg parses flags with one positional argument among them
// (before, after or between flags).
func parseWithArg(fs *flag.FlagSet, args []string, name string) (string, error) {
	if err := parse(fs, args); err != nil {
		return "", err
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(fs.Output(), "%s is missing\n", name)
		fs.Usage()
		return "", errUsage
	}
	arg := fs.Arg(0)
	if err := parseFlags(fs, fs.Args()[1:]); err != nil {
		return "", err
	}
	return arg, nil
}

func readInput(file string) ([]byte, error) {
	if file == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(file)
}

// eventDefaults fill in what an event posted from the command line lacks.
type eventDefaults struct {
	typ, subject, time, id, source string
	now                            time.Time
}

// complete adds to an event object the attributes it lacks.
func (d eventDefaults) complete(ev map[string]json.RawMessage) error {
	set := func(name, value string) {
		if _, ok := ev[name]; !ok && value != "" {
			b, _ := json.Marshal(value)
			ev[name] = b
		}
	}
	id := d.id
	if _, ok := ev["id"]; !ok && id == "" {
		v7, err := uuid.NewV7()
		if err != nil {
			return err
		}
		id = v7.String()
	}
	at := d.time
	if at == "" {
		at = d.now.Format(time.RFC3339Nano)
	}
	set("specversion", domain.SpecVersion)
	set("id", id)
	set("source", d.source)
	set("type", d.typ)
	set("subject", d.subject)
	set("time", at)
	return nil
}

func singleEvent(input []byte, d eventDefaults) ([]json.RawMessage, error) {
	if d.typ == "" || d.subject == "" {
		return nil, fmt.Errorf("--type and --subject are required (or --batch for a file of whole events)")
	}
	trimmed := bytes.TrimSpace(input)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return nil, fmt.Errorf("the data is not a JSON object; it is the event's data, e.g. {\"name\":\"河南省化学会\",\"kind\":\"society\"}")
	}
	ev := map[string]json.RawMessage{"datacontenttype": json.RawMessage(`"application/json"`), "data": trimmed}
	if err := d.complete(ev); err != nil {
		return nil, err
	}
	b, err := json.Marshal(ev)
	return []json.RawMessage{b}, err
}

func batchEvents(input []byte, d eventDefaults) ([]json.RawMessage, error) {
	var events []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(input))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ev map[string]json.RawMessage
		if err := json.Unmarshal(line, &ev); err != nil {
			return nil, fmt.Errorf("line %d is not a JSON object (an event): %v", n, err)
		}
		d := d
		d.id = "" // each event its own id
		if err := d.complete(ev); err != nil {
			return nil, err
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		events = append(events, b)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	switch {
	case len(events) == 0:
		return nil, errors.New("the file has no events")
	case len(events) > 1000:
		return nil, fmt.Errorf("%d events; a batch has at most 1000 (split the file)", len(events))
	}
	return events, nil
}
