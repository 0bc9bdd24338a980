package audit

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"golang.org/x/mod/sumdb/note"

	"planledger/eventstore/atomicfile"
	"planledger/eventstore/logtree"
)

// State is what an auditor keeps between runs of verify --state: the
// checkpoints they verified, oldest first. A later run proves that the log
// it reads extends every one of them, and where it does not, between which
// two it was rewritten.
type State struct {
	// Log is the log's origin: a state belongs to one log.
	Log         string       `json:"log"`
	Checkpoints []StateEntry `json:"checkpoints"`
}

// StateEntry is one checkpoint verified.
type StateEntry struct {
	Size int64  `json:"size"`
	Root string `json:"root"`
	// Checkpoint is the signed note, as the log served it.
	Checkpoint string    `json:"checkpoint"`
	VerifiedAt time.Time `json:"verified_at"`
	// Edge is the hashes of the complete subtrees the tree of that size
	// is made of, left to right (base64): a later run that finds the log
	// changed names the range of records where it changed.
	Edge []string `json:"edge,omitempty"`
}

// maxStateEntries bounds the history kept (a run a day for ten years).
const maxStateEntries = 4000

// LoadState reads a state file; a missing one is an empty state.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{}, nil
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return &s, nil
}

// Check checks every checkpoint of the state against the log's verifier
// key: a state file changed by hand is refused.
func (s *State) Check(v note.Verifier) error {
	if s.Log != "" && s.Log != v.Name() {
		return fmt.Errorf("the state file is of the log %q, not %q", s.Log, v.Name())
	}
	for i, e := range s.Checkpoints {
		c, err := logtree.OpenCheckpoint([]byte(e.Checkpoint), v)
		if err != nil {
			return fmt.Errorf("state file checkpoint %d: %w", i+1, err)
		}
		if c.Size != e.Size || base64.StdEncoding.EncodeToString(c.Root[:]) != e.Root {
			return fmt.Errorf("state file checkpoint %d says size %d root %s, but its signed note says %d %s", i+1, e.Size, e.Root, c.Size, c.Root)
		}
	}
	return nil
}

// Latest is the last checkpoint verified, if any.
func (s *State) Latest() (StateEntry, bool) {
	if len(s.Checkpoints) == 0 {
		return StateEntry{}, false
	}
	return s.Checkpoints[len(s.Checkpoints)-1], true
}

// Add records a checkpoint verified now, with the edge of its tree.
func (s *State) Add(c logtree.Checkpoint, signed []byte, edge []logtree.Subtree, at time.Time) {
	s.Log = c.Origin
	if last, ok := s.Latest(); ok && last.Size == c.Size {
		return
	}
	e := StateEntry{Size: c.Size, Root: base64.StdEncoding.EncodeToString(c.Root[:]), Checkpoint: string(signed), VerifiedAt: at.UTC()}
	for _, st := range edge {
		e.Edge = append(e.Edge, base64.StdEncoding.EncodeToString(st.Hash[:]))
	}
	s.Checkpoints = append(s.Checkpoints, e)
	if n := len(s.Checkpoints); n > maxStateEntries {
		s.Checkpoints = append(s.Checkpoints[:1], s.Checkpoints[n-maxStateEntries+1:]...) // keep the first
	}
}

// Save writes the state atomically.
func (s *State) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(f *os.File) error {
		_, err := f.Write(append(b, '\n'))
		return err
	})
}
