package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/servertest"
)

func TestKeysCLI(t *testing.T) {
	dir := t.TempDir()
	env := func(string) string { return "" }
	var out, errb strings.Builder
	if code := run(t.Context(), []string{"keys", "create", "--data-dir", dir, "--account", acct, "--scope", "read,write", "--name", "etl"}, &out, &errb, env); code != exitOK {
		t.Fatalf("create: %d %s", code, errb.String())
	}
	key := strings.TrimSpace(out.String())
	if !strings.HasPrefix(key, "tly_") || !strings.Contains(errb.String(), "shown only once") {
		t.Fatalf("create printed %q / %q", key, errb.String())
	}
	s := servertest.Start(t, servertest.Options{AdminSecret: "s3cret", Dir: dir})
	code, b := s.Do(t, "POST", "/v1/sessions", map[string]string{"Authorization": "Bearer " + key}, []byte(`{"session_id":"k","start_time":"2024-01-08T10:00:00"}`))
	if code != 200 {
		t.Fatalf("CLI key cannot write: %d %s", code, b)
	}
	// list and revoke through the running server.
	out.Reset()
	errb.Reset()
	if code := run(t.Context(), []string{"keys", "list", "--server", s.URL, "--admin-secret", "s3cret", "--account", acct}, &out, &errb, env); code != exitOK {
		t.Fatalf("list: %d %s", code, errb.String())
	}
	id := key[4:20]
	if !strings.Contains(out.String(), id) || !strings.Contains(out.String(), "read,write") || strings.Contains(out.String(), key) {
		t.Fatalf("list printed %s", out.String())
	}
	out.Reset()
	if code := run(t.Context(), []string{"keys", "revoke", "--server", s.URL, "--admin-secret", "s3cret", id}, &out, &errb, env); code != exitOK {
		t.Fatalf("revoke: %d %s", code, errb.String())
	}
	if code, _ := s.Do(t, "POST", "/v1/sessions", map[string]string{"Authorization": "Bearer " + key}, []byte(`{"session_id":"k2","start_time":"2024-01-08T10:00:00"}`)); code != http.StatusUnauthorized {
		t.Fatalf("revoked CLI key still writes: %d", code)
	}
	if code := run(t.Context(), []string{"keys", "revoke", "--server", s.URL, "--admin-secret", "wrong", id}, &out, &errb, env); code != exitFailure {
		t.Errorf("revoke with a wrong secret: exit %d", code)
	}
}
