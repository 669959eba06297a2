# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# bench/lib.sh: what the benchmark scripts share (sourced by
# bench/run-all.sh, bench/metrics.sh and bench/edge.sh).  The caller runs
# from the top of the tree, sets TMP (its temporary directory), PIDS=()
# before spawning anything and RAW (its raw results file) before raw,
# and runs cleanup at exit.

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

# cpu_ticks CPU: the CPU's busy and total clock ticks so far (/proc/stat).
cpu_ticks() {
	awk -v c="cpu$1" '$1 == c {
		for (i = 2; i <= NF; i++) t += $i
		print t - $5 - $6, t
	}' /proc/stat
}

# settle CPU: wait until CPU is under 10 % busy over 0.2 s (at most 10 s),
# so that what one run leaves behind is not billed to the next: socat's
# 1000 forked children exiting kept CPU 0 busy for 1.5 s, half of the next
# peer's timed run.
settle() {
	local i b0 t0 b1 t1

	for i in $(seq 1 50); do
		read -r b0 t0 < <(cpu_ticks "$1")
		sleep 0.2
		read -r b1 t1 < <(cpu_ticks "$1")
		[ $(((b1 - b0) * 10)) -le $((t1 - t0)) ] && return 0
	done
	log "CPU $1 still busy after 10 s; going on"
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

# command_line SCRIPT VAR...: how SCRIPT was run: the VARs set in the
# environment, then SCRIPT (for the results file).
command_line() {
	local cmd=$1 v

	shift
	for v in "$@"; do
		[ -n "${!v+x}" ] && cmd="$v=\"${!v}\" $cmd"
	done
	printf '%s\n' "$cmd"
}

# build_tree DIR TARGET...: this tree, RelWithDebInfo, in DIR.
build_tree() {
	local dir=$1

	shift
	log "building this tree in $dir"
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$dir" -j"$(nproc)" --target "$@" >/dev/null
}

# tree_rev: the commit, and the last one that changed what the daemon is
# built from (and whether the tree differs from it there).
tree_rev() {
	local rev

	rev="$(git rev-parse --short HEAD) (src/ as of $(git log -1 --format=%h -- src CMakeLists.txt))"
	git diff --quiet HEAD -- src CMakeLists.txt || rev="$rev + uncommitted changes"
	printf '%s\n' "$rev"
}

# ports N: sets PORTS to N loopback ports free a moment ago.
# shellcheck disable=SC2034 # PORTS is the result
ports() {
	read -r -a PORTS < <(python3 bench/metrics_tool.py ports "$1")
}

# alive PID NAME: fail loudly when a daemon spawned as NAME died under a
# benchmark.
alive() {
	kill -0 "$1" 2>/dev/null && return 0
	echo "${0##*/}: $2 (pid $1) died; its log:" >&2
	tail -20 "$TMP/$2.log" >&2
	exit 1
}

# client WHAT CMD...: CMD on CPU 1 (at most 120 s); prints its output, or
# fails loudly with it and its errors.
client() {
	local what=$1 out

	shift
	out=$(timeout 120 taskset -c 1 "$@" 2>"$TMP/client.err") || {
		echo "${0##*/}: $what failed: $out $(cat "$TMP/client.err")" >&2
		exit 1
	}
	printf '%s\n' "$out"
}

raw() { # FIELDS...: one tab-separated line of raw results, to $RAW
	local IFS=$'\t'
	printf '%s\n' "$*" >>"$RAW"
}
