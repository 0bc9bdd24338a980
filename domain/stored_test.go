package domain_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"planledger/domain"
)

// storedVariants are data the fast path must either read exactly as
// encoding/json does or leave to it: escapes, nulls, duplicates, cases,
// white space, numbers an int cannot hold, invalid UTF-8.
var storedVariants = []struct {
	t    domain.EventType
	data string
	fast bool // whether the fast path should take it
}{
	{domain.ServiceTeamServiceDelivered, `{"service_kind":"experts","partner_kind":"village","partner_name":"滑县留固镇东孔庄村","volunteers":6,"hours":24.5,"beneficiaries":180,"delivered_on":"2021-05-25","problems_solved":3,"technologies_promoted":2,"talents_trained":15,"demonstrations":1}`, true},
	{domain.ServiceTeamServiceDelivered, " {\n\t\"hours\" : 1e2 , \"volunteers\":-0,\"delivered_on\":\"2021-05-25T10:00:00+08:00\" } \r\n", true},
	{domain.ServiceTeamServiceDelivered, `{"volunteers":6.0}`, false},
	{domain.ServiceTeamServiceDelivered, `{"volunteers":1e2}`, false},
	{domain.ServiceTeamServiceDelivered, `{"volunteers":99999999999999999999}`, false},
	{domain.ServiceTeamServiceDelivered, `{"hours":1e400}`, false},
	{domain.ServiceTeamServiceDelivered, `{"volunteers":null}`, false},
	{domain.ServiceTeamServiceDelivered, `{"Volunteers":6}`, false},
	{domain.ServiceTeamServiceDelivered, `{"volunteers":6,"volunteers":7}`, false},
	{domain.ServiceTeamServiceDelivered, `{"partner_name":"a\u003cb"}`, false},
	{domain.ServiceTeamServiceDelivered, "{\"partner_name\":\"\xff\"}", false},
	{domain.ServiceTeamServiceDelivered, `{"delivered_on":""}`, true},
	{domain.ServiceTeamServiceDelivered, `{"delivered_on":"2021-13-01"}`, false},
	{domain.ServiceTeamServiceDelivered, `{"unknown":1}`, false},
	{domain.ServiceTeamServiceDelivered, `{"volunteers":6}x`, false},
	{domain.ServiceTeamServiceDelivered, `{"volunteers":6,}`, false},
	{domain.ServiceTeamServiceDelivered, `{}`, true},
	{domain.DecisionProposed, `{"society_id":"hn-chem","amount_cny":12.5}`, true},
	{domain.DecisionProposed, `{"amount_cny":null}`, false},
	{domain.ConferenceSessionHeld, `{"online":true,"attendees":0}`, true},
	{domain.ConferenceSessionHeld, `{"online":"true"}`, false},
	{domain.SocietyReelectionHeld, `{"term_start":"2021-01-01","term_years":5,"leadership":[]}`, true},
	{domain.SocietyReelectionHeld, `{"leadership":[{"member_id":"m1","role":"chair","sector":"university"},{"member_id":"m2"}]}`, true},
	{domain.SocietyReelectionHeld, `{"leadership":[{"member_id":"m1","member_id":"m2"}]}`, false},
	{domain.SocietyReelectionHeld, `{"leadership":[null]}`, false},
	{domain.SocietyLeadershipChanged, `{"added":[],"removed":["m1","m2"]}`, true},
	{domain.PlanPublished, `{"year":2022,"targets":{},"leadership_rule":{"tolerance":0.1}}`, true},
	{domain.PlanPublished, `{"targets":{"a":1,"a":2,"b":3}}`, true},
	{domain.PlanPublished, `{"targets":{"a":1.5}}`, false},
	{domain.RetractionType(domain.AggregateSociety), `{"event_id":"e1","reason":"typo"}`, true},
}

// checkStored holds the fast path to encoding/json on one payload: when
// the fast path takes the data, encoding/json accepts it and decodes the
// same value.
func checkStored(t *testing.T, typ domain.EventType, data []byte) (took bool) {
	t.Helper()
	fast, planned, ok := domain.StoredFast(typ, data)
	if !planned {
		t.Fatalf("%s has no fast path", typ)
	}
	slow, err := domain.StoredSlow(typ, data)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("%s %q: the fast path took data encoding/json refuses: %v", typ, data, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%s %q:\nfast %#v\njson %#v", typ, data, fast, slow)
	}
	if got, err := domain.DecodeStored(typ, data); err != nil || !reflect.DeepEqual(got, slow) {
		t.Fatalf("%s %q: DecodeStored gives %#v, %v", typ, data, got, err)
	}
	return true
}

