package server

import (
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"
)

// textProblem says why a JSON body is not text every JSON parser reads the
// same way, or "": RFC 8259 wants UTF-8, and I-JSON (RFC 7493) no unpaired
// surrogate in a \u escape. Go's parser takes both and would store them
// as sent, and a strict client could then not parse the ledger's replies.
func textProblem(b []byte) string {
	if !utf8.Valid(b) {
		at := 0
		for at < len(b) {
			r, n := utf8.DecodeRune(b[at:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			at += n
		}
		return fmt.Sprintf("the body is not valid UTF-8 (byte 0x%02x at offset %d); send UTF-8 text", b[at], at)
	}
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == '\\' && i+1 < len(b) && b[i+1] == 'u':
			u, ok := hex4(b, i+2)
			next, okNext := hex4(b, i+8)
			switch {
			case !ok:
			case u >= 0xDC00 && u <= 0xDFFF:
				return fmt.Sprintf("the JSON has an unpaired surrogate \\u%04x at offset %d; encode the character itself, or both halves of its pair", u, i)
			case u >= 0xD800 && u <= 0xDBFF:
				if !okNext || i+7 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' || next < 0xDC00 || next > 0xDFFF {
					return fmt.Sprintf("the JSON has an unpaired surrogate \\u%04x at offset %d; encode the character itself, or both halves of its pair", u, i)
				}
				i += 6 // the low half is checked here
			}
			i += 5
		case c == '\\':
			i++ // skip the escaped character
		}
	}
	return ""
}

// hex4 reads the four hex digits of a \u escape at b[at:].
func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// charsetProblem says why a Content-Type's charset is not taken, or "":
// the ledger reads JSON as UTF-8 only.
func charsetProblem(contentType string) string {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	cs, ok := params["charset"]
	if !ok || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "utf8") {
		return ""
	}
	return fmt.Sprintf("charset %q is not taken: the ledger reads JSON as UTF-8 (send charset=utf-8, or no charset)", cs)
}
