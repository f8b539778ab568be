package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/live"
)

// WebSocket on GET /v1/graphql: GraphQL over WebSocket with both
// protocols Hasura speaks, chosen as Hasura chooses. The subprotocol
// graphql-transport-ws selects the graphql-ws library's protocol; any
// other, graphql-ws or none, the legacy subscriptions-transport-ws one.
// The chosen subprotocol is echoed when the client offered it.
//
// Credentials come from connection_init's payload.headers (over the
// handshake's own headers), checked by auth exactly as HTTP headers are.
// Subscriptions are handed to the live hub; queries run once (next or
// data, then complete). A connection with an API key is authenticated
// again every second; once the key is revoked (or no longer reads) every
// operation gets an access-denied error and the socket is closed with 4403.
//
// Writes to a socket go through one writer goroutine. A subscription keeps
// only its latest unsent result, so a slow client costs one result per
// subscription, never a growing queue.

// Subprotocols.
const (
	protoGraphQLWS = "graphql-transport-ws" // the graphql-ws library
	protoLegacy    = "graphql-ws"           // subscriptions-transport-ws
)

// Close codes of the graphql-ws protocol, and the standard ones used.
const (
	closeBadRequest      websocket.StatusCode = 4400
	closeUnauthorized    websocket.StatusCode = 4401
	closeForbidden       websocket.StatusCode = 4403
	closeInitTimeout     websocket.StatusCode = 4408
	closeSubscriberTaken websocket.StatusCode = 4409
	closeTooManyInits    websocket.StatusCode = 4429
)

// wsWriteTimeout bounds one message's write; a client that does not read
// for that long is disconnected.
const wsWriteTimeout = 10 * time.Second

// wsMaxQueued bounds the bytes of messages one connection queues for its
// writer (enqueueLocked).
const wsMaxQueued = 64 << 20

// wsRecheck is how often a connection with an API key is authenticated
// again: the key cache's lifetime (auth.Config.CacheTTL's default).
const wsRecheck = time.Second

// websocketOr serves WebSocket upgrades itself and hands every other
// request to next.
func (s *Server) websocketOr(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Live != nil && headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket") {
			s.websocket(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func (s *Server) websocket(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{protoGraphQLWS, protoLegacy},
		// Credentials travel in connection_init, never in cookies, so a
		// page of another origin gains nothing a script could not send
		// over HTTP, where CORS allows every origin too (docs/live.md).
		InsecureSkipVerify: true,
	})
	if err != nil {
		s.log.Debug("websocket: handshake refused", "err", err)
		return
	}
	ws.SetReadLimit(s.cfg.MaxQueryBytes)
	c := &wsConn{
		s:       s,
		hub:     s.cfg.Live,
		ws:      ws,
		legacy:  ws.Subprotocol() != protoGraphQLWS,
		headers: r.Header.Clone(),
		ops:     map[string]*wsOp{},
		pending: map[string]*live.Push{},
		wake:    make(chan struct{}, 1),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	defer c.cancel()
	client, err := c.hub.Connect(func() { c.closeWith(websocket.StatusGoingAway, "server shutting down") })
	if err != nil {
		code := websocket.StatusTryAgainLater
		if errors.Is(err, live.ErrClosing) {
			code = websocket.StatusGoingAway
		}
		ws.Close(code, closeReason(err.Error()))
		return
	}
	c.client = client
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.writeLoop()
	}()
	c.readLoop()
	c.cancel()
	client.Close()
	c.mu.Lock()
	for _, op := range c.ops {
		if op.cancel != nil {
			op.cancel()
		}
	}
	c.mu.Unlock()
	<-done
	ws.CloseNow()
}

// closeReason fits a close frame's reason (at most 123 bytes).
func closeReason(s string) string {
	if len(s) <= 123 {
		return s
	}
	s = s[:120]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "..."
}

