#!/usr/bin/env bash
# The test command of the README: install what the tests need on a fresh
# machine (PostgreSQL, Chromium, the Node GraphQL clients), then vet and test
# everything. Tests that
# need PostgreSQL start their own throwaway cluster; TALLY_REQUIRE_POSTGRES=1
# and TALLY_REQUIRE_BROWSER=1 make them fail, not skip, when it cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/node-env.sh
tally_ensure_go

# PostgreSQL for the differential tests, Chromium for the page tests.
missing=()
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ ! -x /usr/bin/chromium ]; then
  missing+=(chromium)
fi
if [ ${#missing[@]} -gt 0 ]; then
  tally_apt_install "${missing[@]}"
fi
# Node.js and npm: Debian's, or Node.js 22 from the npm registry when
# Debian's is too old to build the pages (node-env.sh).
tally_ensure_node
# The Node clients of the client tests, pinned by their lock files:
# graphql-js (the reference implementation) in clients/graphql-js;
# graphql-request, Apollo Client and urql in clients/node; graphql-ws,
# Apollo Client and subscriptions-transport-ws (live queries) in
# clients/live.
for dir in clients/graphql-js clients/node clients/live; do
  echo "--- npm ci ($dir)"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
done

# The build convention: go generate ./... builds the front end (npm ci and
# Vite into web/dist) and embeds the toolchain's zone database; tests check
# both are present and current.
echo "--- go generate"
go generate ./...

export TALLY_REQUIRE_POSTGRES=1 TALLY_REQUIRE_BROWSER=1 TALLY_REQUIRE_NODE=1 TALLY_REQUIRE_PAGES=1
# The full-disk and read-only tests mount a small tmpfs. Where this
# machine can mount one they must run; where it cannot (not root, or a
# container without CAP_SYS_ADMIN) they skip, and we say so here.
probe=$(mktemp -d)
if mount -t tmpfs -o size=1m tmpfs "$probe" 2>/dev/null; then
  umount "$probe"
  export TALLY_REQUIRE_MOUNT=1
else
  echo "note: cannot mount a tmpfs here; the full-disk and read-only data directory tests will skip"
fi
rmdir "$probe"
echo "--- go vet"
go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted"
  exit 1
fi
echo "--- go test"
go test -count=1 ./...
