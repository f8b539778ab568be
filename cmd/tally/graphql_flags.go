package main

import (
	"fmt"

	"github.com/tally-server/tally/internal/graphql"
)

// graphqlFlags are the GraphQL limits of serve and demo (SPEC section 10;
// docs/limits.md, "GraphQL limits"). Their defaults are graphql's.
type graphqlFlags struct {
	maxDepth          *int
	maxNodes          *int
	maxBatch          *int
	maxRequestBuckets *int
	maxResponseBytes  *int
	queryCacheBytes   *int64
}

func newGraphQLFlags(ef *envFlags) graphqlFlags {
	d := graphql.Config{}.WithDefaults()
	return graphqlFlags{
		maxDepth:          ef.Int("max-depth", d.MaxDepth, "deepest nesting of selections, and of argument values such as where, in a GraphQL operation (Hasura EE's depth_limit)"),
		maxNodes:          ef.Int("max-nodes", d.MaxNodes, "most fields a GraphQL operation may select once its fragments are expanded (Hasura EE's node_limit)"),
		maxBatch:          ef.Int("max-batch", d.MaxBatch, "most operations in one batched /v1/graphql request (Hasura EE's batch_limit)"),
		maxRequestBuckets: ef.Int("max-request-buckets", d.MaxRequestBuckets, "most buckets one /v1/graphql request may return, summed over its operations, root fields and aliases"),
		maxResponseBytes:  ef.Int("max-response-bytes", d.MaxResponseBytes, "largest /v1/graphql answer, in bytes"),
		queryCacheBytes:   ef.Int64("query-cache-bytes", d.QueryCacheBytes, "memory for parsed GraphQL documents kept for reuse, in bytes"),
	}
}

func (f graphqlFlags) validate() []string {
	var errs []string
	for _, c := range []struct {
		name string
		v    int64
	}{{"max-depth", int64(*f.maxDepth)}, {"max-nodes", int64(*f.maxNodes)}, {"max-batch", int64(*f.maxBatch)},
		{"max-request-buckets", int64(*f.maxRequestBuckets)}, {"max-response-bytes", int64(*f.maxResponseBytes)}, {"query-cache-bytes", *f.queryCacheBytes}} {
		if c.v <= 0 {
			errs = append(errs, fmt.Sprintf("--%s must be positive, got %d", c.name, c.v))
		}
	}
	return errs
}

func (f graphqlFlags) config() graphql.Config {
	return graphql.Config{
		MaxDepth:          *f.maxDepth,
		MaxNodes:          *f.maxNodes,
		MaxBatch:          *f.maxBatch,
		MaxRequestBuckets: *f.maxRequestBuckets,
		MaxResponseBytes:  *f.maxResponseBytes,
		QueryCacheBytes:   *f.queryCacheBytes,
	}
}