// wsConn is one WebSocket connection.
type wsConn struct {
	s      *Server
	hub    *live.Hub
	client *live.Client
	ws     *websocket.Conn
	legacy bool
	ctx    context.Context // ends with the connection
	cancel context.CancelFunc

	inits  int         // connection_init messages received (reader only)
	acked  atomic.Bool // connection_init accepted
	closed atomic.Bool // a close was requested

	mu        sync.Mutex // guards the fields below
	headers   http.Header
	principal auth.Principal
	ops       map[string]*wsOp
	out       [][]byte              // messages to write, in order
	outBytes  int                   // their length (enqueueLocked)
	pending   map[string]*live.Push // each subscription's latest unsent result
	pendOrder []string
	closeCode websocket.StatusCode
	closeMsg  string
	wake      chan struct{}
}

// wsOp is one operation a client started.
type wsOp struct {
	id     string
	idJSON []byte
	sub    *live.Subscription // a subscription's, once Subscribe returned
	cancel func()             // a query's
	done   bool               // ended by the server (its error was sent)
}

// clientMessage is any message a client sends.
type clientMessage struct {
	Type    string          `json:"type"`
	ID      *string         `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

func (c *wsConn) readLoop() {
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			var tooBig bool
			if errors.Is(err, websocket.ErrMessageTooBig) {
				tooBig = true
			}
			if tooBig {
				c.closeWith(websocket.StatusMessageTooBig, fmt.Sprintf("message larger than %d bytes (--max-query-bytes)", c.s.cfg.MaxQueryBytes))
			}
			return
		}
		if c.closed.Load() {
			continue // drain until the close handshake ends
		}
		if typ != websocket.MessageText {
			c.protocolError("binary messages are not part of the protocol; send JSON text messages")
			continue
		}
		var m clientMessage
		if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
			c.protocolError("every message must be a JSON object with a \"type\"")
			continue
		}
		c.handle(&m)
	}
}

// protocolError answers a message the protocol does not allow: graphql-ws
// closes with 4400; the legacy protocol sends a connection_error.
func (c *wsConn) protocolError(msg string) {
	if c.legacy {
		c.send(c.message("connection_error", nil, jsonObject("message", msg)))
		return
	}
	c.closeWith(closeBadRequest, "Invalid message received: "+msg)
}

func (c *wsConn) handle(m *clientMessage) {
	switch m.Type {
	case "connection_init":
		c.connectionInit(m)
	case "ping":
		if !c.legacy {
			c.send(c.message("pong", nil, nil))
			return
		}
		c.protocolError(`unknown message type "ping"`)
	case "pong":
		if c.legacy {
			c.protocolError(`unknown message type "pong"`)
		}
	case "subscribe", "start":
		if (m.Type == "subscribe") == c.legacy {
			c.protocolError(fmt.Sprintf("unknown message type %q", m.Type))
			return
		}
		c.start(m)
	case "complete", "stop":
		if (m.Type == "complete") == c.legacy {
			c.protocolError(fmt.Sprintf("unknown message type %q", m.Type))
			return
		}
		if m.ID == nil {
			c.protocolError(m.Type + " needs the id of the operation")
			return
		}
		c.stop(*m.ID, c.legacy)
	case "connection_terminate":
		if c.legacy {
			c.closeWith(websocket.StatusNormalClosure, "")
			return
		}
		c.protocolError(`unknown message type "connection_terminate"`)
	default:
		c.protocolError(fmt.Sprintf("unknown message type %q", m.Type))
	}
}

// connectionInit authenticates the headers in payload.headers as HTTP
// headers are, with the same refusals as POST /v1/graphql.
func (c *wsConn) connectionInit(m *clientMessage) {
	c.inits++
	if c.inits > 1 {
		if c.legacy {
			c.send(c.message("connection_error", nil, jsonObject("message", "connection_init was already received on this connection")))
			return
		}
		c.closeWith(closeTooManyInits, "Too many initialisation requests")
		return
	}
	var payload struct {
		Headers map[string]json.RawMessage `json:"headers"`
	}
	if len(m.Payload) > 0 && string(m.Payload) != "null" {
		if err := json.Unmarshal(m.Payload, &payload); err != nil {
			c.refuseInit(closeBadRequest, "connection_init's payload must be an object such as {\"headers\": {\"X-Moveo-Account-Id\": \"<uuid>\", \"Authorization\": \"apikey <key>\"}}")
			return
		}
	}
	c.mu.Lock()
	h := c.headers
	c.mu.Unlock()
	for name, raw := range payload.Headers {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			c.refuseInit(closeBadRequest, fmt.Sprintf("connection_init's payload.headers must map header names to strings; %q is not a string", name))
			return
		}
		h.Set(name, v)
	}
	p, err := c.authenticate(h)
	if err != nil {
		c.refuseInit(closeForbidden, err.Error())
		return
	}
	c.mu.Lock()
	c.headers, c.principal = h, p
	c.mu.Unlock()
	c.client.SetKey(p.KeyID)
	c.acked.Store(true)
	c.send(c.message("connection_ack", nil, nil))
	if c.legacy {
		c.send(c.message("ka", nil, nil))
	}
}

// authenticate is POST /v1/graphql's check of the caller.
func (c *wsConn) authenticate(h http.Header) (auth.Principal, error) {
	p, err := c.s.authn.Authenticate(c.ctx, h)
	switch {
	case err != nil:
		return p, err
	case p.KeyID != "" && !p.AccountHeader:
		return p, errors.New("X-Moveo-Account-Id header required with an API key: send the UUID of the key's account")
	case !p.Can(auth.ScopeRead):
		return p, errors.New("this API key may not read; it needs the read scope")
	}
	return p, nil
}

func (c *wsConn) refuseInit(code websocket.StatusCode, msg string) {
	if c.s.m != nil {
		c.s.m.errors.WithLabelValues(graphql.CodeAccessDenied).Inc()
	}
	if c.legacy {
		c.send(c.message("connection_error", nil, jsonObject("message", msg)))
	}
	reason := "Forbidden: " + msg
	if code == closeBadRequest {
		reason = "Invalid message received: " + msg
	}
	c.closeWith(code, closeReason(reason))
}

// start begins an operation: subscribe (graphql-ws) or start (legacy).
func (c *wsConn) start(m *clientMessage) {
	if m.ID == nil || *m.ID == "" {
		c.protocolError(m.Type + " needs a non-empty string id")
		return
	}
	id := *m.ID
	if !c.acked.Load() {
		if !c.legacy {
			c.closeWith(closeUnauthorized, "Unauthorized")
			return
		}
		c.sendError(id, graphql.NewError(graphql.CodeAccessDenied, "start received before connection_init was accepted; send connection_init with payload.headers first"))
		return
	}
	var req graphql.Request
	if err := json.Unmarshal(m.Payload, &req); err != nil || len(m.Payload) == 0 {
		if !c.legacy {
			c.protocolError(m.Type + "'s payload must be {\"query\": \"...\", \"variables\": {...}, \"operationName\": \"...\"}")
			return
		}
		c.sendError(id, graphql.NewError(graphql.CodeParseFailed, `start's payload must be {"query": "...", "variables": {...}, "operationName": "..."}`))
		return
	}
	c.mu.Lock()
	_, taken := c.ops[id]
	c.mu.Unlock()
	if taken {
		if !c.legacy {
			c.closeWith(closeSubscriberTaken, closeReason("Subscriber for "+id+" already exists"))
			return
		}
		c.stop(id, false) // subscriptions-transport-ws replaces the operation
	}
	c.mu.Lock()
	caller := graphql.Caller{Account: c.principal.Account}
	c.mu.Unlock()
	pctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.QueryTimeout)
	op, gerr := c.s.exec.PrepareOperation(pctx, caller, &req)
	cancel()
	if gerr != nil {
		c.sendError(id, gerr)
		return
	}
	idJSON, _ := json.Marshal(id)
	o := &wsOp{id: id, idJSON: idJSON}
	max := c.hub.Config().MaxPerConnection
	c.mu.Lock()
	busy := len(c.ops) >= max
	if !busy || op.Subscription() {
		c.ops[id] = o // the hub counts subscriptions against the limit
	}
	c.mu.Unlock()
	if !op.Subscription() {
		if busy {
			c.sendError(id, graphql.NewError(graphql.CodeDataException, fmt.Sprintf("this connection already has %d operations running, the most one connection may hold (--live-max-per-connection); wait for one to complete", max)))
			return
		}
		c.runQuery(o, op)
		return
	}
	sub, err := c.client.Subscribe(live.Spec{
		Key:     liveKey(caller, &req),
		Account: caller.Account.UUID,
		Until:   op.Until(),
		Query:   &liveQuery{s: c.s, op: op},
	}, func(p live.Push) { c.push(o, p) })
	if err != nil {
		c.mu.Lock()
		delete(c.ops, id)
		c.mu.Unlock()
		code := graphql.CodeUnexpected
		var le *live.LimitError
		if errors.As(err, &le) {
			code = graphql.CodeDataException
		}
		c.sendError(id, graphql.NewError(code, err.Error()))
		return
	}
	c.mu.Lock()
	o.sub = sub
	ended := o.done
	c.mu.Unlock()
	if ended {
		sub.Stop()
	}
}

