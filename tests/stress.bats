#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Everything at once on 4 loop threads: echo and proxied clients, reloads
# (SIGHUP) that add and remove a listener and change settings, access
# logs reopened (SIGUSR1) and scrapes, all while the clients run.  It
# runs in every build; it is meant for the ThreadSanitizer build
# (README, Tests), where a race report stops the daemon
# (TSAN_OPTIONS=halt_on_error=1) and teardown fails the test on any
# report in its log.  Bounded: the clients give up after 50 s, each
# wait has its deadline.  Sets its own loop_threads: once per build.

load helpers

setup() {
	once_per_build
	ECHO=127.0.0.1:$(free_port)
	PROXY=127.0.0.1:$(free_port)
	METRICS=127.0.0.1:$(free_port)
	EXTRA=127.0.0.1:$(free_port)
}

# stress_conf VARIANT: the configuration; variant 1 adds a listener and
# changes timeouts, so that a reload between them replaces something.
stress_conf() {
	local extra= idle=300s
	if [ "$1" = 1 ]; then
		extra="{ name = \"extra\"; address = \"$EXTRA\"; service = \"echo\"; },"
		idle=200s
	fi
	cat >"$CONF" <<EOC
log_level = "info";
loop_threads = 4;
worker_threads = 2;
listeners = (
  $extra
  { name = "echo"; address = "$ECHO"; service = "echo";
    idle_timeout = "$idle";
    access_log = "$BATS_TEST_TMPDIR/echo.log"; },
  { name = "px"; address = "$PROXY"; service = "proxy";
    upstreams = ( "127.0.0.1:$UP_PORT" ); idle_timeout = "$idle";
    access_log = "$BATS_TEST_TMPDIR/px.log"; },
  { name = "metrics"; address = "$METRICS"; service = "metrics"; }
);
EOC
}

any_running() {
	local p
	for p in "$@"; do
		! kill -0 "$p" 2>/dev/null || return 0
	done
	return 1
}

reloads_done() {
	[ "$(grep -c 'SIGHUP: reloaded' "$LOG")" -ge "$1" ]
}

@test "reloads, SIGUSR1, scrapes and client traffic at once on 4 loop threads" {
	local i n during=0 pids=()

	start_upstream UP echo
	stress_conf 0
	start_daemon
	for i in 1 2 3; do
		"${CLIENT[@]}" --timeout 50 pingpong "$ECHO" --clients 20 \
			--messages 250 >"$BATS_TEST_TMPDIR/echo$i.out" 2>&1 &
		pids+=($!)
		"${CLIENT[@]}" --timeout 50 pingpong "$PROXY" --clients 10 \
			--messages 250 >"$BATS_TEST_TMPDIR/px$i.out" 2>&1 &
		pids+=($!)
	done
	# Reloads until the clients are done: at least 12, at most 60 (a
	# slow build's clients may outlast those; they have 50 s).
	n=0
	while [ "$n" -lt 12 ] ||
		{ [ "$n" -lt 60 ] && any_running "${pids[@]}"; }; do
		n=$((n + 1))
		stress_conf $((n % 2))
		! any_running "${pids[@]}" || during=$((during + 1))
		kill -HUP "$DAEMON_PID"
		wait_until 20000 reloads_done "$n"
		if [ $((n % 3)) = 0 ]; then
			kill -USR1 "$DAEMON_PID"
		fi
		curl -sf -o /dev/null "http://$METRICS/metrics" &
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || {
			cat "$BATS_TEST_TMPDIR"/*.out
			return 1
		}
	done
	grep -q '^5000 messages$' "$BATS_TEST_TMPDIR/echo1.out"
	grep -q '^2500 messages$' "$BATS_TEST_TMPDIR/px3.out"
	echo "$n reloads, $during of them while the clients ran"
	[ "$during" -ge 3 ]
	wait_until 5000 log_has "SIGUSR1: reopening 2 access logs"
	kill -0 "$DAEMON_PID"
	stop_daemon
}
