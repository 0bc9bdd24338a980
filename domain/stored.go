package domain

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// A replay decodes the data of every stored record, and encoding/json
// spends most of that time validating the whole text first and then
// looking every member up through reflection. A stored payload passed the
// strict decoder when it was appended, so it is almost always the plain
// case: an object of the struct's own member names, each once, with plain
// strings, integers, numbers, booleans, dates, lists and maps. storedPlan
// reads that case in one pass over the text with a table made once per
// payload struct; anything else (an escaped or invalid string, an unknown
// or differently cased member, a member twice, a null, a number a field
// cannot hold) sends the data to encoding/json, so the result is always the
// one encoding/json gives (FuzzDecodeStored holds the two paths to that).

// storedPlan reads one struct type's members.
type storedPlan struct {
	fields []storedField
}

type storedField struct {
	name  string
	index int
	read  func(s *scanner, v reflect.Value, depth int) bool
}

// maxStoredFields bounds the members a plan tracks with its bit set.
const maxStoredFields = 64

var (
	dateType            = reflect.TypeFor[Date]()
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	numberType          = reflect.TypeFor[json.Number]()
)

// customDecoded reports whether encoding/json decodes t with t's own
// method rather than by its kind: such a type has no plan (Date aside,
// whose method the plan follows).
func customDecoded(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Implements(unmarshalerType) || p.Implements(unmarshalerType) ||
		t.Implements(textUnmarshalerType) || p.Implements(textUnmarshalerType)
}

// planStored returns the plan of struct type t, or nil when encoding/json
// would read it otherwise than by its fields' kinds (that type then always
// takes encoding/json).
func planStored(t reflect.Type) *storedPlan { return planOf(t, map[reflect.Type]bool{}) }

// planOf is planStored; visiting holds the structs being planned, a type
// that contains itself having no plan.
func planOf(t reflect.Type, visiting map[reflect.Type]bool) *storedPlan {
	if t.Kind() != reflect.Struct || customDecoded(t) || visiting[t] {
		return nil
	}
	visiting[t] = true
	defer delete(visiting, t)
	p := &storedPlan{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, ok := plainTag(f.Tag.Get("json"))
		if f.Anonymous || !ok || p.field([]byte(name)) >= 0 {
			return nil // embedded, untagged, unusual or repeated names: encoding/json's rules
		}
		read := readerOf(f.Type, visiting)
		if read == nil {
			return nil
		}
		p.fields = append(p.fields, storedField{name: name, index: i, read: read})
	}
	if len(p.fields) > maxStoredFields {
		return nil
	}
	return p
}

// plainTag returns the member name of a json tag that has only letters,
// digits and underscores in its name and no option but omitempty or
// omitzero (",string", say, changes how the value is read).
func plainTag(tag string) (string, bool) {
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		return "", false
	}
	for _, c := range name {
		if !(c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return "", false
		}
	}
	for opt := range strings.SplitSeq(opts, ",") {
		if opt != "" && opt != "omitempty" && opt != "omitzero" {
			return "", false
		}
	}
	return name, true
}

// readerOf returns the function that reads one value of type t into a
// settable reflect.Value, or nil for a type the fast path leaves alone.
func readerOf(t reflect.Type, visiting map[reflect.Type]bool) func(*scanner, reflect.Value, int) bool {
	if t == dateType {
		return readDate
	}
	if customDecoded(t) || t == numberType {
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		return readString
	case reflect.Bool:
		return readBool
	case reflect.Int, reflect.Int64:
		return readInt
	case reflect.Float64:
		return readFloat
	case reflect.Pointer:
		if t.Elem().Kind() != reflect.Float64 || customDecoded(t.Elem()) {
			return nil
		}
		return func(s *scanner, v reflect.Value, _ int) bool {
			x := reflect.New(t.Elem())
			if !readFloat(s, x.Elem(), 0) {
				return false
			}
			v.Set(x)
			return true
		}
	case reflect.Struct:
		p := planOf(t, visiting)
		if p == nil {
			return nil
		}
		return p.read
	case reflect.Slice:
		elem := readerOf(t.Elem(), visiting)
		if elem == nil {
			return nil
		}
		return func(s *scanner, v reflect.Value, depth int) bool { return readSlice(s, v, depth, t, elem) }
	case reflect.Map:
		if t.Key() != reflect.TypeFor[string]() {
			return nil
		}
		elem := readerOf(t.Elem(), visiting)
		if elem == nil {
			return nil
		}
		return func(s *scanner, v reflect.Value, depth int) bool { return readMap(s, v, depth, t, elem) }
	}
	return nil
}