// liveKey identifies identical subscriptions: account, operation name,
// document and variables (compacted JSON).
func liveKey(caller graphql.Caller, req *graphql.Request) string {
	var b strings.Builder
	b.WriteString(caller.Account.UUID.String())
	b.WriteByte(0)
	if req.OperationName != nil {
		b.WriteString(*req.OperationName)
	}
	b.WriteByte(0)
	b.WriteString(*req.Query)
	b.WriteByte(0)
	var vars bytes.Buffer
	if json.Compact(&vars, req.Variables) == nil && vars.String() != "null" {
		b.Write(vars.Bytes())
	}
	return b.String()
}

// liveQuery runs a prepared subscription for the hub.
type liveQuery struct {
	s  *Server
	op *graphql.Operation
}

func (q *liveQuery) Run(ctx context.Context) live.Result {
	resp := q.op.Run(ctx)
	body := resp.Render(ctx, nil)
	errs := resp.Errors()
	if q.s.m != nil {
		for _, e := range errs {
			q.s.m.errors.WithLabelValues(e.Code).Inc()
		}
	}
	return live.Result{Body: body, Err: len(errs) > 0}
}

// runQuery runs a query operation once, in its own goroutine so that the
// connection keeps reading: its result, then complete.
func (c *wsConn) runQuery(o *wsOp, op *graphql.Operation) {
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.QueryTimeout)
	c.mu.Lock()
	o.cancel = cancel
	c.mu.Unlock()
	go func() {
		defer cancel()
		resp := op.Run(ctx)
		body := resp.Render(ctx, nil)
		if c.s.m != nil {
			for _, e := range resp.Errors() {
				c.s.m.errors.WithLabelValues(e.Code).Inc()
			}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.ops[o.id] != o || ctx.Err() == context.Canceled {
			return // stopped by the client
		}
		delete(c.ops, o.id)
		c.enqueueLocked(c.message(c.dataType(), o.idJSON, body), c.message("complete", o.idJSON, nil))
		c.signal()
	}()
}

