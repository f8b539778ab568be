package apikey

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/pgtext"
)

func TestNewKeys(t *testing.T) {
	now := time.Date(2024, 1, 8, 10, 0, 0, 0, time.FixedZone("x", 3600))
	plain, k, err := New(pgtext.UUID{1}, []Scope{Read}, "etl", now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, Prefix) || len(plain) != len(Prefix)+idLen+1+secretLen {
		t.Fatalf("key %q does not have the documented shape", plain)
	}
	id, err := ID(plain)
	if err != nil || id != k.ID || len(id) != idLen {
		t.Fatalf("ID(%q) = %q, %v; the record says %q", plain, id, err, k.ID)
	}
	if !k.Matches(plain) || k.Matches(plain[:len(plain)-1]+"x") {
		t.Error("Matches accepts a wrong key or refuses the right one")
	}
	if k.Hash != Hash(plain) || strings.Contains(string(k.Hash[:]), plain[len(Prefix)+idLen+1:]) {
		t.Error("the record must hold the SHA-256 of the key, never the key")
	}
	if !k.CreatedAt.Equal(now) || k.CreatedAt.Location() != time.UTC || !k.Has(Read) || k.Has(Write) || k.Revoked() {
		t.Errorf("record %+v", k)
	}
	other, _, _ := New(pgtext.UUID{1}, []Scope{Read}, "etl", now)
	if other == plain {
		t.Error("two keys are equal")
	}
}

func TestIDRejectsWhatIsNotAKey(t *testing.T) {
	plain, _, _ := New(pgtext.UUID{1}, []Scope{Read}, "", time.Now())
	for _, s := range []string{"", "tly_", "sk_" + plain[4:], plain[:len(plain)-1], plain + "x", strings.Replace(plain, "_", "-", 2)} {
		if _, err := ID(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ID(%q) = %v, want ErrMalformed", s, err)
		}
	}
}

func TestScopes(t *testing.T) {
	got, err := ParseScopes("write, read,write")
	if err != nil || FormatScopes(got) != "read,write" {
		t.Errorf("ParseScopes: %v %v", got, err)
	}
	if _, err := ParseScopes("read,admin"); err == nil || !strings.Contains(err.Error(), `"admin"`) {
		t.Errorf("an unknown scope: %v", err)
	}
	if _, err := CheckScopes(nil); err == nil {
		t.Error("no scope at all was accepted")
	}
	if got, err := CheckScopes([]string{"read", "read"}); err != nil || len(got) != 1 {
		t.Errorf("CheckScopes: %v %v", got, err)
	}
}
