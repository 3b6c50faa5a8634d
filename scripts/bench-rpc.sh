#!/usr/bin/env bash
# Runs the RPC benchmarks of issue 5 and prints median, spread (min..max)
# and ratios from the same run. Servers and drivers are separate processes
# on loopback. Usage: scripts/bench-rpc.sh   (RUNS=5 DUR=5s by default)
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
DUR=${DUR:-5s}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$OUT"' EXIT

go build -o "$OUT/rpcbench" ./bench/rpc/cmd/rpcbench
go build -o "$OUT/mt-test-http-rpc" ./cmd/mt-test-http-rpc
command -v wrk >/dev/null || { echo "bench-rpc: wrk not found (apt-get install wrk)" >&2; exit 1; }

echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr), $(go version | cut -d' ' -f3)"
echo "# runs=$RUNS wrk: -t2 -c100 -d$DUR"

# start NAME CMD... : starts a server, waits for "ready ADDR", sets ADDR_<NAME>.
start() {
	local name=$1; shift
	"$@" >"$OUT/$name.out" 2>"$OUT/$name.err" &
	for _ in $(seq 100); do
		if grep -q '^ready ' "$OUT/$name.out" 2>/dev/null; then
			printf -v "ADDR_$name" '%s' "$(grep -m1 '^ready ' "$OUT/$name.out" | cut -d' ' -f2)"
			return
		fi
		sleep 0.05
	done
	echo "bench-rpc: $name did not start: $(cat "$OUT/$name.err")" >&2
	exit 1
}

# stats LABEL < numbers : prints median and spread; sets MED.
stats() {
	local label=$1
	sort -g >"$OUT/vals"
	MED=$(awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}' "$OUT/vals")
	printf '%-52s median %12.1f   spread %s..%s\n' "$label" "$MED" "$(head -1 "$OUT/vals")" "$(tail -1 "$OUT/vals")"
}
# pair LABEL_A "CMD_A" LABEL_B "CMD_B": runs A and B alternately RUNS times
# (so load from elsewhere hits both alike), prints both and sets RA, RB.
pair() {
	: >"$OUT/a"; : >"$OUT/b"
	for _ in $(seq "$RUNS"); do
		eval "$2" >>"$OUT/a"
		eval "$4" >>"$OUT/b"
	done
	stats <"$OUT/a" "$1"; RA=$MED
	stats <"$OUT/b" "$3"; RB=$MED
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
rate() { sed -n 's/.*rate=\([0-9.]*\).*/\1/p'; }
wrkrate() { wrk -t2 -c100 -d"$DUR" "$1" | awk '/Requests\/sec/ {print $2}'; }

echo
echo "## 1. one-way events over one link (goal >= 1,000,000 events/s)"
start node "$OUT/rpcbench" node
for _ in $(seq "$RUNS"); do "$OUT/rpcbench" oneway -peer "$ADDR_node" -n 2000000 | rate; done >"$OUT/v"; stats <"$OUT/v" "oneway events/s (rpcbench oneway -n 2000000)"

echo
echo "## 2. round trips, 100 outstanding, vs gRPC unary echo with 100 callers (goal >= 3x)"
start grpc "$OUT/rpcbench" grpc-echo
pair "mtnode link round trips/s (rpcbench rtt -c 100)" '"$OUT/rpcbench" rtt -peer "$ADDR_node" -n 500000 -c 100 | rate' \
	"gRPC unary calls/s (rpcbench grpc-rtt -c 100)" '"$OUT/rpcbench" grpc-rtt -peer "$ADDR_grpc" -n 200000 -c 100 | rate'
echo "ratio link/gRPC: $(ratio "$RA" "$RB")"

echo
echo "## 3. mt-test-http-rpc (two nodes, one process, loopback TCP) vs in-memory HTTP hello (goal >= 0.5x)"
if go build -o "$OUT/mt-test-http" ./cmd/mt-test-http 2>/dev/null; then
	echo "# baseline: mt-test-http"
	"$OUT/mt-test-http" --set HelloWeb.bindAddr=127.0.0.1:18190 >"$OUT/hello.out" 2>&1 &
	sleep 1
	HELLO=http://127.0.0.1:18190/
else
	echo "# baseline: mt-test-http is not built yet; a plain net/http hello (rpcbench http-hello) instead"
	start hello "$OUT/rpcbench" http-hello
	HELLO=http://$ADDR_hello/
fi
"$OUT/mt-test-http-rpc" --log warn --set HttpRpc.bindAddr=127.0.0.1:18191 --set EchoNode.bindAddr=127.0.0.1:0 >"$OUT/mthr.out" 2>&1 &
sleep 1
pair "mt-test-http-rpc req/s" 'wrkrate http://127.0.0.1:18191/' "in-memory hello req/s" 'wrkrate "$HELLO"'
echo "ratio mt-test-http-rpc/hello: $(ratio "$RA" "$RB")"

echo
echo "## 4. HttpRpc through two node processes vs net/http + one gRPC unary call per request (goal >= 2x)"
echo "# nodes: rpcbench node (Echo) and rpcbench httprpc (WebServer + HttpRpc), core.Node + RPC as mtnode links them"
start web "$OUT/rpcbench" httprpc -addr 127.0.0.1:18192 -backend "$ADDR_node"
start httpgrpc "$OUT/rpcbench" http-grpc -addr 127.0.0.1:18193 -backend "$ADDR_grpc"
pair "HttpRpc (2 processes) req/s" 'wrkrate http://127.0.0.1:18192/' "net/http + gRPC unary req/s" 'wrkrate http://127.0.0.1:18193/'
echo "ratio HttpRpc/net-http-grpc: $(ratio "$RA" "$RB")"

echo
echo "## 5. added latency per relay hop, p50 (goal <= 50 us)"
go test -run '^$' -bench 'RelayHop' -count "$RUNS" ./bench/rpc/ | tee "$OUT/hop.txt" | grep -E '^Benchmark' || true
for h in 0 1 2; do
	grep "hops=$h" "$OUT/hop.txt" | awk '{for (i=1;i<=NF;i++) if ($i=="p50-µs") print $(i-1)}' >"$OUT/v"
	stats <"$OUT/v" "p50 us, hops=$h"
	printf -v "P$h" '%s' "$MED"
done
awk -v a="$P0" -v b="$P1" -v c="$P2" 'BEGIN {printf "added p50 per relay hop: %.1f us (hops=1 - hops=0), %.1f us ((hops=2 - hops=0) / 2)\n", b-a, (c-a)/2}'
