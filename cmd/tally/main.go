// Command tally serves open/closed session counts per interval over a
// Hasura-compatible GraphQL API.
//
//	tally serve   run the server (embedded store in --data-dir)
//	tally demo    run the server on generated demo data
//	tally import  load sessions from an NDJSON or CSV file
//	tally keys    create, list and revoke API keys
//	tally migrate update a PostgreSQL database's schema
//	tally version print the version
//
// Only this package reads flags, the environment and signals. It holds
// flags, wiring and the subcommands: serve wires a backend (the embedded
// one, or the PostgreSQL store), the GraphQL executor, authentication and
// the HTTP server together; everything else lives in internal/ (see
// docs/architecture.md).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

const usage = `usage: tally <command> [flags]

commands:
  serve    run the server on the embedded store (--data-dir) or on
           PostgreSQL (--database-url)
  demo     generate demo data on first run, then serve it
  import   load sessions from an NDJSON or CSV file into --data-dir
  keys     create, list and revoke API keys
  migrate  bring a PostgreSQL database's schema up to date (--database-url)
  version  print the version

Run "tally <command> -h" for the command's flags. Every flag can also be
set with its TALLY_* environment variable; a flag on the command line wins.
`

// run is the whole CLI, callable from tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr, getenv, false)
	case "demo":
		return runServe(ctx, args[1:], stdout, stderr, getenv, true)
	case "import":
		return runImport(ctx, args[1:], stdout, stderr, getenv)
	case "keys":
		return runKeys(ctx, args[1:], stdout, stderr, getenv)
	case "migrate":
		return runMigrate(ctx, args[1:], stdout, stderr, getenv)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "tally", version)
		return exitOK
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "tally: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}
