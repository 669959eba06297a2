#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/edge.sh: what the edge keys cost, measured; writes
# bench/results/EDGE.md.  Never run by the tests.
#
#   bench/edge.sh                    # the whole run, about 18 minutes
#   QUICK=1 bench/edge.sh            # a dry run of a minute or so
#   PARTS=echo ROUNDS=5 bench/edge.sh
#
# The goal: an echo and a proxy listener with allow, per_source and
# proxy_protocol set keep at least 0.97x the req/s of one without them,
# and 10,000 allow rules do not slow the accept path measurably.
#
# It builds this tree (RelWithDebInfo, in $BUILD) and, for an echo and a
# proxy listener (part "echo" and part "proxy": the proxy in front of
# bench/levecho on CPU 1), compares four daemons of that build:
#   plain   no edge keys;
#   edge    allow = $N_ALLOW prefixes (random /24 and /32 outside 127/8,
#           and 127.0.0.0/8, which admits the client), deny = $N_DENY
#           (random, none in 127/8), per_source = { max_connections =
#           100000; connection_rate = "1000000/1s"; } (high enough never
#           to refuse), proxy_protocol = true with proxy_protocol_from =
#           ( "127.0.0.1/32" ): every client sends a PROXY header first;
#   rules   only edge's allow and deny lists: what the rules alone cost
#           at accept (measured in part 2 only);
#   plain2  the same as plain: the control, the method's own spread.
# Each round starts the four fresh, side by side on CPU 0 (loop_threads
# = 1), clients on CPU 1, and measures:
# 1. req/s of each alone (bench/loadgen, 100 connections, 64 B
#    ping-pong; against edge with -P $PP, a PROXY header on each
#    connection first), in rotating order; then the paired CPU measure
#    (metrics_tool.py paired): plain with edge and plain with plain2
#    under load at the same time, each loadgen reading its daemon's
#    utime+stime over the same interval; CPU per message B/A per round.
# 2. new connections per second and their latency from connect() to the
#    echo (bench/connrate, $CR_THREADS threads: connect, the PROXY header
#    and a byte in one write, the echo, a reset) of each alone, in
#    rotating order; edge twice, with v1 and with v2 headers; rules
#    without a header.
# Reported: the medians of the per-round ratios edge/plain and
# plain2/plain, quartiles and ranges; each daemon's RSS after the round;
# how long `aio-echod -n` takes over each configuration (best of 5).
#
# Servers are pinned to CPU 0, clients to CPU 1 (taskset).  Needs: cmake,
# a C compiler, libevent, libconfig, libsystemd (as the daemon), python3,
# taskset, git.
#
# Settings (environment):
#   ROUNDS=11       interleaved rounds
#   SECS=3          measured seconds of a req/s or a connrate run
#   CPU_SECS=4      measured seconds of a paired CPU run
#   WARMUP=1        seconds before each, not counted
#   CONTROL=1       also measure plain2 (0: skip it; then nothing tells
#                   the method's spread, and no accept-path verdict)
#   CONNS=100 SIZE=64  the ping-pong load
#   PP=2            the PROXY header version loadgen sends to edge (1, 2)
#   CR_THREADS=2    connrate's client threads
#   N_ALLOW=10000 N_DENY=1000  the rules (SEED=1 draws them)
#   PARTS="echo proxy"
#   QUICK=1         ROUNDS=2 SECS=0.5 CPU_SECS=0.5 WARMUP=0.3, unless set
#   BUILD=build-bench  OUT=bench/results/EDGE.md
set -euo pipefail
cd "$(dirname "$0")/.."
# log, rotate, wait_port, spawn, stop, cleanup, command_line, build_tree,
# tree_rev, ports, alive, client, raw
. bench/lib.sh
start_s=$(date +%s)
cmd=$(command_line bench/edge.sh QUICK ROUNDS SECS CPU_SECS WARMUP CONTROL CONNS \
	SIZE PP CR_THREADS N_ALLOW N_DENY SEED PARTS BUILD OUT)
if [ "${QUICK:-0}" = 1 ]; then
	: "${ROUNDS:=2}" "${SECS:=0.5}" "${CPU_SECS:=0.5}" "${WARMUP:=0.3}"
