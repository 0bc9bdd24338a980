package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"planledger/domain"
	"planledger/projections"
)

// entry is one record of an aggregate's history as a page shows it.
type entry struct {
	Rec       domain.Record
	Label     string // the event type, named
	Fields    []field
	Retracted *retraction // set when a retraction withdrew this record
	Retracts  string      // for a retraction, the id of the event it withdraws
	Href      string      // the record's own page
}

type field struct{ Key, Label, Value string }

type retraction struct {
	Sequence uint64
	Reason   string
}

// timeline is an aggregate's history as it stood at the page's moment.
type timeline struct {
	Entries []entry
	Hidden  int // records after the "as of" moment, not shown
}

// history reads an aggregate's records (the store never returns records
// the ledger did not write) and returns them with the society that owns
// the aggregate ("" for a plan). A reader that may not read it gets the
// same not-found as for an aggregate that does not exist.
func (s *Site) history(ctx context.Context, b *base, ref domain.Ref) ([]domain.Record, string, error) {
	recs, err := s.cfg.Store.ReadAggregate(ctx, ref)
	if err != nil {
		return nil, "", err
	}
	owner := ownerOf(ref, recs)
	if len(recs) == 0 || !b.Reader.MayRead(owner) {
		return nil, "", notFound()
	}
	return recs, owner, s.nameSocieties(ctx, b, owner, recs)
}

// societyFields are the data fields that name a society by its id.
var societyFields = []string{"society_id", "organizer_society", "lead_society"}

// nameSocieties looks up the names of the owner and of the societies the
// records name, as the page's views know them, for the page to show.
func (s *Site) nameSocieties(ctx context.Context, b *base, owner string, recs []domain.Record) error {
	b.names = map[string]string{owner: ""}
	for i := range recs {
		var d map[string]json.RawMessage
		_ = json.Unmarshal(recs[i].Data, &d)
		for _, k := range societyFields {
			var id string
			if json.Unmarshal(d[k], &id) == nil && id != "" {
				b.names[id] = ""
			}
		}
	}
	return s.withViews(ctx, b, func(v *projections.Views, _ time.Time) error {
		for id := range b.names {
			b.names[id] = v.SocietyName(id)
		}
		return nil
	})
}

// ownerOf is the society an aggregate belongs to, fixed by its first
// event as the ledger's write rules fix it.
func ownerOf(ref domain.Ref, recs []domain.Record) string {
	if ref.Type == domain.AggregateSociety {
		return ref.ID
	}
	creation := domain.CreationType(ref.Type)
	for i := range recs {
		if domain.EventType(recs[i].Type) != creation {
			continue
		}
		var d struct {
			SocietyID string `json:"society_id"`
			Organizer string `json:"organizer_society"`
			Lead      string `json:"lead_society"`
		}
		_ = json.Unmarshal(recs[i].Data, &d)
		return cmp.Or(d.SocietyID, d.Organizer, d.Lead)
	}
	return ""
}

// timeline lays out records as they stood at the page's moment: on the
// recorded axis, what was recorded by then (retractions recorded later do
// not apply yet); on the occurred axis, what had happened by then, with
// every retraction in the log applied.
func (b *base) timeline(ref domain.Ref, recs []domain.Record) timeline {
	shown := func(r *domain.Record) bool {
		switch {
		case b.AsOf == nil:
			return true
		case b.AsOf.Axis == projections.AxisRecorded:
			return !r.RecordedTime.After(b.AsOf.T)
		}
		return !r.Time.After(b.AsOf.T)
	}
	withdrawn := map[string]*retraction{}
	for i := range recs {
		r := &recs[i]
		if !domain.EventType(r.Type).IsRetraction() || (b.AsOf != nil && b.AsOf.Axis == projections.AxisRecorded && !shown(r)) {
			continue
		}
		var d struct {
			EventID string `json:"event_id"`
			Reason  string `json:"reason"`
		}
		_ = json.Unmarshal(r.Data, &d)
		withdrawn[d.EventID] = &retraction{Sequence: r.Sequence, Reason: d.Reason}
	}
	var tl timeline
	for i := range recs {
		r := recs[i]
		if !shown(&r) {
			tl.Hidden++
			continue
		}
		e := entry{Rec: r, Label: b.eventLabel(r.Type), Fields: b.fields(r.Data), Retracted: withdrawn[r.ID],
			Href: b.Href("/aggregates", string(ref.Type), ref.ID, strconv.FormatUint(r.Version, 10))}
		if domain.EventType(r.Type).IsRetraction() {
			var d struct {
				EventID string `json:"event_id"`
			}
			_ = json.Unmarshal(r.Data, &d)
			e.Retracts = d.EventID
		}
		tl.Entries = append(tl.Entries, e)
	}
	return tl
}

func (b *base) eventLabel(typ string) string {
	if domain.EventType(typ).IsRetraction() {
		return b.L("event", "retraction")
	}
	return b.L("event", typ)
}

