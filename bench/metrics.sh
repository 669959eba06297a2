#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/metrics.sh: what the metrics service costs, measured; writes
# bench/results/METRICS.md.  Never run by the tests.
#
#   bench/metrics.sh                 # the whole run, about 12 minutes
#   QUICK=1 bench/metrics.sh         # a dry run of a minute or two
#   PARTS=scrape C_THREADS=1 bench/metrics.sh
#
# It builds this tree (RelWithDebInfo, in $BUILD) and the commit before
# the metrics work ($BASE_REV, extracted with git archive and built in
# $BASE_BUILD, kept between runs), then measures:
#
# A. Scraped or not (parts "echo" and "proxy"): this build with a metrics
#    listener scraped every $SCRAPE_EVERY s, against the same build
#    without a metrics listener.
# B. The counting itself (the same parts, the same rounds): this build
#    without a metrics listener against the base build.
#    For A and B: echo (100 connections, 64 B ping-pong, loop_threads = 1)
#    and proxy (the same through the daemon, in front of bench/levecho on
#    CPU 1).  Each round starts fresh daemons (base, plain, scraped and
#    plain2, the same as plain: the control) side by side on CPU 0,
#    loadgens on CPU 1, and measures req/s of each alone, in rotating
#    order (the ratio is taken within the round), then the paired CPU
#    measure: the two compared daemons under load at the same time, each
#    with its own loadgen, each loadgen reading its daemon's utime+stime
#    over the same interval (metrics_tool.py paired); CPU per message B/A
#    per round.  Reported: the medians of the per-round ratios, quartiles
#    and ranges.
# C. Scrape cost (part "scrape"): one daemon with 50 echo and 50 proxy
#    listeners (2 upstreams each: 100 upstreams) and a metrics listener,
#    loop_threads = 1 and 2, holding $C_CONNS idle client connections;
#    the wall time (curl's time_total) and size of back-to-back scrapes,
#    the daemon's memory around them, a 1-byte ping-pong probe's round
#    trips on an echo listener with and without scrapes running (the
#    longest the loop is held), and the loop lag the daemon reports.
#
# Servers are pinned to CPU 0, clients to CPU 1 (taskset); the probe runs
# SCHED_FIFO when chrt allows it.  Needs: cmake, a C compiler, libevent,
# libconfig, libsystemd (as the daemon), python3, curl, taskset, git.
#
# Settings (environment):
#   ROUNDS=11       interleaved rounds of A and B
#   SECS=3          measured seconds of a req/s run
#   CPU_SECS=4      measured seconds of a paired CPU run
#   CONTROL=1       also pair "plain" with a second daemon of the same
#                   build and configuration ("plain2"): the method's own
#                   spread (0: skip it)
#   WARMUP=1        seconds before either, not counted
#   CONNS=100 SIZE=64  the ping-pong load
#   SCRAPE_EVERY=1  seconds between the scraper's scrapes (A)
#   C_CONNS=10000   idle connections held in C
#   C_SECS=5        seconds of each probe phase in C
#   C_ROUNDS=3      probe rounds (without, with scrapes) per set-up in C
#   C_THREADS="1 2" loop_threads set-ups of C
#   PARTS="echo proxy scrape"
#   QUICK=1         ROUNDS=2 SECS=0.5 CPU_SECS=0.5 WARMUP=0.3 C_CONNS=1000
#                   C_SECS=1 C_ROUNDS=1, unless set
#   BUILD=build-bench  BASE_REV=d3ba6b6  BASE_BUILD=/tmp/bench-base
#   OUT=bench/results/METRICS.md
set -euo pipefail
cd "$(dirname "$0")/.."
# log, rotate, wait_port, spawn, stop, cleanup, command_line, build_tree,
# tree_rev, ports, alive, client, raw
. bench/lib.sh
start_s=$(date +%s)
cmd=$(command_line bench/metrics.sh QUICK ROUNDS SECS CPU_SECS WARMUP CONNS SIZE \
	SCRAPE_EVERY CONTROL C_CONNS C_SECS C_ROUNDS C_THREADS PARTS BUILD BASE_REV \
	BASE_BUILD OUT)
if [ "${QUICK:-0}" = 1 ]; then
	: "${ROUNDS:=2}" "${SECS:=0.5}" "${CPU_SECS:=0.5}" "${WARMUP:=0.3}"
	: "${C_CONNS:=1000}" "${C_SECS:=1}" "${C_ROUNDS:=1}"