fi
ROUNDS=${ROUNDS:-11}
SECS=${SECS:-3}
CPU_SECS=${CPU_SECS:-4}
WARMUP=${WARMUP:-1}
CONTROL=${CONTROL:-1}
CONNS=${CONNS:-100}
SIZE=${SIZE:-64}
PP=${PP:-2}
CR_THREADS=${CR_THREADS:-2}
N_ALLOW=${N_ALLOW:-10000}
N_DENY=${N_DENY:-1000}
SEED=${SEED:-1}
PARTS=${PARTS:-echo proxy}
BUILD=${BUILD:-build-bench}
OUT=${OUT:-bench/results/EDGE.md}
TOOL=bench/metrics_tool.py
case $PP in
1 | 2) ;;
*) echo "edge.sh: PP must be 1 or 2" >&2; exit 2 ;;
esac

build_tree "$BUILD" aio-echod loadgen levecho connrate
AIO=$BUILD/aio-echod
LOADGEN=$BUILD/bench/loadgen
LEVECHO=$BUILD/bench/levecho
CONNRATE=$BUILD/bench/connrate
THIS_REV=$(tree_rev)

TMP=$(mktemp -d /tmp/aio-edge-bench.XXXXXX)
RAW=$TMP/raw.tsv
: >"$RAW"
PIDS=()

trap cleanup EXIT
trap 'exit 130' INT TERM

# The edge listener's lists, drawn once: every round, every daemon, the
# same rules.
python3 "$TOOL" edge-rules "$N_ALLOW" "$N_DENY" --seed "$SEED" >"$TMP/rules.conf"

declare -A DPID DPORT

# write_conf PEER SERVICE PORT UPSTREAM_PORT FILE: the configuration of
# one daemon.
write_conf() {
	local peer=$1 service=$2 port=$3 up=$4 conf=$5

	{
		echo 'log_level = "warn";'
		echo 'loop_threads = 1;'
		echo 'listeners = ('
		echo "  { name = \"bench\"; address = \"127.0.0.1:$port\"; service = \"$service\";"
		echo '    max_connections = 9000; idle_timeout = 0; backlog = 4096;'
		[ "$service" = proxy ] && echo "    upstreams = ( \"127.0.0.1:$up\" );"
		if [ "$peer" = edge ]; then
			echo '    proxy_protocol = true; proxy_protocol_from = ( "127.0.0.1/32" );'
			echo '    per_source = { max_connections = 100000; connection_rate = "1000000/1s"; };'
		fi
		[ "$peer" = plain ] || [ "$peer" = plain2 ] || cat "$TMP/rules.conf"
		echo '  }'
		echo ');'
	} >"$conf"
}

# start_daemon PEER SERVICE [UPSTREAM_PORT]: one daemon on CPU 0.
start_daemon() {
	local peer=$1 service=$2 up=${3:-} conf

	ports 1
	conf=$TMP/$service-$peer.conf
	write_conf "$peer" "$service" "${PORTS[0]}" "$up" "$conf"
	spawn 0 "$service-$peer" "$AIO" -f "$conf"
	DPID[$peer]=$SPAWNED
	DPORT[$peer]=${PORTS[0]}
	wait_port "${PORTS[0]}"
}

# pv PEER: loadgen's and connrate's PROXY option for PEER ("-P V" against
# edge, edge-v1 and edge-v2; nothing against the others).
pv() {
	case $1 in
	edge) echo "-P$PP" ;;
	edge-v?) echo "-P${1#edge-v}" ;;
	esac
}

# check_time SERVICE PEER: the best of 5 `aio-echod -n` over PEER's
# configuration, in ms (the rules' compilation is in it).
check_time() {
	local conf=$TMP/check.conf i t0 t1 best=

	write_conf "$2" "$1" 1 1 "$conf"
	for i in 1 2 3 4 5; do
		t0=$(date +%s%N)
		"$AIO" -n -f "$conf" >/dev/null 2>&1 ||
			{ echo "edge.sh: $2's configuration: $("$AIO" -n -f "$conf" 2>&1)" >&2; exit 1; }
		t1=$(date +%s%N)
		if [ -z "$best" ] || [ $((t1 - t0)) -lt "$best" ]; then
			best=$((t1 - t0))
		fi
	done
	awk -v n="$best" 'BEGIN { printf "%.1f\n", n / 1e6 }'
}

