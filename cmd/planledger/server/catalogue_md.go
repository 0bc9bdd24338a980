package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"planledger/domain"
)

//go:generate go run ./gendocs ../../../docs

// GeneratedDocs returns the files of docs/ made from the catalogue and the
// route table, by path under docs/: events.md, openapi.json and a schema
// per event type. `go generate ./cmd/planledger/server` writes them;
// TestGeneratedDocs fails when the copies in the repository are stale.
func GeneratedDocs() (map[string][]byte, error) {
	files := map[string][]byte{}
	api, err := OpenAPI()
	if err != nil {
		return nil, err
	}
	files["openapi.json"] = api
	md, err := CatalogueMarkdown()
	if err != nil {
		return nil, err
	}
	files["events.md"] = md
	for _, t := range domain.EventTypes {
		b, err := SchemaDocument(t)
		if err != nil {
			return nil, err
		}
		files["schemas/"+string(t)+".json"] = b
	}
	return files, nil
}

// CatalogueMarkdown is docs/events.md: every event type, its fields, its
// rules and an example.
func CatalogueMarkdown() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(catalogueIntro)
	b.WriteString("\n## Aggregates\n\n| aggregate | what it is | created by |\n|---|---|---|\n")
	for _, a := range domain.AggregateTypes {
		fmt.Fprintf(&b, "| `%s` | %s | `%s` |\n", a, domain.AggregateDoc(a), domain.CreationType(a))
	}
	b.WriteString("\n## Types\n\n")
	for _, t := range domain.EventTypes {
		fmt.Fprintf(&b, "- [`%s`](#%s)\n", t, strings.ReplaceAll(string(t), ".", ""))
	}
	for _, t := range domain.EventTypes {
		if err := writeTypeDoc(&b, t); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

func writeTypeDoc(b *bytes.Buffer, t domain.EventType) error {
	doc := domain.Doc(t)
	sch := domain.DataSchema(t)
	fmt.Fprintf(b, "\n### %s\n\n%s\n\n", t, doc.Summary)
	b.WriteString("| field | required | what it takes |\n|---|---|---|\n")
	writeFields(b, sch, "", doc.Fields)
	if len(doc.Rules) > 0 {
		b.WriteString("\nRules beyond the fields:\n\n")
		for _, r := range doc.Rules {
			fmt.Fprintf(b, "- %s\n", r)
		}
	}
	ev, err := json.Marshal(doc.Example.Event(t))
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, ev, "", "  "); err != nil {
		return err
	}
	fmt.Fprintf(b, "\nExample (data schema: [`schemas/%s.json`](schemas/%s.json), served at `GET /v1/schemas/%s`):\n\n```json\n%s\n```\n", t, t, t, pretty.String())
	return nil
}

// writeFields writes one row per property of an object schema, nested
// objects and lists of objects as name.sub and name[].sub.
func writeFields(b *bytes.Buffer, s *domain.Schema, prefix string, notes map[string]string) {
	for _, name := range s.Order() {
		p := s.Properties[name]
		req := ""
		if s.IsRequired(name) {
			req = "yes"
		}
		what := describeSchema(p)
		if n := notes[name]; n != "" && prefix == "" {
			what += ": " + n
		}
		fmt.Fprintf(b, "| `%s%s` | %s | %s |\n", prefix, name, req, what)
		switch {
		case p.Type == "object" && len(p.Properties) > 0:
			writeFields(b, p, prefix+name+".", nil)
		case p.Type == "array" && p.Items != nil && p.Items.Type == "object":
			writeFields(b, p.Items, prefix+name+"[].", nil)
		}
	}
}

// describeSchema says in words what a property's schema takes.
func describeSchema(p *domain.Schema) string {
	switch p.Type {
	case "string":
		return describeString(p)
	case "integer":
		return "whole number " + describeRange(p)
	case "number":
		return "number " + describeRange(p)
	case "boolean":
		return "`true` or `false`"
	case "array":
		what := "list of " + describeSchema(p.Items)
		if p.Items.Type == "object" {
			what = "list of objects (below)"
		}
		if p.MinItems != nil {
			what += fmt.Sprintf(", at least %d", *p.MinItems)
		}
		return what
	case "object":
		if p.PropertyNames != nil {
			if add, ok := p.AdditionalProperties.(*domain.Schema); ok {
				return "object: each key one of " + codeList(p.PropertyNames.Enum) + ", each value a " + describeSchema(add)
			}
		}
		return "object (below)"
	}
	return p.Type
}

