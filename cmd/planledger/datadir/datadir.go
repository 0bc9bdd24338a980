// Package datadir is the layout of a ledger's data folder: which file or
// folder of it holds what. serve writes them; the commands that read a
// stopped ledger (replay, verify, token) find them here.
package datadir

import (
	"path/filepath"

	"planledger/eventstore/logkey"
)

// Names in the data folder.
const (
	// JetStream is the embedded JetStream server's store.
	JetStream = "jetstream"
	// Tokens is the tokens file serve creates on first start without
	// --tokens, and `planledger token` edits.
	Tokens = "tokens.json"
	// ViewsCheckpoint is the views' checkpoint.
	ViewsCheckpoint = "views.checkpoint.json.gz"
	// ViewsHistory holds the views as they stood along the log, for "as
	// of".
	ViewsHistory = "views-history"
	// AggregateSnapshots holds the command path's snapshots of long
	// aggregates, one file per aggregate: TYPE/ID.json.gz.
	AggregateSnapshots = "aggregate-snapshots"
)

// Dir is a data folder.
type Dir string

func (d Dir) join(name string) string { return filepath.Join(string(d), name) }

// JetStream is the embedded server's store folder.
func (d Dir) JetStream() string { return d.join(JetStream) }

// Tokens is the folder's tokens file.
func (d Dir) Tokens() string { return d.join(Tokens) }

// ViewsCheckpoint is the views' checkpoint file.
func (d Dir) ViewsCheckpoint() string { return d.join(ViewsCheckpoint) }

// ViewsHistory is the folder of the views' snapshots along the log.
func (d Dir) ViewsHistory() string { return d.join(ViewsHistory) }

// AggregateSnapshots is the folder of the aggregates' snapshots.
func (d Dir) AggregateSnapshots() string { return d.join(AggregateSnapshots) }

// LogKey is the ledger's log key file, unless another is given.
func (d Dir) LogKey() string { return d.join(logkey.FileName) }
