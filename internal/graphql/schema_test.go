package graphql

import (
	"os"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
)

// TestGeneratedSchemaIsHasuras: the schema generated from the catalogue
// is, byte for byte, the SDL Tally served before it was generated
// (testdata/schema.graphql, as Hasura v2 generates it for the function):
// names, descriptions, field and argument order, so introspection and
// every client that built on it see no change.
func TestGeneratedSchemaIsHasuras(t *testing.T) {
	want, err := os.ReadFile("testdata/schema.graphql")
	if err != nil {
		t.Fatal(err)
	}
	got := generateSDL(analytics.NewCatalogue())
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
