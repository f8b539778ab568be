// Package auth decides who sends a request and which account it may use,
// from its headers: the operator's admin secret (X-Admin-Secret), API keys
// (Authorization: apikey <key>, or Bearer), the account
// (X-Moveo-Account-Id), and in development mode (no admin secret
// configured) nothing at all. It knows no GraphQL and no store: keys come
// through the KeyStore interface, and the server turns its errors into
// Hasura's access-denied or JSON 401/403.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tally-server/tally/internal/apikey"
	"github.com/tally-server/tally/internal/pgtext"
)

// Header names. X-Hasura-Admin-Secret is accepted as a synonym of
// X-Admin-Secret so that Hasura clients work unchanged.
const (
	HeaderAdminSecret       = "X-Admin-Secret"
	HeaderHasuraAdminSecret = "X-Hasura-Admin-Secret"
	HeaderAccount           = "X-Moveo-Account-Id"
	HeaderAuthorization     = "Authorization"
)

// Scope is what a principal may do.
type Scope uint8

// Scopes.
const (
	ScopeRead Scope = 1 << iota
	ScopeWrite
	ScopeAdmin // manage keys, act on any account
)

// Principal is an authenticated caller.
type Principal struct {
	// Account is the account the request acts on: the key's account, or
	// the one named by X-Moveo-Account-Id for the admin secret and in
	// development mode. Invalid when none is known.
	Account pgtext.NullUUID
	// AccountHeader reports whether X-Moveo-Account-Id was sent.
	AccountHeader bool
	Scopes        Scope
	// KeyID is the API key used, if any.
	KeyID string
	// Open is set in development mode when no credential was sent.
	Open bool
}

// Can reports whether p has scope s.
func (p Principal) Can(s Scope) bool { return p.Scopes&s == s }

// Error is a request that may not proceed. Status is 401 when no, unknown
// or malformed credentials were sent, 403 when valid credentials are not
// enough. Messages never say whether another account exists.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// KeyStore is where API keys are kept.
type KeyStore interface {
	// Key returns the key with id, or nil when there is none.
	Key(ctx context.Context, id string) (*apikey.Key, error)
	// TouchKey records that a key was used at a time.
	TouchKey(ctx context.Context, id string, at time.Time) error
}

// Config configures the Authenticator. Zero values take the defaults
// (WithDefaults).
type Config struct {
	// AdminSecret, when set, is required (or a valid key) on every
	// request. Empty means development mode.
	AdminSecret string
	// Keys enables API keys; nil refuses them.
	Keys KeyStore
	// CacheTTL bounds how long a key is trusted without asking the store
	// again (default 1s). Revocations through this process take effect at
	// once; the TTL bounds the delay for revocations made elsewhere (the
	// CLI on the data directory, another replica).
	CacheTTL time.Duration
	// TouchEvery is how often at most last_used_at is written (default 1m).
	TouchEvery time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
}

// Authenticator checks request headers. It is safe for concurrent use.
type Authenticator struct {
	cfg        Config
	secretHash [32]byte
	open       bool

	mu    sync.RWMutex // guards cache
	cache map[string]*cached

	// The writes of last_used_at run in goroutines the Authenticator
	// owns: touchCtx ends them and touches waits for them (Close).
	touchMu     sync.Mutex // guards closed and touches.Add
	closed      bool
	touches     sync.WaitGroup
	touchCtx    context.Context
	touchCancel context.CancelFunc
}

