#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The proxy's splice(2) path: a bulk stream moves socket to pipe to
# socket.  The relay's promises hold unchanged: every byte, in order,
# counted; backpressure; a cut is a reset, never a short EOF.  A stream
# that is not bulk, or a socket that cannot splice, is copied.

load helpers

SCRAPE=(python3 "$BATS_TEST_DIRNAME/tools/scrape.py")
SHIM=$(dirname "$AIO_BIN")/tests/libsplice_fail.so

setup() {
	PORT=$(free_port)
	ADDR="127.0.0.1:$PORT"
	MADDR="127.0.0.1:$(free_port)"
	ALOG=$BATS_TEST_TMPDIR/access.log
}

# conf UPSTREAM_PORT [PROXY KEYS] [GLOBAL KEYS]: a proxy on $ADDR to
# 127.0.0.1:UPSTREAM_PORT, and a metrics listener on $MADDR.
conf() {
	UP="127.0.0.1:$1"
	cat >"$CONF" <<EOC
log_level = "debug";
$3
listeners = (
  { name = "px"; address = "$ADDR"; service = "proxy";
    upstreams = ( "$UP" ); access_log = "$ALOG"; $2 },
  { name = "metrics"; address = "$MADDR"; service = "metrics"; }
);
EOC
}

# metric NAME: the proxy's upstream sample NAME (spliced_bytes_total...),
# or a sample without labels (pipes).
metric() {
	case $1 in
	pipes) "${SCRAPE[@]}" get "$MADDR" aio_echod_pipes ;;
	*) "${SCRAPE[@]}" get "$MADDR" "aio_echod_upstream_$1{listener=\"px\",upstream=\"$UP\"}" ;;
	esac
}

# metric_ge NAME N: at least N now.
metric_ge() {
	local v
	v=$(metric "$1" 2>/dev/null) && [ "$v" -ge "$2" ]
}

MIB=$((1024 * 1024))

@test "64 MiB each way: spliced, byte-exact (sha256), and counted" {
	start_upstream UP echo
	conf "$UP_PORT"
	start_daemon
	run "${CLIENT[@]}" --timeout 120 echo "$ADDR" --bytes $((64 * MIB))
	echo "$output"
	[ "$status" -eq 0 ]
	wait_until 5000 grep -q " client-fin$" "$ALOG"
	[ "$(metric sent_bytes_total)" -eq $((64 * MIB)) ]
	[ "$(metric received_bytes_total)" -eq $((64 * MIB)) ]
	spliced=$(metric spliced_bytes_total)
	echo "# spliced $spliced of $((128 * MIB)) bytes" >&3
	# All but the copied first reads of each burst.
	[ "$spliced" -ge $((128 * MIB * 9 / 10)) ]
	[ "$spliced" -le $((128 * MIB)) ]
	stop_daemon
}

@test "ping-pong is never spliced: small messages are copied" {
	start_upstream UP echo
	conf "$UP_PORT"
	start_daemon
	run "${CLIENT[@]}" --timeout 60 pingpong "$ADDR" --clients 10 --messages 200 --size 1000
	echo "$output"
	[ "$status" -eq 0 ]
	wait_until 5000 metric_ge sent_bytes_total $((10 * 200 * 1000))
	[ "$(metric spliced_bytes_total)" -eq 0 ]
	[ "$(metric pipes)" -eq 0 ]
	stop_daemon
}

@test "splice = false, or max_pipes = 0: a bulk stream is copied, byte-exact" {
	start_upstream UP echo
	for keys in "splice = false;|" "|max_pipes = 0;"; do
		conf "$UP_PORT" "${keys%|*}" "${keys#*|}"
		start_daemon
		run "${CLIENT[@]}" --timeout 60 echo "$ADDR" --bytes $((16 * MIB))
		[ "$status" -eq 0 ]
		[ "$(metric spliced_bytes_total)" -eq 0 ]
		[ "$(metric pipes)" -eq 0 ]
		stop_daemon
	done
}

@test "a reload to max_pipes = 0 stops splicing at once; a thread closes its kept pipes when it next wants one" {
	start_upstream UP echo
	conf "$UP_PORT" "" "loop_threads = 1;"
	start_daemon
	run "${CLIENT[@]}" --timeout 60 echo "$ADDR" --bytes $((16 * MIB))
	[ "$status" -eq 0 ]
	before=$(metric spliced_bytes_total)
	[ "$before" -gt 0 ]
	[ "$(metric pipes)" -ge 1 ]	# kept for the next bulk stream
	conf "$UP_PORT" "" "loop_threads = 1; max_pipes = 0;"
	kill -HUP "$DAEMON_PID"
	wait_until 5000 log_has "SIGHUP: reloaded"
	run "${CLIENT[@]}" --timeout 60 echo "$ADDR" --bytes $((16 * MIB))
	[ "$status" -eq 0 ]
	[ "$(metric spliced_bytes_total)" -eq "$before" ]
	[ "$(metric pipes)" -eq 0 ]
	stop_daemon
}

@test "max_pipes = 1: four bulk streams at once share one pipe, each byte-exact" {
	start_upstream UP echo
	conf "$UP_PORT" "" "max_pipes = 1;"
	start_daemon
	bg_client BULK --timeout 120 echo "$ADDR" --clients 4 --bytes $((16 * MIB))
	most=0
	while kill -0 "$BULK_PID" 2>/dev/null; do
		p=$(metric pipes) || p=0
		[ "$p" -gt "$most" ] && most=$p
	done
	wait "$BULK_PID"
	echo "# at most $most pipe(s) open" >&3
	[ "$most" -le 1 ]
	[ "$(metric sent_bytes_total)" -eq $((4 * 16 * MIB)) ]
	[ "$(metric spliced_bytes_total)" -gt 0 ]
	# At the bound, a pipe put back is closed, not kept: no loop thread
	# may hold the only one idle while another's stream wants it.
	[ "$(metric pipes)" -eq 0 ]
	stop_daemon
}

