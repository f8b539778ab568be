package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tally-server/tally/internal/apikey"
	"github.com/tally-server/tally/internal/pgtext"
)

// CreateKey stores a new key record.
func (s *Store) CreateKey(ctx context.Context, k apikey.Key) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO tally.api_keys (account_id, id, hash, scopes, name, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		pgtype.UUID{Bytes: k.Account, Valid: true}, k.ID, k.Hash[:], apikey.FormatScopes(k.Scopes), k.Name, k.CreatedAt)
	if err != nil {
		return unavailable("create key", err)
	}
	return nil
}

const keyColumns = `account_id, id, hash, scopes, name, created_at, last_used_at, revoked_at`

func scanKey(row pgx.Row) (apikey.Key, error) {
	var (
		k                 apikey.Key
		acc               pgtype.UUID
		hash              []byte
		scopes            string
		lastUsed, revoked pgtype.Timestamptz
	)
	if err := row.Scan(&acc, &k.ID, &hash, &scopes, &k.Name, &k.CreatedAt, &lastUsed, &revoked); err != nil {
		return k, err
	}
	k.Account = acc.Bytes
	copy(k.Hash[:], hash)
	var err error
	if k.Scopes, err = apikey.ParseScopes(scopes); err != nil {
		return k, fmt.Errorf("key %s: %w", k.ID, err)
	}
	k.CreatedAt = k.CreatedAt.UTC()
	if lastUsed.Valid {
		k.LastUsedAt = lastUsed.Time.UTC()
	}
	if revoked.Valid {
		k.RevokedAt = revoked.Time.UTC()
	}
	return k, nil
}

// Key returns the key with id, or nil when there is none.
func (s *Store) Key(ctx context.Context, id string) (*apikey.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM tally.api_keys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("read key", err)
	}
	return &k, nil
}

// Keys lists keys, of one account when account is valid, oldest first.
func (s *Store) Keys(ctx context.Context, account pgtext.NullUUID) ([]apikey.Key, error) {
	q := `SELECT ` + keyColumns + ` FROM tally.api_keys`
	var args []any
	if account.Valid {
		q += ` WHERE account_id = $1`
		args = append(args, pgtype.UUID{Bytes: account.UUID, Valid: true})
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, unavailable("list keys", err)
	}
	defer rows.Close()
	var out []apikey.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeKey marks a key revoked; false when there is no such active key.
func (s *Store) RevokeKey(ctx context.Context, id string, now time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE tally.api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, id, now)
	if err != nil {
		return false, unavailable("revoke key", err)
	}
	return tag.RowsAffected() == 1, nil
}

// TouchKey records that a key was used.
func (s *Store) TouchKey(ctx context.Context, id string, at time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE tally.api_keys SET last_used_at = $2 WHERE id = $1`, id, at); err != nil {
		return unavailable("touch key", err)
	}
	return nil
}
