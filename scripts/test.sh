#!/usr/bin/env bash
# The whole test suite: vet, gofmt, every package with the race detector
# (integration tests build and run the real binaries), then a short pass of
# every fuzz target over its committed seeds and a few seconds of new input.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then
	echo "gofmt needed on:"; echo "$bad"; exit 1
fi
echo "== go vet"
go vet ./...
echo "== go test -race"
go test -race -count=1 -timeout 12m ./...
echo "== fuzz (short)"
FUZZTIME="${FUZZTIME:-10s}" ./scripts/fuzz.sh
