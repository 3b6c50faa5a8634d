#!/usr/bin/env bash
# Checks that the tree is clean: gofmt, go vet, go mod tidy and the
# generated protobuf code leave nothing to change.
set -euo pipefail
cd "$(dirname "$0")/.."
test -z "$(gofmt -l $(git ls-files '*.go'))" || { gofmt -l $(git ls-files '*.go'); exit 1; }
go vet ./...
go mod tidy && git diff --exit-code go.mod go.sum
./scripts/genproto.sh && git diff --exit-code -- proto/
