package server

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/tally-server/tally/web"
)

// SpecQuery is the query of SPEC section 1, offered ready to run in the
// console and printed by tally demo.
const SpecQuery = `query OpenClosedSessionsInterval(
  $deskIds: _uuid, $brainIds: _uuid, $integrationIds: _uuid, $brainVersions: _int4,
  $channels: _text, $startDate: timestamp, $endDate: timestamp,
  $intervalInDays: interval, $agentIds: _text, $isTest: Boolean
) {
  rows: open_closed_sessions_interval_counts_v2(
    args: {
      start_time: $startDate, end_time: $endDate, interval_span: $intervalInDays,
      brain_parent_ids: $brainIds, desk_ids: $deskIds, integration_ids: $integrationIds,
      brain_versions: $brainVersions, channels: $channels, is_test: $isTest, agent_ids: $agentIds
    }
  ) { closed_sessions open_sessions date: per_interval }
}`

// ConsoleConfig is what the console page starts with.
type ConsoleConfig struct {
	Variables map[string]any
	Headers   map[string]string
}

func (s *Server) consoleRoutes(mux *http.ServeMux) {
	mux.Handle("GET /console", s.instrument("console", s.console))
	mux.Handle("GET /{$}", http.RedirectHandler("/console", http.StatusFound))
}

func (s *Server) console(w http.ResponseWriter, r *http.Request) {
	page, err := web.FS.ReadFile("console.html")
	if err != nil {
		http.Error(w, "console page missing from the binary", http.StatusInternalServerError)
		return
	}
	vars := s.cfg.Console.Variables
	if vars == nil {
		vars = map[string]any{"startDate": "2024-01-08", "endDate": "2024-01-17", "intervalInDays": "1 day"}
	}
	headers := s.cfg.Console.Headers
	if headers == nil {
		headers = map[string]string{"X-Moveo-Account-Id": "00000000-0000-0000-0000-000000000000"}
	}
	defaults, err := json.Marshal(map[string]any{"query": SpecQuery, "variables": vars, "headers": headers})
	if err != nil {
		http.Error(w, "could not encode console defaults", http.StatusInternalServerError)
		return
	}
	// json.Marshal escapes <, > and &, so the block cannot end the script early.
	block := append([]byte(`<script id="defaults" type="application/json">`), defaults...)
	block = append(block, "</script>"...)
	page = bytes.Replace(page, []byte("<!--DEFAULTS-->"), block, 1)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'")
	w.Write(page)
}
