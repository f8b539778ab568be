package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Citus is a throwaway Citus cluster on loopback: a coordinator and two
// workers, each a Server started as Start starts one (fsync off), with
// the extension created in the database "tally" of every node and the
// workers added, as docs/scale-out.md tells an operator to do.
type Citus struct {
	// URL is the database "tally" on the coordinator, where Tally points.
	URL         string
	Coordinator *Server
	Workers     []*Server
}

// citusOptions are the settings every node needs: Citus loaded at start,
// prepared transactions for its two-phase commit, and plain connections
// between the nodes (its default would set up TLS, which costs time and
// proves nothing on loopback).
const citusOptions = " -c shared_preload_libraries=citus -c max_prepared_transactions=200 -c citus.node_conninfo=sslmode=disable"

// StartCitus starts a Citus cluster for t, its three nodes in parallel
// (about 3 s), and stops it when t ends. Citus has no Debian package: when
// the PostgreSQL that pgtest finds has no citus extension, the test is
// skipped — or fails when TALLY_REQUIRE_CITUS=1.
func StartCitus(t testing.TB) *Citus {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		citusMissing(t, err.Error())
	}
	if ext := extensionDir(bin); !fileExists(filepath.Join(ext, "citus.control")) {
		citusMissing(t, fmt.Sprintf("Citus is not installed in %s; see docs/scale-out.md", ext))
	}
	nodes := make([]*Server, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if nodes[i], errs[i] = startCluster(false, citusOptions); errs[i] != nil {
				return
			}
			errs[i] = createExtension(nodes[i])
		}()
	}
	wg.Wait()
	for _, n := range nodes {
		if n != nil {
			t.Cleanup(n.Stop)
		}
	}
	if err := errors.Join(errs...); err != nil {
		citusMissing(t, "the Citus cluster could not be started: "+err.Error())
	}
	c := &Citus{Coordinator: nodes[0], Workers: nodes[1:], URL: tallyURL(nodes[0])}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT citus_set_coordinator_host('127.0.0.1', $1)`, c.Coordinator.Port); err != nil {
		t.Fatalf("citus_set_coordinator_host: %v", err)
	}
	for _, w := range c.Workers {
		if _, err := conn.Exec(ctx, `SELECT citus_add_node('127.0.0.1', $1)`, w.Port); err != nil {
			t.Fatalf("citus_add_node: %v", err)
		}
	}
	return c
}

// citusMissing skips t, or fails it when TALLY_REQUIRE_CITUS=1 (or when
// TALLY_REQUIRE_POSTGRES=1 and PostgreSQL itself is missing).
func citusMissing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("TALLY_REQUIRE_CITUS") == "1" {
		t.Fatalf("Citus is required (TALLY_REQUIRE_CITUS=1): %s", msg)
	}
	if _, err := binDir(); err != nil {
		skipOrFail(t, err)
	}
	t.Skip(msg)
}

// DistributeSQL distributes Tally's tables, once tally migrate has made
// them: sessions by account_id, the small tables as reference tables
// (copied to every node). The truncate calls delete the local copies
// Citus keeps of tables that had rows (it warns about them); on an empty
// table they do nothing. docs/scale-out.md shows the same statements.
const DistributeSQL = `SELECT create_distributed_table('tally.sessions', 'account_id');
SELECT create_reference_table('tally.api_keys');
SELECT create_reference_table('tally.schema_migrations');
SELECT truncate_local_data_after_distributing_table('tally.sessions');
SELECT truncate_local_data_after_distributing_table('tally.api_keys');
SELECT truncate_local_data_after_distributing_table('tally.schema_migrations');`

// Distribute runs DistributeSQL on the coordinator.
func (c *Citus) Distribute(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, DistributeSQL); err != nil {
		t.Fatalf("distributing Tally's tables: %v", err)
	}
}

// createExtension creates the database "tally" on a node and the citus
// extension in it.
func createExtension(s *Server) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `CREATE DATABASE tally`)
	conn.Close(ctx)
	if err != nil {
		return err
	}
	if conn, err = pgx.Connect(ctx, tallyURL(s)); err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE EXTENSION citus`); err != nil {
		return fmt.Errorf("CREATE EXTENSION citus on port %d: %w", s.Port, err)
	}
	return nil
}

func tallyURL(s *Server) string {
	return strings.Replace(s.URL, "/postgres?", "/tally?", 1)
}

// extensionDir is where the PostgreSQL whose programs are in bin keeps
// extension control files: pg_config's sharedir when pg_config is there,
// else Debian's /usr/share/postgresql/<major> or bin/../share.
func extensionDir(bin string) string {
	if out, err := exec.Command(filepath.Join(bin, "pg_config"), "--sharedir").Output(); err == nil {
		return filepath.Join(strings.TrimSpace(string(out)), "extension")
	}
	candidates := []string{filepath.Join(bin, "..", "share", "postgresql", "extension"), filepath.Join(bin, "..", "share", "extension")}
	if v := versionOf(bin); v > 0 {
		candidates = append([]string{filepath.Join("/usr/share/postgresql", strconv.Itoa(v), "extension")}, candidates...)
	}
	for _, c := range candidates {
		if fileExists(c) {
			return filepath.Clean(c)
		}
	}
	return filepath.Clean(candidates[0])
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
