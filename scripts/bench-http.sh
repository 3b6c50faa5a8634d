#!/usr/bin/env bash
# bench-http: mtnode's HTTP servers against nginx on this machine.
#
# Runs the same wrk command against each server in turn, alternating, RUNS
# times each: first with the server pinned to CPU 0 and wrk to CPU 1
# (taskset), then unpinned. Prints medians, spreads and ratios to nginx,
# an `ab -k -c 100` row, what 10,000 idle keep-alive connections cost, and
# a reference row: bench/http/rawhello, the ceiling of a Go net server here.
# Only loopback addresses; every run is bounded in time.
#
# Knobs (environment): DURATION (wrk seconds, default 10), RUNS (3),
# CONNS (wrk connections, 100), IDLE (idle connections, 10000),
# PORT_BASE (18180).
#
# The machine (CPU model, cores, kernel, Go version, tool versions) is
# printed first. A server or tool that fails makes its row say
# "failed: REASON" and the run goes on; ratios to a missing nginx figure
# read n/a.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
CONNS=${CONNS:-100}
IDLE=${IDLE:-10000}
PORT_BASE=${PORT_BASE:-18180}
NGINX_PORT=$PORT_BASE
MEM_PORT=$((PORT_BASE + 1))
DISK_PORT=$((PORT_BASE + 2))
PLUGIN_PORT=$((PORT_BASE + 3))
RAW_PORT=$((PORT_BASE + 4))
# The reference row: bench/http/rawhello, the least a Go net server does per
# request (no parsing, no timeouts), to read mt-test-http's ratio beside the
# ceiling Go and the kernel leave on this machine. Not a goal row.
RAW="raw Go net.Conn (ceiling)"

log() { printf '%s\n' "$*" >&2; }

# --- tools -----------------------------------------------------------------
need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
command -v ab >/dev/null || need+=(apache2-utils)
command -v taskset >/dev/null || need+=(util-linux)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	log "bench-http: installing ${need[*]}"
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		SUDO="sudo"
	fi
	$SUDO apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
NCPU=$(nproc)
if [ "$NCPU" -lt 2 ]; then
	log "bench-http: pinning needs 2 CPUs, this machine has $NCPU; pinned rows run on CPU 0 for both"
	WRK_CPU=0
else
	WRK_CPU=1
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# The machine first, so that every output says where it was measured.
echo "== bench-http: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $NCPU CPUs; kernel $(uname -r); $(go version | cut -d' ' -f3-4)"
echo "tools: $("$NGINX" -v 2>&1 | cut -d: -f2 | tr -d ' '), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), ab $(ab -V | head -1 | awk '{print $5}')"

TMP=$(mktemp -d /tmp/bench-http.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null || true
	done
	[ -f "$TMP/nginx.pid" ] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

log "bench-http: building into $TMP"
go build -trimpath -o "$TMP/mt-test-http" ./cmd/mt-test-http
go build -trimpath -o "$TMP/idleconns" ./bench/http/idleconns
go build -trimpath -o "$TMP/rawhello" ./bench/http/rawhello

mkdir -p "$TMP/www"
printf 'Hello, World!' >"$TMP/www/index.html" # 13 bytes, as HelloWeb's body
chmod -R a+rX "$TMP/www"

cat >"$TMP/nginx.conf" <<CONF
worker_processes auto;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
daemon off;
events { worker_connections 30000; }
worker_rlimit_nofile 65536;
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	tcp_nodelay on;
	keepalive_timeout 120s;
	keepalive_requests 100000000;
	open_file_cache max=1000 inactive=60s;
	open_file_cache_valid 60s;
	client_body_temp_path $TMP/nginx-body;
	proxy_temp_path $TMP/nginx-proxy;
	fastcgi_temp_path $TMP/nginx-fastcgi;
	uwsgi_temp_path $TMP/nginx-uwsgi;
	scgi_temp_path $TMP/nginx-scgi;
	default_type text/html;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $TMP/www;
		index index.html;
	}
}
CONF

# wait_http URL: poll until the server answers (bounded).
wait_http() {
	for _ in $(seq 100); do
		if curl -s -o /dev/null --max-time 1 "$1"; then return 0; fi
		sleep 0.1
	done
	log "bench-http: $1 did not come up"
	return 1
}

