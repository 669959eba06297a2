#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The proxy service: relaying, failover, half-close, backpressure, logs.

load helpers

# refusing_ports N: N loopback ports that refuse connections for the
# whole test, into $REFUSING (space-separated).  Each is bound but not
# listening, so no other process can take it meanwhile, as it could a
# port that was merely free a moment ago.
refusing_ports() {
	local out=$BATS_TEST_TMPDIR/refusing.out

	python3 -c '
import socket, sys, threading
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held), flush=True)
threading.Event().wait()
' "$1" >"$out" &
	wait_until 5000 test -s "$out"
	REFUSING=$(cat "$out")
}

setup() {
	PORT=$(free_port)
	ADDR="127.0.0.1:$PORT"
	ALOG=$BATS_TEST_TMPDIR/access.log
}

@test "64 MiB of random bytes each way, byte-exact (sha256)" {
	start_upstream UP echo
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\""
	start_daemon
	run "${CLIENT[@]}" --timeout 120 echo "$ADDR" --bytes $((64 * 1024 * 1024))
	echo "$output"
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "100 concurrent clients, each byte-exact" {
	start_upstream UP echo
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\""
	start_daemon
	run "${CLIENT[@]}" --timeout 60 echo "$ADDR" --clients 100 --bytes 100000 --chunk 8192
	echo "$output"
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "client half-close: the upstream sees EOF and its reply still arrives" {
	start_upstream UP reply
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "access_log = \"$ALOG\";"
	start_daemon
	run "${CLIENT[@]}" halfclose "$ADDR" --bytes 300000
	[ "$status" -eq 0 ]
	[ "$output" = "got 300000 bytes" ]
	wait_until 5000 grep -q " client-fin$" "$ALOG"
	stop_daemon
}

@test "upstream half-close: the client gets every byte, then EOF" {
	start_upstream UP source 5000000
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "access_log = \"$ALOG\";"
	start_daemon
	run "${CLIENT[@]}" fetch "$ADDR" --bytes 5000000
	echo "$output"
	[ "$status" -eq 0 ]
	wait_until 5000 grep -q " 0 5000000 upstream-fin$" "$ALOG"
	stop_daemon
}

@test "first upstream down: the next one serves the client" {
	# One connection's behaviour: the same with any loop_threads.
	once_per_build
	start_upstream UP echo
	refusing_ports 1
	down=$REFUSING
	proxy_conf "$ADDR" "\"127.0.0.1:$down\", \"127.0.0.1:$UP_PORT\"" 'balance = "first";'
	start_daemon
	run "${CLIENT[@]}" echo "$ADDR" --clients 3
	[ "$status" -eq 0 ]
	log_has "px: upstream 127.0.0.1:$down (127.0.0.1:$down): Connection refused"
	stop_daemon
}

@test "a named upstream is resolved by the pool (localhost)" {
	start_upstream UP echo
	proxy_conf "$ADDR" "\"localhost:$UP_PORT\"" "access_log = \"$ALOG\";"
	start_daemon
	run "${CLIENT[@]}" echo "$ADDR"
	[ "$status" -eq 0 ]
	wait_until 5000 test -s "$ALOG"
	grep -Eq " (127\.0\.0\.1|\[::1\]):$UP_PORT " "$ALOG"
	stop_daemon
}

@test "all upstreams down: the client is reset, connect-failed is logged" {
	refusing_ports 2
	read -r d1 d2 <<<"$REFUSING"
	proxy_conf "$ADDR" "\"127.0.0.1:$d1\", \"127.0.0.1:$d2\"" "access_log = \"$ALOG\";"
	start_daemon
	run "${CLIENT[@]}" --timeout 10 expect-reset "$ADDR"
	echo "$output"
	[ "$status" -eq 0 ]
	wait_until 5000 grep -q " - [0-9]* 0 0 connect-failed$" "$ALOG"
	log_has "px: no upstream reachable: Connection refused"
	# The daemon carries on.
	start_upstream UP echo
	stop_daemon
}

@test "connect_timeout against an upstream whose accept queue is full" {
	start_upstream FULL full
	proxy_conf "$ADDR" "\"127.0.0.1:$FULL_PORT\"" "connect_timeout = \"300ms\"; access_log = \"$ALOG\";"
	start_daemon
	t0=$(now_ms)
	run "${CLIENT[@]}" --timeout 10 expect-reset "$ADDR"
	took=$(($(now_ms) - t0))
	echo "closed after $took ms"
	[ "$status" -eq 0 ]
	[ "$took" -ge 250 ]
	wait_until 5000 grep -q " connect-failed$" "$ALOG"
	log_has "Connection timed out"
	stop_daemon
}

@test "round-robin spreads clients over the upstreams" {
	start_upstream A echo
	start_upstream B echo
	proxy_conf "$ADDR" "\"127.0.0.1:$A_PORT\", \"127.0.0.1:$B_PORT\"" "access_log = \"$ALOG\";"
	start_daemon
	for i in 1 2 3 4; do
		run "${CLIENT[@]}" echo "$ADDR"
		[ "$status" -eq 0 ]
	done
	wait_until 5000 bash -c "[ \$(wc -l <'$ALOG') -eq 4 ]"
	[ "$(grep -c " 127.0.0.1:$A_PORT " "$ALOG")" -eq 2 ]
	[ "$(grep -c " 127.0.0.1:$B_PORT " "$ALOG")" -eq 2 ]
	stop_daemon
}

@test "an upstream reset resets the client too" {
	start_upstream UP reset
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "access_log = \"$ALOG\";"
	start_daemon
	run "${CLIENT[@]}" --timeout 10 expect-reset "$ADDR"
	echo "$output"
	[ "$status" -eq 0 ]
	wait_until 5000 grep -q " reset$" "$ALOG"
	stop_daemon
}

@test "a client reset resets the upstream too" {
	start_upstream UP echo
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "access_log = \"$ALOG\";"
	start_daemon
	run "${CLIENT[@]}" reset "$ADDR"
	[ "$status" -eq 0 ]
	wait_until 5000 grep -q " reset$" "$ALOG"
	wait_until 5000 grep -q "^ended reset" "$BATS_TEST_TMPDIR/UP.up"
	refute grep -q "^ended eof" "$BATS_TEST_TMPDIR/UP.up"
	stop_daemon
}

@test "a client that never reads while the upstream sends 200 MiB: RSS stays under 64 MiB" {
	# One connection's behaviour: the same with any loop_threads.
	once_per_build
	start_upstream UP flood $((200 * 1024 * 1024))
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\""
	start_daemon
	bg_client SLEEPER --timeout 30 sleep "$ADDR"
	wait_until 5000 output_has SLEEPER connected
	max=$(max_rss_kb 30)
	sent=$(awk '/^sent/ {n = $2} END {print n + 0}' "$BATS_TEST_TMPDIR/UP.up")
	echo "# max RSS ${max} KiB; the upstream got ${sent} bytes out" >&3
	[ "$max" -lt 65536 ]
	# Backpressure reached the upstream: it is stuck far short of 200 MiB.
	[ "$sent" -lt $((32 * 1024 * 1024)) ]
	kill "$SLEEPER_PID"
	stop_daemon
}

@test "idle_timeout resets a proxied connection nobody uses" {
	start_upstream UP hold
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "idle_timeout = \"300ms\"; access_log = \"$ALOG\";"
	start_daemon
	run "${CLIENT[@]}" --timeout 10 expect-reset "$ADDR"
	[ "$status" -eq 0 ]
	wait_until 5000 grep -q " idle-timeout$" "$ALOG"
	stop_daemon
}

@test "upstream names are resolved again after resolve_interval" {
	start_upstream UP echo
	proxy_conf "$ADDR" "\"localhost:$UP_PORT\"" "" 'resolve_interval = "1s";'
	start_daemon
	resolved_twice() {
		"${CLIENT[@]}" echo "$ADDR" >/dev/null &&
			[ "$(grep -c "px: resolved localhost:$UP_PORT" "$LOG")" -ge 2 ]
	}
	wait_until 10000 resolved_twice
	stop_daemon
}

@test "fin_timeout bounds the half-open phase" {
	# One connection's behaviour: the same with any loop_threads.
	once_per_build
	# The upstream half-closes at once; the client never finishes its
	# side.  idle_timeout alone would wait 60 s.
	start_upstream UP source 0
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "fin_timeout = \"300ms\"; idle_timeout = \"60s\"; access_log = \"$ALOG\";"
	start_daemon
	bg_client SLEEPER --timeout 30 sleep "$ADDR"
	wait_until 5000 output_has SLEEPER connected
	wait_until 10000 grep -q " fin-timeout$" "$ALOG"
	cat "$ALOG"
	ms=$(awk '{print $5}' "$ALOG")
	[ "$ms" -ge 250 ] && [ "$ms" -lt 10000 ]
	stop_daemon
}

@test "fin_timeout is an inactivity limit: a download after the client's half-close runs while it moves" {
	# One connection's behaviour: the same with any loop_threads.
	once_per_build
	# After the client's EOF the upstream sends 20 x 64 KiB over 2 s,
	# a block every 100 ms, then its FIN.
	start_upstream UP drip 20
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "fin_timeout = \"500ms\"; access_log = \"$ALOG\";"
	start_daemon
	run "${CLIENT[@]}" --timeout 20 whole-or-reset "$ADDR" --bytes $((20 * 65536))
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "$((20 * 65536)) bytes, then eof" ]
	wait_until 5000 grep -q " client-fin$" "$ALOG"
	stop_daemon
}

@test "fin_timeout cuts a download that stops: the client gets every byte, then a reset, never a short EOF" {
	# One connection's behaviour: the same with any loop_threads.
	once_per_build
	# After the client's EOF the upstream sends 10 x 64 KiB over 1 s,
	# then holds without a FIN.
	start_upstream UP driphold 10
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "fin_timeout = \"500ms\"; access_log = \"$ALOG\";"
	start_daemon
	run "${CLIENT[@]}" --timeout 20 whole-or-reset "$ADDR" --bytes $((20 * 65536))
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "$((10 * 65536)) bytes, then reset" ]
	wait_until 5000 grep -q " fin-timeout$" "$ALOG"
	stop_daemon
}

