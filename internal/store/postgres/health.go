package postgres

import (
	"context"
	"fmt"
)

// checkWrite reports whether the database would take a write: a hot
// standby, or a database set to default_transaction_read_only, answers
// queries but refuses every batch, which /healthz must say (SPEC section
// 8). A full disk shows only when a write fails; PostgreSQL then answers
// the batch itself with its error.
func (s *Store) checkWrite(ctx context.Context) error {
	var readOnly string
	if err := s.pool.QueryRow(ctx, `SHOW transaction_read_only`).Scan(&readOnly); err != nil {
		return unavailable("health: read-only check", err)
	}
	if readOnly == "on" {
		return fmt.Errorf("the database is read-only (a standby, or default_transaction_read_only is on): batches cannot be written; point --database-url at the primary")
	}
	return nil
}
