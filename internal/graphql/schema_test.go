package graphql

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
)

var update = flag.Bool("update", false, "rewrite testdata/schema.graphql")

// TestGeneratedSchemaIsHasuras: the schema generated from the catalogue
// is, byte for byte, testdata/schema.graphql — the SDL Tally served by
// hand before it was generated, as Hasura v2 generates it for the
// function: names, descriptions, field and argument order, so that
// introspection and every client built on it see no change. A change to
// the catalogue changes the schema on purpose: review the difference and
// rewrite the file with -update.
func TestGeneratedSchemaIsHasuras(t *testing.T) {
	got := generateSDL(analytics.NewCatalogue())
	if *update {
		if err := os.WriteFile("testdata/schema.graphql", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile("testdata/schema.graphql")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("generated schema differs from testdata/schema.graphql at line %d:\n got %q\nwant %q", i+1, g, w)
			}
		}
	}
}
