package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/tally-server/tally/internal/demo"
	"github.com/tally-server/tally/internal/server"
	"github.com/tally-server/tally/internal/session"
	"github.com/tally-server/tally/internal/store/sqlite"
	"github.com/tally-server/tally/web"
)

// What tally demo adds to serve: its data set, written to an empty data
// directory before the engine loads, and the console and help text that
// point at it.

// loadDemo writes the demo data set into an empty store, with a progress
// bar; a store that holds sessions is left as it is.
func loadDemo(ctx context.Context, store *sqlite.Store, cfg demo.Config, stderr io.Writer) error {
	if n, err := store.Count(ctx); err != nil || n > 0 {
		return err
	}
	expected := cfg.Days * cfg.PerDay * 5 / 6 // weekends are quieter
	bar := newProgress(stderr, "creating demo data", int64(expected))
	batch := make([]session.Record, 0, 10000)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, _, err := store.Upsert(ctx, batch); err != nil {
			return err
		}
		bar.add(len(batch))
		batch = batch[:0]
		return nil
	}
	_, err := demo.Generate(cfg, func(r *session.Record) error {
		batch = append(batch, *r)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	bar.done()
	return nil
}

func demoVariables(d demo.Dataset) map[string]any {
	today := time.Now().UTC()
	return map[string]any{
		"deskIds":        "{" + d.Desks[0].ID.String() + "}",
		"startDate":      today.AddDate(0, 0, -9).Format("2006-01-02"),
		"endDate":        today.Format("2006-01-02"),
		"intervalInDays": "1 day",
	}
}

func consoleDefaults(d demo.Dataset) server.ConsoleConfig {
	return server.ConsoleConfig{AccountID: d.Account.String(), Variables: demoVariables(d)}
}

func printDemoHelp(w io.Writer, addr string, d demo.Dataset) {
	body, _ := json.Marshal(map[string]any{"query": web.SpecQuery, "variables": demoVariables(d)})
	fmt.Fprintf(w, "\nDemo account %s, desks:", d.Account)
	for _, desk := range d.Desks {
		fmt.Fprintf(w, " %s (%s)", desk.Name, desk.ID)
	}
	fmt.Fprintf(w, "\n\nDashboard: http://%s/dashboard\nConsole:   http://%s/console\n\nTry the SPEC query:\n\n", addr, addr)
	fmt.Fprintf(w, "curl -s http://%s/v1/graphql -H 'Content-Type: application/json' -H 'X-Moveo-Account-Id: %s' -d '%s'\n\n", addr, d.Account, body)
}
