#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# idle_timeout means no progress: a reader that takes 4 KiB every 100 ms
# (a tenth of idle_timeout) is never cut, in echo and in both directions
# of the proxy, though its reads free too little of the daemon's send
# buffer to make the socket writable again; a reader that stops is cut
# within idle_timeout and a tenth.

load helpers

SLOW=(python3 "$BATS_TEST_DIRNAME/tools/slow_reader.py")

# The reader takes 4 KiB every 100 ms for 3 s (three idle_timeouts),
# then stops.  On TCP its receive buffer is 8 KiB (16 KiB in effect):
# its kernel reopens a closed window only once a good part of the buffer
# is free, and with Linux's default 128 KiB on loopback that is about
# every 108 KiB read, 2.7 s at this pace; nothing the daemon can look at
# moves in between.  With 16 KiB it shows every 0.3 s or so.
READER=(--live 3 --rcvbuf 8192 --timeout 4)

# The cut must come within 1.6 s of the last read: idle_timeout, plus a
# tenth (the daemon looks at its send queue every 100 ms), plus 0.5 s
# for timers that fire late on a loaded 2-core machine and the reader's
# own polling.  Without the looks the cut comes while the reader still
# reads, after about 1 s.
BOUND=1.6

setup() {
	once_per_build	# one connection against its peer: any loop_threads
	PORT=$(free_port)
	ADDR="127.0.0.1:$PORT"
	ALOG=$BATS_TEST_TMPDIR/access.log
}

# cut_in_time OUTPUT: the reader was cut within BOUND of its last read.
cut_in_time() {
	local s

	s=$(sed -n 's/^cut \([0-9.]*\) s after the last .*/\1/p' <<<"$1")
	[ -n "$s" ] && awk -v s="$s" -v b="$BOUND" 'BEGIN { exit !(s <= b) }'
}

# lasted MS: the connection in the access log lasted at least MS (it was
# not cut while the reader still read).
lasted() {
	wait_until 5000 test -s "$ALOG" || return 1
	cat "$ALOG"
	[ "$(awk '{print $5}' "$ALOG")" -ge "$1" ]
}

# echo_slow ADDR BYTES: an echo client that sends BYTES and reads them
# back slowly, then stops.
echo_slow() {
	echo_conf "$1" "idle_timeout = \"1s\"; access_log = \"$ALOG\";"
	start_daemon
	run "${SLOW[@]}" connect "$1" --send "$2" "${READER[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	cut_in_time "$output"
	lasted 3000
	grep -q " idle-timeout$" "$ALOG"
	stop_daemon
}

@test "echo: a slow reader whose echo is all queued in the kernel is not cut; one that stops is" {
	# 1 MiB fits in the daemon's autotuned send buffer: it waits to
	# read while the queue drains.
	echo_slow "$ADDR" $((1024 * 1024))
}

@test "echo: a slow reader whose echo write is parked is not cut; one that stops is" {
	# 8 MiB does not fit (tcp_wmem's maximum is 4 MiB): the write parks.
	echo_slow "$ADDR" $((8 * 1024 * 1024))
}

@test "echo on a UNIX socket: a slow reader is not cut; one that stops is" {
	# AF_UNIX frees a message only once it is wholly read: 16 KiB
	# echoes show every 4 reads.
	echo_slow "unix:$BATS_TEST_TMPDIR/echo.sock" $((1024 * 1024))
}

@test "proxy, upstream to client: a slow client is not cut; one that stops is" {
	start_upstream UP flood $((64 * 1024 * 1024))
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "idle_timeout = \"1s\"; access_log = \"$ALOG\";"
	start_daemon
	run "${SLOW[@]}" connect "$ADDR" "${READER[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	cut_in_time "$output"
	lasted 3000
	grep -q " idle-timeout$" "$ALOG"
	stop_daemon
}

@test "proxy, client to upstream: a slow upstream is not cut; one that stops is" {
	local up=$BATS_TEST_TMPDIR/up.out

	"${SLOW[@]}" listen 0 "${READER[@]}" >"$up" 2>&1 &
	UP_PID=$!
	wait_until 5000 grep -q "^listening" "$up"
	proxy_conf "$ADDR" "\"127.0.0.1:$(awk '/^listening/ {print $2}' "$up")\"" "idle_timeout = \"1s\"; access_log = \"$ALOG\";"
	start_daemon
	"${SLOW[@]}" stream "$ADDR" >"$BATS_TEST_TMPDIR/stream.out" 2>&1 &
	status=0
	wait "$UP_PID" || status=$?
	cat "$up"
	[ "$status" -eq 0 ]
	cut_in_time "$(cat "$up")"
	lasted 3000
	grep -q " idle-timeout$" "$ALOG"
	stop_daemon
}
