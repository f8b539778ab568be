package graphql

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tally-server/tally/internal/analytics"
)

// The schema is generated from the catalogue as Hasura v2 generates it
// for SQL functions returning a table: for each function a root field and
// its _aggregate twin under query_root and subscription_root, and for its
// table the object type, the aggregate types, <table>_bool_exp,
// <table>_order_by, <table>_select_column and the comparison inputs of
// the scalars its columns use. Names, descriptions and the order of
// fields and arguments are Hasura's: clients introspect them.

// Root type names.
const (
	QueryRootName        = "query_root"
	SubscriptionRootName = "subscription_root"
)

// tableInfo is a catalogue table with what the executor looks up often.
type tableInfo struct {
	*analytics.Table
	byName []int  // column indices sorted by column name
	names  string // column names sorted, as Hasura lists enum values in messages
}

func newTableInfo(t *analytics.Table) *tableInfo {
	ti := &tableInfo{Table: t}
	for i := range t.Columns {
		ti.byName = append(ti.byName, i)
	}
	slices.SortFunc(ti.byName, func(a, b int) int { return strings.Compare(t.Columns[a].Name, t.Columns[b].Name) })
	names := make([]string, len(ti.byName))
	for i, c := range ti.byName {
		names[i] = t.Columns[c].Name
	}
	ti.names = quotedList(names)
	return ti
}

// rootField is what a root field of query_root runs.
type rootField struct {
	fn        *analytics.Function
	table     *tableInfo
	aggregate bool // the <fn>_aggregate field
}

// aggregateOps are the fields of <table>_aggregate_fields other than
// count, in Hasura's (alphabetical) order, with the columns each takes.
var aggregateOps = []struct {
	name    string
	numeric bool // sum, avg, stddev...: numeric columns; max, min: comparable ones
}{
	{"avg", true}, {"max", false}, {"min", false}, {"stddev", true}, {"stddev_pop", true}, {"stddev_samp", true},
	{"sum", true}, {"var_pop", true}, {"var_samp", true}, {"variance", true},
}

// opColumns returns the columns (sorted by name) the aggregate op takes.
func (t *tableInfo) opColumns(numeric bool) []int {
	var out []int
	for _, c := range t.byName {
		if typ := t.Columns[c].Type; (numeric && typ.Numeric()) || (!numeric && typ.Comparable()) {
			out = append(out, c)
		}
	}
	return out
}

// opType is the GraphQL type of an aggregate op's field for column type
// typ: Float for the statistics, the column's own for max, min and sum.
func opType(op string, typ analytics.Type) string {
	switch op {
	case "max", "min", "sum":
		return typ.GraphQL()
	}
	return "Float"
}

// comparisonOps are the operators of every <scalar>_comparison_exp.
var comparisonOps = []string{"_eq", "_gt", "_gte", "_in", "_is_null", "_lt", "_lte", "_neq", "_nin"}

// sdlWriter writes SDL in the layout of Hasura's printed schema.
type sdlWriter struct{ strings.Builder }

func (w *sdlWriter) line(indent int, s string) {
	w.WriteString(strings.Repeat("  ", indent))
	w.WriteString(s)
	w.WriteByte('\n')
}

// doc writes a block description.
func (w *sdlWriter) doc(indent int, text string) {
	w.line(indent, `"""`)
	w.line(indent, text)
	w.line(indent, `"""`)
}

// sdlPrelude is what every Tally schema declares whatever the catalogue:
// Hasura's @cached directive and the order_by enum.
const sdlPrelude = `"""whether this query should be cached (Hasura Cloud only)"""
directive @cached(
  """measured in seconds"""
  ttl: Int! = 60
  """refresh the cache entry"""
  refresh: Boolean! = false
) on QUERY
`

