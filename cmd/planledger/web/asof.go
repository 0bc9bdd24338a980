package web

import (
	"context"
	"sync"
	"time"

	"planledger/projections"
)

// withViews calls fn with the views a page shows and the clock they are
// judged against: the live views (under the runner's read lock, so fn
// must not keep them) and now, or the views as they stood at the page's
// "as of" and that moment — the same code path as the API's as_of.
func (s *Site) withViews(ctx context.Context, b *base, fn func(v *projections.Views, clock time.Time) error) error {
	if b.AsOf == nil {
		var err error
		now := s.now()
		s.cfg.Views.Read(func(v *projections.Views) { err = fn(v, now) })
		return err
	}
	v, err := s.asOf.get(ctx, s, b.AsOf.T, b.AsOf.Axis)
	if err != nil {
		return err
	}
	return fn(v, b.AsOf.T)
}

// asOfCache keeps the last views rebuilt "as of", so that following links
// at one moment (overview, a society, an aggregate) rebuilds once.
// An entry is good while the live views have not moved: a record appended
// since may change what the occurred axis shows. One rebuild runs at a
// time, which also bounds what "as of" requests can cost the server.
type asOfCache struct {
	mu      sync.Mutex
	entries []asOfEntry
}

type asOfEntry struct {
	t     time.Time
	axis  projections.Axis
	seq   uint64
	views *projections.Views
}

// asOfCacheSize is small: each entry is a whole copy of the views.
const asOfCacheSize = 2

func (c *asOfCache) get(ctx context.Context, s *Site, t time.Time, axis projections.Axis) (*projections.Views, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq := s.cfg.Views.Sequence()
	for i, e := range c.entries {
		if e.t.Equal(t) && e.axis == axis && e.seq == seq {
			c.entries = append(append([]asOfEntry{e}, c.entries[:i]...), c.entries[i+1:]...)
			return e.views, nil
		}
	}
	var v *projections.Views
	var err error
	if axis == projections.AxisRecorded {
		v, err = s.cfg.Views.AsOf(ctx, t) // a snapshot plus a short replay
	} else {
		v, err = projections.Replay(ctx, s.cfg.Store, t, axis)
	}
	if err != nil {
		return nil, err
	}
	c.entries = append([]asOfEntry{{t: t, axis: axis, seq: seq, views: v}}, c.entries...)
	if len(c.entries) > asOfCacheSize {
		c.entries = c.entries[:asOfCacheSize]
	}
	return v, nil
}
