package graphql

import (
	"sync"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tally-server/tally/internal/analytics"
)

// What executing a request body found that does not depend on the
// caller or the data, kept in its body cache entry (bodyCache) for the
// next request with the same bytes: the operation once its checks have
// passed, and the planned calls of its root fields once they have run.
// Only successes are kept, so a request that is refused, or cut short by its time limit, is
// checked again in full. A nil *bodyMemo's methods find nothing and keep
// nothing.

// bodyMemo is a body's memo; safe for concurrent use.
type bodyMemo struct {
	mu      sync.Mutex
	op      *Operation // passed its checks (Executor.operation); no caller
	calls   []callMemo
	buckets int // the rows the kept calls' results had
}

// callMemo is a root field's planned call within lim.
type callMemo struct {
	field *ast.Field
	lim   analytics.Limits
	call  analytics.Call
}

const (
	// maxMemoCalls bounds the calls kept per body: a request of many
	// aliases keeps its first ones.
	maxMemoCalls = 8
	// maxMemoBuckets bounds the rows of the results of the calls kept
	// per body: a planned call holds its bucket bounds (and, in a time
	// zone, their wall-clock starts), at most 32 bytes a bucket with the
	// slices' spare room, so 256 bodies keep at most 8 MiB of plans. A
	// call run before as many buckets were kept is planned each time.
	maxMemoBuckets = 1024
	// maxMemoDocCost bounds the parsed document a body's memo keeps alive
	// (prepared.cost), which the document cache no longer counts once it
	// lets the document go: 256 bodies hold at most 8 MiB of documents.
	maxMemoDocCost = 32 << 10
)

// operation returns the kept operation, for caller, or nil.
func (d *decodedBody) operation(caller Caller) *Operation {
	if d == nil {
		return nil
	}
	d.memo.mu.Lock()
	kept := d.memo.op
	d.memo.mu.Unlock()
	if kept == nil {
		return nil
	}
	o := *kept
	o.caller = caller
	return &o
}

// keepOperation keeps o, which passed its checks, without its caller.
func (d *decodedBody) keepOperation(o *Operation) {
	if d == nil || o.p.cost > maxMemoDocCost {
		return
	}
	kept := *o
	kept.caller = Caller{}
	d.memo.mu.Lock()
	defer d.memo.mu.Unlock()
	if d.memo.op == nil {
		d.memo.op = &kept
	}
}

// call is the call kept for field f within lim, or nil.
func (d *decodedBody) call(f *ast.Field, lim analytics.Limits) analytics.Call {
	if d == nil {
		return nil
	}
	d.memo.mu.Lock()
	defer d.memo.mu.Unlock()
	for _, c := range d.memo.calls {
		if c.field == f && c.lim == lim {
			return c.call
		}
	}
	return nil
}

// keepCall keeps the call planned for field f within lim, which has just
// run and given rows rows. f belongs to the document of the kept
// operation, or to one parsed again since: its calls are then never
// found, and only take room.
func (d *decodedBody) keepCall(f *ast.Field, lim analytics.Limits, call analytics.Call, rows int) {
	if d == nil {
		return
	}
	d.memo.mu.Lock()
	defer d.memo.mu.Unlock()
	if d.memo.op == nil || len(d.memo.calls) >= maxMemoCalls || d.memo.buckets+rows > maxMemoBuckets {
		return
	}
	d.memo.buckets += rows
	d.memo.calls = append(d.memo.calls, callMemo{field: f, lim: lim, call: call})
}
