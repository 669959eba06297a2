#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Active health checks (health_check = { ... }): an upstream killed is
# marked down within interval x fall + timeout and gets no client, and
# comes back within interval x rise once restarted; a hung redis-server
# fails PING/+PONG but passes a plain connect check; reloads keep an
# unchanged check's state and start a changed one afresh; the metrics;
# the keys' errors.

load helpers

BAL=(python3 "$BATS_TEST_DIRNAME/tools/balance.py")
SCRAPE=(python3 "$BATS_TEST_DIRNAME/tools/scrape.py")

setup() {
	PORT=$(free_port)
	MPORT=$(free_port)
	ADDR="127.0.0.1:$PORT"
}

# hc_conf UPSTREAMS [LISTENER KEYS] [GLOBAL KEYS]: proxy "px" on $ADDR,
# metrics on $MPORT.
hc_conf() {
	cat >"$CONF" <<EOC
log_level = "debug";
$3
listeners = (
  { name = "px"; address = "$ADDR"; service = "proxy";
    upstreams = ( $1 ); $2 },
  { name = "m"; address = "127.0.0.1:$MPORT"; service = "metrics"; }
);
EOC
}

# metric SAMPLE: its value on the metrics listener.
metric() {
	"${SCRAPE[@]}" get "127.0.0.1:$MPORT" "$1"
}

# at_least N COMMAND...: COMMAND prints a number of at least N.
at_least() {
	local n=$1 v
	shift
	v=$("$@" 2>/dev/null) && [ -n "$v" ] && [ "$v" -ge "$n" ]
}