@test "fin_timeout cuts an upload that stops: the upstream gets every byte, then a reset, never a short EOF" {
	# The upstream half-closes at once; the client then sends 64 KiB
	# every 100 ms for 1 s, and holds without a FIN.
	start_upstream UP sink
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "fin_timeout = \"500ms\"; access_log = \"$ALOG\";"
	start_daemon
	run python3 "$BATS_TEST_DIRNAME/tools/slow_reader.py" stream "$ADDR" \
		--paced --chunk 65536 --every 0.1 --live 1 --timeout 10
	echo "$output"
	[ "$status" -eq 0 ]
	sent=$(sed -n 's/^holding after \([0-9]*\) bytes$/\1/p' <<<"$output")
	wait_until 5000 grep -q "^got " "$BATS_TEST_TMPDIR/UP.up"
	cat "$BATS_TEST_TMPDIR/UP.up"
	grep -q "^got $sent reset$" "$BATS_TEST_TMPDIR/UP.up"
	wait_until 5000 grep -q " fin-timeout$" "$ALOG"
	stop_daemon
}

@test "fin_timeout bounds writes: a half-closed client that stops reading is cut" {
	# idle_timeout = 0: only fin_timeout can end this.  The client
	# half-closes and never reads; the upstream floods it.
	start_upstream UP flood $((200 * 1024 * 1024))
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "fin_timeout = \"300ms\"; idle_timeout = 0; access_log = \"$ALOG\";"
	start_daemon
	run python3 "$BATS_TEST_DIRNAME/tools/slow_reader.py" connect "$ADDR" \
		--send 1 --half-close --live 0 --timeout 10
	echo "$output"
	[ "$status" -eq 0 ]
	wait_until 5000 grep -q " fin-timeout$" "$ALOG"
	stop_daemon
}