func (c *wsConn) dataType() string {
	if c.legacy {
		return "data"
	}
	return "next"
}

// stop ends an operation at the client's request; the legacy protocol
// answers complete.
func (c *wsConn) stop(id string, answer bool) {
	c.mu.Lock()
	o := c.ops[id]
	delete(c.ops, id)
	c.mu.Unlock()
	if o != nil {
		if o.sub != nil {
			o.sub.Stop()
		}
		if o.cancel != nil {
			o.cancel()
		}
	}
	c.mu.Lock()
	c.dropPendingLocked(id)
	if answer {
		idJSON, _ := json.Marshal(id)
		c.enqueueLocked(c.message("complete", idJSON, nil))
		c.signal()
	}
	c.mu.Unlock()
}

// push keeps a subscription's latest result for the writer. It runs under
// the hub's lock.
func (c *wsConn) push(o *wsOp, p live.Push) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.pending[o.id]; old != nil {
		p.First = p.First || old.First
		if !old.Since.IsZero() && (p.Since.IsZero() || old.Since.Before(p.Since)) {
			p.Since = old.Since
		}
	} else {
		c.pendOrder = append(c.pendOrder, o.id)
	}
	c.pending[o.id] = &p
	c.signal()
}

func (c *wsConn) dropPendingLocked(id string) {
	if _, ok := c.pending[id]; !ok {
		return
	}
	delete(c.pending, id)
	for i, p := range c.pendOrder {
		if p == id {
			c.pendOrder = append(c.pendOrder[:i], c.pendOrder[i+1:]...)
			break
		}
	}
}