// fields lists an event's data in the order it was sent, each named and
// its codes labelled.
func (b *base) fields(data json.RawMessage) []field {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var out []field
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			break
		}
		key, _ := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			break
		}
		out = append(out, field{Key: key, Label: b.L("field", key), Value: b.value(key, raw)})
	}
	return out
}

// value shows one data value: codes named, members summed up by sector,
// numbers as sent.
func (b *base) value(key string, raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return string(raw)
	}
	switch v := x.(type) {
	case string:
		if kind, ok := fieldKinds[key]; ok {
			return b.L(kind, v)
		}
		if name := b.names[v]; name != "" && slices.Contains(societyFields, key) {
			return name + " (" + v + ")"
		}
		return v
	case json.Number:
		return v.String()
	case bool:
		return b.T(map[bool]string{true: "yes", false: "no"}[v])
	case []any:
		if key == "leadership" || key == "added" {
			return b.members(v)
		}
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, raw)
	return buf.String()
}

// members sums a list of members up by sector: "10 人：高校 3，...".
func (b *base) members(list []any) string {
	n := map[string]int{}
	for _, m := range list {
		if mm, ok := m.(map[string]any); ok {
			sector, _ := mm["sector"].(string)
			n[sector]++
		}
	}
	var parts []string
	for _, sec := range append(sectorOrder, "other") {
		if n[sec] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", b.L("sector", sec), n[sec]))
		}
	}
	sep := "，"
	if b.Lang == langEN {
		sep = ", "
	}
	colon := "："
	if b.Lang == langEN {
		colon = ": "
	}
	return b.Tf("society.members", len(list)) + colon + strings.Join(parts, sep)
}

type aggregatePage struct {
	*base
	Ref       domain.Ref
	TypeLabel string
	Name      string
	Owner     string
	OwnerName string
	Timeline  timeline
}

// handleAggregate is any aggregate's history in order, retracted events
// struck through with the retraction's reason.
func (s *Site) handleAggregate(r *http.Request, b *base) (string, any, error) {
	ref, err := domain.ParseRef(r.PathValue("type") + "/" + r.PathValue("id"))
	if err != nil {
		return "", nil, notFound()
	}
	recs, owner, err := s.history(r.Context(), b, ref)
	if err != nil {
		return "", nil, err
	}
	p := &aggregatePage{base: b, Ref: ref, TypeLabel: b.L("aggregate", string(ref.Type)), Owner: owner,
		OwnerName: b.names[owner], Name: displayName(recs), Timeline: b.timeline(ref, recs)}
	b.Title, b.Nav = cmp.Or(p.Name, ref.String()), "societies"
	return "aggregate", p, nil
}

// displayName is the name or title the aggregate's first event gave it.
func displayName(recs []domain.Record) string {
	for i := range recs {
		var d struct {
			Name  string `json:"name"`
			Title string `json:"title"`
		}
		if json.Unmarshal(recs[i].Data, &d) == nil && (d.Name != "" || d.Title != "") {
			return cmp.Or(d.Name, d.Title)
		}
	}
	return ""
}

type eventPage struct {
	*base
	Ref       domain.Ref
	Name      string
	Entry     entry
	Raw       string
	Back      string
	TypeLabel string
	// Proof is the record's inclusion proof against Log, the latest
	// signed checkpoint (both nil without a tree); event.html shows them
	// and static/verify.js checks them.
	Proof *proofView
	Log   *checkpointView
}

// record reads the record a path names, /aggregates/{type}/{id}/{version},
// with its aggregate's history: not found if the reader may not read it.
func (s *Site) record(r *http.Request, b *base) (domain.Ref, []domain.Record, uint64, error) {
	ref, err := domain.ParseRef(r.PathValue("type") + "/" + r.PathValue("id"))
	version, verr := strconv.ParseUint(r.PathValue("version"), 10, 64)
	if err != nil || verr != nil {
		return ref, nil, 0, notFound()
	}
	recs, _, err := s.history(r.Context(), b, ref)
	return ref, recs, version, err
}

// handleEvent is one record in full: its envelope, its data named and as
// sent, whether it was retracted, and its proof that it is in the log.
func (s *Site) handleEvent(r *http.Request, b *base) (string, any, error) {
	ref, recs, version, err := s.record(r, b)
	if err != nil {
		return "", nil, err
	}
	p := &eventPage{base: b, Ref: ref, Name: cmp.Or(displayName(recs), ref.String()), TypeLabel: b.L("aggregate", string(ref.Type)),
		Back: b.Href("/aggregates", string(ref.Type), ref.ID)}
	found := false
	for _, e := range b.timeline(ref, recs).Entries {
		if e.Rec.Version == version {
			p.Entry, found = e, true
		}
	}
	if !found {
		return "", nil, notFound()
	}
	raw, err := json.MarshalIndent(p.Entry.Rec, "", "  ")
	if err != nil {
		return "", nil, err
	}
	p.Raw = string(raw)
	if p.Log, p.Proof, err = s.proofView(r, &p.Entry.Rec); err != nil {
		return "", nil, err
	}
	b.Title, b.Nav = b.Tf("event.title", p.Name, version), "societies"
	return "event", p, nil
}