# start_servers PREFIX: starts nginx and mt-test-http (in memory and from
# disk) under PREFIX (e.g. "taskset -c 0").
start_servers() {
	local prefix=$1
	$prefix "$NGINX" -c "$TMP/nginx.conf" -p "$TMP" 2>>"$TMP/nginx-error.log" &
	PIDS+=($!)
	$prefix "$TMP/mt-test-http" --set HelloWeb.bindAddr=127.0.0.1:$MEM_PORT --set Node.logLevel=warn \
		>"$TMP/mem.log" 2>&1 &
	MEM_PID=$!
	PIDS+=($MEM_PID)
	$prefix "$TMP/mt-test-http" --set HelloWeb.bindAddr=127.0.0.1:$DISK_PORT --set HelloWeb.docRoot="$TMP/www" \
		--set Node.logLevel=warn >"$TMP/disk.log" 2>&1 &
	PIDS+=($!)
	$prefix "$TMP/rawhello" -addr 127.0.0.1:$RAW_PORT >"$TMP/raw.log" 2>&1 &
	PIDS+=($!)
	UP=()
	check_server "nginx" "http://127.0.0.1:$NGINX_PORT/" "$TMP/nginx-error.log"
	check_server "mt-test-http (memory)" "http://127.0.0.1:$MEM_PORT/" "$TMP/mem.log"
	check_server "mt-test-http (disk)" "http://127.0.0.1:$DISK_PORT/" "$TMP/disk.log"
	check_server "$RAW" "http://127.0.0.1:$RAW_PORT/" "$TMP/raw.log"
}

# check_server NAME URL LOG: adds "NAME|URL" to UP when the server answers
# Hello, World!; otherwise records why the row failed.
check_server() {
	local body
	if ! wait_http "$2"; then
		fail_row "$PHASE|$1" "did not come up: $(tail -2 "$3" 2>/dev/null | tr '\n' ' ')"
		return 0
	fi
	body=$(curl -s --max-time 2 "$2" || true)
	if [ "$body" != "Hello, World!" ]; then
		fail_row "$PHASE|$1" "answered '$body', want 'Hello, World!'"
		return 0
	fi
	UP+=("$1|$2")
}

# fail_row PHASE|NAME REASON: the row prints "failed: REASON" (first reason
# wins).
declare -A FAILED
fail_row() {
	log "bench-http: $1: $2"
	[ -n "${FAILED["$1"]:-}" ] || FAILED["$1"]=$2
}

stop_servers() {
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	PIDS=()
}

# plugin row: HelloWeb in the mt-demo plugin, reached through mtnode.
PLUGIN_REASON=""
setup_plugin() {
	if [ ! -d cmd/mt-demo ]; then
		PLUGIN_REASON="no cmd/mt-demo plugin in this tree yet"
		return 1
	fi
	mkdir -p "$TMP/prefix/bin" "$TMP/prefix/plugins" "$TMP/prefix/conf" "$TMP/prefix/log"
	if ! go build -trimpath -o "$TMP/prefix/bin/mtnode" ./cmd/mtnode 2>"$TMP/plugin-build.log" ||
		! go build -trimpath -o "$TMP/prefix/plugins/mt-demo" ./cmd/mt-demo 2>>"$TMP/plugin-build.log"; then
		PLUGIN_REASON="mtnode or mt-demo does not build: $(head -3 "$TMP/plugin-build.log" | tr '\n' ' ')"
		return 1
	fi
	return 0
}

start_plugin() {
	local prefix=$1
	$prefix "$TMP/prefix/bin/mtnode" run --conf "$TMP/prefix/conf/mtnode.conf" \
		--set Start=HelloWeb --set HelloWeb.bindAddr=127.0.0.1:$PLUGIN_PORT \
		--set Node.pluginsDir="$TMP/prefix/plugins" --set Node.logLevel=warn >"$TMP/plugin.log" 2>&1 &
	PIDS+=($!)
	if ! wait_http "http://127.0.0.1:$PLUGIN_PORT/" 2>/dev/null; then
		PLUGIN_REASON="mtnode did not serve HelloWeb from the mt-demo plugin (is WebServer linked into mtnode?): $(tail -2 "$TMP/plugin.log" | tr '\n' ' ')"
		return 1
	fi
}