@test "shutdown_timeout cuts a download: the client gets a reset, not a short EOF" {
	start_upstream UP drip 30
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "fin_timeout = \"60s\"; access_log = \"$ALOG\";" 'shutdown_timeout = "300ms";'
	start_daemon
	bg_client CUT --timeout 20 whole-or-reset "$ADDR" --bytes $((30 * 65536))
	# Let the download begin, then stop the daemon under it.
	wait_until 5000 output_has CUT "^receiving"
	kill -TERM "$DAEMON_PID"
	wait_exit 10000
	[ "$DAEMON_STATUS" -eq 0 ]
	wait "$CUT_PID"
	cat "$BATS_TEST_TMPDIR/CUT.out"
	grep -q "then reset$" "$BATS_TEST_TMPDIR/CUT.out"
	grep -q " shutdown$" "$ALOG"
}

@test "idle_timeout cuts a one-way download: the client gets a reset, not a short EOF" {
	# The upstream sends 64 KiB, then nothing, and never finishes.
	start_upstream UP sendhold 65536
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "idle_timeout = \"300ms\"; access_log = \"$ALOG\";"
	start_daemon
	run "${CLIENT[@]}" --timeout 20 whole-or-reset "$ADDR" --one-way --bytes 65536
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[-1]}" == *"bytes, then reset" ]]
	wait_until 5000 grep -q " idle-timeout$" "$ALOG"
	stop_daemon
}

