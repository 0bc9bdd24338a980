// Package tokens is who may call the ledger: the tokens file (hashes of
// bearer tokens, never the tokens), each token's principal (its role, the
// societies it writes for, its limits), and the file watched for changes
// while serve runs. The HTTP server authenticates against it; `planledger
// token` edits it.
package tokens

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"planledger/domain"
)

// Roles a token may have.
const (
	RoleSubmitter = "submitter"
	RoleAuditor   = "auditor"
	RoleAdmin     = "admin"
)

// Principal is who a request acts for.
type Principal struct {
	Name      string
	Role      string
	Societies map[string]bool // for submitters: the societies it may write for
	// Limits are the token's, its role's defaults filled in.
	Limits Limits
}

// MayWrite reports whether p may append to an aggregate owned by society
// owner ("" for a plan, which only admins write).
func (p *Principal) MayWrite(ref domain.Ref, owner string) error {
	switch {
	case p.Role == RoleAdmin:
		return nil
	case p.Role != RoleSubmitter:
		return domain.Errorf(domain.KindForbidden, "%s is an %s: it reads and writes nothing", p.Name, p.Role)
	case ref.Type == domain.AggregatePlan:
		return domain.Errorf(domain.KindForbidden, "plans are published by admins only, not by submitter %s", p.Name)
	case !p.Societies[owner]:
		return domain.Errorf(domain.KindForbidden, "%s belongs to society %q; submitter %s may write only for %s", ref, owner, p.Name, strings.Join(SortedKeys(p.Societies), ", "))
	}
	return nil
}

// Entry is one token of the tokens file: its hash, never the token.
// A new setting is a new optional field here (omitempty or omitzero): a
// file without it keeps its meaning, and the file stays strict about
// fields it does not know.
type Entry struct {
	Name      string   `json:"name"`
	SHA256    string   `json:"sha256"`
	Role      string   `json:"role"`
	Societies []string `json:"societies,omitempty"`
	// Created is when planledger token create made it.
	Created time.Time `json:"created,omitzero"`
	// Limits, if set, are the token's own (ratelimit.go); else its role's.
	Limits *Limits `json:"limits,omitempty"`
}

// File is the JSON file given with --tokens.
type File struct {
	Tokens []Entry `json:"tokens"`
}

// Set authenticates bearer tokens against their SHA-256 hashes.
type Set struct {
	entries []tokenEntry
}

type tokenEntry struct {
	hash      [32]byte
	principal Principal
}

// Parse checks a tokens file and says exactly what is wrong with it.
func Parse(r io.Reader) (*Set, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("tokens file is not {\"tokens\": [...]}: %w", err)
	}
	if len(f.Tokens) == 0 {
		return nil, errors.New("tokens file lists no tokens")
	}
	t := &Set{}
	names := map[string]bool{}
	hashes := map[string]int{}
	var probs []string
	for i, e := range f.Tokens {
		where := fmt.Sprintf("tokens[%d]", i)
		if e.Name == "" {
			probs = append(probs, where+".name is empty")
		} else if names[e.Name] {
			probs = append(probs, fmt.Sprintf("%s.name %q is used twice", where, e.Name))
		}
		names[e.Name] = true
		raw, err := hex.DecodeString(e.SHA256)
		if err != nil || len(raw) != 32 {
			probs = append(probs, where+".sha256 is not 64 hex digits (the SHA-256 of the token, e.g. `printf %s TOKEN | sha256sum`)")
		} else if j, dup := hashes[strings.ToLower(e.SHA256)]; dup {
			// One token would be two principals; which one depended on
			// the order of the file.
			probs = append(probs, fmt.Sprintf("%s.sha256 is tokens[%d]'s too: one token cannot be two; give each its own token", where, j))
		} else {
			hashes[strings.ToLower(e.SHA256)] = i
		}
		var limits Limits
		if e.Limits != nil {
			limits = *e.Limits
			for _, p := range limits.check() {
				probs = append(probs, where+"."+p)
			}
		}
		switch e.Role {
		case RoleSubmitter:
			if len(e.Societies) == 0 {
				probs = append(probs, where+": a submitter needs the societies it may write for")
			}
		case RoleAuditor, RoleAdmin:
			if len(e.Societies) > 0 {
				probs = append(probs, where+": only submitters have societies")
			}
		default:
			probs = append(probs, fmt.Sprintf("%s.role %q is not one of submitter, auditor, admin", where, e.Role))
		}
		socs := map[string]bool{}
		for j, s := range e.Societies {
			if err := domain.CheckSlug(s); err != nil {
				probs = append(probs, fmt.Sprintf("%s.societies[%d]: %v", where, j, err))
			}
			socs[s] = true
		}
		var h [32]byte
		copy(h[:], raw)
		t.entries = append(t.entries, tokenEntry{hash: h, principal: Principal{Name: e.Name, Role: e.Role, Societies: socs, Limits: limits.Resolve(e.Role)}})
	}
	if len(probs) > 0 {
		return nil, errors.New("tokens file: " + strings.Join(probs, "; "))
	}
	return t, nil
}

// Authenticate returns the principal of a bearer token. Every entry is
// compared, in constant time, so the time taken says nothing about which
// hash came close.
func (t *Set) Authenticate(token string) (*Principal, bool) {
	return t.ByHash(sha256.Sum256([]byte(token)))
}

// byHash returns the principal of the token whose SHA-256 is sum.
func (t *Set) ByHash(sum [32]byte) (*Principal, bool) {
	var found *Principal
	for i := range t.entries {
		if subtle.ConstantTimeCompare(sum[:], t.entries[i].hash[:]) == 1 {
			found = &t.entries[i].principal
		}
	}
	return found, found != nil
}

// Hash returns the hex SHA-256 of a token, as the tokens file holds it.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// New returns a fresh random bearer token.
func New() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "plk_" + base64.RawURLEncoding.EncodeToString(b)
}

// SortedKeys are a set's members in order.
func SortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Len is the number of tokens.
func (t *Set) Len() int { return len(t.entries) }

// jsonUnmarshalStrict reads a tokens file into f, refusing unknown fields.
func jsonUnmarshalStrict(b []byte, f *File) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(f)
}

func jsonIndent(f File) ([]byte, error) {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
