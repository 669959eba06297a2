#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/run-all.sh: the whole benchmark suite, from a fresh checkout on
# Debian 12, as root.  It installs the peers (apt-get), builds aio-echod
# and the bench tools (RelWithDebInfo, in build-bench/), runs every part,
# and writes bench/results/RESULTS.md, bench/results/echo-conns.png and
# bench/results/proxy-conns.png.
# It is never run by the tests: speed is measured here, not asserted.
#
# Parts: echo (aio-echod, the libevent callback echo bench/levecho.c,
# asyncio streams, uvloop), proxy (aio-echod, HAProxy, nginx stream,
# rinetd, socat, each in front of levecho), redis-benchmark and iperf3
# (1 and 8 streams) through each proxy, new connections per second
# through each proxy (bench/connrate), idle memory per connection, the
# coroutine switch (bench/run.sh), loop threads (bench/threads.sh: 1
# against 2 threads, SO_REUSEPORT against one shared socket).
#
# Method: every comparison runs in interleaved rounds (each round runs
# every peer once, starting one peer later each round), and reports the
# median and the min-max over the rounds.  Servers run on CPU 0, load
# generators (and the proxies' upstreams) on CPU 1.  Each run waits
# until CPU 0 is nearly idle (settle, bench/lib.sh).  The server's CPU
# time is utime+stime of it and its descendants (/proc/PID/stat), read
# by bench/loadgen -p and bench/connrate -p at the start and end of the
# measured time, and by bench/loadgen -S before and after a
# redis-benchmark or iperf3 run.  Its system calls are counted by perf
# tracepoint counters (bench/srvstat.c) over every thread of it and its
# descendants, but never while timing, since a counter slows system
# calls (every one on the machine while it exists): loadgen -C and
# connrate -C count over COUNT_SECS more seconds right after the
# measured ones, and redis-benchmark and iperf3 get one more round in
# which each run is inside bench/loadgen -W (marked counted=1;
# report.py takes only the calls from it).  Data calls are read, write,
# readv, writev, recvfrom, sendto, recvmsg and sendmsg; all calls are
# every system call.  Counting needs root and tracefs (bench/loadgen
# mounts it if it is missing).
#
# Settings (environment):
#   ROUNDS=5       rounds per comparison
#   DURATION=2     measured seconds per echo or proxy run
#   WARMUP=0.5     seconds before that, not counted
#   COUNT_SECS=0.25 seconds after it in which the server's system calls
#                  are counted (bench/loadgen -C, bench/connrate -C)
#   REDIS_N=20000  requests per redis-benchmark test
#   BULK_SECS=2    seconds per iperf3 run
#   CR_THREADS=2   bench/connrate's client threads (all on CPU 1)
#   IDLE_CONNS=4000  connections held for the idle-memory part
#   QUICK=1        a run of about 7 minutes (all parts) for development
#                  (ROUNDS=2, DURATION=0.5, WARMUP=0.5, REDIS_N=5000,
#                  BULK_SECS=1, IDLE_CONNS=1000), unless set explicitly
#   BUILD=build-bench  build directory
#   SKIP_INSTALL=1 do not call apt-get
#   PARTS="echo proxy redis bulk connrate idle switch threads"  the parts
set -euo pipefail
cd "$(dirname "$0")/.."
# log, rotate, wait_port, spawn, stop, cleanup
. bench/lib.sh
start_s=$(date +%s)
# The exact command, with the settings given to it, for the report.
cmd=bench/run-all.sh
for v in QUICK ROUNDS DURATION WARMUP COUNT_SECS REDIS_N BULK_SECS CR_THREADS IDLE_CONNS PARTS BUILD SKIP_INSTALL; do
	[ -n "${!v+x}" ] && cmd="$v=\"${!v}\" $cmd"
done

if [ "${QUICK:-0}" = 1 ]; then
	: "${ROUNDS:=2}" "${DURATION:=0.5}" "${WARMUP:=0.5}" "${REDIS_N:=5000}"
	: "${BULK_SECS:=1}" "${IDLE_CONNS:=1000}"
