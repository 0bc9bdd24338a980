package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// getMsg reads one message through the stream leader (the JetStream API's
// MSG.GET, not a direct get). On a replicated stream a direct get may be
// answered by a replica that has not applied the latest messages yet; the
// store's reads after an append or a lost race must see them, so they ask
// the leader. subject, if set, asks for the first message at or after seq
// on that subject.
func (s *Store) getMsg(ctx context.Context, seq uint64, subject string) (*jetstream.RawStreamMsg, error) {
	if !s.replicated {
		// One server: a direct get is as fresh as the leader's, and
		// cheaper (it does not queue behind the JetStream API).
		if subject == "" {
			return s.stream.GetMsg(ctx, seq)
		}
		return s.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
	}
	req := struct {
		Seq        uint64 `json:"seq"`
		NextBySubj string `json:"next_by_subj,omitempty"`
	}{Seq: seq, NextBySubj: subject}
	body, _ := json.Marshal(req)
	prefix := s.js.Options().APIPrefix
	if prefix == "" {
		prefix = "$JS.API."
	}
	resp, err := s.nc.RequestWithContext(ctx, prefix+"STREAM.MSG.GET."+s.name, body)
	if err != nil {
		return nil, err
	}
	var reply struct {
		Error   *jetstream.APIError `json:"error"`
		Message *struct {
			Subject  string    `json:"subject"`
			Sequence uint64    `json:"seq"`
			Header   []byte    `json:"hdrs"`
			Data     []byte    `json:"data"`
			Time     time.Time `json:"time"`
		} `json:"message"`
	}
	if err := json.Unmarshal(resp.Data, &reply); err != nil {
		return nil, fmt.Errorf("stream msg get reply: %w", err)
	}
	if reply.Error != nil {
		if reply.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return nil, jetstream.ErrMsgNotFound
		}
		return nil, reply.Error
	}
	if reply.Message == nil {
		return nil, fmt.Errorf("stream msg get: empty reply")
	}
	m := reply.Message
	hdr := nats.Header{}
	if len(m.Header) > 0 {
		// The API sends the headers as their NATS/1.0 wire text.
		if hdr, err = nats.DecodeHeadersMsg(m.Header); err != nil {
			return nil, fmt.Errorf("stream msg get headers: %w", err)
		}
	}
	return &jetstream.RawStreamMsg{Subject: m.Subject, Sequence: m.Sequence, Header: hdr, Data: m.Data, Time: m.Time}, nil
}
