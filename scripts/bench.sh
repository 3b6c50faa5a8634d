#!/usr/bin/env bash
# Runs the Go benchmarks of every package (each family prints its baseline
# beside it) and records the machine first.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCHCOUNT="${BENCHCOUNT:-5}"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(go version | cut -d' ' -f3), $(uname -sr)"
go test -run '^$' -bench "${BENCH:-.}" -benchmem -count "$BENCHCOUNT" ${PKGS:-./...}
