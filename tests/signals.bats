#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Stopping: SIGTERM and SIGINT drain, a second signal cuts it short.

load helpers

setup() {
	PORT=$(free_port)
	ADDR="127.0.0.1:$PORT"
}

@test "SIGTERM with idle clients connected exits 0 at once, closing them" {
	sock=$BATS_TEST_TMPDIR/echo.sock
	cat >"$CONF" <<EOC
shutdown_timeout = "30s";
listeners = (
  { name = "tcp"; address = "$ADDR"; service = "echo"; },
  { name = "unix"; address = "unix:$sock"; service = "echo"; }
);
EOC
	start_daemon
	bg_client HOLD hold "$ADDR" 5
	wait_until 10000 output_has HOLD "holding 5"
	kill -TERM "$DAEMON_PID"
	# Idle clients do not wait for shutdown_timeout (30 s).
	wait_exit 10000
	[ "$DAEMON_STATUS" -eq 0 ]
	[ ! -e "$sock" ]
	wait "$HOLD_PID"
	output_has HOLD "all 5 closed by the daemon"
	grep -q "SIGTERM: stopping" "$LOG"
}

@test "a busy client gets shutdown_timeout, then the daemon exits 0" {
	echo_conf "$ADDR" "" 'shutdown_timeout = "1s";'
	start_daemon
	bg_client STALL stall "$ADDR"
	wait_until 10000 output_has STALL stalled
	t0=$(now_ms)
	kill -TERM "$DAEMON_PID"
	wait_exit 15000
	took=$(($(now_ms) - t0))
	[ "$DAEMON_STATUS" -eq 0 ]
	echo "exit after $took ms"
	[ "$took" -ge 900 ]
	grep -q "shutdown_timeout reached" "$LOG"
	grep -q "closed (shutdown)" "$LOG"
}

@test "a second SIGTERM closes busy clients at once" {
	echo_conf "$ADDR" "" 'shutdown_timeout = "1h";'
	start_daemon
	bg_client STALL stall "$ADDR"
	wait_until 10000 output_has STALL stalled
	kill -TERM "$DAEMON_PID"
	wait_until 5000 log_has "SIGTERM: stopping"
	kill -TERM "$DAEMON_PID"
	wait_exit 10000
	[ "$DAEMON_STATUS" -eq 0 ]
	grep -q "SIGTERM again" "$LOG"
}

@test "SIGINT stops like SIGTERM" {
	echo_conf "$ADDR"
	start_daemon
	kill -INT "$DAEMON_PID"
	wait_exit 10000
	[ "$DAEMON_STATUS" -eq 0 ]
	grep -q "SIGINT: stopping" "$LOG"
}

@test "SIGHUP reloads an unchanged file; the daemon keeps serving" {
	echo_conf "$ADDR"
	start_daemon
	kill -HUP "$DAEMON_PID"
	wait_until 5000 log_has "SIGHUP: reloaded $CONF: 1 listeners"
	run "${CLIENT[@]}" echo "$ADDR"
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "at exit each listener's counters are logged" {
	echo_conf "$ADDR"
	start_daemon
	run "${CLIENT[@]}" echo "$ADDR" --clients 3 --bytes 100
	run "${CLIENT[@]}" reset "$ADDR"
	wait_until 5000 log_has "closed (reset"
	stop_daemon
	log_has "echo: 4 served, 3 client-fin, 1 reset; 303 bytes in, 303 bytes out"
}
