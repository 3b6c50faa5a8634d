#!/usr/bin/env bash
# Runs every fuzz target (func FuzzXxx in *_test.go) for FUZZTIME each.
# Seeds and any crashers are kept under each package's testdata/fuzz/.
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" when -fuzztime runs out while a worker is mid-input on a busy
# machine (go.dev/issue/75804, fixed in Go 1.27). That failure writes no
# failing input; such a run is retried, up to 3 runs in all. Any other
# failure, or one that wrote a failing input, fails at once.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-10s}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# fuzz NAME PKG: runs one target, its output shown and kept in $log.
fuzz() {
	go test -run '^$' -fuzz "^$1\$" -fuzztime "$FUZZTIME" "$2" 2>&1 | tee "$log"
	return "${PIPESTATUS[0]}"
}

# deadline_race: whether the run in $log failed only by the coordinator's
# deadline race.
deadline_race() {
	grep -q 'context deadline exceeded' "$log" &&
		! grep -qE 'Failing input written|panic:|^\s+[a-z_]+_test\.go:[0-9]+:' "$log"
}

found=0
while IFS= read -r line; do
	file=${line%%:*}
	name=$(sed -E 's/^.*func (Fuzz[A-Za-z0-9_]+).*/\1/' <<<"$line")
	pkg="./$(dirname "$file")"
	found=$((found + 1))
	echo "-- $name in $pkg ($FUZZTIME)"
	tries=1
	until fuzz "$name" "$pkg"; do
		if ! deadline_race || [ "$tries" -ge 3 ]; then
			exit 1
		fi
		tries=$((tries + 1))
		echo "-- $name: the fuzz coordinator's deadline race (go.dev/issue/75804), no failing input; running it again ($tries of 3)"
	done
done < <(grep -rHE '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' --include='*_test.go' . | sort)
echo "fuzz: $found targets run"
