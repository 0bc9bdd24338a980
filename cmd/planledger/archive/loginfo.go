package archive

import (
	"context"

	"planledger/eventstore"
)

// LogInfo is what the stream says about itself.
type LogInfo struct {
	Stream         string   `json:"stream"`
	ConfigProblems []string `json:"config_problems"`
	FirstSequence  uint64   `json:"first_sequence"`
	LastSequence   uint64   `json:"last_sequence"`
	Messages       uint64   `json:"messages"`
	// Acknowledged is the highest sequence a carrier of the acknowledged
	// mark names (AcknowledgedBy says which): the log must reach it.
	Acknowledged   uint64   `json:"acknowledged,omitempty"`
	AcknowledgedBy []string `json:"acknowledged_by,omitempty"`
}

// StoreInfo describes a store's stream for Verify, with the acknowledged
// marks of the store's own carrier and the ones given.
func StoreInfo(ctx context.Context, s *eventstore.Store, carriers ...eventstore.Carrier) (LogInfo, error) {
	info, err := s.StreamInfo(ctx)
	if err != nil {
		return LogInfo{}, err
	}
	li := LogInfo{
		Stream:         info.Config.Name,
		ConfigProblems: eventstore.CheckStreamConfig(info.Config, 0),
		FirstSequence:  info.State.FirstSeq,
		LastSequence:   info.State.LastSeq,
		Messages:       info.State.Msgs,
	}
	// A carrier that cannot be read (a read-only user may not see the
	// mark bucket) vouches for nothing; the others still count.
	marks, _ := s.Marks(ctx, carriers...)
	for _, m := range marks {
		if m.Sequence > li.Acknowledged {
			li.Acknowledged = m.Sequence
		}
	}
	for _, m := range marks {
		if m.Sequence == li.Acknowledged && m.Sequence > 0 {
			li.AcknowledgedBy = append(li.AcknowledgedBy, m.Carrier)
		}
	}
	return li, nil
}
