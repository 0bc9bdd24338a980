package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"planledger/cmd/planledger/datadir"
	"planledger/cmd/planledger/viewdoc"
	"planledger/projections"
)

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("replay", stderr)
	var src sourceFlags
	src.register(fs)
	asOfArg := fs.String("as-of", "", "the moment, RFC 3339 (2021-12-31T23:59:59+08:00); default now")
	axisArg := fs.String("axis", "recorded", "recorded (what the ledger knew then) or occurred (what had happened by then, as known now)")
	view := fs.String("view", "", "one view ("+strings.Join(projections.ViewNames, ", ")+"); default all")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	asOf := time.Now()
	if *asOfArg != "" {
		t, err := time.Parse(time.RFC3339Nano, *asOfArg)
		if err != nil {
			return fmt.Errorf("--as-of %q is not an RFC 3339 timestamp (2021-12-31T23:59:59+08:00)", *asOfArg)
		}
		asOf = t
	}
	axis, err := projections.ParseAxis(*axisArg)
	if err != nil {
		return err
	}
	names := projections.ViewNames
	if *view != "" {
		if !slices.Contains(names, *view) {
			return fmt.Errorf("--view %q: the views are %s", *view, strings.Join(names, ", "))
		}
		names = []string{*view}
	}

	out := map[string]any{}
	if src.remote() {
		q := url.Values{"as_of": {asOf.Format(time.RFC3339Nano)}, "axis": {string(axis)}}
		c := src.client()
		for _, name := range names {
			var v map[string]any
			if err := c.GetJSON(ctx, "/v1/views/"+name, q, &v); err != nil {
				return err
			}
			out[name] = v
		}
	} else {
		store, err := src.openStore(ctx)
		if err != nil {
			return err
		}
		defer store.Close()
		var views *projections.Views
		if axis == projections.AxisRecorded && src.natsURL == "" {
			views, err = projections.ReplayWithSnapshots(ctx, store, datadir.Dir(src.dataDir).ViewsHistory(), asOf)
		} else {
			views, err = projections.Replay(ctx, store, asOf, axis)
		}
		if err != nil {
			return err
		}
		for _, name := range names {
			v, err := views.Render(name, asOf)
			if err != nil {
				return err
			}
			if out[name], err = viewdoc.WithAsOf(v, asOf, axis); err != nil {
				return err
			}
		}
	}
	if *view != "" {
		return printJSON(stdout, out[*view])
	}
	return printJSON(stdout, map[string]any{"as_of": asOf.Format(time.RFC3339Nano), "axis": axis, "views": out})
}
