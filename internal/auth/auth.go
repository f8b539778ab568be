// Package auth decides who sends a request and which account it may use,
// from its headers: the operator's admin secret (X-Admin-Secret), the
// account (X-Moveo-Account-Id), and in development mode (no admin secret
// configured) nothing at all. It knows no GraphQL; the server turns its
// errors into Hasura's access-denied or JSON 401/403.
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

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
	// Account is the account named by X-Moveo-Account-Id (or the key's
	// account); invalid when none was named.
	Account pgtext.NullUUID
	Scopes  Scope
	// Open is set in development mode, where no credential was checked.
	Open bool
}

// Can reports whether p has scope s.
func (p Principal) Can(s Scope) bool { return p.Scopes&s == s }

// Error is a request that may not proceed. Status is 401 when no or
// unknown credentials were sent, 403 when valid credentials are not enough.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Config configures the Authenticator.
type Config struct {
	// AdminSecret, when set, is required (or a valid key) on every
	// request. Empty means development mode: everything is allowed.
	AdminSecret string
}

// Authenticator checks request headers. It is safe for concurrent use.
type Authenticator struct {
	secretHash [32]byte
	open       bool
}

// New builds an Authenticator.
func New(cfg Config) *Authenticator {
	a := &Authenticator{open: cfg.AdminSecret == ""}
	if !a.open {
		a.secretHash = sha256.Sum256([]byte(cfg.AdminSecret))
	}
	return a
}

// Open reports whether the server runs in development mode.
func (a *Authenticator) Open() bool { return a.open }

// Authenticate reads the caller from h.
func (a *Authenticator) Authenticate(h http.Header) (Principal, error) {
	var p Principal
	if v := strings.TrimSpace(h.Get(HeaderAccount)); v != "" {
		u, err := pgtext.ParseUUID(v)
		if err != nil {
			return p, &Error{Status: http.StatusUnauthorized, Message: "the X-Moveo-Account-Id header must be an account UUID such as \"d2be0283-9b53-4d7b-b77d-2650f3a1a99c\""}
		}
		p.Account = pgtext.NullUUID{UUID: u, Valid: true}
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
	if secret != "" {
		// Compare hashes so the comparison takes the same time whatever
		// the secret's length.
		got := sha256.Sum256([]byte(secret))
		if subtle.ConstantTimeCompare(got[:], a.secretHash[:]) != 1 {
			return p, &Error{Status: http.StatusUnauthorized, Message: "invalid X-Admin-Secret"}
		}
		p.Scopes = ScopeRead | ScopeWrite | ScopeAdmin
		return p, nil
	}
	if authz := h.Get(HeaderAuthorization); authz != "" {
		return p, &Error{Status: http.StatusUnauthorized, Message: "API keys are not enabled on this server; send X-Admin-Secret"}
	}
	return p, &Error{Status: http.StatusUnauthorized, Message: "X-Admin-Secret or Authorization: apikey <key> required, but not found"}
}