const sdlOrderBy = `"""column ordering options"""
enum order_by {
  """in ascending order, nulls last"""
  asc
  """in ascending order, nulls first"""
  asc_nulls_first
  """in ascending order, nulls last"""
  asc_nulls_last
  """in descending order, nulls first"""
  desc
  """in descending order, nulls first"""
  desc_nulls_first
  """in descending order, nulls last"""
  desc_nulls_last
}
`

// generateSDL writes the schema of the catalogue's functions.
func generateSDL(cat *analytics.Catalogue) string {
	var tables []*tableInfo
	seen := map[string]bool{}
	scalars := map[string]bool{}
	compared := map[string]bool{}
	for _, f := range cat.Functions {
		for _, a := range f.Args {
			if !a.Type.Builtin() {
				scalars[a.Type.GraphQL()] = true
			}
		}
		if seen[f.Table.Name] {
			continue
		}
		seen[f.Table.Name] = true
		tables = append(tables, newTableInfo(&f.Table))
		for _, c := range f.Table.Columns {
			if !c.Type.Builtin() {
				scalars[c.Type.GraphQL()] = true
			}
			compared[c.Type.GraphQL()] = true
		}
	}
	var w sdlWriter
	w.WriteString("schema {\n  query: " + QueryRootName + "\n  subscription: " + SubscriptionRootName + "\n}\n")
	for _, s := range sortedKeys(scalars) {
		w.WriteString("\nscalar " + s + "\n")
	}
	w.WriteString("\n" + sdlPrelude)
	for _, s := range sortedKeys(compared) {
		w.WriteString("\n")
		w.doc(0, fmt.Sprintf(`Boolean expression to compare columns of type "%s". All fields are combined with logical 'AND'.`, s))
		w.line(0, "input "+s+"_comparison_exp {")
		for _, op := range comparisonOps {
			typ := s
			switch op {
			case "_in", "_nin":
				typ = "[" + s + "!]"
			case "_is_null":
				typ = "Boolean"
			}
			w.line(1, op+": "+typ)
		}
		w.line(0, "}")
	}
	w.WriteString("\n" + sdlOrderBy)
	for _, t := range tables {
		writeTable(&w, t)
	}
	for _, f := range cat.Functions {
		w.WriteString("\n")
		w.line(0, "input "+f.Name+"_args {")
		// Hasura lists an input object's fields by name
		// (Parser/Schema/Definition.hs), not in the function's order.
		args := slices.Clone(f.Args)
		slices.SortFunc(args, func(a, b analytics.Arg) int { return strings.Compare(a.Name, b.Name) })
		for _, a := range args {
			w.line(1, a.Name+": "+a.Type.GraphQL())
		}
		w.line(0, "}")
	}
	for _, rootName := range []string{QueryRootName, SubscriptionRootName} {
		w.WriteString("\n")
		w.line(0, "type "+rootName+" {")
		for _, f := range cat.Functions {
			writeRootField(&w, f, false)
			writeRootField(&w, f, true)
		}
		w.line(0, "}")
	}
	return w.String()
}

