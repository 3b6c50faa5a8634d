#!/usr/bin/env bash
# Regenerates the Go code of every proto/<pkg>/*.proto, beside its source.
# Generators are pinned; protoc comes from Debian's protobuf-compiler.
set -euo pipefail
cd "$(dirname "$0")/.."

PROTOC_GEN_GO=google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC=google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1

if ! command -v protoc >/dev/null; then
	echo "genproto: protoc not found; installing Debian's protobuf-compiler" >&2
	apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null
fi
GOBIN="$(go env GOPATH)/bin"
export PATH="$GOBIN:$PATH"
go install "$PROTOC_GEN_GO"
go install "$PROTOC_GEN_GO_GRPC"

for dir in proto/*/; do
	files=("$dir"*.proto)
	[ -e "${files[0]}" ] || continue
	protoc -I proto \
		--go_out=proto --go_opt=paths=source_relative \
		--go-grpc_out=proto --go-grpc_opt=paths=source_relative \
		"${files[@]}"
done
