package eventstore

import (
	"fmt"
	"strings"

	"planledger/domain"
)

// Damage is acknowledged records the log no longer holds: a hole in its
// sequences, or a tail shorter than what was acknowledged. The stream
// refuses deletes and purges and has no limits, so either can only be the
// storage losing what it had confirmed. Once the store knows of damage it
// refuses every append (a new record could take the sequence of a lost
// one, or follow a hole nobody reads past) until an operator repairs the
// log; reads go on.
type Damage struct {
	// From and To are the missing sequences, inclusive.
	From, To uint64
	// Found says how: "stream state", "read" (a reader met the hole),
	// "acknowledged mark" (a durable mark says more was acknowledged).
	Found string
	// Detail explains it further (which carrier, which block file).
	Detail string
}

func (d Damage) String() string {
	s := fmt.Sprintf("sequences %s are missing from the log (found by %s)", seqRange(d.From, d.To), d.Found)
	if d.Detail != "" {
		s += ": " + d.Detail
	}
	return s
}

// maxDamage bounds the distinct damages the store remembers.
const maxDamage = 20

// ReportDamage records damage found by a reader of the log (the views, a
// scrub, verify): from now on the store refuses appends. Each distinct
// range is logged once.
func (s *Store) ReportDamage(d Damage) {
	s.damageMu.Lock()
	for _, have := range s.damage {
		if have.From <= d.From && d.To <= have.To {
			s.damageMu.Unlock()
			return
		}
	}
	if len(s.damage) < maxDamage {
		s.damage = append(s.damage, d)
	}
	s.damageMu.Unlock()
	s.log.Error("the log is damaged: acknowledged records are missing; writes are stopped until the log is repaired (restore the data folder from a backup, or import an export into an empty one)",
		"from", d.From, "to", d.To, "found_by", d.Found, "detail", d.Detail)
}

// Damage returns the damage the store knows of, nil if none.
func (s *Store) Damage() []Damage {
	s.damageMu.Lock()
	defer s.damageMu.Unlock()
	return append([]Damage(nil), s.damage...)
}

// checkWritable refuses an append while the log is known to be damaged.
func (s *Store) checkWritable() error {
	d := s.Damage()
	if len(d) == 0 {
		return nil
	}
	parts := make([]string, len(d))
	for i := range d {
		parts[i] = d[i].String()
	}
	return domain.Errorf(domain.KindUnavailable, "writes are stopped: %s; nothing was appended, and nothing will be until the log is repaired", strings.Join(parts, "; "))
}
