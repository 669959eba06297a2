#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# A stop that always completes: pool waits are cancellable, the pool's
# part of the stop is bounded, lookups of one name are coalesced, and the
# access log does not follow symbolic links.

load helpers

ACCEPTED=(python3 "$BATS_TEST_DIRNAME/tools/accepted.py")

setup() {
	PORT=$(free_port)
	PX_PORT=$(free_port)
	FIFO=$BATS_TEST_TMPDIR/fifo
	SOCK=$BATS_TEST_TMPDIR/echo.sock
	mkfifo "$FIFO"
}

# fifo_conf UPSTREAM_PORT GLOBAL_KEYS [PROXY KEYS]: one worker; an echo
# listener logging to $FIFO, a proxy to localhost:UPSTREAM_PORT (a name:
# the pool must resolve it), a UNIX echo listener.
fifo_conf() {
	cat >"$CONF" <<EOC
log_level = "debug";
worker_threads = 1;
$2
listeners = (
  { name = "logged"; address = "127.0.0.1:$PORT"; service = "echo";
    access_log = "$FIFO"; },
  { name = "px"; address = "127.0.0.1:$PX_PORT"; service = "proxy";
    upstreams = ( "localhost:$1" ); $3 },
  { name = "unix"; address = "unix:$SOCK"; service = "echo"; }
);
EOC
}

# block_worker: a client of the logged listener, whose access log line
# sends the only worker into open(2) on the FIFO nobody reads.
block_worker() {
	run "${CLIENT[@]}" echo "127.0.0.1:$PORT"
	[ "$status" -eq 0 ]
	wait_until 5000 log_has "logged 127.0.0.1:[0-9]*: closed"
}

# proxy_waiting N: N proxy clients have been accepted (so each waits for
# the name, queued behind the blocked worker).
proxy_waiting() {
	wait_until 10000 "${ACCEPTED[@]}" "$PX_PORT" "$1"
}

@test "stop: a client waiting on a stuck pool does not hold SIGTERM past shutdown_timeout + 2 s" {
	start_upstream UP echo
	fifo_conf "$UP_PORT" 'shutdown_timeout = "1s";'
	start_daemon
	block_worker
	bg_client WAIT --timeout 60 echo "127.0.0.1:$PX_PORT"
	proxy_waiting 1
	t0=$(now_ms)
	kill -TERM "$DAEMON_PID"
	# 1 s drain + 2 s for the access logs + 1.5 s margin.
	wait_exit 4500
	took=$(($(now_ms) - t0))
	echo "exit $DAEMON_STATUS after $took ms"
	[ "$DAEMON_STATUS" -eq 0 ]
	[ ! -e "$SOCK" ]
	grep -q "access logs still busy" "$LOG"
	# The client's lookup was cut by the stop, not by a failed upstream.
	grep -q "px 127.0.0.1:[0-9]*: closed (shutdown)" "$LOG"
	refute grep -q "no upstream reachable" "$LOG"
}

# term_again: a second SIGTERM; the daemon must exit 0 within 1 s (plus
# 0.5 s of margin) and say why.
term_again() {
	local t0

	t0=$(now_ms)
	kill -TERM "$DAEMON_PID"
	wait_exit 1500
	echo "exit $DAEMON_STATUS after $(($(now_ms) - t0)) ms"
	[ "$DAEMON_STATUS" -eq 0 ]
	grep -q "SIGTERM again" "$LOG"
}

@test "stop: a second SIGTERM exits within 1 s even with a stuck pool" {
	start_upstream UP echo
	fifo_conf "$UP_PORT" 'shutdown_timeout = "1h";'
	start_daemon
	block_worker
	bg_client WAIT --timeout 60 echo "127.0.0.1:$PX_PORT"
	proxy_waiting 1
	kill -TERM "$DAEMON_PID"
	wait_until 5000 log_has "SIGTERM: stopping"
	term_again
	[ ! -e "$SOCK" ]
}

@test "stop: a second SIGTERM while the access logs are flushed cuts that wait short" {
	echo_conf "127.0.0.1:$PORT" "access_log = \"$FIFO\";"
	start_daemon
	run "${CLIENT[@]}" echo "127.0.0.1:$PORT"
	[ "$status" -eq 0 ]
	kill -TERM "$DAEMON_PID"
	# The loop has ended; the daemon now waits for the blocked log.
	wait_until 5000 log_has "aio-echod stopped"
	term_again
	# The stop cut the blocked write: its lines are counted as dropped
	# by the stop, not blamed on the file.
	refute grep -q "Interrupted system call" "$LOG"
	grep -q "lines dropped so far (stopping)" "$LOG"
}

@test "lookups are coalesced: 10 clients waiting for one name share one getaddrinfo per loop thread" {
	start_upstream UP echo
	fifo_conf "$UP_PORT" "" 'connect_timeout = "20s";'
	start_daemon
	block_worker
	bg_client TEN --timeout 60 echo "127.0.0.1:$PX_PORT" --clients 10
	proxy_waiting 10
	# A reader unblocks the worker: the log line, then the lookup(s).
	cat "$FIFO" >/dev/null &
	wait "$TEN_PID"
	output_has TEN "10 clients x 1024 bytes: byte-exact"
	n=$(grep -c "px: resolved localhost:$UP_PORT" "$LOG")
	threads=$(sed -n 's/.* ready: .* \([0-9]*\) loop threads.*/\1/p' "$LOG")
	echo "resolved $n times, $threads loop threads"
	# Each loop thread keeps its own cache: at most one lookup each.
	[ "$n" -ge 1 ] && [ "$n" -le "$threads" ]
	stop_daemon
}

@test "the access log does not follow a symbolic link planted at its path" {
	mkdir "$BATS_TEST_TMPDIR/logs"
	target=$BATS_TEST_TMPDIR/target
	: >"$target"
	ln -s "$target" "$BATS_TEST_TMPDIR/logs/access.log"
	echo_conf "127.0.0.1:$PORT" "access_log = \"$BATS_TEST_TMPDIR/logs/access.log\";"
	start_daemon
	run "${CLIENT[@]}" echo "127.0.0.1:$PORT"
	[ "$status" -eq 0 ]
	wait_until 5000 log_has "access log .*/logs/access.log: is a symbolic link; refusing to follow it"
	[ ! -s "$target" ]
	stop_daemon
}
