#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/threads.sh [BUILD_DIR]: loop threads, measured.  Called by
# bench/run-all.sh after the build; runs on its own too once the build
# exists (cmake --build build).
#
# Five set-ups of aio-echod's echo, in interleaved rounds (each round runs
# every set-up once, in rotating order; ROUNDS, default 5), median and
# spread:
#   1t          loop_threads = 1                server on CPU 0
#   2t-reuse    loop_threads = 2, reuseport     server on CPU 0
#   2t-shared   loop_threads = 2, one socket    server on CPU 0
#   1t-free     loop_threads = 1                unpinned, client too
#   2t-free     loop_threads = 2, reuseport     unpinned, client too
# The pinned ones answer "does a second thread cost anything at one
# thread's load" and compare the two ways of spreading clients; the free
# ones show what a second core buys when client and server share both.
# Each run measures, with the load generator on CPU 1 (pinned set-ups):
#   - 100 connections ping-pong, 64 B: req/s and server CPU per request;
#   - new connections per second (bench/connrate, 2 client threads): the
#     p50/p99 latency from connect() to the first echo;
#   - the share of the clients each loop thread accepted (from the
#     daemon's exit log), as the busiest thread's share over a fair one.
# Output: bench/results/THREADS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-3}
AIO=$BUILD/aio-echod
LOADGEN=$BUILD/bench/loadgen
CONNRATE=$BUILD/bench/connrate
OUT=bench/results/THREADS.md
TMP=$(mktemp -d /tmp/aio-threads.XXXXXX)
SETUPS=(1t 2t-reuse 2t-shared 1t-free 2t-free)
trap 'pkill -KILL -f "$TMP/" 2>/dev/null || true; rm -rf "$TMP"' EXIT

for b in "$AIO" "$LOADGEN" "$CONNRATE"; do
	[ -x "$b" ] || { echo "threads.sh: $b missing: build first" >&2; exit 1; }
done

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run_one SETUP ROUND: one daemon, the three measurements; appends a
# line "SETUP rps cpu_us cps p50 p99 share" to $TMP/raw.
run_one() {
	local setup=$1 port threads reuse=true pin_s="taskset -c 0" pin_c="taskset -c 1"
	local conf log pid lg cr share

	port=$(free_port)
	case $setup in
	1t) threads=1 ;;
	2t-reuse) threads=2 ;;
	2t-shared) threads=2 reuse=false ;;
	1t-free) threads=1 pin_s= pin_c= ;;
	2t-free) threads=2 pin_s= pin_c= ;;
	esac
	conf=$TMP/$setup.conf
	log=$TMP/$setup-$2.log
	cat >"$conf" <<EOC
log_level = "info";
loop_threads = $threads;
listeners = (
  { name = "bench"; address = "127.0.0.1:$port"; service = "echo";
    max_connections = 9000; idle_timeout = 0; backlog = 4096;
    reuseport = $reuse; }
);
EOC
	$pin_s "$AIO" -f "$conf" 2>"$log" &
	pid=$!
	for _ in $(seq 250); do
		grep -q " ready: " "$log" && break
		sleep 0.02
	done
	# A run with errors still prints its line (errors=N), kept in raw.
	lg=$($pin_c "$LOADGEN" -a "127.0.0.1:$port" -c 100 -t 1 -s 64 -w 1 \
		-D "$SECS" -p "$pid") || true
	cr=$($pin_c "$CONNRATE" -a "127.0.0.1:$port" -t 2 -w 0.5 -D "$SECS") || true
	if [ -z "$lg" ] || [ -z "$cr" ]; then
		echo "threads.sh: $setup round $2: no result; skipped" >&2
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		return 0
	fi
	case "$lg $cr" in
	*errors=[1-9]*) echo "threads.sh: $setup round $2: errors: $lg / $cr" >&2 ;;
	esac
	kill -TERM "$pid"
	wait "$pid" || true
	# Busiest thread's share of the accepted clients, over 1/threads.
	share=$(sed -n 's/.*stopped accepting on loop thread [0-9]* (\([0-9]*\) served.*/\1/p' "$log" |
		awk -v n="$threads" '{ s += $1; if ($1 > m) m = $1 }
			END { if (n == 1 || s == 0) print "1.00"; else printf "%.2f", m / s * n }')
	awk -v s="$setup" -v share="$share" '
		{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		NR == 1 { rps = v["rps"]; cpu = v["cpu_us_per_msg"] }
		NR == 2 { print s, rps, cpu, v["cps"], v["p50_us"], v["p99_us"], share }
	' <(echo "$lg") <(echo "$cr") >>"$TMP/raw"
}

for r in $(seq "$ROUNDS"); do
	n=${#SETUPS[@]}
	for i in $(seq 0 $((n - 1))); do
		run_one "${SETUPS[$(((i + r) % n))]}" "$r"
	done
	echo "round $r/$ROUNDS done" >&2
done

# Median and spread (min-max) of each column, per set-up; ratios to 1t.
python3 - "$TMP/raw" "$OUT" "$ROUNDS" "$SECS" <<'PY'
import statistics, sys, collections, datetime
raw, out, rounds, secs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = collections.defaultdict(list)
for line in open(raw):
    f = line.split()
    rows[f[0]].append([float(x) for x in f[1:]])
order = ["1t", "2t-reuse", "2t-shared", "1t-free", "2t-free"]
def col(s, i):
    v = [r[i] for r in rows[s]]
    return statistics.median(v), min(v), max(v)
base = {i: col("1t", i)[0] for i in range(6)}
free = {i: col("1t-free", i)[0] for i in range(6)}
with open(out, "w") as o:
    o.write("# Loop threads\n\n")
    o.write(f"`bench/threads.sh`, {datetime.date.today()}, {rounds} interleaved "
            f"rounds of {secs} s per measurement; median (min-max); ratio to "
            "`1t` (pinned rows) or `1t-free` (free rows).\n\n")
    o.write("| set-up | echo req/s, 100 conns | ratio | server CPU us/req | "
            "new conns/s | ratio | accept p50 us | accept p99 us | "
            "busiest thread's share |\n")
    o.write("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
    for s in order:
        if s not in rows:
            continue
        b = free if s.endswith("free") else base
        c = [col(s, i) for i in range(6)]
        fmt = lambda m, lo, hi, d=0: f"{m:,.{d}f} ({lo:,.{d}f}-{hi:,.{d}f})"
        o.write(f"| {s} | {fmt(*c[0])} | {c[0][0] / b[0]:.2f} | "
                f"{fmt(*c[1], d=2)} | {fmt(*c[2])} | {c[2][0] / b[2]:.2f} | "
                f"{fmt(*c[3])} | {fmt(*c[4])} | {fmt(*c[5], d=2)} |\n")
    o.write("\nThe share is the busiest loop thread's part of the accepted "
            "clients times the number of threads: 1.00 is an even spread.\n")
print(open(out).read())
PY
