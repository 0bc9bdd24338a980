package logtree

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is the head of the tree at a size, as C2SP tlog-checkpoint
// writes it: the log's origin, the tree size and the root hash.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// Text is the checkpoint's note text.
func (c Checkpoint) Text() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// Sign makes the signed note of the checkpoint.
func (c Checkpoint) Sign(s note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: c.Text()}, s)
}

// parseCheckpoint reads a checkpoint's note text strictly: three lines
// (extension lines are allowed and ignored), a decimal size without
// leading zeros, a base64 root of 32 bytes.
func parseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) < 4 || !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, errors.New("a checkpoint has at least three lines: origin, size, root")
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	sizeText := strings.TrimSuffix(lines[1], "\n")
	n, err := strconv.ParseInt(sizeText, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != sizeText {
		return Checkpoint{}, fmt.Errorf("checkpoint size %q is not a decimal number", sizeText)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(lines[2], "\n"))
	if err != nil || len(raw) != tlog.HashSize {
		return Checkpoint{}, errors.New("checkpoint root is not a base64 SHA-256 hash")
	}
	if origin == "" {
		return Checkpoint{}, errors.New("checkpoint has no origin")
	}
	c := Checkpoint{Origin: origin, Size: n}
	copy(c.Root[:], raw)
	return c, nil
}

// OpenCheckpoint checks a signed checkpoint against the log's verifier
// key: signed by it, and naming the log the key is for. A checkpoint of
// another key, or another log, is refused.
func OpenCheckpoint(signed []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("the checkpoint is not signed by the log key %s: %w", v.Name(), err)
	}
	c, err := parseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("the checkpoint is of the log %q, not %q", c.Origin, v.Name())
	}
	return c, nil
}

// ParseVerifier reads the log's verifier key: the key itself
// ("planledger/<uuid>+<hash>+<base64>"), a file holding it, or the log key
// file (whose public half it takes).
func ParseVerifier(arg string) (note.Verifier, error) {
	text := strings.TrimSpace(arg)
	if b, err := os.ReadFile(arg); err == nil {
		text = strings.TrimSpace(string(b))
		var keyFile struct {
			VerifierKey string `json:"verifier_key"`
		}
		if json.Unmarshal(b, &keyFile) == nil && keyFile.VerifierKey != "" {
			text = keyFile.VerifierKey
		}
	}
	v, err := note.NewVerifier(text)
	if err != nil {
		return nil, fmt.Errorf("%q is not a log verifier key (name+hash+base64), nor a file holding one: %w", arg, err)
	}
	return v, nil
}

// ProofHeader opens a C2SP tlog-proof.
const ProofHeader = "c2sp.org/tlog-proof@v1"

// RecordProof is a C2SP tlog-proof of one record: its line (the "extra"
// data, base64), its leaf index, the inclusion proof and the signed
// checkpoint it is proved against. It is self-contained: anyone with the
// log's verifier key can check it offline.
type RecordProof struct {
	Line       []byte
	Index      int64
	Proof      tlog.RecordProof
	Checkpoint []byte
}

// Marshal writes the proof in the C2SP tlog-proof format.
func (p *RecordProof) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nextra %s\nindex %d\n", ProofHeader, base64.StdEncoding.EncodeToString(p.Line), p.Index)
	for _, h := range p.Proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ParseRecordProof reads a C2SP tlog-proof.
func ParseRecordProof(data []byte) (*RecordProof, error) {
	head, checkpoint, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok {
		return nil, errors.New("not a tlog-proof: no blank line before the checkpoint")
	}
	sc := bufio.NewScanner(bytes.NewReader(head))
	sc.Buffer(nil, 1<<20)
	p := &RecordProof{Checkpoint: checkpoint, Index: -1}
	for i := 0; sc.Scan(); i++ {
		line := sc.Text()
		switch {
		case i == 0:
			if line != ProofHeader {
				return nil, fmt.Errorf("not a tlog-proof: it starts %q, not %q", line, ProofHeader)
			}
		case strings.HasPrefix(line, "extra "):
			b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, "extra "))
			if err != nil {
				return nil, fmt.Errorf("tlog-proof extra: %w", err)
			}
			p.Line = b
		case strings.HasPrefix(line, "index "):
			n, err := strconv.ParseInt(strings.TrimPrefix(line, "index "), 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("tlog-proof index %q", line)
			}
			p.Index = n
		default:
			raw, err := base64.StdEncoding.DecodeString(line)
			if err != nil || len(raw) != tlog.HashSize {
				return nil, fmt.Errorf("tlog-proof line %d is not a hash", i+1)
			}
			var h tlog.Hash
			copy(h[:], raw)
			p.Proof = append(p.Proof, h)
		}
	}
	if p.Index < 0 || p.Line == nil {
		return nil, errors.New("tlog-proof lacks its index or its extra data (the record)")
	}
	return p, sc.Err()
}

// Verify checks the proof against the log's verifier key: the checkpoint
// is the log's, and the record's line is its leaf at Index.
func (p *RecordProof) Verify(v note.Verifier) (Checkpoint, error) {
	c, err := OpenCheckpoint(p.Checkpoint, v)
	if err != nil {
		return Checkpoint{}, err
	}
	if p.Index >= c.Size {
		return Checkpoint{}, fmt.Errorf("leaf %d is past the checkpoint's tree of size %d", p.Index, c.Size)
	}
	if err := tlog.CheckRecord(p.Proof, c.Size, c.Root, p.Index, tlog.RecordHash(p.Line)); err != nil {
		return Checkpoint{}, fmt.Errorf("the record is not leaf %d of the tree of size %d: %w", p.Index, c.Size, err)
	}
	return c, nil
}

// LeafHash is the tree's hash of a record's line (RFC 6962: SHA-256 of
// 0x00 and the line).
func LeafHash(line []byte) tlog.Hash { return tlog.RecordHash(line) }
