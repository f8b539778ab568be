package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/servertest"
	"github.com/tally-server/tally/internal/testseed"
)

const countQuery = `{ r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-08", end_time: "2024-01-08"}) { open_sessions } }`

// TestKeysIsolateAccounts: many accounts and keys, random requests through
// the real HTTP server. Every own-account read and write with the right
// scope is allowed and sees only its account; every cross-account read or
// write, unknown or revoked key is refused.
func TestKeysIsolateAccounts(t *testing.T) {
	s := servertest.Start(t, servertest.Options{AdminSecret: "s3cret"})
	r := rand.New(rand.NewSource(testseed.Seed(t)))
	const accounts = 6
	type keyInfo struct {
		servertest.CreatedKey
		account       int
		read, write   bool
		revoked       bool
		sessionsAdded int
	}
	accts := make([]string, accounts)
	own := make([]int, accounts) // sessions per account on 2024-01-08
	var keys []*keyInfo
	for i := range accts {
		var u pgtext.UUID
		r.Read(u[:])
		accts[i] = u.String()
		// Each account starts with i+1 sessions, written with the secret.
		var body strings.Builder
		for j := 0; j <= i; j++ {
			fmt.Fprintf(&body, `{"account_id":%q,"session_id":"seed-%d","start_time":"2024-01-08T09:00:00"}`+"\n", accts[i], j)
		}
		if code, b := s.Post(t, "/v1/sessions", map[string]string{"X-Admin-Secret": "s3cret"}, []byte(body.String())); code != 200 {
			t.Fatalf("seed: %d %s", code, b)
		}
		own[i] = i + 1
		for _, sc := range [][]string{{"read"}, {"write"}, {"read", "write"}} {
			k := &keyInfo{CreatedKey: s.CreateKey(t, accts[i], sc...), account: i}
			k.read = strings.Contains(strings.Join(sc, ","), "read")
			k.write = strings.Contains(strings.Join(sc, ","), "write")
			keys = append(keys, k)
		}
	}
	// Revoke a few.
	for _, k := range keys[:4] {
		if code, b := s.Do(t, "DELETE", "/v1/admin/keys/"+k.ID, map[string]string{"X-Admin-Secret": "s3cret"}, nil); code != 200 {
			t.Fatalf("revoke: %d %s", code, b)
		}
		k.revoked = true
	}
	allowed, refused := 0, 0
	for i := 0; i < 400; i++ {
		k := keys[r.Intn(len(keys))]
		target := k.account
		if r.Intn(2) == 0 {
			target = r.Intn(accounts)
		}
		plain := k.Key
		scheme := []string{"apikey ", "Bearer ", "ApiKey "}[r.Intn(3)]
		if r.Intn(12) == 0 { // a forged key: right id, wrong secret
			plain = plain[:len(plain)-4] + "AAAA"
		}
		headers := map[string]string{"Authorization": scheme + plain, "X-Moveo-Account-Id": accts[target]}
		valid := !k.revoked && plain == k.Key
		if r.Intn(2) == 0 {
			// A read.
			code, b := s.Do(t, "POST", "/v1/graphql", headers, mustJSON(map[string]any{"query": countQuery}))
			var resp servertest.Response
			if code != 200 || json.Unmarshal(b, &resp) != nil {
				t.Fatalf("query answered %d %s", code, b)
			}
			shouldAllow := valid && k.read && target == k.account
			if shouldAllow {
				allowed++
				want := fmt.Sprintf(`[{"open_sessions":%d}]`, own[k.account])
				if len(resp.Errors) > 0 || string(resp.Data["r"]) != want {
					t.Fatalf("own-account read with %v key refused or wrong: %s (want %s)", k.Scopes, b, want)
				}
			} else {
				refused++
				if len(resp.Errors) != 1 || resp.Errors[0].Extensions.Code != "access-denied" || resp.Data != nil {
					t.Fatalf("read that must be refused (valid=%v read=%v own=%v) answered %s", valid, k.read, target == k.account, b)
				}
				if strings.Contains(string(b), accts[target]) && target != k.account {
					t.Fatalf("refusal names the other account: %s", b)
				}
			}
		} else {
			// A write: sometimes naming the target account in the record.
			rec := fmt.Sprintf(`{"session_id":"w-%d","start_time":"2024-01-08T10:00:00"}`, i)
			names := r.Intn(2) == 0
			if names {
				rec = fmt.Sprintf(`{"account_id":%q,"session_id":"w-%d","start_time":"2024-01-08T10:00:00"}`, accts[target], i)
			}
			delete(headers, "X-Moveo-Account-Id")
			if r.Intn(2) == 0 {
				headers["X-Moveo-Account-Id"] = accts[target]
			}
			code, b := s.Do(t, "POST", "/v1/sessions", headers, []byte(rec))
			headerOK := headers["X-Moveo-Account-Id"] == "" || target == k.account
			recordOK := !names || target == k.account
			shouldAllow := valid && k.write && headerOK && recordOK
			if shouldAllow {
				allowed++
				if code != 200 {
					t.Fatalf("own-account write refused: %d %s", code, b)
				}
				own[k.account]++
			} else {
				refused++
				if code == 200 {
					t.Fatalf("write that must be refused (valid=%v write=%v header=%v record=%v) answered %s", valid, k.write, headerOK, recordOK, b)
				}
			}
		}
	}
	// Every account holds exactly what it wrote itself.
	for i, a := range accts {
		resp := s.Query(t, a, countQuery, nil)
		if want := fmt.Sprintf(`[{"open_sessions":%d}]`, own[i]); string(resp.Data["r"]) != want {
			t.Errorf("account %d holds %s, want %s", i, resp.Data["r"], want)
		}
	}
	if allowed < 50 || refused < 50 {
		t.Errorf("only %d allowed and %d refused requests: the test did not exercise both", allowed, refused)
	}
}

