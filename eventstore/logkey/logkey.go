// Package logkey owns the ledger's log key: the one secret that every
// instance of one ledger shares. From it come the proof each record carries
// that this ledger wrote it (an HMAC over the record as stored) and the
// Ed25519 key that signs the log's checkpoints. The key file holds it in
// the signed-note format of golang.org/x/mod/sumdb/note, so that its public
// half is a standard verifier key an auditor can pin.
package logkey

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"
)

// FileName is the key file's name in a data folder.
const FileName = "log.key"

// fileFormat is the version of the key file's layout.
const fileFormat = 1

// macSize is the length of a record proof: HMAC-SHA-256 cut to 128 bits,
// as RFC 2104 and NIST SP 800-107 allow; a forger without the key still
// has one chance in 2^128 per attempt.
const macSize = 16

// Key is a ledger's log key.
type Key struct {
	// Origin names the log: fixed when the key is made, it is the name of
	// the signing key and the first line of every checkpoint, so a log
	// restored under another key is another log.
	Origin string
	// LegacyThrough is the last sequence of a log that held records before
	// the key existed (records without proofs, written by versions that
	// made none); 0 for a log that had none.
	LegacyThrough uint64
	// Created is when the key was made.
	Created time.Time

	signerKey   string
	verifierKey string
	macKey      []byte
	pool        sync.Pool
}

// file is the key file's JSON.
type file struct {
	Format        int       `json:"format"`
	Origin        string    `json:"origin"`
	SignerKey     string    `json:"signer_key"`
	VerifierKey   string    `json:"verifier_key"`
	LegacyThrough uint64    `json:"legacy_through"`
	Created       time.Time `json:"created"`
}

// Generate makes a new key for a log whose records up to legacyThrough
// predate record proofs.
func Generate(legacyThrough uint64) (*Key, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return nil, err
	}
	origin := "planledger/" + id.String()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, err
	}
	return fromFile(file{Format: fileFormat, Origin: origin, SignerKey: skey, VerifierKey: vkey,
		LegacyThrough: legacyThrough, Created: time.Now().UTC().Truncate(time.Second)})
}

// Create makes a new key and writes it to path, mode 0600, fsynced. It
// fails with an error wrapping fs.ErrExist if the file exists: a key is
// never replaced.
func Create(path string, legacyThrough uint64) (*Key, error) {
	k, err := Generate(legacyThrough)
	if err != nil {
		return nil, err
	}
	if err := k.write(path); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Key) write(path string) error {
	b, err := json.MarshalIndent(file{Format: fileFormat, Origin: k.Origin, SignerKey: k.signerKey, VerifierKey: k.verifierKey,
		LegacyThrough: k.LegacyThrough, Created: k.Created}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	// Written whole to a temporary file, then linked into place: the key
	// file appears complete or not at all, and a link never replaces an
	// existing one (a racing start loads the winner's key, never half a
	// file).
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create log key: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write log key %s: %w", path, err)
	}
	if err := os.Link(f.Name(), path); err != nil {
		return fmt.Errorf("create log key: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Load reads a key file. A missing file is an error wrapping
// fs.ErrNotExist.
func Load(path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("log key %s is not a planledger key file: %w", path, err)
	}
	if f.Format != fileFormat {
		return nil, fmt.Errorf("log key %s has format %d; this version reads format %d", path, f.Format, fileFormat)
	}
	k, err := fromFile(f)
	if err != nil {
		return nil, fmt.Errorf("log key %s: %w", path, err)
	}
	return k, nil
}

// LoadOrCreate loads the key at path, or, if there is none, creates one
// with legacy() as its legacy range (called only then: it may read the
// log). created says which happened. Two processes racing to create it
// end with the same key: the loser loads the winner's.
func LoadOrCreate(path string, legacy func() (uint64, error)) (k *Key, created bool, err error) {
	k, err = Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	through, err := legacy()
	if err != nil {
		return nil, false, err
	}
	k, err = Create(path, through)
	if errors.Is(err, fs.ErrExist) {
		k, err = Load(path)
		return k, false, err
	}
	return k, err == nil, err
}

func fromFile(f file) (*Key, error) {
	seed, err := seedOf(f.SignerKey)
	if err != nil {
		return nil, err
	}
	s, err := note.NewSigner(f.SignerKey)
	if err != nil {
		return nil, fmt.Errorf("signer key: %w", err)
	}
	if s.Name() != f.Origin {
		return nil, fmt.Errorf("the signer key is named %q but the origin is %q", s.Name(), f.Origin)
	}
	v, err := note.NewVerifier(f.VerifierKey)
	if err != nil || v.Name() != s.Name() || v.KeyHash() != s.KeyHash() {
		return nil, errors.New("the verifier key does not belong to the signer key")
	}
	m := hmac.New(sha256.New, seed)
	m.Write([]byte("planledger record mac v1"))
	k := &Key{Origin: f.Origin, LegacyThrough: f.LegacyThrough, Created: f.Created,
		signerKey: f.SignerKey, verifierKey: f.VerifierKey, macKey: m.Sum(nil)}
	k.pool.New = func() any { return hmac.New(sha256.New, k.macKey) }
	return k, nil
}

// seedOf extracts the Ed25519 seed from a note signer key,
// "PRIVATE+KEY+<name>+<hash>+<base64(alg || seed)>".
func seedOf(skey string) ([]byte, error) {
	// The name and the hash hold no '+'; the base64 may.
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return nil, errors.New("signer key is not a PRIVATE+KEY+... note key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		return nil, errors.New("signer key is not an Ed25519 note key")
	}
	return raw[1:], nil
}

// VerifierKey is the public half in note verifier format,
// "<origin>+<hash>+<base64>": what an auditor pins.
func (k *Key) VerifierKey() string { return k.verifierKey }

// Signer signs notes (checkpoints) with the log key.
func (k *Key) Signer() note.Signer {
	s, err := note.NewSigner(k.signerKey)
	if err != nil {
		panic("logkey: signer key checked at load is now invalid: " + err.Error())
	}
	return s
}

// Seal returns the proof of a record: an HMAC over its subject and its
// body, the bytes as stored, base64url without padding. The body carries
// the event, its aggregate version and its submitter; a copy of a stored
// record republished on its subject keeps a valid proof, and readers refuse
// it by its version, which its aggregate already has.
func (k *Key) Seal(subject string, body []byte) string {
	var tag [sha256.Size]byte
	k.sum(tag[:0], subject, body)
	return base64.RawURLEncoding.EncodeToString(tag[:macSize])
}

// Check reports whether proof is the proof of the record.
func (k *Key) Check(subject string, body []byte, proof string) bool {
	var got [macSize + 2]byte
	n, err := base64.RawURLEncoding.Decode(got[:], []byte(proof))
	if err != nil || n != macSize {
		return false
	}
	var want [sha256.Size]byte
	k.sum(want[:0], subject, body)
	return hmac.Equal(got[:macSize], want[:macSize])
}

func (k *Key) sum(out []byte, subject string, body []byte) {
	h := k.pool.Get().(hash.Hash)
	h.Reset()
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(subject)))])
	h.Write([]byte(subject))
	h.Write(body)
	h.Sum(out)
	k.pool.Put(h)
}