func writeTable(w *sdlWriter, t *tableInfo) {
	name := t.Name
	column := func(c int, typ string) { w.line(1, t.Columns[c].Name+": "+typ) }
	w.WriteString("\n")
	w.doc(0, fmt.Sprintf(`columns and relationships of "%s"`, name))
	w.line(0, "type "+name+" {")
	for _, c := range t.byName {
		typ := t.Columns[c].Type.GraphQL()
		if !t.Columns[c].Nullable {
			typ += "!"
		}
		column(c, typ)
	}
	w.line(0, "}")

	w.WriteString("\n")
	w.doc(0, fmt.Sprintf(`aggregated selection of "%s"`, name))
	w.line(0, "type "+name+"_aggregate {")
	w.line(1, "aggregate: "+name+"_aggregate_fields")
	w.line(1, "nodes: ["+name+"!]!")
	w.line(0, "}")

	w.WriteString("\n")
	w.doc(0, fmt.Sprintf(`aggregate fields of "%s"`, name))
	w.line(0, "type "+name+"_aggregate_fields {")
	for _, op := range aggregateOps {
		if op.name == "max" { // count sorts between avg and max
			w.line(1, "count(columns: ["+name+"_select_column!], distinct: Boolean): Int!")
		}
		if len(t.opColumns(op.numeric)) > 0 {
			w.line(1, op.name+": "+name+"_"+op.name+"_fields")
		}
	}
	w.line(0, "}")

	for _, op := range aggregateOps {
		cols := t.opColumns(op.numeric)
		if len(cols) == 0 {
			continue
		}
		w.WriteString("\n")
		w.doc(0, "aggregate "+op.name+" on columns")
		w.line(0, "type "+name+"_"+op.name+"_fields {")
		for _, c := range cols {
			column(c, opType(op.name, t.Columns[c].Type))
		}
		w.line(0, "}")
	}

	w.WriteString("\n")
	w.doc(0, fmt.Sprintf(`Boolean expression to filter rows from the table "%s". All fields are combined with a logical 'AND'.`, name))
	w.line(0, "input "+name+"_bool_exp {")
	w.line(1, "_and: ["+name+"_bool_exp!]")
	w.line(1, "_not: "+name+"_bool_exp")
	w.line(1, "_or: ["+name+"_bool_exp!]")
	for _, c := range t.byName {
		column(c, t.Columns[c].Type.GraphQL()+"_comparison_exp")
	}
	w.line(0, "}")

	w.WriteString("\n")
	w.doc(0, fmt.Sprintf(`Ordering options when selecting data from "%s".`, name))
	w.line(0, "input "+name+"_order_by {")
	for _, c := range t.byName {
		column(c, "order_by")
	}
	w.line(0, "}")

	w.WriteString("\n")
	w.doc(0, fmt.Sprintf(`select columns of table "%s"`, name))
	w.line(0, "enum "+name+"_select_column {")
	for _, c := range t.byName {
		w.doc(1, "column name")
		w.line(1, t.Columns[c].Name)
	}
	w.line(0, "}")
}

func writeRootField(w *sdlWriter, f *analytics.Function, aggregate bool) {
	table := f.Table.Name
	name, typ := f.Name, "["+table+"!]!"
	desc := fmt.Sprintf(`execute function "%s" which returns "%s"`, f.Name, table)
	if aggregate {
		name, typ = f.Name+"_aggregate", table+"_aggregate!"
		desc = fmt.Sprintf(`execute function "%s" and query aggregates on result of table type "%s"`, f.Name, table)
	}
	w.doc(1, desc)
	w.line(1, name+"(")
	for _, a := range []struct{ doc, arg string }{
		{fmt.Sprintf(`input parameters for function "%s"`, f.Name), "args: " + f.Name + "_args!"},
		{"distinct select on columns", "distinct_on: [" + table + "_select_column!]"},
		{"limit the number of rows returned", "limit: Int"},
		{"skip the first n rows. Use only with order_by", "offset: Int"},
		{"sort the rows by one or more columns", "order_by: [" + table + "_order_by!]"},
		{"filter the rows returned", "where: " + table + "_bool_exp"},
	} {
		w.doc(2, a.doc)
		w.line(2, a.arg)
	}
	w.line(1, "): "+typ)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// loadSchema generates and parses the catalogue's schema, and indexes its
// root fields. It fails only on a catalogue that breaks its invariants.
func loadSchema(cat *analytics.Catalogue) (*ast.Schema, map[string]rootField, error) {
	if err := cat.Validate(); err != nil {
		return nil, nil, err
	}
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: generateSDL(cat)})
	if err != nil {
		return nil, nil, fmt.Errorf("load the generated schema: %w", err)
	}
	roots := map[string]rootField{}
	for _, f := range cat.Functions {
		t := newTableInfo(&f.Table)
		roots[f.Name] = rootField{fn: f, table: t}
		roots[f.Name+"_aggregate"] = rootField{fn: f, table: t, aggregate: true}
	}
	return s, roots, nil
}
