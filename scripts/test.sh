#!/usr/bin/env bash
# The test command of the README: install what the tests need on a fresh
# machine (PostgreSQL, Chromium, the Node GraphQL clients), then vet and test
# everything. Tests that
# need PostgreSQL start their own throwaway cluster; TALLY_REQUIRE_POSTGRES=1
# and TALLY_REQUIRE_BROWSER=1 make them fail, not skip, when it cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL for the differential tests, Chromium for the page tests.
missing=()
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ ! -x /usr/bin/chromium ]; then
  missing+=(chromium)
fi
if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "--- installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The Node clients of the client tests, pinned by their lock files:
# graphql-js (the reference implementation) in clients/graphql-js;
# graphql-request, Apollo Client and urql in clients/node; graphql-ws,
# Apollo Client and subscriptions-transport-ws (live queries) in
# clients/live.
for dir in clients/graphql-js clients/node clients/live; do
  echo "--- npm ci ($dir)"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
done

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi

# The build convention: go generate ./... builds the front end (npm ci and
# Vite into web/dist) and embeds the toolchain's zone database; tests check
# both are present and current.
echo "--- go generate"
go generate ./...

export TALLY_REQUIRE_POSTGRES=1 TALLY_REQUIRE_BROWSER=1 TALLY_REQUIRE_NODE=1 TALLY_REQUIRE_PAGES=1
echo "--- go vet"
go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted"
  exit 1
fi
echo "--- go test"
go test -count=1 ./...
