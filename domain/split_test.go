package domain

import (
	"bytes"
	"encoding/json"
	"maps"
	"testing"
)

// FuzzSplitObject: where splitObject reads an object, it reads what
// encoding/json reads, member for member; where it does not, encoding/json
// decides.
func FuzzSplitObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":"x","b":[1,{"c":null}],"a":2}`, `{"a\u0041":1}`, ` { "a" : "b" } `,
		`{"a":1,}`, `{"a":"\xff"}`, `{"a":1} x`, `[1]`, `{"data":{"n":"滑县"},"id":"e"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := splitObject(b)
		if !ok {
			return
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("splitObject read %q, which encoding/json refuses: %v", b, err)
		}
		if !maps.EqualFunc(got, want, func(x, y json.RawMessage) bool { return string(x) == string(y) }) {
			t.Fatalf("%q: split %v, encoding/json %v", b, got, want)
		}
	})
}

// FuzzPlainText: where plainText reads a string, encoding/json reads the
// same string.
func FuzzPlainText(f *testing.F) {
	for _, s := range []string{`"a"`, `"滑县"`, `"a\"b"`, `"\xff"`, `"a"x`, `1`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := plainText(b)
		if !ok {
			return
		}
		var want string
		if err := json.Unmarshal(b, &want); err != nil || got != want {
			t.Fatalf("%q: plainText %q, encoding/json %q (%v)", b, got, want, err)
		}
	})
}

// FuzzDateJSON: a Date decodes the same with or without the shortcut for
// plain date strings.
func FuzzDateJSON(f *testing.F) {
	for _, s := range []string{`"2021-05-01"`, `"2021-05-01T10:00:00+08:00"`, `"2021-05-01T10:00:00.5Z"`, `""`, `"2021-13-01"`, `"2021-05-01\u0000"`, `"\u0032021-05-01"`, `12`, `null`, `"2021-05-01`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var fast Date
		fastErr := fast.UnmarshalJSON([]byte(in))
		var s string
		slowErr := json.Unmarshal([]byte(in), &s)
		var slow Date
		if slowErr == nil {
			slow, slowErr = Date{}, nil
			if s != "" {
				slow, slowErr = ParseDate(s)
			}
		}
		if (fastErr == nil) != (slowErr == nil) {
			t.Fatalf("%q: shortcut error %v, encoding/json error %v", in, fastErr, slowErr)
		}
		if fastErr == nil && (fast.text != slow.text || !fast.t.Equal(slow.t)) {
			t.Fatalf("%q: shortcut %q, encoding/json %q", in, fast.text, slow.text)
		}
	})
}

// FuzzSplitArray: where SplitArray reads an array, encoding/json reads
// the same elements.
func FuzzSplitArray(f *testing.F) {
	for _, s := range []string{`[]`, ` [ {"a":1} , {"b":[1,2]} ] `, `[1,"x",null,true]`, `[{"a":"\u00e9"}]`, `[{]`, `[1,]`, `[1] x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := SplitArray(b)
		var want []json.RawMessage
		err := json.Unmarshal(b, &want)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("SplitArray read %q, which encoding/json refuses: %v", b, err)
		}
		if len(got) != len(want) || (got == nil) != (want == nil) {
			t.Fatalf("%q: %q, encoding/json %q", b, got, want)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%q element %d: %q, encoding/json %q", b, i, got[i], want[i])
			}
		}
	})
}