func TestKeyLifecycle(t *testing.T) {
	dir := t.TempDir()
	s := servertest.Start(t, servertest.Options{AdminSecret: "s3cret", Dir: dir})
	k := s.CreateKey(t, acct, "read")
	use := func(s *servertest.Server, extra map[string]string) servertest.Response {
		h := servertest.WithHeaders(map[string]string{"Authorization": "apikey " + k.Key, "X-Moveo-Account-Id": acct}, extra)
		_, b := s.Do(t, "POST", "/v1/graphql", h, mustJSON(map[string]any{"query": countQuery}))
		var r servertest.Response
		json.Unmarshal(b, &r)
		return r
	}
	if r := use(s, nil); len(r.Errors) > 0 {
		t.Fatalf("new key refused: %+v", r.Errors)
	}
	// A read key cannot write, and a missing account header is refused.
	if code, _ := s.Do(t, "POST", "/v1/sessions", map[string]string{"Authorization": "apikey " + k.Key}, []byte(rec("x", ""))); code != http.StatusForbidden {
		t.Errorf("read key wrote: %d", code)
	}
	if r := use(s, map[string]string{"X-Moveo-Account-Id": ""}); len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "access-denied" {
		t.Errorf("missing account header: %+v", r)
	}
	// Listing never shows keys.
	code, b := s.Do(t, "GET", "/v1/admin/keys?account_id="+acct, map[string]string{"X-Admin-Secret": "s3cret"}, nil)
	if code != 200 || strings.Contains(string(b), k.Key) || strings.Contains(string(b), k.Key[len(k.Key)-20:]) || !strings.Contains(string(b), k.ID) {
		t.Fatalf("list: %d %s", code, b)
	}
	// Revoked: refused on the very next request.
	if code, b := s.Do(t, "DELETE", "/v1/admin/keys/"+k.ID, map[string]string{"X-Admin-Secret": "s3cret"}, nil); code != 200 {
		t.Fatalf("revoke: %d %s", code, b)
	}
	if r := use(s, nil); len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "access-denied" {
		t.Fatalf("revoked key still works: %+v", r)
	}
	if code, _ := s.Do(t, "DELETE", "/v1/admin/keys/"+k.ID, map[string]string{"X-Admin-Secret": "s3cret"}, nil); code != http.StatusNotFound {
		t.Errorf("revoking twice: %d", code)
	}
	// Key management needs the admin secret, not a key.
	k2 := s.CreateKey(t, acct, "read", "write")
	if code, _ := s.Do(t, "GET", "/v1/admin/keys", map[string]string{"Authorization": "apikey " + k2.Key}, nil); code != http.StatusForbidden {
		t.Errorf("a key listed keys: %d", code)
	}
	if code, _ := s.Do(t, "POST", "/v1/admin/keys", map[string]string{"X-Admin-Secret": "s3cret"}, []byte(`{"account_id":"nope","scopes":["read"]}`)); code != http.StatusBadRequest {
		t.Errorf("bad account id: %d", code)
	}
	if code, _ := s.Do(t, "POST", "/v1/admin/keys", map[string]string{"X-Admin-Secret": "s3cret"}, []byte(`{"account_id":"`+acct+`","scopes":["admin"]}`)); code != http.StatusBadRequest {
		t.Errorf("bad scope: %d", code)
	}
	// The keys survive a restart: another server on the same data
	// directory, once the first has let it go (one owns it at a time).
	s.Embedded.Close()
	s2 := servertest.Start(t, servertest.Options{AdminSecret: "s3cret", Dir: dir})
	if r := use(s2, map[string]string{"Authorization": "apikey " + k2.Key}); len(r.Errors) > 0 {
		t.Fatalf("key refused after restart: %+v", r.Errors)
	}
	if r := use(s2, nil); len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "access-denied" {
		t.Fatalf("revoked key works after restart: %+v", r)
	}
	// The data directory never holds a key in clear text.
	s2.Embedded.Close()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, key := range []string{k.Key, k2.Key} {
			secret := key[len("tly_")+17:]
			if bytes.Contains(b, []byte(key)) || bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s contains a key in clear text", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
