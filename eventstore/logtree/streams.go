package logtree

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/tlog"

	"planledger/eventstore"
	"planledger/eventstore/retry"
)

// Subjects of the tree's streams.
const (
	// TileSubjectPrefix starts the subject of each full tile:
	// planledger.tree.<level>.<index>, one message each.
	TileSubjectPrefix = "planledger.tree"
	// CheckpointSubjectPrefix starts the subject of each signed
	// checkpoint: planledger.checkpoints.<tree size>, one message each.
	CheckpointSubjectPrefix = "planledger.checkpoints"
)

// StreamNames are the names of the tree's streams beside the log's.
func StreamNames(logStream string) (tiles, checkpoints string) {
	s := eventstore.LedgerStreams(logStream)
	return s[1], s[2]
}

// streams are the tree's two immutable streams: full tiles, and signed
// checkpoints. Expectations make each tile and each tree size's
// checkpoint be written once, and checkpoints be written in order of
// size, whatever the number of instances writing them.
type streams struct {
	js          jetstream.JetStream
	tiles       jetstream.Stream
	checkpoints jetstream.Stream
	timeout     time.Duration
}

func immutableConfig(name, subject, desc string, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name: name, Description: desc, Subjects: []string{subject + ".>"},
		Retention: jetstream.LimitsPolicy, MaxMsgs: -1, MaxBytes: -1, MaxMsgsPerSubject: -1,
		Discard: jetstream.DiscardNew, Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
		DenyDelete: true, DenyPurge: true, AllowDirect: true, Duplicates: time.Minute,
	}
}

// openStreams finds the tree's streams, making them if they do not exist.
func openStreams(ctx context.Context, js jetstream.JetStream, logStream string, replicas int, timeout time.Duration) (*streams, error) {
	tilesName, cpName := StreamNames(logStream)
	s := &streams{js: js, timeout: timeout}
	var err error
	if s.tiles, err = ensure(ctx, js, immutableConfig(tilesName, TileSubjectPrefix, "planledger: the tiles of the log's Merkle tree", replicas), timeout); err != nil {
		return nil, err
	}
	if s.checkpoints, err = ensure(ctx, js, immutableConfig(cpName, CheckpointSubjectPrefix, "planledger: the log's signed checkpoints", replicas), timeout); err != nil {
		return nil, err
	}
	return s, nil
}

func ensure(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, timeout time.Duration) (jetstream.Stream, error) {
	str, err := eventstore.OpenStream(ctx, js, want, timeout)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", want.Name, err)
	}
	cfg := str.CachedInfo().Config
	var probs []string
	if !cfg.DenyDelete || !cfg.DenyPurge || cfg.AllowRollup {
		probs = append(probs, "it allows deletes, purges or rollups")
	}
	if cfg.MaxAge != 0 || cfg.MaxMsgs > 0 || cfg.MaxBytes > 0 || cfg.MaxMsgsPerSubject > 0 || cfg.Storage != jetstream.FileStorage {
		probs = append(probs, "it has limits or is not on file storage")
	}
	if len(cfg.Subjects) != 1 || cfg.Subjects[0] != want.Subjects[0] {
		probs = append(probs, fmt.Sprintf("its subjects are %v, not %v", cfg.Subjects, want.Subjects))
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("stream %s is not safe for the log's tree: %s; fix it with the nats CLI, the ledger never weakens or repairs a stream", want.Name, strings.Join(probs, "; "))
	}
	return str, nil
}

func tileSubject(t tlog.Tile) string {
	return fmt.Sprintf("%s.%d.%d", TileSubjectPrefix, t.L, t.N)
}

// GetTile reads a full tile.
func (s *streams) GetTile(ctx context.Context, t tlog.Tile) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	m, err := s.tiles.GetLastMsgForSubject(ctx, tileSubject(t))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("%w: %d/%d is not stored", ErrNoTile, t.L, t.N)
	}
	if err != nil {
		return nil, fmt.Errorf("read tile %d/%d: %w", t.L, t.N, err)
	}
	return m.Data, nil
}

// errTileConflict says a tile is stored with other hashes than the tree
// computed: two instances disagree about the log, or the stream was
// written behind the ledger's back.
var errTileConflict = errors.New("a tile is stored with other hashes")