@test "a UNIX upstream with a full backlog is a failed attempt: the next upstream serves" {
	# One connection's behaviour: the same with any loop_threads.
	once_per_build
	start_upstream UP echo
	full=$BATS_TEST_TMPDIR/full.sock
	python3 -c '
import os, socket, sys, threading
path = sys.argv[1]
ls = socket.socket(socket.AF_UNIX)
ls.bind(path)
ls.listen(0)
fill = []
for _ in range(4):
    c = socket.socket(socket.AF_UNIX)
    c.setblocking(False)
    try:
        c.connect(path)
    except BlockingIOError:
        pass
    fill.append(c)
print("full", flush=True)
threading.Event().wait()
' "$full" >"$BATS_TEST_TMPDIR/full.out" 2>&1 &
	wait_until 5000 grep -q full "$BATS_TEST_TMPDIR/full.out"
	proxy_conf "$ADDR" "\"unix:$full\", \"127.0.0.1:$UP_PORT\"" "balance = \"first\"; access_log = \"$ALOG\";"
	start_daemon
	run "${CLIENT[@]}" --timeout 10 echo "$ADDR" --clients 3
	echo "$output"
	[ "$status" -eq 0 ]
	log_has "px: upstream unix:$full (unix:$full): Resource temporarily unavailable"
	stop_daemon
}

@test "an upstream that TCP gives up on resets the client: a cut reply never looks whole" {
	# One connection's behaviour: the same with any loop_threads.
	once_per_build
	# A private network namespace: lo, a short tcp_retries2 and a
	# blackhole route there touch nothing outside this test.
	run timeout 60 unshare -n python3 "$BATS_TEST_DIRNAME/tools/peer_vanishes.py" "$AIO_BIN" "$BATS_TEST_TMPDIR"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "a client that resets while both directions wait elsewhere is noticed at once" {
	# One connection's behaviour: the same with any loop_threads.
	once_per_build
	# The upstream never reads: client -> upstream is parked writing,
	# upstream -> client parked reading; nothing waits on the client.
	start_upstream UP hold
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "idle_timeout = 0; access_log = \"$ALOG\";"
	start_daemon
	run "${CLIENT[@]}" --timeout 20 stall-then-reset "$ADDR"
	[ "$status" -eq 0 ]
	wait_until 3000 grep -q " reset$" "$ALOG"
	stop_daemon
}