fi
ROUNDS=${ROUNDS:-11}
SECS=${SECS:-3}
CPU_SECS=${CPU_SECS:-4}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-100}
SIZE=${SIZE:-64}
SCRAPE_EVERY=${SCRAPE_EVERY:-1}
CONTROL=${CONTROL:-1}
C_CONNS=${C_CONNS:-10000}
C_SECS=${C_SECS:-5}
C_ROUNDS=${C_ROUNDS:-3}
C_THREADS=${C_THREADS:-1 2}
PARTS=${PARTS:-echo proxy scrape}
BUILD=${BUILD:-build-bench}
BASE_REV=${BASE_REV:-d3ba6b6}
BASE_BUILD=${BASE_BUILD:-/tmp/bench-base}
OUT=${OUT:-bench/results/METRICS.md}
C_ECHO=50	# echo listeners in C
C_PROXY=50	# proxy listeners in C, 2 upstreams each
TOOL=bench/metrics_tool.py


# --- builds ----------------------------------------------------------------

build_tree "$BUILD" aio-echod loadgen levecho
AIO=$BUILD/aio-echod
LOADGEN=$BUILD/bench/loadgen
LEVECHO=$BUILD/bench/levecho
THIS_REV=$(tree_rev)
BASE_AIO=$BASE_BUILD/aio-echod
if [[ " $PARTS " == *" echo "* || " $PARTS " == *" proxy "* ]]; then
	if [ ! -x "$BASE_AIO" ] || [ "$(cat "$BASE_BUILD/.rev" 2>/dev/null)" != "$BASE_REV" ]; then
		log "building $BASE_REV in $BASE_BUILD"
		rm -rf "$BASE_BUILD" "$BASE_BUILD-src"
		mkdir -p "$BASE_BUILD-src"
		git archive "$BASE_REV" | tar -x -C "$BASE_BUILD-src"
		cmake -S "$BASE_BUILD-src" -B "$BASE_BUILD" \
			-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
		cmake --build "$BASE_BUILD" -j"$(nproc)" --target aio-echod >/dev/null
		echo "$BASE_REV" >"$BASE_BUILD/.rev"
	fi
fi

TMP=$(mktemp -d /tmp/aio-metrics-bench.XXXXXX)
RAW=$TMP/raw.tsv
: >"$RAW"
PIDS=()

trap cleanup EXIT
trap 'exit 130' INT TERM

# --- A and B: echo and proxy, base / plain / scraped ----------------------------

declare -A DPID DPORT