up_is() { # UPSTREAM-PORT 0|1
	[ "$(metric "aio_echod_upstream_up{listener=\"px\",upstream=\"127.0.0.1:$1\"}")" = "$2" ]
}

# redis PORT: a redis-server on 127.0.0.1:PORT, its pid in $REDIS_PID.
redis() {
	redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no \
		--daemonize no --dir "$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/redis.log" 2>&1 &
	REDIS_PID=$!
	wait_until 10000 bash -c "redis-cli -p $1 ping 2>/dev/null | grep -q PONG"
}

@test "a killed upstream is marked down within interval x fall + timeout, gets no client, and is back within interval x rise" {
	tell_upstream A
	tell_upstream B
	hc_conf "\"127.0.0.1:$A_PORT\", \"127.0.0.1:$B_PORT\"" \
		'max_fails = 0; health_check = { interval = "300ms"; timeout = "200ms"; rise = 2; fall = 3; };'
	start_daemon
	wait_until 5000 at_least 2 metric "aio_echod_upstream_checks_total{listener=\"px\",upstream=\"127.0.0.1:$A_PORT\",result=\"ok\"}"
	kill "$A_PID"
	wait "$A_PID" 2>/dev/null || true
	t0=$(now_ms)
	# 300 ms x 3 + 200 ms; and one interval more for the round under
	# way when it died.
	wait_until 2000 log_has "crit: px: upstream 127.0.0.1:$A_PORT is down: connection refused (3 checks failed)"
	echo "marked down after $(($(now_ms) - t0)) ms" >&3
	up_is "$A_PORT" 0
	# No client goes there, nor waits on it: not one connect is tried.
	run "${BAL[@]}" seq "$ADDR" 6
	[ "$output" = "$B_PORT $B_PORT $B_PORT $B_PORT $B_PORT $B_PORT" ]
	[ "$(metric "aio_echod_upstream_connects_total{listener=\"px\",upstream=\"127.0.0.1:$A_PORT\",result=\"refused\"}")" = 0 ]
	tell_upstream A "$A_PORT"
	t0=$(now_ms)
	wait_until 1500 log_has "warn: px: upstream 127.0.0.1:$A_PORT is up: 2 checks passed"
	echo "back after $(($(now_ms) - t0)) ms" >&3
	up_is "$A_PORT" 1
	run "${BAL[@]}" seq "$ADDR" 4
	[ "$output" = "$A_PORT $B_PORT $A_PORT $B_PORT" ] || [ "$output" = "$B_PORT $A_PORT $B_PORT $A_PORT" ]
	stop_daemon
}

@test "a hung redis-server (SIGSTOP) fails PING/+PONG and is marked down, its open relay goes on; a plain connect check keeps it up" {
	once_per_build
	RPORT=$(free_port)
	redis "$RPORT"
	cat >"$CONF" <<EOC
log_level = "debug";
listeners = (
  { name = "ping"; address = "$ADDR"; service = "proxy"; upstreams = ( "127.0.0.1:$RPORT" );
    health_check = { interval = "200ms"; timeout = "300ms"; fall = 2; send = "PING\r\n"; expect = "+PONG"; }; },
  { name = "tcp"; address = "127.0.0.1:$(free_port)"; service = "proxy"; upstreams = ( "127.0.0.1:$RPORT" );
    health_check = { interval = "200ms"; timeout = "300ms"; fall = 2; }; },
  { name = "m"; address = "127.0.0.1:$MPORT"; service = "metrics"; }
);
EOC
	start_daemon
	wait_until 5000 at_least 2 metric "aio_echod_upstream_checks_total{listener=\"ping\",upstream=\"127.0.0.1:$RPORT\",result=\"ok\"}"
	# A client relayed to redis, that stays: PING now, PING again once
	# redis runs again (its relay is not cut by the down mark).
	coproc RELAY { python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
for _ in range(2):
    s.sendall(b"PING\r\n")
    print(s.recv(100).decode().strip(), flush=True)
    sys.stdin.readline()
' "$PORT"; }
	relay_pid=$RELAY_PID	# bash unsets RELAY_PID once it has ended
	read -r -t 10 pong <&"${RELAY[0]}"
	[ "$pong" = +PONG ]
	kill -STOP "$REDIS_PID"
	wait_until 5000 log_has "crit: ping: upstream 127.0.0.1:$RPORT is down: timeout waiting for the reply (2 checks failed)"
	# The kernel still completes a connect to a stopped process.
	n=$(metric "aio_echod_upstream_checks_total{listener=\"tcp\",upstream=\"127.0.0.1:$RPORT\",result=\"ok\"}")
	wait_until 5000 at_least $((n + 3)) metric "aio_echod_upstream_checks_total{listener=\"tcp\",upstream=\"127.0.0.1:$RPORT\",result=\"ok\"}"
	refute log_has "tcp: upstream 127.0.0.1:$RPORT is down"
	[ "$(metric "aio_echod_upstream_up{listener=\"tcp\",upstream=\"127.0.0.1:$RPORT\"}")" = 1 ]
	[ "$(metric "aio_echod_upstream_up{listener=\"ping\",upstream=\"127.0.0.1:$RPORT\"}")" = 0 ]
	# A client of "ping" is refused at once.
	run "${CLIENT[@]}" --timeout 10 expect-reset "$ADDR"
	[ "$status" -eq 0 ]
	kill -CONT "$REDIS_PID"
	echo >&"${RELAY[1]}"
	read -r -t 10 pong <&"${RELAY[0]}"
	[ "$pong" = +PONG ]
	wait_until 5000 log_has "warn: ping: upstream 127.0.0.1:$RPORT is up"
	exec {RELAY[1]}>&-
	wait "$relay_pid"
	kill "$REDIS_PID"
	stop_daemon
}

@test "reload: an unchanged check keeps its upstream down; a changed one starts afresh" {
	once_per_build
	tell_upstream B
	refusing=$(free_port)
	hc_conf "\"127.0.0.1:$refusing\", \"127.0.0.1:$B_PORT\"" \
		'health_check = { interval = "200ms"; timeout = "100ms"; fall = 1; rise = 1; };'
	start_daemon
	wait_until 5000 up_is "$refusing" 0
	# Reload with B given a weight: the upstreams are rebuilt, the check
	# is the same: still down at once, without a check saying so anew.
	hc_conf "\"127.0.0.1:$refusing\", \"127.0.0.1:$B_PORT weight=2\"" \
		'health_check = { interval = "200ms"; timeout = "100ms"; fall = 1; rise = 1; };'
	kill -HUP "$DAEMON_PID"
	wait_until 5000 log_has "SIGHUP: reloaded"
	up_is "$refusing" 0
	[ "$(grep -c "px: upstream 127.0.0.1:$refusing is down" "$LOG")" -eq 1 ]
	# A changed check (its interval) starts afresh: up until it fails.
	hc_conf "\"127.0.0.1:$refusing\", \"127.0.0.1:$B_PORT weight=2\"" \
		'health_check = { interval = "30s"; timeout = "100ms"; fall = 1; rise = 1; };'
	kill -HUP "$DAEMON_PID"
	wait_until 5000 count_is 2 grep -c "SIGHUP: reloaded" "$LOG"
	wait_until 5000 count_is 2 grep -c "px: upstream 127.0.0.1:$refusing is down: connection refused (1 checks failed)" "$LOG"
	# No check at all: up again at once, and said so.
	hc_conf "\"127.0.0.1:$refusing\", \"127.0.0.1:$B_PORT weight=2\""
	kill -HUP "$DAEMON_PID"
	wait_until 5000 count_is 3 grep -c "SIGHUP: reloaded" "$LOG"
	log_has "px: upstream 127.0.0.1:$refusing: its health check changed: up until the new one says otherwise"
	up_is "$refusing" 1
	stop_daemon
}

@test "SIGTERM while a check waits on a blackhole upstream: the daemon exits at once" {
	once_per_build
	start_upstream X full
	hc_conf "\"127.0.0.1:$X_PORT\"" 'health_check = { interval = "200ms"; timeout = "20s"; };'
	# A check is out once its connect waits in SYN-SENT beside the
	# fillers.
	n=$(ss -Htn state syn-sent dst "127.0.0.1:$X_PORT" | wc -l)
	start_daemon
	wait_until 5000 bash -c "[ \$(ss -Htn state syn-sent dst 127.0.0.1:$X_PORT | wc -l) -gt $n ]"
	t0=$(now_ms)
	kill -TERM "$DAEMON_PID"
	# Not the check's 20 s, nor shutdown_timeout's 30 s.
	wait_exit 5000
	[ "$DAEMON_STATUS" -eq 0 ]
	echo "exited after $(($(now_ms) - t0)) ms" >&3
	refute log_has "busy connection"
	refute log_has "is down"
}

@test "health_check: file:line errors for its keys, and on an echo listener" {
	once_per_build
	hc_conf '"127.0.0.1:1"' 'health_check = { interval = "10ms"; rise = 0; fall = 101; send = ""; bogus = 1; };'
	run "$AIO_BIN" -n -f "$CONF"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$CONF:5: health_check.interval: out of range (100ms to 1h)"* ]]
	[[ "$output" == *"$CONF:5: health_check.rise: out of range (1 to 100)"* ]]
	[[ "$output" == *"$CONF:5: health_check.fall: out of range (1 to 100)"* ]]
	[[ "$output" == *"$CONF:5: health_check.send: expected a non-empty string"* ]]
	[[ "$output" == *"$CONF:5: unknown key \"health_check.bogus\""* ]]
	hc_conf '"127.0.0.1:1"' "health_check = { expect = \"$(printf 'x%.0s' $(seq 257))\"; };"
	run "$AIO_BIN" -n -f "$CONF"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$CONF:5: health_check.expect: longer than 256 bytes"* ]]
	echo_conf "127.0.0.1:$PORT" 'health_check = { };'
	run "$AIO_BIN" -n -f "$CONF"
	[ "$status" -eq 1 ]
	[[ "$output" == *"health_check: only for service \"proxy\""* ]]
}