fi
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-2}
WARMUP=${WARMUP:-0.5}
COUNT_SECS=${COUNT_SECS:-0.25}
REDIS_N=${REDIS_N:-20000}
BULK_SECS=${BULK_SECS:-2}
CR_THREADS=${CR_THREADS:-2}
IDLE_CONNS=${IDLE_CONNS:-4000}
BUILD=${BUILD:-build-bench}
PARTS=${PARTS:-echo proxy redis bulk connrate idle switch threads}
OUT=bench/results
# Debian's Python, where python3-uvloop is installed (a python3 earlier in
# PATH, such as pyenv's, would not have it).
PY=/usr/bin/python3

PACKAGES="build-essential cmake pkg-config libevent-dev libconfig-dev libsystemd-dev
	python3 python3-uvloop haproxy nginx libnginx-mod-stream rinetd
	socat redis-server redis-tools iperf3 gnuplot-nox util-linux procps"


# --- install and build -------------------------------------------------

# install_missing PACKAGE...: tests/install-deps.sh, shared with
# tests/run-all.sh; it reports through log.
. tests/install-deps.sh

[ "${SKIP_INSTALL:-0}" = 1 ] || install_missing $PACKAGES
log "building in $BUILD"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null
AIO=$BUILD/aio-echod
LOADGEN=$BUILD/bench/loadgen
LEVECHO=$BUILD/bench/levecho
CONNRATE=$BUILD/bench/connrate
NGINX_STREAM=/usr/lib/nginx/modules/ngx_stream_module.so
[ -f "$NGINX_STREAM" ] || { echo "missing $NGINX_STREAM" >&2; exit 1; }

# Descriptors: 4000 proxied connections take 8000 in the proxy.  Take
# the hard limit (a container may not let even root go past it).
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((2 * IDLE_CONNS + 100)) ]; then
	echo "open-file limit $(ulimit -n) is too small for IDLE_CONNS=$IDLE_CONNS" >&2
	exit 1
fi

TMP=$(mktemp -d /tmp/aio-bench.XXXXXX)
RAW=$TMP/raw.tsv
: >"$RAW"
PIDS=()

trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers -------------------------------------------------------------

# free_port: sets PORT to a loopback TCP port that was free a moment ago
# (the kernel's choice for port 0, so nothing else holds it).
free_port() {
	PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
}




aio_conf() { # FILE PORT SERVICE [UPSTREAM_PORT]
	local extra=
	[ "$3" = proxy ] && extra="upstreams = ( \"127.0.0.1:$4\" );"
	cat >"$1" <<EOC
log_level = "warn";
coroutine_stack_size = "64k";
listeners = (
  { name = "bench"; address = "127.0.0.1:$2"; service = "$3";
    max_connections = 9000; idle_timeout = 0; backlog = 4096; $extra }
);
EOC
}

# start_echo PEER: an echo peer on CPU 0; sets PID and PORT.
start_echo() {
	free_port
	case $1 in
	aio-echod)
		aio_conf "$TMP/echo-$PORT.conf" "$PORT" echo
		spawn 0 "aio-echo-$PORT" "$AIO" -f "$TMP/echo-$PORT.conf" ;;
	levecho) spawn 0 "levecho-$PORT" "$LEVECHO" "127.0.0.1:$PORT" ;;
	asyncio) spawn 0 "asyncio-$PORT" "$PY" bench/asyncio_echo.py "127.0.0.1:$PORT" ;;
	uvloop) spawn 0 "uvloop-$PORT" "$PY" bench/uvloop_echo.py "127.0.0.1:$PORT" ;;
	esac
	PID=$SPAWNED
	wait_port "$PORT"
}

# start_proxy PEER UPSTREAM_PORT: a proxy on CPU 0; sets PID and PORT.
start_proxy() {
	local up=$2 d

	free_port
	d=$TMP/$1-$PORT
	mkdir -p "$d"
	case $1 in
	aio-echod)
		aio_conf "$d/aio.conf" "$PORT" proxy "$up"
		spawn 0 "$1-$PORT" "$AIO" -f "$d/aio.conf" ;;
	haproxy)
		cat >"$d/haproxy.cfg" <<EOC
global
  maxconn 9000
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  maxconn 9000
frontend fe
  bind 127.0.0.1:$PORT backlog 4096
  default_backend be
