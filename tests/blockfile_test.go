package tests

import (
	bin "encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// blockRecord is one message record of a JetStream file store block:
// a 4-byte length (the top bit says it has headers), the 8-byte sequence,
// the 8-byte timestamp, the 2-byte subject length, the subject, the
// headers (4-byte length first) if any, the body and an 8-byte hash.
type blockRecord struct {
	file     string
	seq      uint64
	off, len int64
	// body is where the message body starts and ends in the file.
	bodyOff, bodyEnd int64
}

// streamBlocks lists the records of every block of the ledger's stream in
// an (embedded) data folder, in file order.
func streamBlocks(t *testing.T, dataDir string) []blockRecord {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dataDir, "jetstream", "$G", "streams", "PLANLEDGER", "msgs", "*.blk"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no block files in %s: %v", dataDir, err)
	}
	slices.Sort(files)
	var out []blockRecord
	le := bin.LittleEndian
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off+22 <= len(b); {
			rl := le.Uint32(b[off:])
			hasHdr := rl&(1<<31) != 0
			n := int(rl &^ (1 << 31))
			if n < 22+8 || off+n > len(b) {
				break
			}
			seq := le.Uint64(b[off+4:]) &^ (1<<63 | 1<<62)
			slen := int(le.Uint16(b[off+20:]))
			body := off + 22 + slen
			if hasHdr {
				body += 4 + int(le.Uint32(b[body:]))
			}
			out = append(out, blockRecord{file: f, seq: seq, off: int64(off), len: int64(n), bodyOff: int64(body), bodyEnd: int64(off + n - 8)})
			off += n
		}
	}
	return out
}

// findRecord returns the block record of a sequence.
func findRecord(t *testing.T, recs []blockRecord, seq uint64) blockRecord {
	t.Helper()
	for _, r := range recs {
		if r.seq == seq {
			return r
		}
	}
	t.Fatalf("no record of sequence %d in the block files", seq)
	return blockRecord{}
}

// truncateAt cuts the block file holding seq just before its record, as
// a disk that lost writes would leave it; later block files go too.
func truncateAt(t *testing.T, recs []blockRecord, seq uint64) {
	t.Helper()
	r := findRecord(t, recs, seq)
	if err := os.Truncate(r.file, r.off); err != nil {
		t.Fatal(err)
	}
	for _, o := range recs {
		if o.file > r.file {
			_ = os.Remove(o.file)
		}
	}
}

// flipBody inverts n bytes in the middle of seq's message body.
func flipBody(t *testing.T, recs []blockRecord, seq uint64, n int64) {
	t.Helper()
	r := findRecord(t, recs, seq)
	f, err := os.OpenFile(r.file, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	at := (r.bodyOff + r.bodyEnd - n) / 2
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, at); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] ^= 0xff
	}
	if _, err := f.WriteAt(buf, at); err != nil {
		t.Fatal(err)
	}
}
