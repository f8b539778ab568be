// Package graphql is Tally's GraphQL layer: the schema Hasura v2 generates
// for the SQL function open_closed_sessions_interval_counts_v2, parsing and
// validation with gqlparser, Tally's own executor, introspection, and
// errors in Hasura's shape and codes.
//
// It knows no HTTP: Execute takes a request value and returns the response
// body. It reaches data through analytics.Source, which the engine and the
// PostgreSQL store satisfy. It never imports a store or the engine.
package graphql

import (
	_ "embed"
	"fmt"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// Names Hasura generates for the tracked function and its return table.
const (
	FunctionName  = "open_closed_sessions_interval_counts_v2"
	ReturnType    = "open_closed_sessions_interval_counts"
	ArgsType      = FunctionName + "_args"
	QueryRootName = "query_root"
)

//go:embed schema.graphql
var schemaSDL string

// loadSchema parses the embedded SDL. It fails only if the embedded file is
// broken, which a test catches.
func loadSchema() (*ast.Schema, error) {
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: schemaSDL})
	if err != nil {
		return nil, fmt.Errorf("load schema: %w", err)
	}
	return s, nil
}