@test "data behind TCP's urgent mark in a spliced stream is relayed, then the FIN" {
	# splice(2) stops at the mark (EAGAIN, or 0 with the FIN queued):
	# neither may pass for an empty or ended stream.
	start_upstream UP echo
	conf "$UP_PORT"
	start_daemon
	for fin in "" --fin; do
		run "${CLIENT[@]}" --timeout 20 urgent "$ADDR" "$DAEMON_PID" --prefix 100000 $fin
		echo "$output"
		[ "$status" -eq 0 ]
	done
	[ "$(metric spliced_bytes_total)" -gt 0 ]
	stop_daemon
}

@test "a stream cut with bytes in its pipe ends in a reset, never a short EOF" {
	start_upstream UP flood $((256 * MIB))
	conf "$UP_PORT" "fin_timeout = \"60s\";" 'shutdown_timeout = "300ms";'
	start_daemon
	bg_client CUT --timeout 30 stall-download "$ADDR"
	# The download has started splicing, and then stalled on the client.
	wait_until 10000 metric_ge spliced_bytes_total 1
	wait_until 10000 grep -q "^sent" "$BATS_TEST_TMPDIR/UP.up"
	kill -TERM "$DAEMON_PID"
	wait_exit 10000
	[ "$DAEMON_STATUS" -eq 0 ]
	kill -USR1 "$CUT_PID"
	wait "$CUT_PID"
	cat "$BATS_TEST_TMPDIR/CUT.out"
	grep -q "then reset$" "$BATS_TEST_TMPDIR/CUT.out"
	grep -q " shutdown$" "$ALOG"
}

@test "a pipe cut with bytes in it is closed, not reused: the next stream is byte-exact" {
	start_upstream UP flood $((256 * MIB))
	start_upstream ECHO echo
	EADDR="127.0.0.1:$(free_port)"
	# One loop thread: the next stream takes that thread's kept pipes.
	conf "$UP_PORT" "" "loop_threads = 1;"
	sed -i "s|^  { name = \"metrics\"|  { name = \"py\"; address = \"$EADDR\"; service = \"proxy\"; upstreams = ( \"127.0.0.1:$ECHO_PORT\" ); },\n&|" "$CONF"
	start_daemon
	bg_client CUT --timeout 30 stall-download "$ADDR"
	wait_until 10000 metric_ge spliced_bytes_total 1
	# Killed with bytes unread: its socket resets the relay, whose pipe
	# still holds the bytes the client never took.
	kill -KILL "$CUT_PID"
	wait "$CUT_PID" || true
	wait_until 5000 grep -q " reset$" "$ALOG"
	run "${CLIENT[@]}" --timeout 60 echo "$EADDR" --bytes $((16 * MIB))
	echo "$output"
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "a client that never reads while a spliced upstream sends 200 MiB: RSS stays under 64 MiB" {
	once_per_build
	start_upstream UP flood $((200 * MIB))
	conf "$UP_PORT"
	start_daemon
	bg_client SLEEPER --timeout 30 sleep "$ADDR"
	wait_until 10000 metric_ge spliced_bytes_total 1
	max=$(max_rss_kb 20)
	sent=$(awk '/^sent/ {n = $2} END {print n + 0}' "$BATS_TEST_TMPDIR/UP.up")
	echo "# max RSS ${max} KiB; the upstream got ${sent} bytes out" >&3
	[ "$max" -lt 65536 ]
	# Backpressure reached the upstream: the pipe holds at most 64 KiB.
	[ "$sent" -lt $((32 * MIB)) ]
	kill "$SLEEPER_PID"
	stop_daemon
}

# Through the shim that fails splice(2) with EINVAL: into the pipe (the
# stream is copied from the start), or out of it (the bytes already in
# the pipe are copied on, and then the rest of the stream).
@test "a socket that cannot splice (EINVAL) is copied, byte-exact" {
	[ -f "$SHIM" ] || skip "no $SHIM"
	start_upstream UP echo
	conf "$UP_PORT"
	for mode in in out; do
		DAEMON_WRAP=(env LD_PRELOAD="$SHIM" SPLICE_FAIL=$mode
			ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0")
		start_daemon
		run "${CLIENT[@]}" --timeout 60 echo "$ADDR" --bytes $((16 * MIB))
		echo "$mode: $output"
		[ "$status" -eq 0 ]
		[ "$(metric sent_bytes_total)" -eq $((16 * MIB)) ]
		[ "$(metric spliced_bytes_total)" -eq 0 ]
		stop_daemon
	done
}

@test "splice and max_pipes: checked by -n" {
	conf 9 "splice = \"yes\";"
	run "$AIO_BIN" -n -f "$CONF"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$CONF:"*"splice"* ]]
	cat >"$CONF" <<EOC
max_pipes = -1;
listeners = ( { name = "e"; address = "$ADDR"; service = "echo"; splice = true; } );
EOC
	run "$AIO_BIN" -n -f "$CONF"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$CONF:1: "*"max_pipes"* ]]
	[[ "$output" == *"$CONF:2: "*"splice"* ]]
}