backend be
  server up 127.0.0.1:$up
EOC
		spawn 0 "$1-$PORT" haproxy -db -f "$d/haproxy.cfg" ;;
	nginx)
		cat >"$d/nginx.conf" <<EOC
load_module $NGINX_STREAM;
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile $(ulimit -n);
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 19000; use epoll; }
stream {
  server {
    listen 127.0.0.1:$PORT backlog=4096;
    proxy_pass 127.0.0.1:$up;
    proxy_timeout 1h;
  }
}
EOC
		spawn 0 "$1-$PORT" nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" ;;
	rinetd)
		printf '127.0.0.1 %s 127.0.0.1 %s\n' "$PORT" "$up" >"$d/rinetd.conf"
		spawn 0 "$1-$PORT" rinetd -f -c "$d/rinetd.conf" ;;
	socat)
		spawn 0 "$1-$PORT" socat \
			"TCP-LISTEN:$PORT,bind=127.0.0.1,fork,reuseaddr,backlog=4096,nodelay" \
			"TCP:127.0.0.1:$up,nodelay" ;;
	esac
	PID=$SPAWNED
	wait_port "$PORT"
}

# start_upstream NAME: the server behind the proxies (levecho,
# redis-server or iperf3) on CPU 1; sets UPSTREAM_PID and UPSTREAM_PORT.
start_upstream() {
	free_port
	UPSTREAM_PORT=$PORT
	case $1 in
	levecho) spawn 1 upstream "$LEVECHO" "127.0.0.1:$PORT" ;;
	redis)
		spawn 1 redis redis-server --port "$PORT" --bind 127.0.0.1 \
			--save '' --appendonly no --protected-mode no --daemonize no ;;
	iperf3) spawn 1 iperf3 iperf3 -s -p "$PORT" -B 127.0.0.1 ;;
	esac
	UPSTREAM_PID=$SPAWNED
	wait_port "$UPSTREAM_PORT"
}


# loadgen_run PART CELL PEER ROUND PID PORT CONNS SIZE: one loadgen run,
# one line in the raw results ("failed" when the peer broke).
loadgen_run() {
	local part=$1 cell=$2 peer=$3 round=$4 pid=$5 port=$6 c=$7 s=$8 line

	settle 0
	if line=$(timeout 120 taskset -c 1 "$LOADGEN" -a "127.0.0.1:$port" -c "$c" -s "$s" \
		-w "$WARMUP" -D "$DURATION" -p "$pid" -C "$COUNT_SECS" 2>"$TMP/loadgen.err"); then
		:
	else
		line="failed $(head -c 200 "$TMP/loadgen.err" | tr '\t\n' '  ')"
	fi
	printf '%s\t%s\t%s\t%s\t%s\n' "$part" "$cell" "$peer" "$round" "$line" >>"$RAW"
	log "$part $cell $peer r$round: ${line:0:110}"
}

# --- echo ----------------------------------------------------------------

ECHO_PEERS="aio-echod levecho asyncio uvloop"
ECHO_CELLS="64x1 64x10 64x100 64x1000 4096x1 4096x100 4096x1000"
PROXY_PEERS="aio-echod haproxy nginx rinetd socat"
PROXY_CELLS="64x1 64x10 64x100 64x1000"
declare -A PPID_OF PPORT_OF

run_matrix() { # PART "CELLS" "PEERS"
	local part=$1 cells=$2 peers=$3 r cell p

	for r in $(seq 1 "$ROUNDS"); do
		for cell in $cells; do
			for p in $(rotate "$r" $peers); do
				if ! kill -0 "${PPID_OF[$p]}" 2>/dev/null; then
					log "$p died; restarting it"
					restart_peer "$part" "$p"
				fi
				loadgen_run "$part" "$cell" "$p" "$r" "${PPID_OF[$p]}" \
					"${PPORT_OF[$p]}" "${cell#*x}" "${cell%x*}"
			done
		done
	done
}

restart_peer() { # PART PEER
	wait "${PPID_OF[$2]}" 2>/dev/null || true
	if [ "$1" = echo ]; then start_echo "$2"; else start_proxy "$2" "$UPSTREAM_PORT"; fi
	PPID_OF[$2]=$PID
	PPORT_OF[$2]=$PORT
}

