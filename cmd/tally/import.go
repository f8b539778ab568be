package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/tally-server/tally/internal/ingest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
	"github.com/tally-server/tally/internal/store/sqlite"
)

const importBatch = 10000

type importFlagSet struct {
	fs      *flag.FlagSet
	ef      *envFlags
	dataDir *string
	account *string
	format  *string
}

func importFlags(stderr io.Writer, getenv func(string) string) importFlagSet {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ef := &envFlags{fs: fs, getenv: getenv}
	return importFlagSet{
		fs:      fs,
		ef:      ef,
		dataDir: ef.String("data-dir", defaultDataDir, "directory of the embedded store (a server running on it must be stopped first: it holds the directory's lock)"),
		account: ef.String("account", "", "account UUID for records without account_id"),
		format:  fs.String("format", "", "ndjson or csv (default: from the file name; .csv is CSV)"),
	}
}

// runImport loads a file into the data directory. The whole file is
// validated first: if any record is invalid, nothing is written.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	f := importFlags(stderr, getenv)
	fs, ef, dataDir, accountFlag, format := f.fs, f.ef, f.dataDir, f.account, f.format
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tally import [flags] FILE\n\nFILE holds NDJSON (one session object per line) or CSV with a header row\nnaming the fields; in CSV an empty cell is null and agent_ids is a JSON\narray or a PostgreSQL array literal.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	var account pgtext.NullUUID
	if *accountFlag != "" {
		u, err := pgtext.ParseUUID(*accountFlag)
		if err != nil {
			ef.errs = append(ef.errs, fmt.Sprintf("--account: %v", err))
		}
		account = pgtext.NullUUID{UUID: u, Valid: err == nil}
	}
	path := fs.Arg(0)
	if *format == "" {
		*format = ingest.FormatNDJSON
		if strings.HasSuffix(strings.ToLower(path), ".csv") {
			*format = ingest.FormatCSV
		}
	}
	if *format != ingest.FormatNDJSON && *format != ingest.FormatCSV {
		ef.errs = append(ef.errs, fmt.Sprintf("--format %q: use ndjson or csv", *format))
	}
	if len(ef.errs) > 0 {
		for _, e := range ef.errs {
			fmt.Fprintln(stderr, "tally import:", e)
		}
		return exitUsage
	}
	readAll := func(fn func([]session.Record) error) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return ingest.ReadBatches(f, *format, account, importBatch, fn)
	}
	// An import's live heap is a few batches, and it allocates fast:
	// collecting garbage at four times that (unless the runtime's GOGC
	// says otherwise) costs tens of megabytes and saves about a tenth of
	// its time.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	// The data directory is this process's until the import ends: a
	// running server there would not see the rows written under it.
	lock, err := sqlite.LockDir(*dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "tally import:", err)
		return exitFailure
	}
	defer lock.Unlock()
	// Pass 1: validate everything, count.
	total := 0
	if err := readAll(func(b []session.Record) error { total += len(b); return nil }); err != nil {
		fmt.Fprintf(stderr, "tally import: %s: %v\nnothing was written\n", path, err)
		return exitFailure
	}
	store, err := sqlite.Open(ctx, *dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "tally import:", err)
		return exitFailure
	}
	defer store.Close()
	bar := newProgress(stderr, "importing "+path, total)
	accepted, ignored := 0, 0
	// The reader decodes the next batch and reads its stored rows
	// (Prefetch) while the store writes this one.
	read := func(fn func(prefetchedBatch) error) error {
		return readAll(func(b []session.Record) error {
			pre, _ := store.Prefetch(ctx, b) // on failure the write reads them
			return fn(prefetchedBatch{b, pre})
		})
	}
	err = pipeline(ctx, read, func(b prefetchedBatch) error {
		changes, ign, err := store.UpsertPrefetched(ctx, b.recs, b.pre)
		if err != nil {
			return err
		}
		accepted += len(changes)
		ignored += ign
		bar.add(len(b.recs))
		return nil
	})
	if err != nil {
		fmt.Fprintf(stderr, "\ntally import: %v (the batches before this error were written)\n", err)
		return exitFailure
	}
	bar.done()
	fmt.Fprintf(stdout, "imported %d sessions (%d ignored as older than the stored ones) into %s\n", accepted, ignored, store.Path())
	return exitOK
}

// prefetchedBatch is a batch of an import and its stored rows as read
// before its write.
type prefetchedBatch struct {
	recs []session.Record
	pre  *sqlite.Prefetched
}

// pipeline runs read in a goroutine and write on each batch it reads, so
// that the next batch is decoded while the store writes this one (on
// another core). It returns the first error, write's or read's; after
// write fails, read is stopped.
func pipeline[B any](ctx context.Context, read func(func(B) error) error, write func(B) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan B, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- read(func(b B) error {
			select {
			case batches <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	for b := range batches {
		if err := write(b); err != nil {
			cancel()
			for range batches {
			}
			<-readErr
			return err
		}
	}
	return <-readErr
}
