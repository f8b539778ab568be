package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tally-server/tally/internal/apikey"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/store/sqlite"
)

const keysUsage = `usage:
  tally keys create --account UUID [--scope read,write] [--name NAME]
  tally keys list [--account UUID]
  tally keys revoke ID

Each works on --data-dir, or on a running server with --server URL and
--admin-secret (which a running server needs: a revocation made on the
data directory reaches a running server within a second).
`

type keysFlagSet struct {
	fs          *flag.FlagSet
	ef          *envFlags
	dataDir     *string
	server      *string
	adminSecret *string
	account     *string
	scope       *string
	name        *string
}

func keysFlags(sub string, stderr io.Writer, getenv func(string) string) keysFlagSet {
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	ef := &envFlags{fs: fs, getenv: getenv}
	k := keysFlagSet{
		fs:          fs,
		ef:          ef,
		dataDir:     ef.String("data-dir", defaultDataDir, "directory of the embedded store"),
		server:      ef.String("server", "", "URL of a running Tally to manage keys on instead of --data-dir"),
		adminSecret: ef.String("admin-secret", "", "the server's admin secret, with --server"),
	}
	if sub == "create" || sub == "list" {
		k.account = ef.String("account", "", "account UUID")
	}
	if sub == "create" {
		k.scope = fs.String("scope", "read", "scopes: read, write or read,write")
		k.name = fs.String("name", "", "a name to recognise the key by")
	}
	return k
}

// keyManager is what the keys command needs, from the data directory or
// from a server over HTTP.
type keyManager interface {
	create(ctx context.Context, account pgtext.UUID, scopes []apikey.Scope, name string) (string, apikey.Key, error)
	list(ctx context.Context, account pgtext.NullUUID) ([]apikey.Key, error)
	revoke(ctx context.Context, id string) (bool, error)
	close()
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 || (args[0] != "create" && args[0] != "list" && args[0] != "revoke") {
		fmt.Fprint(stderr, keysUsage)
		return exitUsage
	}
	sub := args[0]
	f := keysFlags(sub, stderr, getenv)
	if err := f.fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	errs := f.ef.errs
	var account pgtext.NullUUID
	if f.account != nil && *f.account != "" {
		u, err := pgtext.ParseUUID(*f.account)
		if err != nil {
			errs = append(errs, "--account must be a UUID")
		}
		account = pgtext.NullUUID{UUID: u, Valid: err == nil}
	}
	var scopes []apikey.Scope
	switch sub {
	case "create":
		if !account.Valid && len(errs) == 0 {
			errs = append(errs, "--account is required")
		}
		var err error
		if scopes, err = apikey.ParseScopes(*f.scope); err != nil {
			errs = append(errs, "--scope: "+err.Error())
		}
		if err := apikey.CheckName(*f.name); err != nil {
			errs = append(errs, "--name: "+err.Error())
		}
	case "revoke":
		if f.fs.NArg() != 1 {
			errs = append(errs, "revoke takes exactly one key id")
		}
	}
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, "tally keys "+sub+":", e)
		}
		return exitUsage
	}
	var m keyManager
	if *f.server != "" {
		m = &remoteKeys{url: strings.TrimRight(*f.server, "/"), secret: *f.adminSecret}
	} else {
		store, err := sqlite.Open(ctx, *f.dataDir)
		if err != nil {
			fmt.Fprintln(stderr, "tally keys:", err)
			return exitFailure
		}
		m = localKeys{store}
	}
	defer m.close()
	switch sub {
	case "create":
		plain, k, err := m.create(ctx, account.UUID, scopes, *f.name)
		if err != nil {
			fmt.Fprintln(stderr, "tally keys create:", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "%s\n", plain)
		fmt.Fprintf(stderr, "created key %s for account %s with scopes %s; it is shown only once: store it now\n", k.ID, k.Account, apikey.FormatScopes(k.Scopes))
	case "list":
		keys, err := m.list(ctx, account)
		if err != nil {
			fmt.Fprintln(stderr, "tally keys list:", err)
			return exitFailure
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tACCOUNT\tSCOPES\tNAME\tCREATED\tLAST USED\tREVOKED")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Account, apikey.FormatScopes(k.Scopes), apikey.DisplayName(k.Name), stamp(k.CreatedAt), stamp(k.LastUsedAt), stamp(k.RevokedAt))
		}
		tw.Flush()
	case "revoke":
		ok, err := m.revoke(ctx, f.fs.Arg(0))
		if err != nil {
			fmt.Fprintln(stderr, "tally keys revoke:", err)
			return exitFailure
		}
		if !ok {
			fmt.Fprintf(stderr, "tally keys revoke: no active key with id %s\n", f.fs.Arg(0))
			return exitFailure
		}
		fmt.Fprintf(stdout, "revoked %s\n", f.fs.Arg(0))
	}
	return exitOK
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

type localKeys struct{ s *sqlite.Store }

func (l localKeys) create(ctx context.Context, account pgtext.UUID, scopes []apikey.Scope, name string) (string, apikey.Key, error) {
	plain, k, err := apikey.New(account, scopes, name, time.Now())
	if err != nil {
		return "", k, err
	}
	return plain, k, l.s.CreateKey(ctx, k)
}

func (l localKeys) list(ctx context.Context, account pgtext.NullUUID) ([]apikey.Key, error) {
	return l.s.Keys(ctx, account)
}

func (l localKeys) revoke(ctx context.Context, id string) (bool, error) {
	return l.s.RevokeKey(ctx, id, time.Now())
}

func (l localKeys) close() { l.s.Close() }

// remoteKeys manages keys through a server's admin API.
type remoteKeys struct {
	url, secret string
}

func (r *remoteKeys) do(ctx context.Context, method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.url+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Admin-Secret", r.secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotFound {
		var e struct{ Error string }
		json.Unmarshal(b, &e)
		return resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, e.Error)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("unexpected answer: %s", b)
		}
	}
	return resp.StatusCode, nil
}