// decode reads data into *x (a zero value of the plan's type) and reports
// whether it could; x is undefined when it could not.
func (p *storedPlan) decode(data []byte, x reflect.Value) bool {
	s := scanner{b: data}
	return p.read(&s, x, 0) && s.end()
}

// read reads one object into the struct v.
func (p *storedPlan) read(s *scanner, v reflect.Value, depth int) bool {
	if depth > maxDepth || !s.consume('{') {
		return false
	}
	var seen uint64
	return s.elements('}', func() bool {
		key, ok := s.plainString()
		if !ok || !s.consume(':') {
			return false
		}
		f := p.field(key)
		if f < 0 || seen&(1<<f) != 0 {
			return false
		}
		seen |= 1 << f
		s.ws()
		return p.fields[f].read(s, v.Field(p.fields[f].index), depth+1)
	})
}

// field returns the index in p.fields of the member named key, or -1.
func (p *storedPlan) field(key []byte) int {
	for i := range p.fields {
		if p.fields[i].name == string(key) {
			return i
		}
	}
	return -1
}

func readString(s *scanner, v reflect.Value, _ int) bool {
	str, ok := s.plainString()
	if ok {
		v.SetString(string(str))
	}
	return ok
}

func readBool(s *scanner, v reflect.Value, _ int) bool {
	switch {
	case s.literal("true"):
		v.SetBool(true)
	case s.literal("false"):
		v.SetBool(false)
	default:
		return false
	}
	return true
}

// number moves past a JSON number and returns its text.
func (s *scanner) number() ([]byte, bool) {
	start := s.i
	if s.i >= len(s.b) || !(s.b[s.i] == '-' || s.b[s.i] >= '0' && s.b[s.i] <= '9') || !s.skipNumber() {
		return nil, false
	}
	return s.b[start:s.i], true
}

// readInt takes an integer written as one (encoding/json refuses 1.0 and
// 1e2 for an int); it parses as encoding/json does.
func readInt(s *scanner, v reflect.Value, _ int) bool {
	num, ok := s.number()
	if !ok {
		return false
	}
	for _, c := range num {
		if c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil || v.OverflowInt(n) {
		return false
	}
	v.SetInt(n)
	return true
}

func readFloat(s *scanner, v reflect.Value, _ int) bool {
	num, ok := s.number()
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil {
		return false
	}
	v.SetFloat(f)
	return true
}

// readDate takes a date written with the characters of one only, as
// Date.UnmarshalJSON's own shortcut does.
func readDate(s *scanner, v reflect.Value, _ int) bool {
	start := s.i
	if !s.skipString() {
		return false
	}
	text, ok := plainDateString(s.b[start:s.i])
	if !ok {
		return false
	}
	d := v.Addr().Interface().(*Date)
	if text == "" {
		*d = Date{} // a date never set, as MarshalJSON writes it
		return true
	}
	var err error
	*d, err = ParseDate(text)
	return err == nil
}

// readSlice reads an array into a new slice, empty (not nil) for [].
func readSlice(s *scanner, v reflect.Value, depth int, t reflect.Type, elem func(*scanner, reflect.Value, int) bool) bool {
	if depth > maxDepth || !s.consume('[') {
		return false
	}
	out := reflect.MakeSlice(t, 0, 4)
	ok := s.elements(']', func() bool {
		out = reflect.Append(out, reflect.Zero(t.Elem()))
		return elem(s, out.Index(out.Len()-1), depth+1)
	})
	if ok {
		v.Set(out)
	}
	return ok
}

// readMap reads an object into a new map, empty (not nil) for {}.
func readMap(s *scanner, v reflect.Value, depth int, t reflect.Type, elem func(*scanner, reflect.Value, int) bool) bool {
	if depth > maxDepth || !s.consume('{') {
		return false
	}
	out := reflect.MakeMap(t)
	x := reflect.New(t.Elem()).Elem()
	ok := s.elements('}', func() bool {
		key, ok := s.plainString()
		if !ok || !s.consume(':') {
			return false
		}
		s.ws()
		x.SetZero()
		if !elem(s, x, depth+1) {
			return false
		}
		out.SetMapIndex(reflect.ValueOf(string(key)), x)
		return true
	})
	if ok {
		v.Set(out)
	}
	return ok
}
