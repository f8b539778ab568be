package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"

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

// runImport loads a file into the data directory, in one transaction: if
// any record is invalid, or anything fails, nothing is written.
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
	file, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(stderr, "tally import: %v\nnothing was written\n", err)
		return exitFailure
	}
	defer file.Close()
	size := int64(1)
	if fi, err := file.Stat(); err == nil {
		size = fi.Size()
	}
	store, err := sqlite.Open(ctx, *dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "tally import:", err)
		return exitFailure
	}
	defer store.Close()
	// One pass and one transaction: every batch is validated as it is
	// read and written into a Bulk, which is committed only when the
	// whole file was valid and written. Any error leaves the store as it
	// was.
	bulk, err := store.BeginBulk(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tally import: %v\nnothing was written\n", err)
		return exitFailure
	}
	defer bulk.Rollback()
	in := &countingReader{r: file}
	bar := newProgress(stderr, "importing "+path, size)
	accepted, ignored, read := 0, 0, 0
	var readErr error
	// The reader decodes each batch and puts its keys in order
	// (PrepareKeys) while the store writes the one before.
	err = pipeline(ctx, func(fn func(keyedBatch) error) error {
		readErr = ingest.ReadBatches(in, *format, account, importBatch, func(b []session.Record) error {
			return fn(keyedBatch{b, store.PrepareKeys(b)})
		})
		return readErr
	}, func(b keyedBatch) error {
		changes, ign, err := bulk.Upsert(ctx, b.recs, b.keys)
		if err != nil {
			return err
		}
		accepted += len(changes)
		ignored += ign
		read += len(b.recs)
		bar.set(in.n.Load(), read)
		return nil
	})
	if err == nil {
		err = bulk.Commit(ctx)
	}
	if err != nil {
		if err == readErr {
			fmt.Fprintf(stderr, "\ntally import: %s: %v\nnothing was written\n", path, err)
		} else {
			fmt.Fprintf(stderr, "\ntally import: %v\nnothing was written\n", err)
		}
		return exitFailure
	}
	bar.done()
	fmt.Fprintf(stdout, "imported %d sessions (%d ignored as older than the stored ones) into %s\n", accepted, ignored, store.Path())
	return exitOK
}

// keyedBatch is a batch of an import and its keys.
type keyedBatch struct {
	recs []session.Record
	keys *sqlite.Keys
}

// countingReader counts the bytes read through it, for the progress bar
// (read on the reader's goroutine, shown on the writer's).
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
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
