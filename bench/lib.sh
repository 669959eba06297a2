# shellcheck shell=bash
# bench/lib.sh: what the benchmark scripts share (sourced by
# bench/run-all.sh and bench/metrics.sh).  The caller sets TMP (its
# temporary directory) and PIDS=() before spawning anything, and runs
# cleanup at exit.

# log MESSAGE...: a progress line on stderr, with the UTC time.
log() {
	printf '== %s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2
}

# rotate R WORD...: the words, starting at the R-th (mod their count):
# the order of a round.
rotate() {
	local r=$1 n i

	shift
	n=$#
	local a=("$@")
	for ((i = 0; i < n; i++)); do
		printf '%s ' "${a[$(((i + r) % n))]}"
	done
}

# wait_port PORT: until something accepts on it (at most 10 s).
wait_port() {
	local i

	for i in $(seq 1 500); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.02
	done
	echo "nothing listens on port $1" >&2
	return 1
}

# spawn CPU NAME CMD...: CMD pinned to CPU, in its own process group,
# output in $TMP/NAME.log; its pid goes to SPAWNED, killed at exit.
spawn() {
	local cpu=$1 name=$2

	shift 2
	setsid taskset -c "$cpu" "$@" >"$TMP/$name.log" 2>&1 </dev/null &
	SPAWNED=$!
	PIDS+=("$SPAWNED")
}

# stop PID: SIGTERM to its process group, SIGKILL after 5 s.
stop() {
	local i

	kill -- "-$1" 2>/dev/null || kill "$1" 2>/dev/null || true
	for i in $(seq 1 250); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.02
	done
	kill -9 -- "-$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# cleanup: kill whatever spawn() started, with its process group (socat's
# and haproxy's children too), and remove $TMP unless KEEP_TMP=1.
cleanup() {
	local p

	for p in "${PIDS[@]}"; do
		kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true
	done
	sleep 0.3
	for p in "${PIDS[@]}"; do
		kill -9 -- "-$p" 2>/dev/null || kill -9 "$p" 2>/dev/null || true
	done
	[ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$TMP"
}
