package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// target is the server under load and how to talk to it.
type target struct {
	url, secret, account string
	http                 *http.Client
}

func targetFlags(fs *flag.FlagSet) *target {
	t := &target{}
	fs.StringVar(&t.url, "url", "http://127.0.0.1:8080", "the Tally to drive")
	fs.StringVar(&t.secret, "admin-secret", "", "the server's admin secret, if it has one")
	fs.StringVar(&t.account, "account", "9f0e3c2a-5b1d-4c7e-8a6f-2d4b1e0c9a77", "the account whose data is loaded and queried")
	return t
}

// start prepares the client and waits up to a minute for the server to
// answer /healthz (it may still be loading its data).
func (t *target) start(ctx context.Context) error {
	t.url = strings.TrimRight(t.url, "/")
	t.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	deadline := time.Now().Add(time.Minute)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := t.http.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s/healthz did not answer OK within a minute (last: %v)", t.url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// result is one request's outcome.
type result struct {
	status  int           // HTTP status; 0 when the request failed
	code    string        // GraphQL error code, "" on success
	message string        // the first error's message
	bytes   int64         // response body bytes
	took    time.Duration // to the last byte
}

func (r result) ok() bool { return r.status == http.StatusOK && r.code == "" }

// what names the outcome for error counts: "ok", "http 503", or the
// GraphQL code.
func (r result) what() string {
	switch {
	case r.status == 0:
		return "no answer"
	case r.status != http.StatusOK:
		return fmt.Sprintf("http %d", r.status)
	case r.code != "":
		return r.code
	}
	return "ok"
}

// raw sends body to path and returns the status and the whole answer.
func (t *target) raw(ctx context.Context, path, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	t.headers(req, contentType)
	resp, err := t.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (t *target) headers(req *http.Request, contentType string) {
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Moveo-Account-Id", t.account)
	if t.secret != "" {
		req.Header.Set("X-Admin-Secret", t.secret)
	}
}

// post sends body to path and reads the answer; decode says whether to
// look for GraphQL errors in it (large answers are only counted).
func (t *target) post(ctx context.Context, path, contentType string, body []byte, decode bool) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url+path, bytes.NewReader(body))
	if err != nil {
		return result{message: err.Error()}
	}
	t.headers(req, contentType)
	start := time.Now()
	resp, err := t.http.Do(req)
	if err != nil {
		return result{message: err.Error(), took: time.Since(start)}
	}
	defer resp.Body.Close()
	r := result{status: resp.StatusCode}
	if decode || resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		r.bytes = int64(len(b))
		r.took = time.Since(start)
		r.code, r.message = graphqlError(b)
		if resp.StatusCode != http.StatusOK && r.message == "" {
			r.message = strings.TrimSpace(string(b))
		}
		return r
	}
	// Errors come first in Hasura's answers: the first bytes tell.
	var head [64]byte
	n, _ := io.ReadFull(resp.Body, head[:])
	rest, _ := io.Copy(io.Discard, resp.Body)
	r.bytes = int64(n) + rest
	r.took = time.Since(start)
	if bytes.HasPrefix(head[:n], []byte(`{"errors"`)) {
		r.code = "error"
	}
	return r
}

// graphqlError returns the first error's code and message of a GraphQL
// answer, or of a JSON error body ({"error": ...}).
func graphqlError(b []byte) (code, message string) {
	var g struct {
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &g) != nil {
		return "", ""
	}
	if len(g.Errors) > 0 {
		return g.Errors[0].Extensions.Code, g.Errors[0].Message
	}
	return "", g.Error
}

// query sends a GraphQL query with variables.
func (t *target) query(ctx context.Context, q string, vars map[string]any, decode bool) result {
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	return t.post(ctx, "/v1/graphql", "application/json", body, decode)
}

// metric reads one sample of a metric without labels from /metrics; -1
// when it is not there.
func (t *target) metric(ctx context.Context, name string) float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url+"/metrics", nil)
	if err != nil {
		return -1
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}