type remoteKey struct {
	ID, Key, AccountID, Name string
	Scopes                   []string
	CreatedAt                string `json:"created_at"`
	LastUsedAt, RevokedAt    *string
}

func (rk remoteKey) key() apikey.Key {
	k := apikey.Key{ID: rk.ID, Name: rk.Name}
	k.Account, _ = pgtext.ParseUUID(rk.AccountID)
	k.Scopes, _ = apikey.CheckScopes(rk.Scopes)
	k.CreatedAt, _ = time.Parse(time.RFC3339, rk.CreatedAt)
	if rk.LastUsedAt != nil {
		k.LastUsedAt, _ = time.Parse(time.RFC3339, *rk.LastUsedAt)
	}
	if rk.RevokedAt != nil {
		k.RevokedAt, _ = time.Parse(time.RFC3339, *rk.RevokedAt)
	}
	return k
}

func (r *remoteKeys) create(ctx context.Context, account pgtext.UUID, scopes []apikey.Scope, name string) (string, apikey.Key, error) {
	var out struct {
		remoteKey
		AccountID string `json:"account_id"`
	}
	sc := make([]string, len(scopes))
	for i, s := range scopes {
		sc[i] = string(s)
	}
	if _, err := r.do(ctx, "POST", "/v1/admin/keys", map[string]any{"account_id": account.String(), "scopes": sc, "name": name}, &out); err != nil {
		return "", apikey.Key{}, err
	}
	out.remoteKey.AccountID = out.AccountID
	return out.Key, out.remoteKey.key(), nil
}

func (r *remoteKeys) list(ctx context.Context, account pgtext.NullUUID) ([]apikey.Key, error) {
	path := "/v1/admin/keys"
	if account.Valid {
		path += "?account_id=" + account.UUID.String()
	}
	var out struct {
		Keys []struct {
			remoteKey
			AccountID  string  `json:"account_id"`
			LastUsedAt *string `json:"last_used_at"`
			RevokedAt  *string `json:"revoked_at"`
		}
	}
	if _, err := r.do(ctx, "GET", path, nil, &out); err != nil {
		return nil, err
	}
	keys := make([]apikey.Key, len(out.Keys))
	for i, k := range out.Keys {
		k.remoteKey.AccountID, k.remoteKey.LastUsedAt, k.remoteKey.RevokedAt = k.AccountID, k.LastUsedAt, k.RevokedAt
		keys[i] = k.remoteKey.key()
	}
	return keys, nil
}

func (r *remoteKeys) revoke(ctx context.Context, id string) (bool, error) {
	code, err := r.do(ctx, "DELETE", "/v1/admin/keys/"+id, nil, nil)
	return code == http.StatusOK, err
}

func (r *remoteKeys) close() {}