// TestStoredFastPath: every type of the catalogue has a fast path that
// takes its documented example, and the variants go the way they should.
func TestStoredFastPath(t *testing.T) {
	for _, typ := range domain.EventTypes {
		data := domain.Doc(typ).Example.Data
		if !checkStored(t, typ, data) {
			t.Errorf("%s: the fast path does not take the catalogue's example %s", typ, data)
		}
	}
	for _, v := range storedVariants {
		if took := checkStored(t, v.t, []byte(v.data)); took != v.fast {
			t.Errorf("%s %s: fast path took it %v, want %v", v.t, v.data, took, v.fast)
		}
	}
}

func FuzzDecodeStored(f *testing.F) {
	for i, typ := range domain.EventTypes {
		f.Add(i, []byte(domain.Doc(typ).Example.Data))
	}
	index := map[domain.EventType]int{}
	for i, typ := range domain.EventTypes {
		index[typ] = i
	}
	for _, v := range storedVariants {
		f.Add(index[v.t], []byte(v.data))
	}
	f.Fuzz(func(t *testing.T, i int, data []byte) {
		if i < 0 {
			i = -i
		}
		checkStored(t, domain.EventTypes[i%len(domain.EventTypes)], data)
	})
}

// BenchmarkDecodeStored is the views' decoding of a stored payload, on
// each path.
func BenchmarkDecodeStored(b *testing.B) {
	data := json.RawMessage(storedVariants[0].data)
	typ := storedVariants[0].t
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := domain.DecodeStored(typ, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := domain.StoredSlow(typ, data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// textID is decoded by its own method, as encoding/json would.
type textID string

func (t *textID) UnmarshalText(b []byte) error { *t = textID("id:" + string(b)); return nil }

// TestStoredPlanLeavesCustomTypes: a type encoding/json decodes with the
// type's own method (time.Time, a TextUnmarshaler), an embedded field, a
// member without a name, an interface: no plan, encoding/json decides.
func TestStoredPlanLeavesCustomTypes(t *testing.T) {
	type withTime struct {
		At time.Time `json:"at"`
	}
	type withText struct {
		ID textID `json:"id"`
	}
	type embedded struct {
		domain.Member
	}
	type untagged struct {
		Name string
	}
	type withAny struct {
		X any `json:"x"`
	}
	type plain struct {
		Name    string          `json:"name"`
		Members []domain.Member `json:"members"`
		On      domain.Date     `json:"on"`
		Counts  map[string]int  `json:"counts"`
		Amount  *float64        `json:"amount"`
	}
	for _, v := range []any{withTime{}, withText{}, embedded{}, untagged{}, withAny{}} {
		if domain.HasStoredPlan(v) {
			t.Errorf("%T has a plan; encoding/json must decode it", v)
		}
	}
	if !domain.HasStoredPlan(plain{}) {
		t.Error("a struct of plain fields has no plan")
	}
}

// TestStoredPlanLeavesUnusualTags: options and names encoding/json reads
// its own way, and a type that contains itself, have no plan.
func TestStoredPlanLeavesUnusualTags(t *testing.T) {
	type asString struct {
		N int `json:"n,string"`
	}
	type number struct {
		N json.Number `json:"n"`
	}
	// Two fields with one name (built at run time: vet refuses the literal).
	twice := reflect.New(reflect.StructOf([]reflect.StructField{
		{Name: "A", Type: reflect.TypeFor[string](), Tag: `json:"a"`},
		{Name: "B", Type: reflect.TypeFor[string](), Tag: `json:"a"`},
	})).Elem().Interface()
	type oddName struct {
		A string `json:"a'b"`
	}
	type tree struct {
		Name string `json:"name"`
		Kids []tree `json:"kids"`
	}
	type omit struct {
		A string `json:"a,omitempty"`
		B int    `json:"b,omitzero"`
	}
	for _, v := range []any{asString{}, number{}, twice, oddName{}, tree{}} {
		if domain.HasStoredPlan(v) {
			t.Errorf("%T has a plan; encoding/json must decode it", v)
		}
	}
	if !domain.HasStoredPlan(omit{}) {
		t.Error("omitempty and omitzero change nothing in decoding, yet no plan")
	}
}