stop_peers() { # PEERS
	local p

	for p in $1; do
		stop "${PPID_OF[$p]}"
	done
}

if [[ " $PARTS " == *" echo "* ]]; then
	log "echo: peers on CPU 0, loadgen on CPU 1"
	for p in $ECHO_PEERS; do
		start_echo "$p"
		PPID_OF[$p]=$PID
		PPORT_OF[$p]=$PORT
	done
	run_matrix echo "$ECHO_CELLS" "$ECHO_PEERS"
	stop_peers "$ECHO_PEERS"
fi

# --- proxies: echo through them, then redis and iperf3 -------------------

start_proxies() { # UPSTREAM_PORT
	local p

	for p in $PROXY_PEERS; do
		start_proxy "$p" "$1"
		PPID_OF[$p]=$PID
		PPORT_OF[$p]=$PORT
	done
}

if [[ " $PARTS " == *" proxy "* ]]; then
	log "proxy: proxies on CPU 0, levecho upstream and loadgen on CPU 1"
	start_upstream levecho
	start_proxies "$UPSTREAM_PORT"
	run_matrix proxy "$PROXY_CELLS" "$PROXY_PEERS"
	stop_peers "$PROXY_PEERS"
	stop "$UPSTREAM_PID"
fi

# stats PID: the CPU seconds of PID's process tree now.
stats() {
	"$LOADGEN" -S "$1" | sed 's/cpu_s=\([^ ]*\).*/\1/'
}

# client_cmd CMD...: a part's client command on CPU 1 (at most 120 s);
# with COUNT_PID set, inside bench/loadgen -W, which counts that server's
# CPU time and system calls from the command's start to its exit into
# $TMP/window.  The command's status.
client_cmd() {
	if [ -n "$COUNT_PID" ]; then
		timeout 120 taskset -c 1 "$LOADGEN" -W "$COUNT_PID" -o "$TMP/window" -- "$@"
	else
		timeout 120 taskset -c 1 "$@"
	fi
}

# run_proxied PART "CELLS" PAUSE LOG_CHARS HOW: with the proxies started
# in front of the upstream, interleaved rounds of one client run per cell
# against the upstream itself ("direct") and through each proxy, starting
# one later each round; then the proxies and the upstream are stopped.
# The part supplies PART_client CELL PORT PID (one client run against
# PORT; its status says whether it worked), PART_line (the result line
# from what the client left) and PART_failed (what the client left when
# it failed).  HOW says who measures the server PID: "self", the client
# (bench/connrate -p -C); "around", this function: its CPU seconds from
# before the client to after it, then one more round in which every
# client runs under bench/loadgen -W (client_cmd), whose lines count the
# system calls and are marked counted=1 (counting slows the server, so
# their speeds are not the others' equals).  Each run is one line in the
# raw results and LOG_CHARS of it in the log; PAUSE seconds follow it.
run_proxied() {
	local part=$1 cells=$2 pause=$3 chars=$4 how=$5 last=$ROUNDS r cell p line c0

	[ "$how" = self ] || last=$((ROUNDS + 1))
	start_proxies "$UPSTREAM_PORT"
	PPID_OF[direct]=$UPSTREAM_PID
	PPORT_OF[direct]=$UPSTREAM_PORT
	for r in $(seq 1 "$last"); do
		for cell in $cells; do
			for p in $(rotate "$r" direct $PROXY_PEERS); do
				if [ "$p" != direct ] && ! kill -0 "${PPID_OF[$p]}" 2>/dev/null; then
					restart_peer proxy "$p"
				fi
				settle 0
				COUNT_PID=
				[ "$r" -le "$ROUNDS" ] || COUNT_PID=${PPID_OF[$p]}
				[ "$how" = self ] || c0=$(stats "${PPID_OF[$p]}")
				if "${part}_client" "$cell" "${PPORT_OF[$p]}" "${PPID_OF[$p]}"; then
					line=$("${part}_line")
					if [ -n "$COUNT_PID" ]; then
						line="$line $(sed 's/ *status=[0-9]*//' "$TMP/window") counted=1"
					elif [ "$how" != self ]; then
						line="$line srv_cpu_s=$(awk -v a="$(stats "${PPID_OF[$p]}")" \
							-v b="$c0" 'BEGIN { printf "%.2f", a - b }')"
					fi
				else
					line="failed $("${part}_failed" | tr '\t\n' '  ')"
				fi
				printf '%s\t%s\t%s\t%s\t%s\n' "$part" "$cell" "$p" "$r" "$line" >>"$RAW"
				log "$part $cell $p r$r: ${line:0:$chars}"
				[ "$pause" = 0 ] || sleep "$pause"
			done
		done
	done
	COUNT_PID=
	stop_peers "$PROXY_PEERS"
	stop "$UPSTREAM_PID"
}

