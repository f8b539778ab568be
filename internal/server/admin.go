package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tally-server/tally/internal/apikey"
	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/pgtext"
)

// maxAdminBytes bounds a body of the admin API: a key request is a few
// hundred bytes, and only the holder of the admin secret may send one.
const maxAdminBytes = 64 << 10

// KeyManager keeps API keys for the admin API.
type KeyManager interface {
	CreateKey(ctx context.Context, k apikey.Key) error
	Keys(ctx context.Context, account pgtext.NullUUID) ([]apikey.Key, error)
	RevokeKey(ctx context.Context, id string, now time.Time) (bool, error)
}

// authenticate answers the JSON 401/403 itself when the request may not
// proceed.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	p, err := s.authn.Authenticate(r.Context(), r.Header)
	if err != nil {
		var ae *auth.Error
		if errors.As(err, &ae) {
			writeJSON(w, ae.Status, errorBody{Error: ae.Message})
		} else {
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: "authentication failed"})
		}
		return p, false
	}
	return p, true
}

func (s *Server) admin(w http.ResponseWriter, r *http.Request) bool {
	p, ok := s.authenticate(w, r)
	if !ok {
		return false
	}
	if !p.Can(auth.ScopeAdmin) {
		writeJSON(w, http.StatusForbidden, errorBody{Error: "managing API keys needs the admin secret (X-Admin-Secret)"})
		return false
	}
	if s.cfg.Keys == nil {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: "API keys are not enabled on this server"})
		return false
	}
	return true
}

// keyView is a key as the admin API shows it: never the key itself.
type keyView struct {
	ID         string   `json:"id"`
	Key        string   `json:"key,omitempty"`
	AccountID  string   `json:"account_id"`
	Scopes     []string `json:"scopes"`
	Name       string   `json:"name"`
	CreatedAt  string   `json:"created_at"`
	LastUsedAt *string  `json:"last_used_at,omitempty"`
	RevokedAt  *string  `json:"revoked_at,omitempty"`
}

func viewOf(k apikey.Key) keyView {
	v := keyView{ID: k.ID, AccountID: k.Account.String(), Name: k.Name, CreatedAt: k.CreatedAt.Format(time.RFC3339)}
	for _, sc := range k.Scopes {
		v.Scopes = append(v.Scopes, string(sc))
	}
	if !k.LastUsedAt.IsZero() {
		t := k.LastUsedAt.Format(time.RFC3339)
		v.LastUsedAt = &t
	}
	if !k.RevokedAt.IsZero() {
		t := k.RevokedAt.Format(time.RFC3339)
		v.RevokedAt = &t
	}
	return v
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	if !s.admin(w, r) {
		return
	}
	var req struct {
		AccountID string   `json:"account_id"`
		Scopes    []string `json:"scopes"`
		Name      string   `json:"name"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("the request body is larger than %d bytes, the limit for /v1/admin/keys (fixed: a key request is a few hundred bytes)", maxAdminBytes)})
			return
		}
		if s.bodyError(w, err) {
			return
		}
		writeJSON(w, http.StatusBadRequest, errorBody{Error: `the body must be {"account_id": "<uuid>", "scopes": ["read"], "name": "..."}: ` + err.Error()})
		return
	}
	account, err := pgtext.ParseUUID(req.AccountID)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "account_id must be a UUID such as \"d2be0283-9b53-4d7b-b77d-2650f3a1a99c\""})
		return
	}
	if req.Scopes == nil {
		req.Scopes = []string{"read"}
	}
	scopes, err := apikey.CheckScopes(req.Scopes)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "scopes: " + err.Error()})
		return
	}
	if err := apikey.CheckName(req.Name); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	plain, k, err := apikey.New(account, scopes, req.Name, time.Now())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "could not generate a key"})
		return
	}
	if err := s.cfg.Keys.CreateKey(r.Context(), k); err != nil {
		s.log.ErrorContext(r.Context(), "create key", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "the key could not be stored; retry later"})
		return
	}
	v := viewOf(k)
	v.Key = plain
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	if !s.admin(w, r) {
		return
	}
	var account pgtext.NullUUID
	if v := r.URL.Query().Get("account_id"); v != "" {
		u, err := pgtext.ParseUUID(v)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "account_id must be a UUID"})
			return
		}
		account = pgtext.NullUUID{UUID: u, Valid: true}
	}
	keys, err := s.cfg.Keys.Keys(r.Context(), account)
	if err != nil {
		s.log.ErrorContext(r.Context(), "list keys", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "keys could not be read; retry later"})
		return
	}
	out := struct {
		Keys []keyView `json:"keys"`
	}{Keys: []keyView{}}
	for _, k := range keys {
		out.Keys = append(out.Keys, viewOf(k))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	if !s.admin(w, r) {
		return
	}
	id := r.PathValue("id")
	ok, err := s.cfg.Keys.RevokeKey(r.Context(), id, time.Now())
	if err != nil {
		s.log.ErrorContext(r.Context(), "revoke key", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "the key could not be revoked; retry later"})
		return
	}
	s.authn.Invalidate(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no active key with id " + id})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "revoked": true})
}