func describeString(p *domain.Schema) string {
	switch {
	case len(p.Enum) > 0:
		var vals []string
		empty := false
		for _, v := range p.Enum {
			if v == "" {
				empty = true
				continue
			}
			vals = append(vals, v)
		}
		out := "one of " + codeList(vals)
		if empty {
			out += " (or empty: none)"
		}
		return out
	case p.Format == "date":
		return "date `YYYY-MM-DD` (China Standard Time) or RFC 3339 timestamp"
	case p.Pattern == `^[a-z0-9][a-z0-9-]{0,63}$`:
		return "slug: lowercase letters, digits and `-`, at most 64"
	case p.Pattern == `^[ -~]*[!-~][ -~]*$`:
		return "event id: 1 to 128 printable ASCII characters"
	}
	out := "text"
	if p.MinLength != nil && *p.MinLength > 0 {
		out += ", not blank"
	}
	if p.MaxLength != nil {
		out += ", at most " + strconv.Itoa(*p.MaxLength) + " characters"
	}
	return out
}

func describeRange(p *domain.Schema) string {
	num := func(x *float64) string { return strconv.FormatFloat(*x, 'f', -1, 64) }
	switch {
	case p.Minimum != nil && p.Maximum != nil && *p.Maximum >= 1_000_000:
		return "of at least " + num(p.Minimum)
	case p.Minimum != nil && p.Maximum != nil:
		return "from " + num(p.Minimum) + " to " + num(p.Maximum)
	}
	return ""
}

func codeList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = "`" + v + "`"
	}
	return strings.Join(q, ", ")
}

const catalogueIntro = `# The event catalogue

<!-- Generated from the domain catalogue by ` + "`go generate ./cmd/planledger/server`" + `; do not edit by hand. -->

Every event posted to the ledger is a [CloudEvent](https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md)
1.0. The envelope is the same for every type:

| attribute | required | what it takes |
|---|---|---|
| ` + "`specversion`" + ` | yes | ` + "`1.0`" + ` |
| ` + "`id`" + ` | yes | the submitter's id for the event, 1 to 128 printable ASCII characters; unique per aggregate and an idempotency key forever |
| ` + "`source`" + ` | yes | URI-reference of the submitting system, e.g. ` + "`/societies/hn-chem`" + ` |
| ` + "`type`" + ` | yes | one of the types below |
| ` + "`subject`" + ` | yes | the aggregate, ` + "`<aggregate-type>/<id>`" + ` with a slug id, e.g. ` + "`society/hn-chem`" + ` |
| ` + "`time`" + ` | yes | RFC 3339: when it happened (business time), not more than 5 minutes ahead of the ledger's clock |
| ` + "`data`" + ` | yes | the type's data, a JSON object (or ` + "`data_base64`" + ` holding that JSON in base64) |
| ` + "`datacontenttype`" + ` | no | a JSON media type (` + "`application/json; charset=utf-8`" + `); kept as sent |
| ` + "`dataschema`" + ` | no | an absolute URI; kept as sent |
| ` + "`expectedversion`" + ` | no | the ledger's extension: the aggregate's version must equal it (0: it must not exist yet); consumed, not stored |
| any other | no | an extension attribute (` + "`traceparent`" + `, ` + "`partitionkey`" + `, ...): a name of lowercase letters and digits (at most 64), a string (at most 2048 bytes), a whole number from -2147483648 to 2147483647 or a boolean; at most 32; stored and returned unchanged |

The ledger sets ` + "`sequence`" + `, ` + "`version`" + `, ` + "`recordedtime`" + ` and ` + "`submitter`" + ` on the stored record (and
may set ` + "`recordmac`" + `, ` + "`foreign`" + `, ` + "`foreignreason`" + `): an event that sends one of them is refused.
A stored record is itself a CloudEvent with those as extensions.

` + "`data`" + ` is strict: a field not listed is refused, and so is a value of the wrong JSON type (a number
sent as a string), out of range, or not one of a list. Whole numbers are written without a fraction or
exponent. The JSON Schema (2020-12) of each type's data is in [` + "`schemas/`" + `](schemas/) and served at
` + "`GET /v1/schemas/{type}`" + `; the whole API is described by [` + "`openapi.json`" + `](openapi.json) (` + "`GET /openapi.json`" + `).
The schemas say what each field takes; the rules listed under a type span fields or the aggregate's
history, and only the ledger checks them (with a 422 pointing at the field).

Every aggregate is created by its first event, once, and every event names its aggregate in
` + "`subject`" + `. A submitter writes only the aggregates of its societies (the owner below), as fixed by
the aggregate's first event; plans are written by admins only. Dates are not in the future.
`