run_service() { # SERVICE
	local service=$1 up_pid='' up_port='' peer r line pair a b sa sb flag
	local peers=(plain edge) pairs=(plain:edge) conns=(plain edge-v1 edge-v2 rules)

	if [ "$service" = proxy ]; then
		ports 1
		up_port=${PORTS[0]}
		spawn 1 upstream "$LEVECHO" "127.0.0.1:$up_port"
		up_pid=$SPAWNED
		wait_port "$up_port"
	fi
	if [ "$CONTROL" = 1 ]; then
		peers+=(plain2)
		pairs+=(plain:plain2)
		conns+=(plain2)
	fi
	log "$service: ${peers[*]} rules ($THIS_REV) on CPU 0"
	for peer in plain edge rules; do
		raw load "$service" - "$peer" "check_ms=$(check_time "$service" "$peer")"
	done
	for r in $(seq 1 "$ROUNDS"); do
		# Fresh daemons every round: where a process's memory lands
		# (address layout, physical pages) is drawn anew each time.
		for peer in "${peers[@]}" rules; do
			start_daemon "$peer" "$service" "$up_port"
		done
		# Not counted: a first short run on each, so that none starts
		# cold (stacks and buffers faulted in).
		for peer in "${peers[@]}" rules; do
			# shellcheck disable=SC2046 # pv: one word or none
			client warm-up "$LOADGEN" -a "127.0.0.1:${DPORT[$peer]}" -c "$CONNS" \
				-s "$SIZE" -w 0 -D 0.3 $(pv "$peer") >/dev/null
		done
		# 1. req/s, each alone; then CPU per message, paired.
		for peer in $(rotate "$r" "${peers[@]}"); do
			alive "${DPID[$peer]}" "$service-$peer"
			# shellcheck disable=SC2046
			line=$(client loadgen "$LOADGEN" -a "127.0.0.1:${DPORT[$peer]}" \
				-c "$CONNS" -s "$SIZE" -w "$WARMUP" -D "$SECS" \
				-p "${DPID[$peer]}" $(pv "$peer"))
			raw rps "$service" "$r" "$peer" "$line"
			log "$service r$r $peer: ${line:0:120}"
		done
		flag=()
		[ $((r % 2)) = 0 ] && flag=(--b-first)
		for pair in $(rotate "$r" "${pairs[@]}"); do
			a=${pair%:*} b=${pair#*:}
			alive "${DPID[$a]}" "$service-$a"
			alive "${DPID[$b]}" "$service-$b"
			sa=${DPID[$a]}:${DPORT[$a]}
			sb=${DPID[$b]}:${DPORT[$b]}
			[ "$b" = edge ] && sb=$sb:$PP
			line=$(python3 "$TOOL" paired "${flag[@]}" "$LOADGEN" "$CONNS" \
				"$SIZE" "$WARMUP" "$CPU_SECS" "$sa" "$sb") ||
				{ echo "edge.sh: paired run failed: $line" >&2; exit 1; }
			raw cpu "$service" "$r" "$pair" "$line"
			log "$service r$r $pair: $line"
		done
		# 2. New connections, each alone (edge with either header).
		for peer in $(rotate "$r" "${conns[@]}"); do
			alive "${DPID[${peer%-v?}]}" "$service-${peer%-v?}"
			# shellcheck disable=SC2046
			line=$(client connrate "$CONNRATE" -a "127.0.0.1:${DPORT[${peer%-v?}]}" \
				-t "$CR_THREADS" -w "$WARMUP" -D "$SECS" $(pv "$peer"))
			raw conn "$service" "$r" "$peer" "$line"
			log "$service r$r connrate $peer: $line"
		done
		for peer in "${peers[@]}" rules; do
			alive "${DPID[$peer]}" "$service-$peer"
			raw mem "$service" "$r" "$peer" \
				"rss_kb=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/${DPID[$peer]}/status")"
			stop "${DPID[$peer]}"
		done
	done
	[ -z "$up_pid" ] || stop "$up_pid"
}

for service in echo proxy; do
	if [[ " $PARTS " == *" $service "* ]]; then
		run_service "$service"
	fi
done

# --- report --------------------------------------------------------------------

elapsed=$(($(date +%s) - start_s))
quick=()
[ "${QUICK:-0}" = 1 ] && quick=(--quick)
python3 "$TOOL" edge-report "$RAW" "$OUT" --cmd "$cmd" --elapsed "$elapsed" \
	--this-rev "$THIS_REV" "${quick[@]}" \
	--setup "allow=$N_ALLOW deny=$N_DENY conns=$CONNS size=$SIZE pp=$PP cr_threads=$CR_THREADS" \
	--settings "ROUNDS=$ROUNDS SECS=$SECS CPU_SECS=$CPU_SECS WARMUP=$WARMUP CONTROL=$CONTROL CONNS=$CONNS SIZE=$SIZE PP=$PP CR_THREADS=$CR_THREADS N_ALLOW=$N_ALLOW N_DENY=$N_DENY SEED=$SEED PARTS=\"$PARTS\""
log "done in ${elapsed}s: $OUT"