// putTile stores a full tile once: a tile already stored must be the same.
func (s *streams) putTile(ctx context.Context, t tlog.Tile, data []byte) error {
	m := nats.NewMsg(tileSubject(t))
	m.Data = data
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
	pctx, cancel := context.WithTimeout(ctx, s.timeout)
	_, err := s.js.PublishMsg(pctx, m)
	cancel()
	if eventstore.IsExpectationFailed(err) {
		have, gerr := s.GetTile(ctx, t)
		if gerr != nil {
			return gerr
		}
		if string(have) != string(data) {
			return fmt.Errorf("%w: tile %d/%d", errTileConflict, t.L, t.N)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("store tile %d/%d: %w", t.L, t.N, err)
	}
	return nil
}

// storedCheckpoint is a checkpoint as the stream holds it.
type storedCheckpoint struct {
	Signed []byte
	Seq    uint64 // its sequence in the checkpoints stream
	Time   time.Time
}

// latestCheckpoint reads the last checkpoint signed; Seq 0 if none.
func (s *streams) latestCheckpoint(ctx context.Context) (storedCheckpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	info, err := s.checkpoints.Info(ctx)
	if err != nil {
		return storedCheckpoint{}, fmt.Errorf("checkpoints stream: %w", err)
	}
	if info.State.LastSeq == 0 {
		return storedCheckpoint{}, nil
	}
	// The stream's leader said how long it is; a replica answering the
	// direct get may not have the last message yet: ask again, briefly.
	var m *jetstream.RawStreamMsg
	p := retry.Policy{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, Attempts: 10,
		Retryable: func(err error) bool { return errors.Is(err, jetstream.ErrMsgNotFound) }}
	err = retry.Do(ctx, p, func(ctx context.Context) (err error) {
		m, err = s.checkpoints.GetMsg(ctx, info.State.LastSeq)
		return err
	})
	if err != nil {
		return storedCheckpoint{}, fmt.Errorf("read checkpoint %d: %w", info.State.LastSeq, err)
	}
	return storedCheckpoint{Signed: m.Data, Seq: m.Sequence, Time: m.Time}, nil
}

// checkpointAt reads the checkpoint signed for tree size n.
func (s *streams) checkpointAt(ctx context.Context, n int64) (storedCheckpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	m, err := s.checkpoints.GetLastMsgForSubject(ctx, CheckpointSubjectPrefix+"."+strconv.FormatInt(n, 10))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return storedCheckpoint{}, fmt.Errorf("%w: no checkpoint was signed for tree size %d", ErrNoCheckpoint, n)
	}
	if err != nil {
		return storedCheckpoint{}, err
	}
	return storedCheckpoint{Signed: m.Data, Seq: m.Sequence, Time: m.Time}, nil
}

// ErrNoCheckpoint says no checkpoint covers what was asked.
var ErrNoCheckpoint = errors.New("no checkpoint")

// errCheckpointRace says another instance signed a checkpoint meanwhile.
var errCheckpointRace = errors.New("another checkpoint was signed meanwhile")

// putCheckpoint stores the signed checkpoint of tree size n, expecting
// the checkpoints stream to end at after: exactly one checkpoint per tree
// size, and sizes only growing, whoever signs.
func (s *streams) putCheckpoint(ctx context.Context, n int64, signed []byte, after uint64) error {
	m := nats.NewMsg(CheckpointSubjectPrefix + "." + strconv.FormatInt(n, 10))
	m.Data = signed
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
	m.Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(after, 10))
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.js.PublishMsg(ctx, m)
	if eventstore.IsExpectationFailed(err) {
		return errCheckpointRace
	}
	return err
}

// LatestSigned reads the latest signed checkpoint of store's log, making
// nothing: nil if there is none (no tree yet, or an empty one).
func LatestSigned(ctx context.Context, store *eventstore.Store) ([]byte, error) {
	_, name := StreamNames(store.StreamName())
	str, err := store.JetStream().Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s := &streams{checkpoints: str, timeout: 5 * time.Second}
	sc, err := s.latestCheckpoint(ctx)
	if err != nil || sc.Seq == 0 {
		return nil, err
	}
	return sc.Signed, nil
}