# start_daemon PEER SERVICE [UPSTREAM_PORT]: one daemon on CPU 0.
start_daemon() {
	local peer=$1 service=$2 up=${3:-} bin=$AIO extra= metrics= conf

	ports 2
	[ "$peer" = base ] && bin=$BASE_AIO
	[ "$service" = proxy ] && extra="upstreams = ( \"127.0.0.1:$up\" );"
	[ "$peer" = scraped ] && metrics=",
  { name = \"metrics\"; address = \"127.0.0.1:${PORTS[1]}\"; service = \"metrics\"; }"
	conf=$TMP/$service-$peer.conf
	cat >"$conf" <<EOC
log_level = "warn";
loop_threads = 1;
listeners = (
  { name = "bench"; address = "127.0.0.1:${PORTS[0]}"; service = "$service";
    max_connections = 9000; idle_timeout = 0; backlog = 4096; $extra }$metrics
);
EOC
	spawn 0 "$service-$peer" "$bin" -f "$conf"
	DPID[$peer]=$SPAWNED
	DPORT[$peer]=${PORTS[0]}
	wait_port "${PORTS[0]}"
	[ "$peer" = scraped ] && MPORT=${PORTS[1]}
	return 0
}

run_service() { # SERVICE
	local service=$1 up_pid= up_port= peer peers scraper r line pair a b flag

	if [ "$service" = proxy ]; then
		ports 1
		up_port=${PORTS[0]}
		spawn 1 upstream "$LEVECHO" "127.0.0.1:$up_port"
		up_pid=$SPAWNED
		wait_port "$up_port"
	fi
	peers="base plain scraped"
	[ "$CONTROL" = 1 ] && peers="$peers plain2"
	for r in $(seq 1 "$ROUNDS"); do
		# Fresh daemons every round: where a process's memory lands
		# (address layout, physical pages) is drawn anew each time.
		for peer in $peers; do
			start_daemon "$peer" "$service" "$up_port"
		done
		spawn 1 scraper python3 "$TOOL" scrape-loop "127.0.0.1:$MPORT" "$SCRAPE_EVERY"
		scraper=$SPAWNED
		# Not counted: a first short run on each, so that none starts
		# cold (stacks and buffers faulted in).
		for peer in $peers; do
			taskset -c 1 "$LOADGEN" -a "127.0.0.1:${DPORT[$peer]}" -c "$CONNS" \
				-s "$SIZE" -w 0 -D 0.3 >/dev/null
		done
		for peer in $(rotate "$r" base plain scraped); do
			alive "${DPID[$peer]}" "$service-$peer"
			line=$(client loadgen "$LOADGEN" -a "127.0.0.1:${DPORT[$peer]}" \
				-c "$CONNS" -s "$SIZE" -w "$WARMUP" -D "$SECS" \
				-p "${DPID[$peer]}")
			raw rps "$service" "$r" "$peer" "$line"
			log "$service r$r $peer: ${line:0:120}"
		done
		flag=
		[ $((r % 2)) = 0 ] && flag=--b-first
		pairs="plain:scraped base:plain"
		[ "$CONTROL" = 1 ] && pairs="$pairs plain:plain2"
		for pair in $(rotate "$r" $pairs); do
			a=${pair%:*} b=${pair#*:}
			alive "${DPID[$a]}" "$service-$a"
			alive "${DPID[$b]}" "$service-$b"
			line=$(python3 "$TOOL" paired $flag "$LOADGEN" "$CONNS" "$SIZE" \
				"$WARMUP" "$CPU_SECS" "${DPID[$a]}:${DPORT[$a]}" \
				"${DPID[$b]}:${DPORT[$b]}") ||
				{ echo "metrics.sh: paired run failed: $line" >&2; exit 1; }
			raw cpu "$service" "$r" "$pair" "$line"
			log "$service r$r $pair: $line"
		done
		stop "$scraper"
		line=$(tail -1 "$TMP/scraper.log")
		raw scraper "$service" "$r" - "$line"
		case $line in
		*" failed=0 "*) ;;
		*) echo "metrics.sh: the scraper failed: $line" >&2; exit 1 ;;
		esac
		for peer in $peers; do
			stop "${DPID[$peer]}"
		done
	done
	[ -z "$up_pid" ] || stop "$up_pid"
}

for service in echo proxy; do
	if [[ " $PARTS " == *" $service "* ]]; then
		log "$service: base ($BASE_REV), plain and scraped ($THIS_REV) on CPU 0"
		run_service "$service"
	fi
done

# --- C: scrape cost ----------------------------------------------------------

RT=
chrt -f 50 true 2>/dev/null && RT="chrt -f 50"
PERF=
taskset -c 1 perf trace -e epoll_wait,sched:sched_switch -o /dev/null -- true >/dev/null 2>&1 && PERF=1
C_SETUP="echo=$C_ECHO proxy=$C_PROXY upstreams=$((2 * C_PROXY)) conns=$C_CONNS secs=$C_SECS rounds=$C_ROUNDS"

