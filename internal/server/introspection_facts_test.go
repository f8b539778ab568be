package server_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/servertest"
)

// TestIntrospectionAsHasura checks the introspection facts of
// hasura-source-facts.md ("Introspection") on a real server.
func TestIntrospectionAsHasura(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	r := s.Query(t, "", `{
  __schema {
    queryType { name description } subscriptionType { name description } mutationType { name }
    types { name kind description }
    directives { name description locations args { name description defaultValue type { kind name ofType { name } } } }
  }
  args: __type(name: "`+fn+`_args") { inputFields { name } }
  root: __type(name: "query_root") { fields { name description args { name description } } }
  id: __type(name: "ID") { name }
}`, nil)
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	var sch struct {
		QueryType, SubscriptionType struct{ Name, Description *string }
		MutationType                *struct{ Name string }
		Types                       []struct {
			Name, Kind  string
			Description *string
		}
		Directives []struct {
			Name, Description string
			Locations         []string
			Args              []struct {
				Name                      string
				Description, DefaultValue *string
				Type                      struct {
					Kind   string
					OfType struct{ Name string }
				}
			}
		}
	}
	if err := json.Unmarshal(r.Data["__schema"], &sch); err != nil {
		t.Fatal(err)
	}
	if sch.QueryType.Description != nil || sch.SubscriptionType.Description != nil || sch.MutationType != nil {
		t.Errorf("query_root and subscription_root have no description and there is no mutation_root: %+v %+v %+v", sch.QueryType, sch.SubscriptionType, sch.MutationType)
	}
	var names []string
	for _, ty := range sch.Types {
		names = append(names, ty.Name)
		switch ty.Name {
		case "Int", "Float", "String", "Boolean":
			if ty.Description != nil {
				t.Errorf("built-in scalar %s has a description %q (Hasura gives none)", ty.Name, *ty.Description)
			}
		case "ID":
			t.Error("ID is listed, though no field reaches it")
		}
	}
	if !slices.IsSorted(names) || !slices.Contains(names, "Float") || !slices.Contains(names, "__Type") {
		t.Errorf("types %v: want the reachable ones, sorted", names)
	}
	// Directives.hs:80-94,169-185,209-239.
	type dir struct{ name, desc, locs, args string }
	var got []dir
	for _, d := range sch.Directives {
		var args []string
		for _, a := range d.Args {
			desc, def := "-", "-"
			if a.Description != nil {
				desc = *a.Description
			}
			if a.DefaultValue != nil {
				def = *a.DefaultValue
			}
			args = append(args, a.Name+":"+a.Type.Kind+" "+a.Type.OfType.Name+"="+def+" "+desc)
		}
		got = append(got, dir{d.Name, d.Description, strings.Join(d.Locations, ","), strings.Join(args, "; ")})
	}
	want := []dir{
		{"include", "whether this query should be included", "FIELD,FRAGMENT_SPREAD,INLINE_FRAGMENT", "if:NON_NULL Boolean=- -"},
		{"skip", "whether this query should be skipped", "FIELD,FRAGMENT_SPREAD,INLINE_FRAGMENT", "if:NON_NULL Boolean=- -"},
		{"cached", "whether this query should be cached (Hasura Cloud only)", "QUERY", "ttl:NON_NULL Int=60 measured in seconds; refresh:NON_NULL Boolean=false refresh the cache entry"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("directives\n got %+v\nwant %+v", got, want)
	}
	// Definition.hs:413-420: the _args input fields by name.
	var args struct{ InputFields []struct{ Name string } }
	json.Unmarshal(r.Data["args"], &args)
	var fields []string
	for _, f := range args.InputFields {
		fields = append(fields, f.Name)
	}
	if !slices.IsSorted(fields) || len(fields) < 10 {
		t.Errorf("%s_args fields %v: want them sorted by name", fn, fields)
	}
	if string(r.Data["id"]) != "null" {
		t.Errorf(`__type(name: "ID") = %s, want null: ID is not in the schema`, r.Data["id"])
	}
	var root struct {
		Fields []struct {
			Name, Description string
			Args              []struct{ Name, Description string }
		}
	}
	json.Unmarshal(r.Data["root"], &root)
	wantArgs := map[string]string{
		"args":        `input parameters for function "` + fn + `"`,
		"distinct_on": "distinct select on columns",
		"limit":       "limit the number of rows returned",
		"offset":      "skip the first n rows. Use only with order_by",
		"order_by":    "sort the rows by one or more columns",
		"where":       "filter the rows returned",
	}
	for _, f := range root.Fields {
		var want string
		switch f.Name {
		case fn:
			want = `execute function "` + fn + `" which returns "open_closed_sessions_interval_counts"`
		case fn + "_aggregate":
			want = `execute function "` + fn + `" and query aggregates on result of table type "open_closed_sessions_interval_counts"`
		default:
			continue
		}
		if f.Description != want {
			t.Errorf("%s described %q, want %q", f.Name, f.Description, want)
		}
		for _, a := range f.Args {
			if a.Description != wantArgs[a.Name] {
				t.Errorf("%s(%s) described %q, want %q", f.Name, a.Name, a.Description, wantArgs[a.Name])
			}
		}
	}
}
