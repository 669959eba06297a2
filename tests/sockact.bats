#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Socket activation: sockets passed by systemd (LISTEN_FDS), matched to
# listeners by LISTEN_FDNAMES = the listener's name; tested with
# systemd-socket-activate, which binds, waits for the first client, then
# execs the daemon in its place with the sockets.

load helpers

setup() {
	PORT=$(free_port)
	ADDR=127.0.0.1:$PORT
	SOCK=$BATS_TEST_TMPDIR/echo.sock
}

# activate ARGS...: the daemon on $CONF under systemd-socket-activate;
# it starts at the first connection.
activate() {
	DAEMON_WRAP=(systemd-socket-activate "$@")
	"${DAEMON_WRAP[@]}" "$AIO_BIN" -f "$CONF" 2>"$LOG" &
	DAEMON_PID=$!
	wait_until 5000 log_has "Listening on"
}

# fails_at_first_client ADDR: a client of ADDR starts the daemon, which
# must exit 1 (a startup error).
fails_at_first_client() {
	"${CLIENT[@]}" --timeout 5 echo "$1" >/dev/null 2>&1 || true
	wait_exit 5000
	[ "$DAEMON_STATUS" -eq 1 ]
}

@test "TCP and UNIX sockets from systemd, by name, with two loop threads" {
	cat >"$CONF" <<EOC
loop_threads = 2;
listeners = (
  { name = "tcp"; address = "$ADDR"; service = "echo"; },
  { name = "local"; address = "unix:$SOCK"; service = "echo"; }
);
EOC
	activate -l "$ADDR" --fdname=tcp -l "$SOCK" --fdname=local
	run "${CLIENT[@]}" echo "$ADDR" --clients 20
	[ "$status" -eq 0 ]
	log_has "tcp: listening on $ADDR (echo, socket from systemd)"
	log_has "local: listening on unix:$SOCK (echo, socket from systemd)"
	run "${CLIENT[@]}" echo "unix:$SOCK" --clients 20
	[ "$status" -eq 0 ]
	stop_daemon
	log_has "tcp: 20 served"
	log_has "local: 20 served"
	# The UNIX socket file is systemd's: it stays.
	[ -S "$SOCK" ]
}

@test "a listener without a passed socket binds its own" {
	port2=$(free_port)
	cat >"$CONF" <<EOC
listeners = (
  { name = "tcp"; address = "$ADDR"; service = "echo"; },
  { name = "own"; address = "127.0.0.1:$port2"; service = "echo"; }
);
EOC
	activate -l "$ADDR" --fdname=tcp
	run "${CLIENT[@]}" echo "$ADDR"
	[ "$status" -eq 0 ]
	log_has "own: listening on 127.0.0.1:$port2 (echo)$"
	run "${CLIENT[@]}" echo "127.0.0.1:$port2"
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "a passed socket that no listener is named after is a startup error" {
	echo_conf "$ADDR"
	other=$(free_port)
	activate -l "127.0.0.1:$other" --fdname=nobody
	fails_at_first_client "127.0.0.1:$other"
	log_has 'crit: socket activation: systemd passed a socket named "nobody", and no listener of that name takes it'
}

@test "a passed socket on another address than its listener's is a startup error" {
	other=$(free_port)
	echo_conf "$ADDR"
	activate -l "127.0.0.1:$other" --fdname=echo
	fails_at_first_client "127.0.0.1:$other"
	log_has "crit: listener echo: the socket systemd passed as \"echo\" is not a listening stream socket on $ADDR"
}

@test "of two sockets with one name, the listener takes the one at its address" {
	other=$(free_port)
	echo_conf "$ADDR"
	activate -l "127.0.0.1:$other" --fdname=echo -l "$ADDR" --fdname=echo
	# It takes the right one; the other is left over, and said so.
	fails_at_first_client "$ADDR"
	log_has 'echo: listening on '"$ADDR"' (echo, socket from systemd)'
	log_has 'socket activation: systemd passed a socket named "echo", and no listener of that name takes it'
}

