// Package apikey defines Tally's API keys: their format, generation,
// hashing and the record a store keeps of them. It is a leaf: stores and
// auth import it; it imports only pgtext.
//
// A key reads "tly_" + a 16-character id + "_" + 43 characters of secret
// (32 random bytes, base64url). The id is not secret: it names the key in
// lists, logs and DELETE /v1/admin/keys/{id}. Only the SHA-256 of the whole
// key is stored; with 256 random bits a fast hash is enough (a slow
// password hash protects low-entropy secrets, which keys are not).
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tally-server/tally/internal/pgtext"
)

// Prefix starts every key, so that keys are recognisable in code and by
// secret scanners.
const Prefix = "tly_"

const (
	idLen     = 16
	secretLen = 43 // base64url of 32 bytes, unpadded
)

// Scope is a permission a key carries.
type Scope string

// Scopes.
const (
	Read  Scope = "read"
	Write Scope = "write"
)

// Key is what a store keeps of a key: never the key itself.
type Key struct {
	ID         string
	Account    pgtext.UUID
	Hash       [32]byte // SHA-256 of the whole key
	Scopes     []Scope
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used
	RevokedAt  time.Time // zero: active
}

// Has reports whether k carries scope s.
func (k *Key) Has(s Scope) bool {
	for _, x := range k.Scopes {
		if x == s {
			return true
		}
	}
	return false
}

// Revoked reports whether k has been revoked.
func (k *Key) Revoked() bool { return !k.RevokedAt.IsZero() }

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// New makes a key for account: the secret to show once, and the record to
// store. The name must pass CheckName.
func New(account pgtext.UUID, scopes []Scope, name string, now time.Time) (string, Key, error) {
	if err := CheckName(name); err != nil {
		return "", Key{}, err
	}
	var idBytes [10]byte
	var secret [32]byte
	if _, err := rand.Read(idBytes[:]); err != nil {
		return "", Key{}, fmt.Errorf("generate key id: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", Key{}, fmt.Errorf("generate key: %w", err)
	}
	id := idEncoding.EncodeToString(idBytes[:])
	plain := Prefix + id + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	return plain, Key{ID: id, Account: account, Hash: Hash(plain), Scopes: scopes, Name: name, CreatedAt: now.UTC()}, nil
}

// Hash is the stored form of a key.
func Hash(plain string) [32]byte { return sha256.Sum256([]byte(plain)) }

// Matches compares plain with k's hash in constant time.
func (k *Key) Matches(plain string) bool {
	h := Hash(plain)
	return subtle.ConstantTimeCompare(h[:], k.Hash[:]) == 1
}

// ErrMalformed is a string that cannot be a Tally key.
var ErrMalformed = errors.New(`not a Tally API key (keys look like "tly_" followed by 60 characters)`)

// ID extracts the id of a key without checking its secret.
func ID(plain string) (string, error) {
	rest, ok := strings.CutPrefix(plain, Prefix)
	if !ok || len(rest) != idLen+1+secretLen || rest[idLen] != '_' {
		return "", ErrMalformed
	}
	return rest[:idLen], nil
}

// ParseScopes reads "read", "write" or "read,write".
func ParseScopes(s string) ([]Scope, error) {
	seen := map[Scope]bool{}
	for _, part := range strings.Split(s, ",") {
		switch sc := Scope(strings.TrimSpace(part)); sc {
		case Read, Write:
			seen[sc] = true
		default:
			return nil, fmt.Errorf("unknown scope %q; scopes are read and write", part)
		}
	}
	return sortedScopes(seen), nil
}

// CheckScopes validates a list of scopes, removing duplicates.
func CheckScopes(in []string) ([]Scope, error) {
	if len(in) == 0 {
		return nil, errors.New("a key needs at least one scope: read, write")
	}
	return ParseScopes(strings.Join(in, ","))
}

func sortedScopes(seen map[Scope]bool) []Scope {
	out := make([]Scope, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// FormatScopes is the stored and printed form: "read,write".
func FormatScopes(s []Scope) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = string(x)
	}
	return strings.Join(parts, ",")
}
