#!/usr/bin/env bash
# The fuzzing part of the reliability campaign (docs/testing.md): run every
# fuzz target of the given packages (default: all of them) one after the
# other, at the lowest CPU priority, for FUZZTIME each (default 10m), then
# copy the inputs the fuzzer found interesting (new coverage) into the
# target's testdata/fuzz directory, where go test replays them from then on.
#
#   scripts/fuzz.sh                          # every target, 10 minutes each
#   FUZZTIME=30s scripts/fuzz.sh ./internal/ingest
#   FUZZ_WORKERS=2 FUZZ_KEEP=0 scripts/fuzz.sh ./internal/pgtext
#
# FUZZ_WORKERS is go test's -parallel (default 1, to share the machine);
# FUZZ_KEEP=0 leaves testdata alone; FUZZ_KEEP_MAX caps the entries copied
# per target (default 40, smallest first). A failure stops the run with the
# failing input written to testdata/fuzz by go test itself. The log of each
# target is in $FUZZ_LOG_DIR (default /tmp/tally-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10m}
workers=${FUZZ_WORKERS:-1}
keep=${FUZZ_KEEP:-1}
keepmax=${FUZZ_KEEP_MAX:-40}
logdir=${FUZZ_LOG_DIR:-/tmp/tally-fuzz}
mkdir -p "$logdir"
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
  pkgs=(./...)
fi
cache=$(go env GOCACHE)/fuzz
module=$(go list -m)

for pkg in $(go list "${pkgs[@]}"); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  # go test -list fails (and so does this script) when the package does
  # not build or its tests cannot start, e.g. before go generate ./...
  list=$(go test -list '^Fuzz' "$pkg")
  for target in $(grep '^Fuzz' <<<"$list" || true); do
    log="$logdir/${pkg##*/}-$target.log"
    echo "--- $pkg $target for $fuzztime (log $log)"
    start=$(date +%s)
    if ! nice -n 19 go test -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" -parallel "$workers" "$pkg" >"$log" 2>&1; then
      echo "FAILED: $pkg $target; see $log and $dir/testdata/fuzz/$target"
      tail -n 30 "$log"
      exit 1
    fi
    # The last progress line says how many inputs ran and how many were new.
    grep -E 'fuzz: elapsed' "$log" | tail -n 1 || true
    echo "    $(( $(date +%s) - start ))s, ok"
    if [ "$keep" = 1 ] && [ -d "$cache/$pkg/$target" ]; then
      mkdir -p "$dir/testdata/fuzz/$target"
      added=0
      # Smallest first: small inputs are the easiest to read when they fail.
      for f in $(ls -S -r "$cache/$pkg/$target"); do
        [ "$added" -ge "$keepmax" ] && break
        if [ ! -e "$dir/testdata/fuzz/$target/$f" ]; then
          cp "$cache/$pkg/$target/$f" "$dir/testdata/fuzz/$target/$f"
          added=$((added + 1))
        fi
      done
      echo "    $added new corpus entries in ${dir#$PWD/}/testdata/fuzz/$target"
    fi
  done
done
echo "--- fuzzing done (module $module)"