# wrk_rate PREFIX URL THREADS: prints requests/s; prints nothing, writes
# the reason to $TMP/wrk.err and returns 1 when wrk fails or reports no
# rate (it runs in a command substitution: a variable would not survive).
wrk_rate() {
	local out rate
	if ! out=$($1 wrk -t"$3" -c"$CONNS" -d"${DURATION}s" --timeout 5s "$2" 2>&1); then
		echo "$out" >>"$TMP/wrk.log"
		echo "wrk exited non-zero: $(echo "$out" | tail -1)" >"$TMP/wrk.err"
		return 1
	fi
	echo "$out" >>"$TMP/wrk.log"
	rate=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
	if [ -z "$rate" ]; then
		echo "wrk reported no rate: $(echo "$out" | tail -1)" >"$TMP/wrk.err"
		return 1
	fi
	echo "$rate"
}

# ratio A B: A/B with 2 decimals, or n/a when either is missing or B is 0.
ratio() {
	if [ -z "${1:-}" ] || [ -z "${2:-}" ] || ! awk -v b="$2" 'BEGIN { exit !(b + 0 > 0) }'; then
		echo "n/a"
		return
	fi
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

# stats: reads numbers, prints "median spread%" (spread = (max-min)/median).
stats() {
	sort -g | awk '{v[NR]=$1} END {
		if (NR == 0) { print "0 0"; exit }
		m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
		printf "%.0f %.1f\n", m, (m > 0 ? 100 * (v[NR] - v[1]) / m : 0) }'
}