// sendError ends an operation with errors: error's payload is the errors
// array (graphql-ws) or {"errors": [...]} (legacy).
func (c *wsConn) sendError(id string, e *graphql.Error) {
	if c.s.m != nil {
		c.s.m.errors.WithLabelValues(e.Code).Inc()
	}
	body := graphql.ErrorResponse(e).AppendJSON(nil)
	idJSON, _ := json.Marshal(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropPendingLocked(id)
	c.enqueueLocked(c.errorMessage(idJSON, body))
	c.signal()
}

// errorMessage makes an error message from a rendered error body.
func (c *wsConn) errorMessage(idJSON, body []byte) []byte {
	if c.legacy {
		return c.message("error", idJSON, body)
	}
	var errs struct {
		Errors json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &errs) != nil || len(errs.Errors) == 0 {
		errs.Errors = []byte(`[{"message":"unexpected error","extensions":{"path":"$","code":"unexpected"}}]`)
	}
	return c.message("error", idJSON, errs.Errors)
}

// message encodes {"type":...,"id":...,"payload":...}; idJSON and payload
// are JSON or nil.
func (c *wsConn) message(typ string, idJSON, payload []byte) []byte {
	b := make([]byte, 0, len(payload)+len(idJSON)+40)
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, '"')
	if idJSON != nil {
		b = append(b, `,"id":`...)
		b = append(b, idJSON...)
	}
	if payload != nil {
		b = append(b, `,"payload":`...)
		b = append(b, payload...)
	}
	return append(b, '}')
}

func jsonObject(key, value string) []byte {
	b, _ := json.Marshal(map[string]string{key: value})
	return b
}

// send queues a message.
func (c *wsConn) send(msg []byte) {
	c.mu.Lock()
	c.enqueueLocked(msg)
	c.signal()
	c.mu.Unlock()
}

// enqueueLocked queues messages for the writer, under c.mu. Subscription
// results never queue (each keeps only its latest in pending), but
// answers to queries, pongs and errors do; a client that sends faster
// than it reads would grow the queue without end, so past wsMaxQueued
// bytes the connection is closed with 1008 and the queue dropped.
func (c *wsConn) enqueueLocked(msgs ...[]byte) {
	for _, m := range msgs {
		c.outBytes += len(m)
	}
	if c.outBytes > wsMaxQueued {
		c.out, c.outBytes = nil, 0
		if c.closed.CompareAndSwap(false, true) {
			c.closeCode = websocket.StatusPolicyViolation
			c.closeMsg = fmt.Sprintf("more than %d bytes of answers wait for the client to read them (fixed limit); read faster or open fewer operations", wsMaxQueued)
		}
		return
	}
	c.out = append(c.out, msgs...)
}