type cached struct {
	key     apikey.Key
	fetched time.Time
	mu      sync.Mutex // guards touched
	touched time.Time  // last time last_used_at was written or found recent
}

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.CacheTTL <= 0 {
		c.CacheTTL = time.Second
	}
	if c.TouchEvery <= 0 {
		c.TouchEvery = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// New builds an Authenticator.
func New(cfg Config) *Authenticator {
	cfg = cfg.WithDefaults()
	a := &Authenticator{cfg: cfg, open: cfg.AdminSecret == "", cache: map[string]*cached{}}
	a.touchCtx, a.touchCancel = context.WithCancel(context.Background())
	if !a.open {
		a.secretHash = sha256.Sum256([]byte(cfg.AdminSecret))
	}
	return a
}

// Close stops the writes of last_used_at: those in flight are cancelled
// (the time is best effort) and waited for, and no more start. Call it
// before closing the KeyStore; Authenticate keeps working afterwards.
func (a *Authenticator) Close() {
	a.touchMu.Lock()
	a.closed = true
	a.touchMu.Unlock()
	a.touchCancel()
	a.touches.Wait()
}

// Open reports whether the server runs in development mode.
func (a *Authenticator) Open() bool { return a.open }

// Invalidate forgets a cached key, so that a revocation takes effect on
// the next request.
func (a *Authenticator) Invalidate(id string) {
	a.mu.Lock()
	delete(a.cache, id)
	a.mu.Unlock()
}

func unauthorized(msg string) error { return &Error{Status: http.StatusUnauthorized, Message: msg} }

// Authenticate reads the caller from h. A key, when sent, is always
// checked, in development mode too, so that clients can be tested against
// a development server.
func (a *Authenticator) Authenticate(ctx context.Context, h http.Header) (Principal, error) {
	var p Principal
	if v := strings.TrimSpace(h.Get(HeaderAccount)); v != "" {
		u, err := pgtext.ParseUUID(v)
		if err != nil {
			return p, unauthorized("the X-Moveo-Account-Id header must be an account UUID such as \"d2be0283-9b53-4d7b-b77d-2650f3a1a99c\"")
		}
		p.Account = pgtext.NullUUID{UUID: u, Valid: true}
		p.AccountHeader = true
	}
	if authz := strings.TrimSpace(h.Get(HeaderAuthorization)); authz != "" {
		return a.withKey(ctx, p, authz)
	}
	secret := h.Get(HeaderAdminSecret)
	if secret == "" {
		secret = h.Get(HeaderHasuraAdminSecret)
	}
	if a.open {
		p.Open = true
		p.Scopes = ScopeRead | ScopeWrite | ScopeAdmin
		return p, nil
	}
	if secret == "" {
		return p, unauthorized("X-Admin-Secret or Authorization: apikey <key> required, but not found")
	}
	// Compare hashes so the time taken does not depend on the secret.
	got := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(got[:], a.secretHash[:]) != 1 {
		return p, unauthorized("invalid X-Admin-Secret")
	}
	p.Scopes = ScopeRead | ScopeWrite | ScopeAdmin
	return p, nil
}

func (a *Authenticator) withKey(ctx context.Context, p Principal, authz string) (Principal, error) {
	scheme, plain, ok := strings.Cut(authz, " ")
	plain = strings.TrimSpace(plain)
	if !ok || (!strings.EqualFold(scheme, "apikey") && !strings.EqualFold(scheme, "bearer")) || plain == "" {
		return p, unauthorized(`the Authorization header must be "apikey <key>" (or "Bearer <key>")`)
	}
	if a.cfg.Keys == nil {
		return p, unauthorized("API keys are not enabled on this server")
	}
	id, err := apikey.ID(plain)
	if err != nil {
		return p, unauthorized("invalid API key: " + err.Error())
	}
	c, err := a.lookup(ctx, id)
	if err != nil {
		a.cfg.Logger.ErrorContext(ctx, "auth: key lookup failed", "key_id", id, "err", err)
		return p, &Error{Status: http.StatusServiceUnavailable, Message: "API keys cannot be checked right now; retry later"}
	}
	if c == nil || !c.key.Matches(plain) || c.key.Revoked() {
		return p, unauthorized("invalid or revoked API key")
	}
	if p.AccountHeader && p.Account.UUID != c.key.Account {
		return p, &Error{Status: http.StatusForbidden, Message: "this API key does not belong to the account named in X-Moveo-Account-Id"}
	}
	p.Account = pgtext.NullUUID{UUID: c.key.Account, Valid: true}
	p.KeyID = id
	if c.key.Has(apikey.Read) {
		p.Scopes |= ScopeRead
	}
	if c.key.Has(apikey.Write) {
		p.Scopes |= ScopeWrite
	}
	a.touch(c)
	return p, nil
}

// lookup returns the cached key or asks the store; nil when unknown.
// Unknown ids are not cached, so a key created elsewhere works at once.
func (a *Authenticator) lookup(ctx context.Context, id string) (*cached, error) {
	now := a.cfg.Now()
	a.mu.RLock()
	c := a.cache[id]
	a.mu.RUnlock()
	if c != nil && now.Sub(c.fetched) < a.cfg.CacheTTL {
		return c, nil
	}
	k, err := a.cfg.Keys.Key(ctx, id)
	if err != nil || k == nil {
		if k == nil && err == nil {
			a.Invalidate(id)
		}
		return nil, err
	}
	fresh := &cached{key: *k, fetched: now, touched: k.LastUsedAt}
	if c != nil {
		c.mu.Lock()
		if c.touched.After(fresh.touched) {
			fresh.touched = c.touched
		}
		c.mu.Unlock()
	}
	a.mu.Lock()
	if len(a.cache) > 100000 {
		clear(a.cache) // bound memory under a flood of distinct keys
	}
	a.cache[id] = fresh
	a.mu.Unlock()
	return fresh, nil
}

// touch writes last_used_at at most once per TouchEvery per key, in the
// background so the request does not wait for the store, until Close.
func (a *Authenticator) touch(c *cached) {
	now := a.cfg.Now()
	c.mu.Lock()
	due := now.Sub(c.touched) >= a.cfg.TouchEvery
	if due {
		c.touched = now
	}
	c.mu.Unlock()
	if !due {
		return
	}
	a.touchMu.Lock()
	defer a.touchMu.Unlock()
	if a.closed {
		return
	}
	a.touches.Add(1)
	go func() {
		defer a.touches.Done()
		ctx, cancel := context.WithTimeout(a.touchCtx, 10*time.Second)
		defer cancel()
		if err := a.cfg.Keys.TouchKey(ctx, c.key.ID, now); err != nil && a.touchCtx.Err() == nil {
			a.cfg.Logger.Warn("auth: could not record key use", "key_id", c.key.ID, "err", err)
		}
	}()
}
