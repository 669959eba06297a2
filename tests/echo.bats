#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The echo service (RFC 862) over TCP, IPv6 and UNIX sockets.

load helpers

setup() {
	PORT=$(free_port)
	ADDR="127.0.0.1:$PORT"
}

@test "a line comes back (nc)" {
	echo_conf "$ADDR"
	start_daemon
	run bash -c "printf 'hello, echo\n' | nc -N 127.0.0.1 $PORT"
	[ "$status" -eq 0 ]
	[ "$output" = "hello, echo" ]
	stop_daemon
}

@test "10 MiB of random bytes come back byte-exact (sha256)" {
	echo_conf "$ADDR"
	start_daemon
	run "${CLIENT[@]}" echo "$ADDR" --bytes $((10 * 1024 * 1024))
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "200 concurrent clients are each echoed byte-exact" {
	echo_conf "$ADDR"
	start_daemon
	run "${CLIENT[@]}" echo "$ADDR" --clients 200 --bytes 65536 --chunk 4096
	echo "$output"
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "after a half-close every byte comes back, then EOF" {
	echo_conf "$ADDR"
	start_daemon
	# The client sends 1 MiB, shuts down its write side, and must read
	# all of it back and then EOF; the daemon logs the client's FIN.
	run "${CLIENT[@]}" echo "$ADDR" --bytes $((1024 * 1024))
	[ "$status" -eq 0 ]
	wait_until 5000 log_has "closed (client-fin)"
	stop_daemon
}

@test "idle_timeout closes a silent client" {
	echo_conf "$ADDR" 'idle_timeout = "300ms";'
	start_daemon
	run "${CLIENT[@]}" --timeout 10 idle "$ADDR"
	[ "$status" -eq 0 ]
	wait_until 5000 log_has "closed (idle-timeout)"
	stop_daemon
}

@test "idle_timeout = 0 never closes a silent client" {
	echo_conf "$ADDR" 'idle_timeout = 0;'
	start_daemon
	run "${CLIENT[@]}" --timeout 1 idle "$ADDR"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no result within"* ]]
	stop_daemon
}

@test "a UNIX socket listener echoes, and its file goes at exit" {
	sock=$BATS_TEST_TMPDIR/run/echo.sock
	echo_conf "unix:$sock"
	start_daemon
	[ -S "$sock" ]
	run "${CLIENT[@]}" echo "unix:$sock" --bytes 100000 --clients 10
	[ "$status" -eq 0 ]
	run bash -c "printf 'via unix\n' | nc -N -U $sock"
	[ "$output" = "via unix" ]
	stop_daemon
	[ ! -e "$sock" ]
}

@test "a stale UNIX socket file is replaced" {
	sock=$BATS_TEST_TMPDIR/stale.sock
	python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('$sock')"
	[ -S "$sock" ]
	echo_conf "unix:$sock"
	start_daemon
	run "${CLIENT[@]}" echo "unix:$sock"
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "IPv6 loopback works" {
	echo_conf "[::1]:$PORT"
	start_daemon
	run "${CLIENT[@]}" echo "[::1]:$PORT" --bytes 100000
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "max_connections: one client too many is closed at once and counted" {
	echo_conf "$ADDR" "max_connections = 3; access_log = \"$BATS_TEST_TMPDIR/access.log\";"
	start_daemon
	bg_client HOLD --timeout 60 hold "$ADDR" 3
	wait_until 10000 output_has HOLD "holding 3"
	run "${CLIENT[@]}" --timeout 5 rejected "$ADDR"
	[ "$status" -eq 0 ]
	# Refused, not served: a reset, never a FIN an echo client could
	# take for the end of an empty echo.
	run "${CLIENT[@]}" --timeout 5 expect-reset "$ADDR"
	[ "$status" -eq 0 ]
	log_has "echo: max_connections reached: closing new clients"
	wait_until 5000 grep -q " limit$" "$BATS_TEST_TMPDIR/access.log"
	# Below the limit again, a new client is served.
	kill "$HOLD_PID"
	wait_until 5000 log_has "closed (client-fin)"
	run "${CLIENT[@]}" echo "$ADDR"
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "a client that resets is logged at debug and others carry on" {
	echo_conf "$ADDR"
	start_daemon
	run "${CLIENT[@]}" reset "$ADDR"
	[ "$status" -eq 0 ]
	wait_until 5000 log_has "closed (reset: Connection reset by peer)"
	grep "closed (reset" "$LOG" | grep -q "debug:"
	run "${CLIENT[@]}" echo "$ADDR" --clients 5
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "a client that never reads does not stop others being served" {
	echo_conf "$ADDR"
	start_daemon
	bg_client STALL stall "$ADDR"
	wait_until 10000 output_has STALL stalled
	run "${CLIENT[@]}" echo "$ADDR" --clients 20 --bytes 200000
	[ "$status" -eq 0 ]
	kill "$STALL_PID"
	stop_daemon
}

@test "out of file descriptors: accept pauses without spinning, then recovers" {
	echo_conf "$ADDR" 'backlog = 256;'
	# 40 fds: a dozen for the daemon itself, the rest for clients.
	DAEMON_WRAP=(prlimit --nofile=40:40 --)
	start_daemon
	bg_client FLOOD --timeout 3 flood "$ADDR" 60
	wait_until 10000 output_has FLOOD "opened 60"
	wait_until 5000 log_has "ms): Too many open files"
	# While clients wait, the daemon sleeps between attempts: in one
	# second it uses well under a second of CPU.
	t0=$(awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat")
	sleep 1
	t1=$(awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat")
	echo "cpu ticks in 1 s: $((t1 - t0))"
	[ $((t1 - t0)) -lt 50 ]
	wait "$FLOOD_PID"
	# Once they are gone, clients are served again.
	run "${CLIENT[@]}" --timeout 20 echo "$ADDR" --clients 5
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "access log: one line per connection in the documented format" {
	echo_conf "$ADDR" "access_log = \"$BATS_TEST_TMPDIR/access.log\";"
	start_daemon
	run bash -c "printf 'hello\n' | nc -N 127.0.0.1 $PORT"
	run "${CLIENT[@]}" echo "$ADDR" --bytes 1000
	wait_until 5000 test -s "$BATS_TEST_TMPDIR/access.log"
	wait_until 5000 bash -c "[ \$(wc -l <'$BATS_TEST_TMPDIR/access.log') -eq 2 ]"
	cat "$BATS_TEST_TMPDIR/access.log"
	# TIME LISTENER CLIENT UPSTREAM MS IN OUT REASON
	re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z echo 127\.0\.0\.1:[0-9]+ - [0-9]+ '
	sed -n 1p "$BATS_TEST_TMPDIR/access.log" | grep -Eq "${re}6 6 client-fin$"
	sed -n 2p "$BATS_TEST_TMPDIR/access.log" | grep -Eq "${re}1000 1000 client-fin$"
	stop_daemon
}

@test "access log: SIGUSR1 reopens the file after mv (logrotate)" {
	log=$BATS_TEST_TMPDIR/access.log
	echo_conf "$ADDR" "access_log = \"$log\";"
	start_daemon
	run "${CLIENT[@]}" echo "$ADDR"
	wait_until 5000 test -s "$log"
	mv "$log" "$log.1"
	kill -USR1 "$DAEMON_PID"
	wait_until 5000 log_has "SIGUSR1: reopening 1 access logs"
	run "${CLIENT[@]}" echo "$ADDR" --clients 2
	wait_until 5000 test -s "$log"
	wait_until 5000 bash -c "[ \$(wc -l <'$log') -eq 2 ]"
	[ "$(wc -l <"$log.1")" -eq 1 ]
	stop_daemon
}

@test "access log that cannot be opened: clients are served, one warning, not one per line" {
	echo_conf "$ADDR" "access_log = \"$BATS_TEST_TMPDIR/no/such/dir/access.log\";"
	start_daemon
	for i in 1 2 3 4 5; do
		run "${CLIENT[@]}" echo "$ADDR" --clients 4
		[ "$status" -eq 0 ]
	done
	wait_until 5000 log_has "access.log: No such file or directory"
	stop_daemon
	[ "$(grep -c "No such file or directory" "$LOG")" -eq 1 ]
}

@test "a client cut with echoes still pending gets a reset, not a FIN" {
	# It sends without reading until the daemon's write back parks;
	# idle_timeout then cuts that write.
	echo_conf "$ADDR" 'idle_timeout = "300ms";'
	start_daemon
	run "${CLIENT[@]}" --timeout 20 stall-reset "$ADDR"
	echo "$output"
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "a client that TCP gives up on is logged as a reset with its error, not as an idle timeout" {
	once_per_build	# one connection's error path: any loop_threads
	# A private network namespace: lo, a short tcp_retries2 and a
	# blackhole route there touch nothing outside this test.  The
	# kernel's ETIMEDOUT comes from a read, then from a write.
	for mode in read write; do
		run timeout 60 unshare -n python3 "$BATS_TEST_DIRNAME/tools/client_vanishes.py" "$AIO_BIN" "$BATS_TEST_TMPDIR" "$mode"
		echo "$mode: $output"
		[ "$status" -eq 0 ]
	done
}

@test "data behind TCP's urgent mark is echoed, the urgent byte too (telnet's ^C)" {
	# The first read stops short at the mark, with no new edge to come.
	echo_conf "$ADDR"
	start_daemon
	run "${CLIENT[@]}" --timeout 10 urgent "$ADDR" "$DAEMON_PID"
	echo "$output"
	[ "$status" -eq 0 ]
	stop_daemon
}