func (c *wsConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// closeWith asks the writer to send what is queued and close the socket
// with code; the first request wins.
func (c *wsConn) closeWith(code websocket.StatusCode, reason string) {
	if !c.closed.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	c.closeCode, c.closeMsg = code, reason
	c.signal()
	c.mu.Unlock()
}

func (c *wsConn) writeLoop() {
	cfg := c.hub.Config()
	keepAlive := time.NewTicker(cfg.KeepAlive)
	defer keepAlive.Stop()
	initTimer := time.NewTimer(cfg.InitTimeout)
	defer initTimer.Stop()
	// Only a connection with an API key is checked again: it gets its
	// ticker once connection_init is accepted.
	var (
		recheck  *time.Ticker
		recheckC <-chan time.Time
		checked  bool
	)
	defer func() {
		if recheck != nil {
			recheck.Stop()
		}
	}()
	for {
		select {
		case <-c.wake:
		case <-keepAlive.C:
			if c.acked.Load() {
				if c.legacy {
					c.send(c.message("ka", nil, nil))
				} else {
					c.send(c.message("ping", nil, nil))
				}
			}
		case <-recheckC:
			c.recheck()
		case <-initTimer.C:
			if !c.acked.Load() {
				if c.legacy {
					c.send(c.message("connection_error", nil, jsonObject("message", "no connection_init within "+cfg.InitTimeout.String())))
				}
				c.closeWith(closeInitTimeout, "Connection initialisation timeout")
			}
		case <-c.ctx.Done():
			return
		}
		if !checked && c.acked.Load() {
			checked = true
			c.mu.Lock()
			keyed := c.principal.KeyID != ""
			c.mu.Unlock()
			if keyed {
				recheck = time.NewTicker(wsRecheck)
				recheckC = recheck.C
			}
		}
		if !c.flush() {
			return
		}
	}
}

// flush writes what is queued: messages in order, then results. It
// returns false once the socket is closed.
func (c *wsConn) flush() bool {
	for {
		c.mu.Lock()
		out := c.out
		c.out, c.outBytes = nil, 0
		code, reason := c.closeCode, c.closeMsg
		var pushes []*live.Push
		var ops []*wsOp
		for _, id := range c.pendOrder {
			if o := c.ops[id]; o != nil && !o.done && code == 0 { // closing: results are dropped
				pushes = append(pushes, c.pending[id])
				ops = append(ops, o)
			}
		}
		clear(c.pending)
		c.pendOrder = c.pendOrder[:0]
		c.mu.Unlock()
		if len(out) == 0 && len(pushes) == 0 {
			if code != 0 {
				c.ws.Close(code, reason)
				c.cancel()
				return false
			}
			return true
		}
		for _, msg := range out {
			if !c.write(msg) {
				return false
			}
		}
		for i, p := range pushes {
			if !c.writePush(ops[i], p) {
				return false
			}
		}
	}
}

func (c *wsConn) write(msg []byte) bool {
	ctx, cancel := context.WithTimeout(c.ctx, wsWriteTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, msg); err != nil {
		c.cancel()
		return false
	}
	return true
}

// writePush writes a result. A subscription whose first result is an
// error ends with an error message, as a query that fails to start does.
func (c *wsConn) writePush(o *wsOp, p *live.Push) bool {
	if p.First && p.Err {
		c.mu.Lock()
		o.done = true
		if c.ops[o.id] == o {
			delete(c.ops, o.id)
		}
		sub := o.sub
		c.mu.Unlock()
		if sub != nil {
			sub.Stop()
		}
		return c.write(c.errorMessage(o.idJSON, p.Body))
	}
	if !c.write(c.message(c.dataType(), o.idJSON, p.Body)) {
		return false
	}
	c.hub.Pushed(*p)
	return true
}

// recheck authenticates a key's connection again; once the key no longer
// reads the account, every operation ends with access-denied and the
// socket closes with 4403. A key store that cannot answer now is not a
// refusal.
func (c *wsConn) recheck() {
	c.mu.Lock()
	p, h := c.principal, c.headers
	c.mu.Unlock()
	if !c.acked.Load() || p.KeyID == "" || c.closed.Load() {
		return
	}
	np, err := c.authenticate(h)
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable {
		return
	}
	if err == nil && np.Account == p.Account {
		return
	}
	msg := "the connection's credentials were refused"
	if err != nil {
		msg = err.Error()
	}
	c.mu.Lock()
	ops := make([]*wsOp, 0, len(c.ops))
	for _, o := range c.ops {
		ops = append(ops, o)
	}
	clear(c.ops)
	c.mu.Unlock()
	for _, o := range ops {
		if o.sub != nil {
			o.sub.Stop()
		}
		if o.cancel != nil {
			o.cancel()
		}
		c.sendError(o.id, graphql.NewError(graphql.CodeAccessDenied, msg))
	}
	c.closeWith(closeForbidden, closeReason("Forbidden: "+msg))
}
