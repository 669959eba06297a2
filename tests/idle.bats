#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Idle connections give their stacks back: what one costs while it waits
# for its next message, counted in the daemon's RSS (not timed).

load helpers

setup() {
	PORT=$(free_port)
	ADDR="127.0.0.1:$PORT"
	if sanitized; then
		skip "RSS is not comparable under a sanitizer"
	fi
}

# rss_per_idle N: hold N idle connections (one echo each, after 200 to
# warm up) through $ADDR; the daemon's RSS growth per connection goes
# to PER.  The holders are this shell's jobs (teardown kills them) and
# do not keep bats' fd 3 open.
rss_per_idle() {
	local before after

	python3 "$BATS_TEST_DIRNAME/tools/idle_hold.py" "$ADDR" 200 >"$BATS_TEST_TMPDIR/warm.out" 3>&- &
	wait_until 20000 grep -q "^holding" "$BATS_TEST_TMPDIR/warm.out"
	before=$(rss_kb)
	python3 "$BATS_TEST_DIRNAME/tools/idle_hold.py" "$ADDR" "$1" >"$BATS_TEST_TMPDIR/idle.out" 3>&- &
	wait_until 60000 grep -q "^holding" "$BATS_TEST_TMPDIR/idle.out"
	after=$(rss_kb)
	PER=$(((after - before) * 1024 / $1))
}

@test "an idle echo connection costs at most 1 KiB (2000 connections)" {
	echo_conf "$ADDR" "max_connections = 10000; idle_timeout = 0;"
	start_daemon
	rss_per_idle 2000
	echo "# $PER bytes of RSS per idle echo connection" >&3
	[ "$PER" -le 1024 ]
	stop_daemon
}

@test "an idle proxied connection costs at most 2 KiB (2000 connections)" {
	UPORT=$(free_port)
	cat >"$BATS_TEST_TMPDIR/up.conf" <<EOC
listeners = ( { name = "up"; address = "127.0.0.1:$UPORT"; service = "echo"; max_connections = 10000; idle_timeout = 0; } );
EOC
	"$AIO_BIN" -f "$BATS_TEST_TMPDIR/up.conf" 2>"$BATS_TEST_TMPDIR/up.log" &
	UP_PID=$!
	wait_until 15000 grep -q " ready: " "$BATS_TEST_TMPDIR/up.log"
	proxy_conf "$ADDR" "\"127.0.0.1:$UPORT\"" "max_connections = 10000; idle_timeout = 0;" 'shutdown_timeout = "1s";'
	start_daemon
	rss_per_idle 2000
	echo "# $PER bytes of RSS per idle proxied connection" >&3
	[ "$PER" -le 2048 ]
	stop_daemon
	kill "$UP_PID"
}
