package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

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
		return domain.Errorf(domain.KindForbidden, "%s belongs to society %q; submitter %s may write only for %s", ref, owner, p.Name, strings.Join(sortedKeys(p.Societies), ", "))
	}
	return nil
}

// TokenEntry is one token of the tokens file: its hash, never the token.
type TokenEntry struct {
	Name      string   `json:"name"`
	SHA256    string   `json:"sha256"`
	Role      string   `json:"role"`
	Societies []string `json:"societies,omitempty"`
}

// TokensFile is the JSON file given with --tokens.
type TokensFile struct {
	Tokens []TokenEntry `json:"tokens"`
}

// Tokens authenticates bearer tokens against their SHA-256 hashes.
type Tokens struct {
	entries []tokenEntry
}

type tokenEntry struct {
	hash      [32]byte
	principal Principal
}

// ParseTokens checks a tokens file and says exactly what is wrong with it.
func ParseTokens(r io.Reader) (*Tokens, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f TokensFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("tokens file is not {\"tokens\": [...]}: %w", err)
	}
	if len(f.Tokens) == 0 {
		return nil, errors.New("tokens file lists no tokens")
	}
	t := &Tokens{}
	names := map[string]bool{}
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
		t.entries = append(t.entries, tokenEntry{hash: h, principal: Principal{Name: e.Name, Role: e.Role, Societies: socs}})
	}
	if len(probs) > 0 {
		return nil, errors.New("tokens file: " + strings.Join(probs, "; "))
	}
	return t, nil
}

// LoadTokens reads a tokens file.
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ParseTokens(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Authenticate returns the principal of a bearer token. Every entry is
// compared, in constant time, so the time taken says nothing about which
// hash came close.
func (t *Tokens) Authenticate(token string) (*Principal, bool) {
	return t.byHash(sha256.Sum256([]byte(token)))
}

// byHash returns the principal of the token whose SHA-256 is sum.
func (t *Tokens) byHash(sum [32]byte) (*Principal, bool) {
	var found *Principal
	for i := range t.entries {
		if subtle.ConstantTimeCompare(sum[:], t.entries[i].hash[:]) == 1 {
			found = &t.entries[i].principal
		}
	}
	return found, found != nil
}

// HashToken returns the hex SHA-256 of a token, as the tokens file holds it.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken returns a fresh random bearer token.
func NewToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "plk_" + base64.RawURLEncoding.EncodeToString(b)
}

// AdminTokensFile is where serve keeps the hash of the admin token it
// creates on first start when no --tokens file is given.
const AdminTokensFile = "tokens.json"

// EnsureAdminToken loads dir/tokens.json, or creates it with a new admin
// token and returns that token (empty if the file already existed): the
// only moment it exists in clear.
func EnsureAdminToken(dir string) (*Tokens, string, error) {
	path := filepath.Join(dir, AdminTokensFile)
	if _, err := os.Stat(path); err == nil {
		t, err := LoadTokens(path)
		return t, "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, "", err
	}
	token := NewToken()
	body, _ := json.MarshalIndent(TokensFile{Tokens: []TokenEntry{{Name: "admin", SHA256: HashToken(token), Role: RoleAdmin}}}, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(body, '\n'), 0o600); err != nil {
		return nil, "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, "", err
	}
	t, err := LoadTokens(path)
	return t, token, err
}

// bearer extracts the token of an Authorization header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
