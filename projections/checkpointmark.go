package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"planledger/eventstore"
	"planledger/eventstore/atomicfile"
)

// CheckpointCarrier is the views' checkpoint as a carrier of the
// acknowledged mark: the views reflected the sequence it names, so the
// log held it. A checkpoint of another stream (or none) says nothing.
// It reads the file's head only, not the views.
func CheckpointCarrier(path string, store *eventstore.Store) eventstore.Carrier {
	return func(ctx context.Context) (eventstore.Mark, bool, error) {
		if path == "" {
			return eventstore.Mark{}, false, nil
		}
		head, err := readCheckpointHead(path)
		if errors.Is(err, fs.ErrNotExist) {
			return eventstore.Mark{}, false, nil
		}
		if err != nil {
			// An unreadable checkpoint is discarded by the views: it
			// vouches for nothing either way.
			return eventstore.Mark{}, false, nil
		}
		info, err := store.StreamInfo(ctx)
		if err != nil {
			return eventstore.Mark{}, false, err
		}
		if head.Stream != info.Config.Name || !head.StreamCreated.Equal(info.Created) {
			return eventstore.Mark{}, false, nil
		}
		return eventstore.Mark{Carrier: "views checkpoint " + path, Sequence: head.Sequence}, true, nil
	}
}

// checkpointHead is what a checkpoint says before its views.
type checkpointHead struct {
	Stream        string
	StreamCreated time.Time
	Sequence      uint64
}

// readCheckpointHead reads a checkpoint up to its sequence: the top-level
// one, or (in checkpoints written before it existed) the views' own,
// their first member.
func readCheckpointHead(path string) (checkpointHead, error) {
	var h checkpointHead
	zr, err := atomicfile.OpenGzip(path)
	if err != nil {
		return h, err
	}
	defer zr.Close()
	dec := json.NewDecoder(zr)
	if err := expectDelim(dec, '{'); err != nil {
		return h, err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return h, err
		}
		switch key {
		case "stream":
			err = dec.Decode(&h.Stream)
		case "stream_created":
			err = dec.Decode(&h.StreamCreated)
		case "sequence":
			err = dec.Decode(&h.Sequence)
			return h, err
		case "views":
			if err := expectDelim(dec, '{'); err != nil {
				return h, err
			}
			if k, err := dec.Token(); err != nil || k != "sequence" {
				return h, fmt.Errorf("the views do not start with their sequence")
			}
			err = dec.Decode(&h.Sequence)
			return h, err
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return h, err
		}
	}
	return h, errors.New("the checkpoint names no sequence")
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t != d {
		return fmt.Errorf("want %q, got %v", d, t)
	}
	return nil
}
