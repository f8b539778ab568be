package graphql

import (
	"fmt"
	"time"
)

// The limits one request may reach (SPEC section 10). Each has a Config
// field, a flag of tally serve, and an error naming the limit, the value
// found and the flag. Where Hasura EE's API limits cover the same ground
// (depth_limit, node_limit, batch_limit, time_limit) their names are used.
// docs/limits.md ("GraphQL limits") lists them.

// Defaults of the limits, chosen far above what an honest client sends:
// the SPEC query has 4 fields and depth 1, GraphiQL's introspection query
// about 250 fields and depth 13, Apollo batches 10 operations, a year of
// hourly buckets is 8 784.
const (
	DefaultMaxDepth          = 32
	DefaultMaxNodes          = 10000
	DefaultMaxBatch          = 100
	DefaultMaxRequestBuckets = 100000
	DefaultMaxResponseBytes  = 32 << 20
	DefaultQueryCacheBytes   = 64 << 20
	DefaultQueryTimeout      = 30 * time.Second
)

// Flags that raise each limit, as error messages name them.
const (
	flagMaxDepth          = "--max-depth"
	flagMaxNodes          = "--max-nodes"
	flagMaxBatch          = "--max-batch"
	flagMaxRequestBuckets = "--max-request-buckets"
	flagMaxResponseBytes  = "--max-response-bytes"
	flagQueryTimeout      = "--query-timeout"
)

// depthError is a document, or a value in it, nested deeper than
// MaxDepth. what says what nests ("the selections", "the value of where").
func (e *Executor) depthError(at *path, what string, depth int) *Error {
	return newError(CodeValidationFailed, at, fmt.Sprintf("depth_limit exceeded: %s nest %d levels deep; the limit is %d (%s)", what, depth, e.cfg.MaxDepth, flagMaxDepth))
}

// nodeError is an operation selecting more than MaxNodes fields once its
// fragments are expanded.
func (e *Executor) nodeError(nodes int64) *Error {
	found := fmt.Sprint(nodes)
	if nodes >= saturated {
		found = fmt.Sprintf("more than %d", int64(saturated))
	}
	return NewError(CodeValidationFailed, fmt.Sprintf("node_limit exceeded: the operation selects %s fields once its fragments are expanded; the limit is %d (%s)", found, e.cfg.MaxNodes, flagMaxNodes))
}

// batchError is a batch of more than MaxBatch operations.
func (e *Executor) batchError(n int) *Error {
	return NewError(CodeValidationFailed, fmt.Sprintf("batch_limit exceeded: the batch holds %d operations; the limit is %d (%s)", n, e.cfg.MaxBatch, flagMaxBatch))
}

// timeError is a request that ran past QueryTimeout while stage ran
// ("validating", "counting", "writing the answer").
func (e *Executor) timeError(stage string, elapsed time.Duration) *Error {
	return NewError(CodeTimeout, fmt.Sprintf("time_limit exceeded: the request ran for %s while %s, longer than the limit of %s (%s), and was stopped; narrow the time range or filters", elapsed.Round(time.Millisecond), stage, e.cfg.QueryTimeout, flagQueryTimeout))
}

// saturated is where counts of expanded nodes stop growing: a document of
// 2 KB can spread fragments into 2^60 fields.
const saturated = 1 << 60

// addSat is a+b, at most saturated.
func addSat(a, b int64) int64 {
	if a >= saturated-b {
		return saturated
	}
	return a + b
}
