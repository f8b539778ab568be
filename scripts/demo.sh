#!/usr/bin/env bash
# The README's first command: on a fresh machine with Go, installs what the
# build needs (Node.js and npm from Debian's packages, see node-env.sh),
# builds the browser pages and the zone database (go generate ./...), then
# serves the demo: 90 days of sessions on http://127.0.0.1:8080, with
# /dashboard and /console. Arguments go to `tally demo` (e.g. --listen).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
tally_ensure_go
tally_ensure_node
echo "--- go generate ./... (npm ci, the pages, the zone database)"
go generate ./...
echo "--- go run ./cmd/tally demo $*"
exec go run ./cmd/tally demo "$@"
