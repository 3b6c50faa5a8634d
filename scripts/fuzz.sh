#!/usr/bin/env bash
# Runs every fuzz target (func FuzzXxx in *_test.go) for FUZZTIME each.
# Seeds and any crashers are kept under each package's testdata/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-10s}"
found=0
while IFS= read -r line; do
	file=${line%%:*}
	name=$(sed -E 's/^.*func (Fuzz[A-Za-z0-9_]+).*/\1/' <<<"$line")
	pkg="./$(dirname "$file")"
	found=$((found + 1))
	echo "-- $name in $pkg ($FUZZTIME)"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"
done < <(grep -rHE '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' --include='*_test.go' . | sort)
echo "fuzz: $found targets run"
