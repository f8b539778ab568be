package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// cliReference renders every subcommand's flags as Markdown. docs/cli.md
// must equal it: TestCLIReference fails when a flag changes and the doc
// does not (go test -update rewrites it).
func cliReference() string {
	var b strings.Builder
	b.WriteString("# Command line reference\n\n")
	b.WriteString("Generated from the flag definitions by `go test ./cmd/tally -run TestCLIReference -update`; do not edit by hand.\n\n")
	b.WriteString("Every flag can also be set with the environment variable shown; a flag given on the command line wins over the environment.\n\n")
	b.WriteString("```\n" + usage + "```\n")
	noenv := func(string) string { return "" }
	sections := []struct {
		name, intro string
		fs          *flag.FlagSet
	}{
		{"tally serve", "Runs the server on the embedded store, or with `--database-url` on PostgreSQL (then `--data-dir` is not used). On the embedded store the server holds the data directory's lock (`tally.lock`, with its pid) while it runs: a second server, `tally demo` or `tally import` on the same directory is refused. On a clean stop (SIGTERM, SIGINT) it writes the engine's snapshot, `tally.snapshot`, beside the database; the next start loads it in a fraction of the time a load from the database takes, but only when it matches the database exactly (anything written since, a damaged or foreign file: it is logged, removed and the start loads from the database). The limits are explained in [limits.md](limits.md).", func() *flag.FlagSet { fs, _, _ := newServeFlags("serve", io.Discard, noenv, false); return fs }()},
		{"tally demo", "Creates demo data in `--data-dir` on first run (one account, four desks, about 90 days ending today), prints the dashboard and console URLs and a ready-to-paste curl command, then serves like `tally serve`, with the pages opening on the demo account.", func() *flag.FlagSet { fs, _, _ := newServeFlags("demo", io.Discard, noenv, true); return fs }()},
		{"tally import FILE", "Loads an NDJSON or CSV file into `--data-dir`. A server running on the directory holds its lock, so import refuses, naming the server's pid: stop it first, or POST to /v1/sessions instead. The file is read once and written in one transaction, committed only when every record was valid and written: an invalid record (named by its line) or a failure leaves the store as it was. Each batch of 10 000 is decoded while the previous one is written; the transaction's pages wait in the write-ahead log until the end, so the disk needs room for about as much again as the rows written. After an import the server's next start loads from the database (its snapshot no longer matches).", importFlags(io.Discard, noenv).fs},
		{"tally migrate", "Creates or updates the `tally` schema in a PostgreSQL database and exits. `tally serve --database-url` does the same at start, under an advisory lock, so replicas starting together are safe; run this first in pipelines that migrate before rolling out.", func() *flag.FlagSet { fs, _, _ := migrateFlags(io.Discard, noenv); return fs }()},
		{"tally keys create", "Creates an API key and prints it on stdout, once; only its hash is stored. Works on `--data-dir`, or on a running server with `--server` and `--admin-secret`.", keysFlags("create", io.Discard, noenv).fs},
		{"tally keys list", "Lists keys (never the keys themselves): id, account, scopes, name, created, last used, revoked.", keysFlags("list", io.Discard, noenv).fs},
		{"tally keys revoke ID", "Revokes a key. Through `--server` it is refused from the very next request; on the data directory of a running server, within a second.", keysFlags("revoke", io.Discard, noenv).fs},
	}
	for _, s := range sections {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n| flag | default | environment | meaning |\n|---|---|---|---|\n", s.name, s.intro)
		s.fs.VisitAll(func(f *flag.Flag) {
			usage, env := f.Usage, "—"
			if i := strings.LastIndex(usage, " (env "); i >= 0 {
				env = "`" + strings.TrimSuffix(usage[i+6:], ")") + "`"
				usage = usage[:i]
			}
			def := f.DefValue
			if def == "" {
				def = "(empty)"
			}
			fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", f.Name, def, env, usage)
		})
	}
	return b.String()
}

var update = flag.Bool("update", false, "rewrite docs/cli.md")

func TestCLIReference(t *testing.T) {
	got := cliReference()
	if *update {
		if err := os.WriteFile("../../docs/cli.md", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile("../../docs/cli.md")
	if err != nil || string(want) != got {
		t.Fatalf("docs/cli.md is out of date with the flags; run go test ./cmd/tally -run TestCLIReference -update (%v)", err)
	}
}
