#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Fairness and cost: no client can starve the loop, and an echoed or
# proxied message costs the fewest system calls.

load helpers

setup() {
	PORT=$(free_port)
	ADDR="127.0.0.1:$PORT"
}

# DATA_CALLS: every system call that moves a message's bytes, whichever
# the daemon uses (read/write go through the VFS, recv/send do not, and
# /proc/PID/io counts only the first kind).
DATA_CALLS=(read write readv writev recvfrom sendto recvmsg sendmsg)

# syscalls_per_message WHAT MIN MAX: 100 clients ping-pong 100 messages
# of 64 B each through $ADDR (after a warm-up, so every fd's event and
# every stack exist), counted by perf on the daemon's threads while they
# run; the daemon's data system calls per message must be within MIN and
# MAX (MIN: what a message cannot do without, so a count that missed the
# window fails too).  epoll_wait's share is printed, not checked: it
# depends on how fast the clients are.
syscalls_per_message() {
	local ev=() c out=$BATS_TEST_TMPDIR/perf.csv per calls

	"${CLIENT[@]}" --timeout 60 pingpong "$ADDR" --clients 100 --messages 5
	for c in "${DATA_CALLS[@]}" epoll_wait; do
		ev+=(-e "syscalls:sys_enter_$c")
	done
	run perf stat -x, -o "$out" "${ev[@]}" -p "$DAEMON_PID" -- \
		"${CLIENT[@]}" --timeout 120 pingpong "$ADDR" --clients 100 --messages 100
	echo "$output"
	cat "$out"
	[ "$status" -eq 0 ]
	# One pass: the data calls' sum per message, then each call's share.
	read -r per calls < <(awk -F, '$3 ~ /sys_enter_/ {
			sub(/.*sys_enter_/, "", $3)
			if ($3 != "epoll_wait")
				n += $1
			if ($1 > 0) {
				list = list sep sprintf("%s %.3f", $3, $1 / 10000)
				sep = ", "
			}
		}
		END { printf "%.3f %s\n", n / 10000, list }' "$out")
	echo "# $per data system calls per $1 message ($calls)" >&3
	awk -v p="$per" -v min="$2" -v max="$3" 'BEGIN {exit !(p >= min && p <= max)}'
}

@test "a client streaming at full speed does not starve another, nor a SIGTERM" {
	echo_conf "$ADDR" "" 'shutdown_timeout = "1s";'
	# The daemon and the hog's reader share CPU 0; its writer has CPU 1
	# to itself.  Then the daemon's reads always find data and its
	# writes always find room: it never has to park.
	pin=()
	if [ "$(nproc)" -ge 2 ]; then
		DAEMON_WRAP=(taskset -c 0)
		pin=(--writer-cpu 1 --reader-cpu 0)
	fi
	start_daemon
	bg_client HOG --timeout 30 fairness "$ADDR" --seconds 5 "${pin[@]}"
	wait_until 10000 output_has HOG "^max rtt"
	echo "# probe beside the stream: $(grep '^max rtt' "$BATS_TEST_TMPDIR/HOG.out")" >&3
	# Each of 20 one-byte round trips beside the stream within 50 ms.
	max=$(awk '/^max rtt/ {print int($3)}' "$BATS_TEST_TMPDIR/HOG.out")
	[ "$max" -lt 50 ]
	# The stream still runs; a SIGTERM is handled at once all the same.
	refute output_has HOG "^stream done"
	kill -TERM "$DAEMON_PID"
	wait_until 500 log_has "SIGTERM: stopping"
	wait_exit 10000
	[ "$DAEMON_STATUS" -eq 0 ]
}

@test "one read and one write per echoed message (100 clients, 64 B ping-pong)" {
	echo_conf "$ADDR"
	start_daemon
	syscalls_per_message echoed 2 2.05
	stop_daemon
}

@test "two reads and two writes per proxied message (100 clients, 64 B ping-pong)" {
	# The upstream is a second aio-echod; only the proxy is counted.
	UPORT=$(free_port)
	cat >"$BATS_TEST_TMPDIR/up.conf" <<EOC
listeners = ( { name = "up"; address = "127.0.0.1:$UPORT"; service = "echo"; } );
EOC
	"$AIO_BIN" -f "$BATS_TEST_TMPDIR/up.conf" 2>"$BATS_TEST_TMPDIR/up.log" &
	UP_PID=$!
	wait_until 15000 grep -q " ready: " "$BATS_TEST_TMPDIR/up.log"
	proxy_conf "$ADDR" "\"127.0.0.1:$UPORT\""
	start_daemon
	syscalls_per_message proxied 4 4.1
	stop_daemon
	kill -TERM "$UP_PID"
	wait "$UP_PID"	# exit 0: no sanitizer stopped it (its log: teardown)
}