declare -A RESULTS
run_phase() { # NAME SERVER_PREFIX WRK_PREFIX THREADS
	local phase=$1 sp=$2 wp=$3 threads=$4
	PHASE=$phase
	start_servers "$sp"
	local rows=("${UP[@]}")
	if [ -z "$PLUGIN_REASON" ] && start_plugin "$sp"; then
		rows+=("mtnode + mt-demo plugin|http://127.0.0.1:$PLUGIN_PORT/")
	fi
	for row in "${rows[@]}"; do
		$wp wrk -t"$threads" -c"$CONNS" -d2s "${row#*|}" >/dev/null 2>&1 || true # warm up
	done
	for run in $(seq "$RUNS"); do
		for row in "${rows[@]}"; do
			local name=${row%%|*} url=${row#*|}
			local r
			if r=$(wrk_rate "$wp" "$url" "$threads"); then
				log "  $phase run $run: $name: $r req/s"
				RESULTS["$phase|$name"]+="$r "
			else
				fail_row "$phase|$name" "run $run: $(cat "$TMP/wrk.err" 2>/dev/null || echo "wrk failed")"
			fi
		done
	done
	if [ "$phase" = pinned ]; then
		ab_rows "$wp"
		idle_conns "$wp" "$threads"
	fi
	stop_servers
}

AB_OUT=""
ab_rows() {
	local wp=$1 n m
	for run in $(seq "$RUNS"); do
		for row in "${UP[@]}"; do
			local name=${row%%|*} url=${row#*|}
			[ "$name" = "mt-test-http (disk)" ] || [ "$name" = "$RAW" ] && continue
			# ab exits non-zero on a socket timeout (-s): one failed run,
			# not the end of the benchmark.
			if ! m=$($wp ab -q -k -c 100 -t "$DURATION" -n 100000000 -s 5 "$url" 2>&1); then
				fail_row "ab|$name" "run $run: ab exited non-zero: $(echo "$m" | tail -1)"
				continue
			fi
			n=$(echo "$m" | awk '/^Requests per second:/ {print $4}')
			if [ -z "$n" ]; then
				fail_row "ab|$name" "run $run: ab reported no rate: $(echo "$m" | tail -1)"
				continue
			fi
			log "  ab run $run: $name: $n req/s"
			RESULTS["ab|$name"]+="$n "
		done
	done
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

IDLE_OUT=""
idle_conns() { # WRK_PREFIX THREADS: 10,000 idle connections against mt-test-http (memory)
	local wp=$1 threads=$2 url="http://127.0.0.1:$MEM_PORT/"
	local without with before after
	if [ -n "${FAILED["pinned|mt-test-http (memory)"]:-}" ]; then
		IDLE_OUT="idle connections: failed: mt-test-http (memory) is not serving"
		return
	fi
	without=$(for _ in $(seq "$RUNS"); do wrk_rate "$wp" "$url" "$threads" || true; done | stats)
	before=$(rss_kib "$MEM_PID" || true)
	mkfifo "$TMP/idle.in"
	$wp "$TMP/idleconns" -addr "127.0.0.1:$MEM_PORT" -n "$IDLE" -hold 300s <"$TMP/idle.in" >"$TMP/idle.out" 2>&1 &
	local ipid=$!
	PIDS+=($ipid)
	exec 9>"$TMP/idle.in" # holds the helper's stdin open
	for _ in $(seq 600); do
		grep -q '^ready' "$TMP/idle.out" 2>/dev/null && break
		if ! kill -0 "$ipid" 2>/dev/null; then break; fi
		sleep 0.1
	done
	if ! grep -q '^ready' "$TMP/idle.out"; then
		IDLE_OUT="idle connections: helper failed: $(cat "$TMP/idle.out")"
		exec 9>&-
		return
	fi
	sleep 1 # let the server's goroutines park
	after=$(rss_kib "$MEM_PID" || true)
	with=$(for _ in $(seq "$RUNS"); do wrk_rate "$wp" "$url" "$threads" || true; done | stats)
	exec 9>&- # the helper closes its connections and exits
	wait "$ipid" 2>/dev/null || true
	if [ -z "$before" ] || [ -z "$after" ]; then
		IDLE_OUT="idle connections: failed: mt-test-http (memory) exited (no RSS to read)"
		return
	fi
	local per=$(((after - before) * 1024 / IDLE))
	IDLE_OUT=$(printf '%s idle keep-alive connections on mt-test-http (memory), pinned:\n  server RSS %d KiB -> %d KiB: %d bytes (%s KiB) per connection\n  wrk rate without: %s req/s (spread %s%%); with them open: %s req/s (spread %s%%); ratio %s' \
		"$IDLE" "$before" "$after" "$per" "$(awk -v p="$per" 'BEGIN { printf "%.1f", p / 1024 }')" \
		"${without% *}" "${without#* }" "${with% *}" "${with#* }" "$(ratio "${with% *}" "${without% *}")")
}

if ! setup_plugin; then
	:
fi
log "bench-http: pinned phase (servers on CPU 0, load on CPU $WRK_CPU), ${DURATION}s x $RUNS runs each"
run_phase pinned "taskset -c 0" "taskset -c $WRK_CPU" 1
log "bench-http: unpinned phase"
run_phase unpinned "" "" 2

report() {
	echo
	echo "== results: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "wrk: -c$CONNS -d${DURATION}s (pinned: -t1, unpinned: -t2), GET / (13-byte body); $RUNS runs each, alternating"
	for phase in pinned unpinned ab; do
		local base=""
		if [ -n "${RESULTS["$phase|nginx"]:-}" ]; then
			base=$(echo "${RESULTS["$phase|nginx"]}" | tr ' ' '\n' | grep . | stats)
		fi
		echo
		case $phase in
		pinned) echo "-- wrk, server on CPU 0, wrk on CPU $WRK_CPU" ;;
		unpinned) echo "-- wrk, unpinned" ;;
		ab) echo "-- ab -k -c 100 -t $DURATION, pinned" ;;
		esac
		printf '%-26s %12s %8s %8s   %s\n' server "median req/s" spread "x nginx" "runs"
		for name in "nginx" "mt-test-http (memory)" "mt-test-http (disk)" "mtnode + mt-demo plugin" "$RAW"; do
			local vals=${RESULTS["$phase|$name"]:-}
			local why=${FAILED["$phase|$name"]:-}
			if [ -z "$why" ] && [ "$phase" = ab ]; then
				why=${FAILED["pinned|$name"]:-} # ab runs against the pinned servers
			fi
			if [ -z "$vals" ]; then
				if [ -n "$why" ]; then
					printf '%-26s failed: %s\n' "$name" "$why"
				elif [ "$name" = "mtnode + mt-demo plugin" ] && [ "$phase" != ab ]; then
					printf '%-26s skipped: %s\n' "$name" "$PLUGIN_REASON"
				fi
				continue
			fi
			local s
			s=$(echo "$vals" | tr ' ' '\n' | grep . | stats)
			printf '%-26s %12s %7s%% %8s   %s\n' "$name" "${s% *}" "${s#* }" \
				"$(ratio "${s% *}" "${base% *}")" "$vals"
			if [ -n "$why" ]; then
				printf '%-26s (some runs failed: %s)\n' "" "$why"
			fi
		done
	done
	echo
	echo "$IDLE_OUT"
}
report
