#!/usr/bin/env bash
# Runs the RPC benchmarks of issue 5 and prints median, spread (min..max)
# and ratios from the same run. Servers and drivers are separate processes
# on loopback (except row 5, whose nodes share one process); readiness is
# polled, never slept on. A row that cannot run is reported as failed, with
# its reason, and the script exits 1. Usage: scripts/bench-rpc.sh   (RUNS=5 DUR=5s by default)
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

FAILED=() # rows that could not run, with the reason

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
# waithttp URL: polls URL until it answers 200 OK (10s at most).
waithttp() { "$OUT/rpcbench" wait-http -addr "$1" -timeout 10s; }

# stats LABEL < numbers : prints median and spread; sets MED.
stats() {
	local label=$1
	sort -g >"$OUT/vals"
	MED=$(awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}' "$OUT/vals")
	printf '%-60s median %12.1f   spread %s..%s\n' "$label" "$MED" "$(head -1 "$OUT/vals")" "$(tail -1 "$OUT/vals")"
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
echo "## 1. one-way events over one node link, two processes (goal >= 1,000,000 events/s)"
start node "$OUT/rpcbench" node
start grpc "$OUT/rpcbench" grpc-echo
pair "node->node one-way events/s (rpcbench node-oneway)" '"$OUT/rpcbench" node-oneway -peer "$ADDR_node" -n 2000000 | rate' \
	"gRPC client stream msgs/s, same payloads (grpc-stream)" '"$OUT/rpcbench" grpc-stream -peer "$ADDR_grpc" -n 2000000 | rate'
echo "ratio node link/gRPC stream: $(ratio "$RA" "$RB")"
for _ in $(seq "$RUNS"); do "$OUT/rpcbench" oneway -peer "$ADDR_node" -n 2000000 | rate; done >"$OUT/v"
stats <"$OUT/v" "for reference: client API->node one-way events/s (oneway)"

echo
echo "## 2. round trips, 100 outstanding, vs gRPC unary echo with 100 callers (goal >= 3x)"
: >"$OUT/rtt.lines"
pair "mtnode link round trips/s (rpcbench rtt -c 100)" '"$OUT/rpcbench" rtt -peer "$ADDR_node" -n 500000 -c 100 | tee -a "$OUT/rtt.lines" | rate' \
	"gRPC unary calls/s (rpcbench grpc-rtt -c 100)" '"$OUT/rpcbench" grpc-rtt -peer "$ADDR_grpc" -n 200000 -c 100 | rate'
echo "ratio link/gRPC: $(ratio "$RA" "$RB")   (rates count answered requests only; failed per run: $(sed -n 's/.*failed=\([0-9]*\).*/\1/p' "$OUT/rtt.lines" | tr "\n" " "))"

echo
echo "## 3. mt-test-http-rpc (two nodes, one process, loopback TCP) vs mt-test-http in-memory hello (goal >= 0.5x)"
if ! go build -o "$OUT/mt-test-http" ./cmd/mt-test-http 2>"$OUT/mth.build"; then
	FAILED+=("3. mt-test-http-rpc: the baseline mt-test-http did not build: $(head -3 "$OUT/mth.build" | tr "\n" " ")")
	echo "ROW FAILED: mt-test-http did not build:"; cat "$OUT/mth.build"
else
	"$OUT/mt-test-http" --set HelloWeb.bindAddr=127.0.0.1:18190 >"$OUT/hello.out" 2>&1 &
	"$OUT/mt-test-http-rpc" --log warn --set HttpRpc.bindAddr=127.0.0.1:18191 --set EchoNode.bindAddr=127.0.0.1:0 >"$OUT/mthr.out" 2>&1 &
	if waithttp http://127.0.0.1:18190/ && waithttp http://127.0.0.1:18191/; then
		pair "mt-test-http-rpc req/s" 'wrkrate http://127.0.0.1:18191/' "mt-test-http (in-memory hello) req/s" 'wrkrate http://127.0.0.1:18190/'
		echo "ratio mt-test-http-rpc/mt-test-http: $(ratio "$RA" "$RB")"
	else
		FAILED+=("3. mt-test-http-rpc: not ready: $(tail -n 3 "$OUT/hello.out" "$OUT/mthr.out" | tr "\n" " ")")
		echo "ROW FAILED: not ready"; tail -n 5 "$OUT/hello.out" "$OUT/mthr.out"
	fi
fi

echo
echo "## 4. HttpRpc through two mtnode processes (mt-demo plugins) vs net/http + one gRPC unary call per request (goal >= 2x)"
# Two install prefixes: bin/mtnode and plugins/mt-demo in each. Node B runs
# RPC (Echo starts in its mt-demo on the first event); node A runs RPC and
# HttpRpc, whose backend is B's RPC address.
for p in a b; do mkdir -p "$OUT/pfx-$p/bin" "$OUT/pfx-$p/plugins"; done
if go build -o "$OUT/pfx-a/bin/mtnode" ./cmd/mtnode 2>"$OUT/mtnode.build" &&
	go build -o "$OUT/pfx-a/plugins/mt-demo" ./cmd/mt-demo 2>>"$OUT/mtnode.build"; then
	cp "$OUT/pfx-a/bin/mtnode" "$OUT/pfx-b/bin/"; cp "$OUT/pfx-a/plugins/mt-demo" "$OUT/pfx-b/plugins/"
	"$OUT/pfx-b/bin/mtnode" run --log-level warn --set Start=RPC --set RPC.bindAddr=127.0.0.1:18196 >"$OUT/mtb.out" 2>&1 &
	"$OUT/pfx-a/bin/mtnode" run --log-level warn --set Start=RPC,HttpRpc --set RPC.bindAddr=127.0.0.1:18197 \
		--set HttpRpc.bindAddr=127.0.0.1:18194 --set HttpRpc.backend=127.0.0.1:18196 >"$OUT/mta.out" 2>&1 &
else
	echo "# mtnode or mt-demo did not build: $(head -3 "$OUT/mtnode.build" | tr "\n" " ")"
fi
start httpgrpc "$OUT/rpcbench" http-grpc -addr 127.0.0.1:18193 -backend "$ADDR_grpc"
if waithttp http://127.0.0.1:18194/; then
	pair "HttpRpc, 2 mtnode processes + mt-demo plugins req/s" 'wrkrate http://127.0.0.1:18194/' "net/http + gRPC unary req/s" 'wrkrate http://127.0.0.1:18193/'
	echo "ratio HttpRpc(mtnode)/net-http-grpc: $(ratio "$RA" "$RB")"
	BASE=$RB
else
	FAILED+=("4. HttpRpc via mtnode: not ready: $(head -c 300 "$OUT/mtnode.build" "$OUT/mta.out" "$OUT/mtb.out" 2>/dev/null | tr "\n" " ")")
	echo "ROW FAILED: the mtnode pair is not ready"; tail -n 5 "$OUT/mta.out" "$OUT/mtb.out"
	BASE=""
fi
echo "# linked-in variant: rpcbench httprpc (WebServer + HttpRpc + RPC linked into one binary, as mtnode links RPC) -> rpcbench node (Echo)"
start web "$OUT/rpcbench" httprpc -addr 127.0.0.1:18192 -backend "$ADDR_node"
if [ -n "$BASE" ]; then
	for _ in $(seq "$RUNS"); do wrkrate http://127.0.0.1:18192/; done >"$OUT/v"
	stats <"$OUT/v" "HttpRpc linked-in, 2 processes req/s"
	echo "ratio HttpRpc(linked-in)/net-http-grpc: $(ratio "$MED" "$BASE")"
else
	pair "HttpRpc linked-in, 2 processes req/s" 'wrkrate http://127.0.0.1:18192/' "net/http + gRPC unary req/s" 'wrkrate http://127.0.0.1:18193/'
	echo "ratio HttpRpc(linked-in)/net-http-grpc: $(ratio "$RA" "$RB")"
fi

echo
echo "## 5. added latency per relay hop, p50 (goal <= 50 us); nodes in one process over loopback TCP (go test -bench RelayHop)"
go test -run '^$' -bench 'RelayHop' -count "$RUNS" ./bench/rpc/ | tee "$OUT/hop.txt" | grep -E '^Benchmark' || true
for h in 0 1 2; do
	grep "hops=$h" "$OUT/hop.txt" | awk '{for (i=1;i<=NF;i++) if ($i=="p50-µs") print $(i-1)}' >"$OUT/v"
	stats <"$OUT/v" "p50 us, hops=$h (one process, loopback TCP)"
	printf -v "P$h" '%s' "$MED"
done
awk -v a="$P0" -v b="$P1" -v c="$P2" 'BEGIN {printf "added p50 per relay hop (nodes in one process over loopback TCP): %.1f us (hops=1 - hops=0), %.1f us ((hops=2 - hops=0) / 2)\n", b-a, (c-a)/2}'
# The same at p10 and p25, for reading the p50 on a shared machine, where
# quiet trips sit near p10 and trips behind other load far above it.
for q in p10 p25; do
	for h in 0 1 2; do
		grep "hops=$h" "$OUT/hop.txt" | awk -v q="$q-µs" '{for (i=1;i<=NF;i++) if ($i==q) print $(i-1)}' >"$OUT/v"
		stats <"$OUT/v" "$q us, hops=$h" >/dev/null
		printf -v "Q$h" '%s' "$MED"
	done
	awk -v q="$q" -v a="$Q0" -v b="$Q1" -v c="$Q2" 'BEGIN {printf "for reference, added %s per relay hop: %.1f us (hops=1 - hops=0), %.1f us ((hops=2 - hops=0) / 2)\n", q, b-a, (c-a)/2}'
done

echo "# for reference: each node its own process (rpcbench node, relay, relay; rpcbench lat drives from a fourth)"
start hop0 "$OUT/rpcbench" node -addr 127.0.0.1:0
start hop1 "$OUT/rpcbench" relay -addr 127.0.0.1:0 -backend "$ADDR_hop0/Echo"
start hop2 "$OUT/rpcbench" relay -addr 127.0.0.1:0 -backend "$ADDR_hop1/Relay"
: >"$OUT/lat0"; : >"$OUT/lat1"; : >"$OUT/lat2"
for _ in $(seq "$RUNS"); do # alternating, so load from elsewhere hits all alike
	"$OUT/rpcbench" lat -peer "$ADDR_hop0/Echo" -n 3000 | sed -n 's/.* p50=\([0-9.]*\).*/\1/p' >>"$OUT/lat0"
	"$OUT/rpcbench" lat -peer "$ADDR_hop1/Relay" -n 3000 | sed -n 's/.* p50=\([0-9.]*\).*/\1/p' >>"$OUT/lat1"
	"$OUT/rpcbench" lat -peer "$ADDR_hop2/Relay" -n 3000 | sed -n 's/.* p50=\([0-9.]*\).*/\1/p' >>"$OUT/lat2"
done
for h in 0 1 2; do
	stats <"$OUT/lat$h" "p50 us, hops=$h (a process per node)"
	printf -v "P$h" '%s' "$MED"
done
awk -v a="$P0" -v b="$P1" -v c="$P2" 'BEGIN {printf "added p50 per relay hop (a process per node): %.1f us (hops=1 - hops=0), %.1f us ((hops=2 - hops=0) / 2)\n", b-a, (c-a)/2}'

if [ ${#FAILED[@]} -gt 0 ]; then
	echo
	echo "## rows that failed"
	printf '%s\n' "${FAILED[@]}"
	exit 1
fi
