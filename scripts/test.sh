#!/usr/bin/env bash
# The test command of the README: install what the tests need on a fresh
# machine (PostgreSQL), then vet and test everything. Tests that need
# PostgreSQL start their own throwaway cluster; TALLY_REQUIRE_POSTGRES=1
# makes them fail, not skip, when it cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pg=1
if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1; then
  need_pg=0
fi
if [ "$need_pg" = 1 ]; then
  echo "--- installing PostgreSQL"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi

export TALLY_REQUIRE_POSTGRES=1
echo "--- go vet"
go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted"
  exit 1
fi
echo "--- go test"
go test ./...
