package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/tally-server/tally/internal/store/postgres"
)

func migrateFlags(stderr io.Writer, getenv func(string) string) (*flag.FlagSet, *envFlags, *string) {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ef := &envFlags{fs: fs, getenv: getenv}
	url := ef.String("database-url", "", "PostgreSQL URL to migrate (required)")
	return fs, ef, url
}

// runMigrate brings a PostgreSQL database's tally schema up to date and
// exits; serve does the same at start, so this is for deploy pipelines
// that migrate before rolling out replicas.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs, ef, url := migrateFlags(stderr, getenv)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *url == "" {
		ef.errs = append(ef.errs, "--database-url (or TALLY_DATABASE_URL) is required")
	}
	if len(ef.errs) > 0 {
		for _, e := range ef.errs {
			fmt.Fprintln(stderr, "tally migrate:", e)
		}
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	store, err := postgres.Open(ctx, postgres.Config{URL: *url, PoolSize: 2, Logger: log})
	if err != nil {
		fmt.Fprintln(stderr, "tally migrate:", err)
		return exitFailure
	}
	defer store.Close()
	v, err := store.Version(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "tally migrate:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "schema tally is at version %d\n", v)
	return exitOK
}
