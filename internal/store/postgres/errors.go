package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tally-server/tally/internal/session"
)

// Errors of the PostgreSQL backend fall in three classes, which callers
// tell apart with errors.Is (the server answers 503 with Retry-After for
// the first two and 500 for the third, docs/scale-out.md):
//
//   - unreachable (session.ErrUnavailable, which is also ErrTemporary): no
//     connection, a broken one (SQLSTATE class 08), or a server that is
//     shutting down or starting (57P01, 57P02, 57P03);
//   - temporary (session.ErrTemporary): a failure that may pass without
//     anyone changing anything — a serialization failure or deadlock that
//     persisted through the write's own retries (class 40), a lock timeout
//     (55P03), a statement timeout or a cancel that did not come from the
//     caller (57014), other operator interventions (57P0x), insufficient
//     resources such as a full disk, memory or too many connections (class
//     53), or the caller's deadline;
//   - permanent: everything else — features the database refuses (0A000,
//     such as Citus's distributed FOR UPDATE), data it refuses (class 22),
//     constraints (class 23), privileges, syntax and missing objects
//     (class 42), configuration, internal errors, and the caller's own
//     cancellation (context.Canceled, which is not retried by anyone: the
//     caller went away).

// classify wraps err, met while doing op, in its class. ctx is the
// caller's context: a query cancelled because ctx ended is the caller's
// doing, not the database's.
func classify(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ce := ctx.Err(); ce != nil && !errors.Is(err, ce) {
		err = fmt.Errorf("%w (%w)", ce, err)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", op, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w: %w", op, session.ErrTemporary, err)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		if clientSide(err) {
			return fmt.Errorf("%s: %w", op, err)
		}
		// Not from the server and not ours: the connection failed.
		return fmt.Errorf("%s: %w: %w", op, session.ErrUnavailable, err)
	}
	code := pgErr.Code
	switch {
	case strings.HasPrefix(code, "08"), code == "57P01", code == "57P02", code == "57P03":
		return fmt.Errorf("%s: %w: %w", op, session.ErrUnavailable, err)
	case strings.HasPrefix(code, "40"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "57P"),
		code == "55P03", code == "57014":
		return fmt.Errorf("%s: %w: %w", op, session.ErrTemporary, err)
	case strings.HasPrefix(code, "22"):
		var de *DataError
		if !errors.As(err, &de) {
			err = &DataError{Column: pgErr.ColumnName, Err: pgErr}
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// unavailable is classify for callers without the caller's context: a
// cancellation is then recognised only from the error itself.
func unavailable(op string, err error) error {
	return classify(context.Background(), op, err)
}

// clientSide reports errors pgx makes before or after talking to the
// server: they are Tally's bugs, not the database's absence.
func clientSide(err error) bool {
	var scan pgx.ScanArgError
	return errors.As(err, &scan) || strings.Contains(err.Error(), "failed to encode")
}

// DataError is a value PostgreSQL refused (SQLSTATE class 22). Ingestion
// validates every record first, so it means a value Tally accepted and
// PostgreSQL does not; it is permanent. Account and Column say where, as
// far as the statement tells.
type DataError struct {
	Account string // the account whose statement failed, when known
	Column  string // the column, when PostgreSQL or the statement names it
	Err     *pgconn.PgError
}

func (e *DataError) Error() string {
	var b strings.Builder
	b.WriteString("PostgreSQL refused a value")
	if e.Column != "" {
		b.WriteString(" of column " + e.Column)
	}
	if e.Account != "" {
		b.WriteString(" in a session of account " + e.Account)
	}
	fmt.Fprintf(&b, " (SQLSTATE %s): %s", e.Err.Code, e.Err.Message)
	return b.String()
}

func (e *DataError) Unwrap() error { return e.Err }

var portalParam = regexp.MustCompile(`parameter \$(\d+)`)

// dataError makes err a DataError when it is one (SQLSTATE class 22),
// saying which account's statement failed and which column: PostgreSQL's
// own, or the one of the statement parameter it names ("unnamed portal
// parameter $7"), given the columns of the parameters in order.
func dataError(err error, account string, params []string) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || !strings.HasPrefix(pgErr.Code, "22") {
		return err
	}
	de := &DataError{Account: account, Column: pgErr.ColumnName, Err: pgErr}
	if de.Column == "" {
		if m := portalParam.FindStringSubmatch(pgErr.Where); m != nil {
			if i, _ := strconv.Atoi(m[1]); i >= 1 && i <= len(params) {
				de.Column = params[i-1]
			}
		}
	}
	return de
}

// retryable reports a failure that a new attempt of the whole
// transaction may not meet: a serialization failure or a deadlock (local,
// or Citus's distributed one). Tally's writers take their locks in one
// order and should never deadlock each other; other writers of the tables
// (an operator's script, a migration) still may.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}