redis_client() { # CELL PORT PID
	client_cmd redis-benchmark -h 127.0.0.1 -p "$2" \
		-t ping,set,get -P 1 -c 50 -n "$REDIS_N" --csv \
		>"$TMP/redis.csv" 2>"$TMP/redis.err"
}

redis_line() {
	tr -d '"' <"$TMP/redis.csv" | awk -F, -v n="$REDIS_N" '
		$1 != "test" && NF > 2 { printf "%s=%s %s_p50=%s ", $1, $2, $1, $5; k++ }
		END { printf "reqs=%d", k * n }'
}

redis_failed() {
	head -c 200 "$TMP/redis.err"
}

if [[ " $PARTS " == *" redis "* ]]; then
	log "redis: redis-server and redis-benchmark on CPU 1, proxies on CPU 0"
	start_upstream redis
	run_proxied redis c50 0 110 around
fi

# BULK_CELLS: iperf3's parallel streams (-P), one cell each.
BULK_CELLS="stream1 stream8"

bulk_client() { # CELL PORT PID
	client_cmd iperf3 -c 127.0.0.1 -p "$2" -P "${1#stream}" \
		-t "$BULK_SECS" -J >"$TMP/iperf.json" 2>"$TMP/iperf.err"
}

bulk_line() {
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
e = j["end"]["sum_received"]
print("gbps=%.3f bytes=%d streams=%d" % (e["bits_per_second"] / 1e9, e["bytes"],
      j["start"]["test_start"]["num_streams"]))
' "$TMP/iperf.json"
}

bulk_failed() {
	head -c 200 "$TMP/iperf.json" "$TMP/iperf.err"
}

if [[ " $PARTS " == *" bulk "* ]]; then
	log "bulk: iperf3 server and client on CPU 1, proxies on CPU 0"
	start_upstream iperf3
	run_proxied bulk "$BULK_CELLS" 0.2 1000 around	# the whole line to the log
fi

# --- new connections through each proxy ----------------------------------

connrate_client() { # CELL PORT PID
	timeout 120 taskset -c 1 "$CONNRATE" -a "127.0.0.1:$2" -t "$CR_THREADS" \
		-w "$WARMUP" -D "$DURATION" -p "$3" -C "$COUNT_SECS" \
		>"$TMP/connrate.out" 2>"$TMP/connrate.err"
}

connrate_line() {
	cat "$TMP/connrate.out"
}

connrate_failed() {
	head -c 200 "$TMP/connrate.out" "$TMP/connrate.err"
}

if [[ " $PARTS " == *" connrate "* ]]; then
	log "connrate: connrate ($CR_THREADS threads) and levecho on CPU 1, proxies on CPU 0"
	start_upstream levecho
	run_proxied connrate "t$CR_THREADS" 0 150 self
fi

# --- idle memory ---------------------------------------------------------

# mem PID: "rss_kb pss_kb nproc" summed over PID's process tree now.
mem() {
	"$LOADGEN" -S "$1" |
		sed 's/.*rss_kb=\([0-9]*\) pss_kb=\([0-9]*\) nproc=\([0-9]*\)/\1 \2 \3/'
}

