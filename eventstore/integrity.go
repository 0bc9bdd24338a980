package eventstore

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// checkWhole verifies that the stream holds every sequence from 1 to its
// last. The stream refuses deletes and purges and has no limits, so a
// missing sequence can only be an acknowledged event lost by the storage
// (JetStream repairs a damaged block file at start-up by dropping what it
// cannot read, and says nothing).
func (s *Store) checkWhole(state jetstream.StreamState) error {
	if state.LastSeq == 0 && state.Msgs == 0 {
		return nil
	}
	if state.FirstSeq == 1 && state.Msgs == state.LastSeq {
		return nil
	}
	var missing []uint64
	for seq := uint64(1); seq < state.FirstSeq && seq <= state.LastSeq && len(missing) < 20; seq++ {
		missing = append(missing, seq)
	}
	for _, seq := range state.Deleted {
		if len(missing) >= 20 {
			break
		}
		missing = append(missing, seq)
	}
	lost := state.LastSeq - state.Msgs
	where := ""
	if s.cfg.URL == "" {
		where = "\n" + s.blockReport(missing)
	}
	return fmt.Errorf("the log of stream %s is damaged: it ends at sequence %d but holds %d events, so %d acknowledged events are missing (sequences %s%s).%s\nrestore the data folder from a backup, or import an export into an empty folder; the ledger will not run on a log with holes",
		s.name, state.LastSeq, state.Msgs, lost, joinSeqs(missing), more(lost, len(missing)), where)
}

func joinSeqs(seqs []uint64) string {
	parts := make([]string, len(seqs))
	for i, q := range seqs {
		parts[i] = strconv.FormatUint(q, 10)
	}
	return strings.Join(parts, ", ")
}

func more(total uint64, shown int) string {
	if total > uint64(shown) {
		return fmt.Sprintf(" and %d more", total-uint64(shown))
	}
	return ""
}

// blockReport names the block files that held the missing sequences: the
// block whose first record precedes a sequence is the one that held it.
func (s *Store) blockReport(missing []uint64) string {
	dir := filepath.Join(s.cfg.DataDir, "jetstream", "$G", "streams", s.name, "msgs")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "the block files are in " + dir
	}
	type block struct {
		name  string
		first uint64
	}
	var blocks []block
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".blk" {
			continue
		}
		first, ok := firstSequence(filepath.Join(dir, e.Name()))
		if ok {
			blocks = append(blocks, block{e.Name(), first})
		}
	}
	slices.SortFunc(blocks, func(a, b block) int { return int(a.first) - int(b.first) })
	files := map[string]bool{}
	for _, seq := range missing {
		name := ""
		for _, b := range blocks {
			if b.first <= seq {
				name = b.name
			}
		}
		if name == "" {
			return fmt.Sprintf("sequence %d had no readable block file left in %s: a block file was removed or its start is damaged", seq, dir)
		}
		files[filepath.Join(dir, name)] = true
	}
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	slices.Sort(names)
	return "damaged block file(s): " + strings.Join(names, ", ")
}

// firstSequence reads the sequence of a filestore block's first record: a
// 4-byte length, then the 8-byte little-endian sequence with flag bits on
// top. A block that starts with a tombstone (the server's own repair
// notes) holds no events and is skipped.
func firstSequence(path string) (uint64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var hdr [12]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return 0, false
	}
	const erased, tombstone = 1 << 63, 1 << 62
	seq := binary.LittleEndian.Uint64(hdr[4:])
	if seq&tombstone != 0 {
		return 0, false
	}
	return seq &^ erased, true
}
