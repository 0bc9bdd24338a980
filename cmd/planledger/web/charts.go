package web

import (
	"math"
	"strconv"
)

// Charts are inline SVG drawn on the server: the page computes the
// geometry here and the templates only place it, in a 0-100 wide box.

// segment is one part of a stacked bar.
type segment struct {
	X, W  string // position and width, in percent of the bar
	Class string
	Label string
	N     int
}

// count is one category of a stacked bar; Class colours it ("term-overdue").
type count struct {
	Code, Class string
	Label       string
	N           int
}

// stack lays counts side by side in proportion; empty ones take no room.
func stack(counts []count) []segment {
	total := 0
	for _, c := range counts {
		total += c.N
	}
	var out []segment
	x := 0.0
	for _, c := range counts {
		if c.N == 0 || total == 0 {
			continue
		}
		w := 100 * float64(c.N) / float64(total)
		out = append(out, segment{X: coord(x), W: coord(w), Class: c.Class, Label: c.Label, N: c.N})
		x += w
	}
	return out
}

// width is a fraction as a bar's width in percent, at most 100.
func width(f float64) string { return coord(100 * math.Min(math.Max(f, 0), 1)) }

func coord(x float64) string { return strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64) }

// shareBar is one sector of a leadership body against its target: the
// share, the target mark and the band the tolerance allows.
type shareBar struct {
	Sector, Label       string
	Share, Target       float64
	W, TargetX          string
	BandX, BandW        string
	Outside             bool
	SharePct, TargetPct string
}

func newShareBar(sector, label string, share, target, tolerance float64) shareBar {
	lo, hi := math.Max(target-tolerance, 0), math.Min(target+tolerance, 1)
	return shareBar{Sector: sector, Label: label, Share: share, Target: target,
		W: width(share), TargetX: width(target), BandX: width(lo), BandW: width(hi - lo),
		Outside:  math.Abs(share-target) > tolerance+1e-9,
		SharePct: pct(share), TargetPct: pct(target)}
}
