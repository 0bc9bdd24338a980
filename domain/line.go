package domain

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// A record's line is its canonical JSON: what GET /v1/events and export
// write for it, and the leaf of the log's Merkle tree (the hash of the
// line, without its newline). It must never change for a stored record,
// whatever Go version builds the ledger, so it is written here by hand
// rather than left to encoding/json:
//
//   - no white space; members in the order below; optional members left
//     out when empty;
//   - a genuine record: specversion, id, source, type, subject, time,
//     datacontenttype, dataschema, data, its extension attributes in name
//     order, sequence, version, recordedtime, submitter, recordmac;
//   - a foreign record: specversion, id, source, type, time,
//     datacontenttype, data {reason, nats_subject, headers (keys sorted),
//     body or body_base64}, sequence, recordedtime, foreign, foreignreason;
//   - times in RFC 3339 with nanoseconds, trailing zeros dropped (Go's
//     time.RFC3339Nano);
//   - strings escaped minimally: \" \\ \b \f \n \r \t, other control
//     characters as \u00xx, U+2028 and U+2029 as \u2028 and \u2029,
//     invalid UTF-8 as \ufffd; nothing else (no HTML escaping);
//   - data, extension values, and a foreign record's body where it is
//     compact JSON in valid UTF-8, are written as stored, byte for byte.
//
// TestLineGolden pins it.

// AppendLine appends the record's line to dst.
func AppendLine(dst []byte, r *Record) []byte {
	if r.Foreign != nil {
		return appendForeignLine(dst, r)
	}
	dst = appendEventMembers(dst, &r.Event)
	dst = append(dst, `,"sequence":`...)
	dst = strconv.AppendUint(dst, r.Sequence, 10)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendUint(dst, r.Version, 10)
	dst = append(dst, `,"recordedtime":`...)
	dst = appendTime(dst, r.RecordedTime)
	dst = append(dst, `,"submitter":`...)
	dst = appendString(dst, r.Submitter)
	if r.MAC != "" {
		dst = append(dst, `,"recordmac":`...)
		dst = appendString(dst, r.MAC)
	}
	return append(dst, '}')
}

// appendEventMembers writes the event's members, as its line opens: the
// object's '{' and every member but its closing '}'.
func appendEventMembers(dst []byte, e *Event) []byte {
	dst = append(dst, `{"specversion":`...)
	dst = appendString(dst, e.SpecVersion)
	dst = append(dst, `,"id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"source":`...)
	dst = appendString(dst, e.Source)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, e.Type)
	dst = append(dst, `,"subject":`...)
	dst = appendString(dst, e.Subject)
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, e.Time)
	if e.DataContentType != "" {
		dst = append(dst, `,"datacontenttype":`...)
		dst = appendString(dst, e.DataContentType)
	}
	if e.DataSchema != "" {
		dst = append(dst, `,"dataschema":`...)
		dst = appendString(dst, e.DataSchema)
	}
	dst = append(dst, `,"data":`...)
	if len(e.Data) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, e.Data...)
	}
	return e.Extensions.appendMembers(dst)
}

func appendForeignLine(dst []byte, r *Record) []byte {
	f := r.Foreign
	dst = append(dst, `{"specversion":"1.0","id":`...)
	dst = appendString(dst, ForeignID(r.Sequence))
	dst = append(dst, `,"source":"`+foreignSource+`","type":"`+ForeignType+`","time":`...)
	dst = appendTime(dst, r.RecordedTime)
	dst = append(dst, `,"datacontenttype":"application/json","data":{"reason":`...)
	dst = appendString(dst, string(f.Reason))
	dst = append(dst, `,"nats_subject":`...)
	dst = appendString(dst, f.Subject)
	if len(f.Header) > 0 {
		dst = append(dst, `,"headers":`...)
		dst = appendHeader(dst, f.Header)
	}
	if compactJSON(f.Body) {
		dst = append(dst, `,"body":`...)
		dst = append(dst, f.Body...)
	} else {
		dst = append(dst, `,"body_base64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, f.Body)
		dst = append(dst, '"')
	}
	dst = append(dst, `},"sequence":`...)
	dst = strconv.AppendUint(dst, r.Sequence, 10)
	dst = append(dst, `,"recordedtime":`...)
	dst = appendTime(dst, r.RecordedTime)
	dst = append(dst, `,"foreign":true,"foreignreason":`...)
	dst = appendString(dst, string(f.Reason))
	return append(dst, '}')
}

// compactJSON reports whether b is JSON in valid UTF-8 with no white
// space outside strings: a body shown as itself, for people to read, and
// still exact.
func compactJSON(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) || !json.Valid(b) {
		return false
	}
	var c bytes.Buffer
	return json.Compact(&c, b) == nil && bytes.Equal(c.Bytes(), b)
}

func appendHeader(dst []byte, h map[string][]string) []byte {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ":["...)
		for j, v := range h[k] {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, v)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string, escaped as the line's rules say.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