# idle_one PART PEER PID PORT: hold IDLE_CONNS connections (one echoed
# message each) and record the growth of the server's memory.
idle_one() {
	local part=$1 peer=$2 pid=$3 port=$4 hold i line rss0 pss0 n0 rss1 pss1 n1

	sleep 0.3
	read -r rss0 pss0 n0 < <(mem "$pid")
	taskset -c 1 "$LOADGEN" -a "127.0.0.1:$port" -c "$IDLE_CONNS" -H \
		>"$TMP/hold.out" 2>"$TMP/hold.err" &
	hold=$!
	for i in $(seq 1 1500); do
		grep -q '^ready' "$TMP/hold.out" && break
		kill -0 "$hold" 2>/dev/null || break
		sleep 0.04
	done
	if grep -q '^ready conns=[0-9]* errors=0' "$TMP/hold.out"; then
		sleep 0.5
		read -r rss1 pss1 n1 < <(mem "$pid")
		line="conns=$IDLE_CONNS rss0_kb=$rss0 rss1_kb=$rss1 pss0_kb=$pss0 pss1_kb=$pss1 nproc0=$n0 nproc1=$n1"
	else
		line="failed $(head -c 200 "$TMP/hold.err" | tr '\t\n' '  ')"
	fi
	kill "$hold" 2>/dev/null || true
	wait "$hold" 2>/dev/null || true
	printf 'idle\t%s\t%s\t1\t%s\n' "$part" "$peer" "$line" >>"$RAW"
	log "idle $part $peer: ${line:0:150}"
}

if [[ " $PARTS " == *" idle "* ]]; then
	log "idle memory: $IDLE_CONNS connections per peer"
	for p in $ECHO_PEERS; do
		start_echo "$p"
		idle_one echo "$p" "$PID" "$PORT"
		stop "$PID"
	done
	start_upstream levecho
	for p in $PROXY_PEERS; do
		start_proxy "$p" "$UPSTREAM_PORT"
		idle_one proxy "$p" "$PID" "$PORT"
		stop "$PID"
	done
	stop "$UPSTREAM_PID"
fi

# --- coroutine switch ----------------------------------------------------

if [[ " $PARTS " == *" switch "* ]]; then
	log "switch: bench/run.sh $BUILD"
	bench/run.sh "$BUILD" >"$TMP/switch.txt"
	cat "$TMP/switch.txt" >&2
else
	: >"$TMP/switch.txt"
fi

# --- loop threads --------------------------------------------------------

if [[ " $PARTS " == *" threads "* ]]; then
	log "threads: bench/threads.sh $BUILD"
	ROUNDS=$ROUNDS SECS=$DURATION bench/threads.sh "$BUILD" >&2
fi

# --- report --------------------------------------------------------------

mkdir -p "$OUT"
elapsed=$(($(date +%s) - start_s))
python3 bench/report.py --raw "$RAW" --switch "$TMP/switch.txt" \
	--out "$OUT" --cmd "$cmd" --elapsed "$elapsed" \
	--settings "ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP COUNT_SECS=$COUNT_SECS REDIS_N=$REDIS_N BULK_SECS=$BULK_SECS CR_THREADS=$CR_THREADS IDLE_CONNS=$IDLE_CONNS" \
	--versions "$(haproxy -v | head -1 | cut -d' ' -f1-3); nginx $(nginx -v 2>&1 | sed 's|.*/||'); rinetd $(dpkg-query -W -f='${Version}' rinetd); socat $(dpkg-query -W -f='${Version}' socat); python3 $($PY -c 'import sys; print(sys.version.split()[0])'); uvloop $($PY -c 'import uvloop; print(uvloop.__version__)'); libevent $(dpkg-query -W -f='${Version}' libevent-dev); redis $(dpkg-query -W -f='${Version}' redis-server); iperf3 $(dpkg-query -W -f='${Version}' iperf3)"
cp "$RAW" "$OUT/raw.tsv"
# bench/threads.sh's table (this run's, or the last one's), one level down.
if [ -s "$OUT/THREADS.md" ]; then
	{ echo; sed 's/^# /## /' "$OUT/THREADS.md"; } >>"$OUT/RESULTS.md"
fi
for f in echo-conns proxy-conns; do
	if [ -s "$OUT/$f.dat" ]; then
		gnuplot "$OUT/$f.gp"
	fi
done
log "done in ${elapsed}s: $OUT/RESULTS.md"
