#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The command line: options, configuration checks, exit codes.

load helpers

@test "-h prints usage and exits 0" {
	run "$AIO_BIN" -h
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: aio-echod"* ]]
	[[ "$output" == *"-n "* ]]
}

@test "-V prints the version and exits 0" {
	run "$AIO_BIN" -V
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^aio-echod\ [0-9]+\.[0-9]+\.[0-9]+ ]]
}

@test "an unknown option exits 2 with usage" {
	run "$AIO_BIN" -x
	[ "$status" -eq 2 ]
	[[ "$output" == *"usage:"* ]]
}

@test "an extra argument exits 2" {
	run "$AIO_BIN" -n extra
	[ "$status" -eq 2 ]
}

@test "-n on the shipped configuration prints configuration OK" {
	run "$AIO_BIN" -n -f "$BATS_TEST_DIRNAME/../conf/aio-echod.conf"
	[ "$status" -eq 0 ]
	[ "$output" = "configuration OK" ]
}

@test "-n on a bad file exits 1 with every problem as file:line" {
	cat >"$CONF" <<EOC
log_level = "loud";
listeners = (
  { name = "e"; address = "127.0.0.1:99999"; service = "echo";
    idle_timeout = "soon"; }
);
EOC
	run "$AIO_BIN" -n -f "$CONF"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$CONF:1: log_level"* ]]
	[[ "$output" == *"$CONF:3: address \"127.0.0.1:99999\": port"* ]]
	[[ "$output" == *"$CONF:4: idle_timeout: expected a duration"* ]]
	[[ "$output" != *"configuration OK"* ]]
}

@test "-n reports a syntax error with its line" {
	printf 'log_level = "info"\nlisteners = (;\n' >"$CONF"
	run "$AIO_BIN" -n -f "$CONF"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$CONF:2: syntax error"* ]]
}

@test "a missing configuration file exits 1 naming it" {
	run "$AIO_BIN" -f "$BATS_TEST_TMPDIR/nope.conf"
	[ "$status" -eq 1 ]
	[[ "$output" == *"nope.conf: No such file or directory"* ]]
}

@test "a port in use exits 1 with one line naming the listener" {
	port=$(free_port)
	echo_conf "127.0.0.1:$port"
	start_daemon
	run "$AIO_BIN" -f "$CONF"
	[ "$status" -eq 1 ]
	[[ "$output" == *"listener echo: 127.0.0.1:$port: Address already in use"* ]]
	[ "$(grep -c "crit" <<<"$output")" -eq 1 ]
	stop_daemon
}

@test "a UNIX path that is a regular file is refused, not replaced" {
	touch "$BATS_TEST_TMPDIR/file"
	echo_conf "unix:$BATS_TEST_TMPDIR/file"
	run "$AIO_BIN" -f "$CONF"
	[ "$status" -eq 1 ]
	[[ "$output" == *"listener echo: unix:$BATS_TEST_TMPDIR/file: File exists"* ]]
	[ -f "$BATS_TEST_TMPDIR/file" ]
}

@test "JOURNAL_STREAM makes lines carry a <N> priority prefix" {
	run env JOURNAL_STREAM=8:1234 "$AIO_BIN" -f "$BATS_TEST_TMPDIR/nope.conf"
	[ "$status" -eq 1 ]
	[[ "$output" == "<2>"*"nope.conf: No such file or directory" ]]
}

@test "without -f or /etc/aio-echod.conf, the built-in default is used" {
	[ ! -e /etc/aio-echod.conf ] || skip "/etc/aio-echod.conf exists here"
	run "$AIO_BIN" -n
	[ "$status" -eq 0 ]
	[[ "$output" == *"/etc/aio-echod.conf not found: using the built-in default"* ]]
	[[ "$output" == *"configuration OK"* ]]
}

@test "an fd limit below what max_connections needs is warned about, with the number" {
	port=$(free_port)
	cat >"$CONF" <<EOC
listeners = (
  { name = "e"; address = "127.0.0.1:$port"; service = "echo"; max_connections = 100; },
  { name = "p"; address = "127.0.0.1:$(free_port)"; service = "proxy";
    upstreams = ( "127.0.0.1:$port" ); max_connections = 100; }
);
EOC
	# echo: 1 fd per client, proxy: 2, plus 64 spare = 364; the proxy's
	# splice pipes, 2 fds each of max_pipes (256); and each loop thread
	# 5, plus one per listener.
	DAEMON_WRAP=(prlimit --nofile=200:200 --)
	start_daemon
	threads=$(sed -n 's/.* ready: .* \([0-9]*\) loop threads.*/\1/p' "$LOG")
	need=$((364 + 512 + threads * 7))
	log_has "open file limit is 200 but max_connections and max_pipes need $need: raise LimitNOFILE= (or ulimit -n) to at least $need"
	stop_daemon
	# Without splice (max_pipes = 0), no pipes.
	sed -i '1i max_pipes = 0;' "$CONF"
	start_daemon
	need=$((364 + threads * 7))
	log_has "open file limit is 200 but max_connections needs $need: raise LimitNOFILE= (or ulimit -n) to at least $need"
	stop_daemon
}