status_kb() { # PID KEY: a VmXXX figure of /proc/PID/status, in KiB
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

# cpu_ticks PID: utime+stime of PID (all its threads), in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# nvcsw PID: PID's involuntary context switches (its threads summed):
# how often something else took CPU 0 from the daemon.
nvcsw() {
	cat /proc/"$1"/task/*/status | awk '$1 == "nonvoluntary_ctxt_switches:" { s += $2 } END { print s }'
}

# curl_scrapes N PORT FILE: N back-to-back scrapes, each a new curl (a new
# connection) on CPU 1; "time_total size time_starttransfer" lines.
curl_scrapes() {
	local i out

	: >"$3"
	for i in $(seq 1 "$1"); do
		out=$(taskset -c 1 curl -s -o /dev/null --max-time 10 \
			-w '%{time_total} %{size_download} %{time_starttransfer} %{http_code}' \
			"http://127.0.0.1:$2/metrics") || true
		case $out in
		*" 200") echo "${out% 200}" >>"$3" ;;
		*) echo "metrics.sh: a scrape failed: $out" >&2; exit 1 ;;
		esac
	done
}

# keepalive_start PORT: back-to-back keep-alive scrapes on CPU 1 (as
# fast as the daemon answers) until keepalive_stop; sets KA.
keepalive_start() {
	taskset -c 1 python3 "$TOOL" scrape-loop "127.0.0.1:$1" 0 >"$TMP/ka.out" 2>&1 &
	KA=$!
	sleep 0.2
}

keepalive_stop() { # prints the scraper's summary line
	kill -TERM "$KA"
	wait "$KA" || true
	tail -1 "$TMP/ka.out"
}

scrape_cost() { # THREADS
	local t=$1 up1 up2 p1 p2 i conf lis mport pid hold k r before after
	local line fds rss0 hwm0 rss1 hwm1 order phase c0 c1 n0 n1 ka

	ports $((C_ECHO + C_PROXY + 3))
	up1=${PORTS[0]} up2=${PORTS[1]} mport=${PORTS[2]}
	spawn 1 "c$t-up1" "$LEVECHO" "127.0.0.1:$up1"
	p1=$SPAWNED
	spawn 1 "c$t-up2" "$LEVECHO" "127.0.0.1:$up2"
	p2=$SPAWNED
	wait_port "$up1"
	wait_port "$up2"
	conf=$TMP/c$t.conf
	lis=()
	{
		echo 'log_level = "warn";'
		echo "loop_threads = $t;"
		echo 'listeners = ('
		echo "  { name = \"metrics\"; address = \"127.0.0.1:$mport\"; service = \"metrics\"; idle_timeout = 0; }"
		for ((i = 0; i < C_ECHO + C_PROXY; i++)); do
			lis+=("127.0.0.1:${PORTS[$((i + 3))]}")
			if ((i < C_ECHO)); then
				printf '  ,{ name = "echo%d"; address = "%s"; service = "echo";\n' "$i" "${lis[$i]}"
				printf '    max_connections = %d; idle_timeout = 0; backlog = 4096; }\n' "$C_CONNS"
			else
				printf '  ,{ name = "proxy%d"; address = "%s"; service = "proxy";\n' "$((i - C_ECHO))" "${lis[$i]}"
				printf '    max_connections = %d; idle_timeout = 0; backlog = 4096;\n' "$C_CONNS"
				printf '    upstreams = ( "127.0.0.1:%s", "127.0.0.1:%s" ); }\n' "$up1" "$up2"
			fi
		done
		echo ');'
	} >"$conf"
	spawn 0 "c$t-daemon" "$AIO" -f "$conf"
	pid=$SPAWNED
	wait_port "$mport"
	wait_port "${lis[0]#*:}"
	log "scrape t=$t: opening $C_CONNS connections"
	spawn 1 "c$t-hold" python3 "$TOOL" hold "$C_CONNS" "${lis[@]}"
	hold=$SPAWNED
	for i in $(seq 1 1800); do
		grep -q '^ready' "$TMP/c$t-hold.log" && break
		kill -0 "$hold" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q "^ready conns=$C_CONNS errors=0" "$TMP/c$t-hold.log"; then
		echo "metrics.sh: holding $C_CONNS connections failed:" >&2
		tail -5 "$TMP/c$t-hold.log" >&2
		exit 1
	fi
	alive "$pid" "c$t-daemon"
	sleep 1
	fds=$(find "/proc/$pid/fd" -mindepth 1 | wc -l)
	before=$TMP/c$t-before.txt
	after=$TMP/c$t-after.txt
	curl -s -o "$before" "http://127.0.0.1:$mport/metrics"
	line="loop_threads=$t listeners=$((C_ECHO + C_PROXY))+metrics"
	line+=" upstream_series=$(grep -c '^aio_echod_upstream_active_connections{' "$before")"
	line+=" connections_active=$(awk '/^aio_echod_connections_active\{/ { s += $2 } END { print s }' "$before")"
	line+=" daemon_fds=$fds lines=$(wc -l <"$before") probe=${RT:-nice0}"
	raw scrape "$t" - info "$line"
	log "scrape t=$t: $line"
	rss0=$(status_kb "$pid" VmRSS)
	hwm0=$(status_kb "$pid" VmHWM)
	# A probe connection per loop thread or more: with reuseport, the
	# kernel picks the thread, so with 2 threads 8 connections put one on
	# the scrape's thread all but surely (1 - 2^-7).
	k=1
	[ "$t" -gt 1 ] && k=8
	for r in $(seq 1 "$C_ROUNDS"); do
		# The wall time of 20 scrapes, each a new curl; nothing else runs.
		alive "$pid" "c$t-daemon"
		curl_scrapes 20 "$mport" "$TMP/curl.txt"
		raw scrape "$t" "$r" scrapes "$(awk '{ t = t s $1; z = z s $2; f = f s $3; s = "," }
			END { print "times=" t " sizes=" z " ttfb=" f }' "$TMP/curl.txt")"
		log "scrape t=$t r$r: 20 curl scrapes, slowest $(sort -g "$TMP/curl.txt" | tail -1)"
		# The probe, without and with keep-alive scrapes back to back.
		order="idle scrape"
		[ $((r % 2)) = 0 ] && order="scrape idle"
		for phase in $order; do
			alive "$pid" "c$t-daemon"
			n0=$(nvcsw "$pid")
			c0=$(cpu_ticks "$pid")
			ka="scrapes=0"
			[ "$phase" = idle ] || keepalive_start "$mport"
			line=$($RT taskset -c 1 python3 "$TOOL" probe "${lis[0]}" "$C_SECS" "$k" --gap 0.0002)
			[ "$phase" = idle ] || ka=$(keepalive_stop)
			c1=$(cpu_ticks "$pid")
			n1=$(nvcsw "$pid")
			raw scrape "$t" "$r" "probe-$phase" "$line daemon_cpu_ticks=$((c1 - c0)) nvcsw=$((n1 - n0)) $ka"
			log "scrape t=$t r$r $phase probe: $line nvcsw=$((n1 - n0)) $ka"
		done
	done
	# The daemon's CPU per scrape: keep-alive scrapes alone.
	n0=$(nvcsw "$pid")
	c0=$(cpu_ticks "$pid")
	keepalive_start "$mport"
	sleep "$C_SECS"
	ka=$(keepalive_stop)
	c1=$(cpu_ticks "$pid")
	n1=$(nvcsw "$pid")
	raw scrape "$t" - keepalive "$ka daemon_cpu_ticks=$((c1 - c0)) hz=$(getconf CLK_TCK) nvcsw=$((n1 - n0))"
	log "scrape t=$t keep-alive: $ka daemon_cpu_ticks=$((c1 - c0)) nvcsw=$((n1 - n0))"
	# The loop's own view: between two epoll_wait calls of a loop thread,
	# nothing it serves is looked at; perf trace (on CPU 1) times them.
	if [ -n "$PERF" ]; then
		keepalive_start "$mport"
		timeout -s INT "$C_SECS" taskset -c 1 perf trace -e epoll_wait,sched:sched_switch -p "$pid" \
			-o "$TMP/trace.txt" >/dev/null 2>&1 || true
		ka=$(keepalive_stop)
		python3 "$TOOL" gaps "$TMP/trace.txt" | while read -r line; do
			raw scrape "$t" - gaps "$line $ka"
			log "scrape t=$t perf trace: $line $ka"
		done
	fi
	rss1=$(status_kb "$pid" VmRSS)
	hwm1=$(status_kb "$pid" VmHWM)
	raw scrape "$t" - memory "rss0=$rss0 rss1=$rss1 hwm0=$hwm0 hwm1=$hwm1"
	curl -s -o "$after" "http://127.0.0.1:$mport/metrics"
	line=$(python3 "$TOOL" lag "$before" "$after" | tr '\n' ';')
	raw scrape "$t" - lag "$line"
	log "scrape t=$t lag: $line"
	stop "$hold"
	stop "$pid"
	stop "$p1"
	stop "$p2"
}

if [[ " $PARTS " == *" scrape "* ]]; then
	need=$((C_CONNS + C_CONNS * C_PROXY / (C_ECHO + C_PROXY) + 500))
	if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$need" ]; then
		echo "metrics.sh: the open-file limit $(ulimit -Hn) is below the $need C_CONNS=$C_CONNS needs" >&2
		exit 1
	fi
	ulimit -n "$(ulimit -Hn)"
	for t in $C_THREADS; do
		log "scrape cost: loop_threads = $t"
		scrape_cost "$t"
	done
fi

# --- report --------------------------------------------------------------------

elapsed=$(($(date +%s) - start_s))
python3 "$TOOL" report "$RAW" "$OUT" --cmd "$cmd" --elapsed "$elapsed" \
	--base-rev "$BASE_REV" --this-rev "$THIS_REV" --scrape-every "$SCRAPE_EVERY" \
	--c-setup "$C_SETUP" \
	--settings "ROUNDS=$ROUNDS SECS=$SECS CPU_SECS=$CPU_SECS WARMUP=$WARMUP CONNS=$CONNS SIZE=$SIZE SCRAPE_EVERY=$SCRAPE_EVERY CONTROL=$CONTROL C_CONNS=$C_CONNS C_SECS=$C_SECS C_ROUNDS=$C_ROUNDS C_THREADS=\"$C_THREADS\""
log "done in ${elapsed}s: $OUT"
