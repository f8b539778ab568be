package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tally-server/tally/internal/apikey"
	"github.com/tally-server/tally/internal/pgtext"
)

// CreateKey stores a new key record.
func (s *Store) CreateKey(ctx context.Context, k apikey.Key) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_keys (id, account_id, hash, scopes, name, created_at) VALUES (?,?,?,?,?,?)`,
		k.ID, k.Account[:], k.Hash[:], apikey.FormatScopes(k.Scopes), k.Name, k.CreatedAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	return nil
}

const keyColumns = `id, account_id, hash, scopes, name, created_at, last_used_at, revoked_at`

func scanKey(sc interface{ Scan(...any) error }) (apikey.Key, error) {
	var (
		k               apikey.Key
		acc, hash       []byte
		scopes          string
		created         int64
		lastUsed, revok sql.NullInt64
	)
	if err := sc.Scan(&k.ID, &acc, &hash, &scopes, &k.Name, &created, &lastUsed, &revok); err != nil {
		return k, err
	}
	copy(k.Account[:], acc)
	copy(k.Hash[:], hash)
	var err error
	if k.Scopes, err = apikey.ParseScopes(scopes); err != nil {
		return k, fmt.Errorf("key %s: %w", k.ID, err)
	}
	k.CreatedAt = time.UnixMicro(created).UTC()
	if lastUsed.Valid {
		k.LastUsedAt = time.UnixMicro(lastUsed.Int64).UTC()
	}
	if revok.Valid {
		k.RevokedAt = time.UnixMicro(revok.Int64).UTC()
	}
	return k, nil
}

// Key returns the key with id, or nil when there is none.
func (s *Store) Key(ctx context.Context, id string) (*apikey.Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	return &k, nil
}

// Keys lists keys, of one account when account is valid, oldest first.
func (s *Store) Keys(ctx context.Context, account pgtext.NullUUID) ([]apikey.Key, error) {
	q := `SELECT ` + keyColumns + ` FROM api_keys`
	var args []any
	if account.Valid {
		q += ` WHERE account_id = ?`
		args = append(args, account.UUID[:])
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
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

// RevokeKey marks a key revoked; it reports false when there is no such
// active key.
func (s *Store) RevokeKey(ctx context.Context, id string, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, now.UnixMicro(), id)
	if err != nil {
		return false, fmt.Errorf("revoke key: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// TouchKey records that a key was used.
func (s *Store) TouchKey(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, at.UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("touch key: %w", err)
	}
	return nil
}
