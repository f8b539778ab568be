package auth

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/apikey"
	"github.com/tally-server/tally/internal/pgtext"
)

// memKeys is a KeyStore in memory: the store is not what these tests
// prove. touched receives every TouchKey call; block, when set, makes
// TouchKey wait for it (or for its context).
type memKeys struct {
	mu      sync.Mutex
	keys    map[string]apikey.Key
	err     error
	reads   int
	touched chan string
	block   chan struct{}
}

func (m *memKeys) Key(ctx context.Context, id string) (*apikey.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.err != nil {
		return nil, m.err
	}
	k, ok := m.keys[id]
	if !ok {
		return nil, nil
	}
	return &k, nil
}

func (m *memKeys) TouchKey(ctx context.Context, id string, at time.Time) error {
	var err error
	if m.block != nil {
		select {
		case <-m.block:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if m.touched != nil {
		m.touched <- id
	}
	return err
}

var (
	acct  = pgtext.UUID{0xac}
	other = pgtext.UUID{0x07}
)

func newKey(t testing.TB, m *memKeys, account pgtext.UUID, scopes ...apikey.Scope) (string, apikey.Key) {
	t.Helper()
	plain, k, err := apikey.New(account, scopes, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	if m.keys == nil {
		m.keys = map[string]apikey.Key{}
	}
	m.keys[k.ID] = k
	m.mu.Unlock()
	return plain, k
}

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestAuthenticate(t *testing.T) {
	m := &memKeys{}
	readKey, rk := newKey(t, m, acct, apikey.Read)
	writeKey, _ := newKey(t, m, acct, apikey.Write)
	revokedKey, vk := newKey(t, m, acct, apikey.Read)
	vk.RevokedAt = time.Now()
	m.keys[vk.ID] = vk
	secured := New(Config{AdminSecret: "s3cret", Keys: m})
	open := New(Config{})
	noKeys := New(Config{AdminSecret: "s3cret"})
	cases := []struct {
		name    string
		a       *Authenticator
		h       http.Header
		status  int // 0: allowed
		scopes  Scope
		account pgtext.UUID
	}{
		{"development mode, nothing sent", open, headers(), 0, ScopeRead | ScopeWrite | ScopeAdmin, pgtext.UUID{}},
		{"development mode, an account", open, headers(HeaderAccount, acct.String()), 0, ScopeRead | ScopeWrite | ScopeAdmin, acct},
		{"development mode checks a key sent", open, headers(HeaderAuthorization, "apikey tly_nope"), 401, 0, pgtext.UUID{}},
		{"no credentials", secured, headers(HeaderAccount, acct.String()), 401, 0, pgtext.UUID{}},
		{"wrong secret", secured, headers(HeaderAdminSecret, "guess"), 401, 0, pgtext.UUID{}},
		{"admin secret", secured, headers(HeaderAdminSecret, "s3cret", HeaderAccount, other.String()), 0, ScopeRead | ScopeWrite | ScopeAdmin, other},
		{"Hasura's header name", secured, headers(HeaderHasuraAdminSecret, "s3cret"), 0, ScopeRead | ScopeWrite | ScopeAdmin, pgtext.UUID{}},
		{"malformed account", secured, headers(HeaderAdminSecret, "s3cret", HeaderAccount, "42"), 401, 0, pgtext.UUID{}},
		{"read key, its account", secured, headers(HeaderAuthorization, "apikey "+readKey, HeaderAccount, acct.String()), 0, ScopeRead, acct},
		{"read key, no account header", secured, headers(HeaderAuthorization, "Bearer "+readKey), 0, ScopeRead, acct},
		{"write key", secured, headers(HeaderAuthorization, "ApiKey "+writeKey), 0, ScopeWrite, acct},
		{"key of another account", secured, headers(HeaderAuthorization, "apikey "+readKey, HeaderAccount, other.String()), 403, 0, pgtext.UUID{}},
		{"forged secret part", secured, headers(HeaderAuthorization, "apikey "+readKey[:len(readKey)-4]+"AAAA"), 401, 0, pgtext.UUID{}},
		{"revoked key", secured, headers(HeaderAuthorization, "apikey "+revokedKey), 401, 0, pgtext.UUID{}},
		{"unknown scheme", secured, headers(HeaderAuthorization, "Basic "+readKey), 401, 0, pgtext.UUID{}},
		{"not a key", secured, headers(HeaderAuthorization, "apikey hello"), 401, 0, pgtext.UUID{}},
		{"keys not enabled", noKeys, headers(HeaderAuthorization, "apikey "+readKey), 401, 0, pgtext.UUID{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := c.a.Authenticate(context.Background(), c.h)
			if c.status != 0 {
				var ae *Error
				if !errors.As(err, &ae) || ae.Status != c.status || ae.Message == "" {
					t.Fatalf("got %v, want a %d", err, c.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Scopes != c.scopes || p.Account.UUID != c.account {
				t.Errorf("principal %+v, want scopes %b on %s", p, c.scopes, c.account)
			}
		})
	}
	if p, _ := secured.Authenticate(context.Background(), headers(HeaderAuthorization, "apikey "+readKey)); p.KeyID != rk.ID || p.AccountHeader {
		t.Errorf("principal %+v: want the key id and no account header", p)
	}
	for _, a := range []*Authenticator{secured, open, noKeys} {
		a.Close()
	}
}

// TestKeysAreCachedForTheTTL: a key is read from the store once per
// CacheTTL; a revocation made elsewhere is seen after it, and at once
// after Invalidate.
func TestKeysAreCachedForTheTTL(t *testing.T) {
	m := &memKeys{}
	plain, k := newKey(t, m, acct, apikey.Read)
	now := time.Unix(1_700_000_000, 0)
	a := New(Config{AdminSecret: "s", Keys: m, CacheTTL: time.Second, TouchEvery: time.Hour, Now: func() time.Time { return now }})
	defer a.Close()
	h := headers(HeaderAuthorization, "apikey "+plain)
	use := func() error { _, err := a.Authenticate(context.Background(), h); return err }
	for i := 0; i < 3; i++ {
		if err := use(); err != nil {
			t.Fatal(err)
		}
	}
	if m.reads != 1 {
		t.Fatalf("%d store reads for three requests within the TTL", m.reads)
	}
	k.RevokedAt = now
	m.mu.Lock()
	m.keys[k.ID] = k
	m.mu.Unlock()
	if err := use(); err != nil {
		t.Fatalf("a cached key was refused before the TTL: %v", err)
	}
	now = now.Add(time.Second)
	if err := use(); err == nil {
		t.Fatal("a key revoked in the store still works after the TTL")
	}
	k.RevokedAt = time.Time{}
	m.keys[k.ID] = k
	a.Invalidate(k.ID)
	if err := use(); err != nil {
		t.Fatal(err)
	}
	k.RevokedAt = now
	m.keys[k.ID] = k
	a.Invalidate(k.ID)
	if err := use(); err == nil {
		t.Fatal("a key still works after Invalidate and revocation")
	}
	m.err = errors.New("disk on fire")
	a.Invalidate(k.ID)
	var ae *Error
	if err := use(); !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
		t.Fatalf("a failing store: %v, want 503", err)
	}
}

// TestKeyUseIsRecordedOncePerInterval: last_used_at is written at most
// once per TouchEvery per key.
func TestKeyUseIsRecordedOncePerInterval(t *testing.T) {
	m := &memKeys{touched: make(chan string, 10)}
	plain, k := newKey(t, m, acct, apikey.Read)
	now := time.Unix(1_700_000_000, 0)
	a := New(Config{AdminSecret: "s", Keys: m, TouchEvery: time.Minute, Now: func() time.Time { return now }})
	h := headers(HeaderAuthorization, "apikey "+plain)
	for _, step := range []time.Duration{0, time.Second, 59 * time.Second, time.Second} {
		now = now.Add(step)
		if _, err := a.Authenticate(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	a.Close() // waits for the writes
	close(m.touched)
	var got []string
	for id := range m.touched {
		got = append(got, id)
	}
	if len(got) != 2 || got[0] != k.ID {
		t.Fatalf("last_used_at written %d times (%v), want twice (at 0 s and 61 s)", len(got), got)
	}
}

// TestCloseStopsTheWrites: Close cancels a write in flight and returns only
// once it has, and no write starts afterwards, so the store can be closed.
func TestCloseStopsTheWrites(t *testing.T) {
	m := &memKeys{touched: make(chan string, 10), block: make(chan struct{})}
	plain, _ := newKey(t, m, acct, apikey.Read)
	a := New(Config{AdminSecret: "s", Keys: m})
	h := headers(HeaderAuthorization, "apikey "+plain)
	if _, err := a.Authenticate(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	a.Close()
	select {
	case <-m.touched: // the blocked write returned before Close did
	default:
		t.Fatal("Close returned while a write of last_used_at was still running")
	}
	a.Invalidate("")
	for i := 0; i < 3; i++ {
		if _, err := a.Authenticate(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	a.Close() // twice is fine
	if len(m.touched) != 0 {
		t.Fatal("a write of last_used_at started after Close")
	}
}

// BenchmarkKeyCheck measures what checking an API key adds to a request:
// parsing, the cache look-up and the constant-time hash comparison.
func BenchmarkKeyCheck(b *testing.B) {
	m := &memKeys{}
	plain, _ := newKey(b, m, acct, apikey.Read)
	a := New(Config{AdminSecret: "s3cret", Keys: m})
	defer a.Close()
	h := headers(HeaderAuthorization, "apikey "+plain, HeaderAccount, acct.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(b.Context(), h); err != nil {
			b.Fatal(err)
		}
	}
}
