#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# One client cannot fill the log: every per-connection line (closes,
# rejects) is rate-limited per listener, however fast clients come.

load helpers

setup() {
	PORT=$(free_port)
	ADDR="127.0.0.1:$PORT"
}

# connect_many N: N connections, each closed at once by the client, as
# fast as they go.
connect_many() {
	python3 - "$PORT" "$1" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
for _ in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.close()
    except ConnectionResetError:
        pass  # a proxy with no upstream resets its clients at once
PY
}

# past MS: clock_now() in ms is MS or later.
past() {
	[ "$(now_ms)" -ge "$1" ]
}

# The bound is 100 a second per loop thread's copy of a listener, in
# seconds that start at the first line of each: a second of the clock
# (the log's time stamps) may hold the end of one and the start of the
# next, and the line that says how many were left out.
MAX_PER_SEC=$((2 * (100 + 1) * ${AIO_LOOP_THREADS:-1}))

# lines_per_second TEXT: the most log lines holding TEXT in any one
# second (by their timestamps).
lines_per_second() {
	grep -- "$1" "$LOG" | cut -c1-19 | uniq -c | sort -n | tail -n 1 |
		awk '{ print $1 + 0 }'
}

@test "a flood of clients over max_connections logs at most 100 lines a second per loop thread, and says how many it left out" {
	echo_conf "$ADDR" "max_connections = 1;"
	start_daemon
	exec 7<>"/dev/tcp/127.0.0.1/$PORT"	# takes the one place
	connect_many 3000
	exec 7>&-
	# The next line after a full second says what was left out.
	wait_until 3000 past $(($(now_ms) + 1100))
	connect_many 1
	wait_until 5000 log_has "echo: [0-9]* connection log lines suppressed"
	[ "$(lines_per_second "closed (limit)")" -le "$MAX_PER_SEC" ]
	stop_daemon
	log_has "echo: [0-9]* served, .*[0-9]* limit"
}

@test "a flood of short clients logs at most 100 close lines a second per loop thread" {
	echo_conf "$ADDR"
	start_daemon
	connect_many 3000
	echo "busiest second: $(lines_per_second ": closed (client-fin)") close lines"
	[ "$(lines_per_second ": closed (client-fin)")" -le "$MAX_PER_SEC" ]
	stop_daemon
	# (A slow build may have had to refuse some: max_connections.)
	log_has "echo: [0-9]* served, [0-9]* client-fin"
}

@test "a flood of clients to a proxy whose upstream is down logs at most 100 lines a second per loop thread" {
	dead=$(free_port)
	proxy_conf "$ADDR" "\"127.0.0.1:$dead\""
	start_daemon
	connect_many 2000
	# Each client: a failed upstream and a close, both limited.
	echo "busiest second: $(lines_per_second "debug: px") per-connection lines"
	[ "$(lines_per_second "debug: px")" -le "$MAX_PER_SEC" ]
	stop_daemon
	log_has "px: [0-9]* served, [0-9]* connect-failed"
}
