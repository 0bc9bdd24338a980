package domain

import (
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
