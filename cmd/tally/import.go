package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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
		dataDir: ef.String("data-dir", "./tally-data", "directory of the embedded store (stop the server first)"),
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
		*format = "ndjson"
		if strings.HasSuffix(strings.ToLower(path), ".csv") {
			*format = "csv"
		}
	}
	if *format != "ndjson" && *format != "csv" {
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
		return readBatches(f, *format, account, fn)
	}
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
	err = readAll(func(b []session.Record) error {
		changes, ign, err := store.Upsert(ctx, b)
		if err != nil {
			return err
		}
		accepted += len(changes)
		ignored += ign
		bar.add(len(b))
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

// readBatches decodes the file in batches of importBatch records through
// the same validation as POST /v1/sessions. Problems are reported with
// their line (NDJSON) or row (CSV) number.
func readBatches(r io.Reader, format string, account pgtext.NullUUID, fn func([]session.Record) error) error {
	var next func() ([]byte, error)
	switch format {
	case "csv":
		cr := csv.NewReader(bufio.NewReader(r))
		header, err := cr.Read()
		if err != nil {
			return fmt.Errorf("reading the CSV header: %w", err)
		}
		next = func() ([]byte, error) {
			row, err := cr.Read()
			if err != nil {
				return nil, err
			}
			return csvRecord(header, row)
		}
	default:
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		next = func() ([]byte, error) {
			for sc.Scan() {
				line := bytes.TrimSpace(sc.Bytes())
				if len(line) > 0 {
					return append([]byte(nil), line...), nil
				}
			}
			if err := sc.Err(); err != nil {
				return nil, err
			}
			return nil, io.EOF
		}
	}
	line := 0
	for {
		var buf bytes.Buffer
		first := line
		n := 0
		for n < importBatch {
			rec, err := next()
			if err == io.EOF {
				break
			}
			line++
			if err != nil {
				return fmt.Errorf("record %d: %w", line, err)
			}
			buf.Write(rec)
			buf.WriteByte('\n')
			n++
		}
		if n == 0 {
			return nil
		}
		recs, err := ingest.Decode(&buf, account, ingest.Config{MaxRecords: importBatch})
		if err != nil {
			var be *ingest.BatchError
			if errors.As(err, &be) {
				var b strings.Builder
				for _, p := range be.Problems {
					fmt.Fprintf(&b, "\n  record %d: %s: %s", first+p.Index+1, p.Field, p.Reason)
				}
				return fmt.Errorf("invalid records:%s", b.String())
			}
			return err
		}
		if err := fn(recs); err != nil {
			return err
		}
	}
}

// csvRecord turns a CSV row into the JSON object ingest reads.
func csvRecord(header, row []string) ([]byte, error) {
	obj := map[string]any{}
	for i, name := range header {
		if i >= len(row) || row[i] == "" {
			continue
		}
		v := row[i]
		switch name {
		case "brain_version":
			obj[name] = json.Number(v)
		case "is_test":
			obj[name] = strings.EqualFold(v, "true") || v == "1" || strings.EqualFold(v, "t")
		case "agent_ids":
			var ids []string
			if strings.HasPrefix(v, "[") {
				if err := json.Unmarshal([]byte(v), &ids); err != nil {
					return nil, fmt.Errorf("agent_ids: %w", err)
				}
			} else {
				els, err := pgtext.ParseArray(v)
				if err != nil {
					return nil, fmt.Errorf("agent_ids: %w", err)
				}
				for _, e := range els {
					if e != nil {
						ids = append(ids, *e)
					}
				}
			}
			obj[name] = ids
		default:
			obj[name] = v
		}
	}
	return json.Marshal(obj)
}
