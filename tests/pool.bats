#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The worker pool keeps blocking file work off the event loop.

load helpers

setup() {
	PORT=$(free_port)
	ADDR="127.0.0.1:$PORT"
	PORT2=$(free_port)
}

# three_logs_conf: one worker and a queue of one; listener a logs to a
# FIFO ($FIFO), b to b.log, c to $CLOG; c on $PORT3.
three_logs_conf() {
	FIFO=$BATS_TEST_TMPDIR/fifo
	CLOG=$BATS_TEST_TMPDIR/c.log
	PORT3=$(free_port)
	mkfifo "$FIFO"
	cat >"$CONF" <<EOC
worker_threads = 1;
worker_queue = 1;
listeners = (
  { name = "a"; address = "$ADDR"; service = "echo";
    access_log = "$FIFO"; },
  { name = "b"; address = "127.0.0.1:$PORT2"; service = "echo";
    access_log = "$BATS_TEST_TMPDIR/b.log"; },
  { name = "c"; address = "127.0.0.1:$PORT3"; service = "echo";
    access_log = "$CLOG"; }
);
EOC
}

# worker_in_open: a worker thread of the daemon is blocked in open(2) on
# a FIFO (its kernel wait, or its system call: openat).
worker_in_open() {
	local t nr openat

	case $(uname -m) in
	x86_64) openat=257 ;;
	aarch64) openat=56 ;;
	*) openat=none ;;
	esac
	for t in /proc/"$DAEMON_PID"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = aio-worker ] || continue
		grep -qE 'wait_for_partner|fifo_open' "$t/wchan" 2>/dev/null &&
			return 0
		read -r nr _ <"$t/syscall" 2>/dev/null || continue
		[ "$nr" = "$openat" ] && return 0
	done
	return 1
}

# fill_queue: a's line sends the only worker into open(2) on the FIFO
# nobody reads, and b's line fills the queue of one behind it.
fill_queue() {
	run "${CLIENT[@]}" echo "$ADDR"
	[ "$status" -eq 0 ]
	wait_until 5000 worker_in_open
	run "${CLIENT[@]}" echo "127.0.0.1:$PORT2"
	[ "$status" -eq 0 ]
}

@test "an access log on a FIFO nobody reads never blocks the loop" {
	# The pool's behaviour: the same with any loop_threads.
	once_per_build
	fifo=$BATS_TEST_TMPDIR/fifo
	mkfifo "$fifo"
	cat >"$CONF" <<EOC
listeners = (
  { name = "logged"; address = "$ADDR"; service = "echo";
    access_log = "$fifo"; },
  { name = "other"; address = "127.0.0.1:$PORT2"; service = "echo"; }
);
EOC
	start_daemon
	# A worker is stuck opening the FIFO; every client is still served,
	# on this listener and on the other one.
	# Each loop thread keeps up to 64 KiB of lines waiting: 600 lines
	# of about 100 bytes per thread, twice over, do not fit.
	threads=$(sed -n 's/.* ready: .* \([0-9]*\) loop threads.*/\1/p' "$LOG")
	for round in $(seq $((2 * threads))); do
		run "${CLIENT[@]}" --timeout 30 echo "$ADDR" --clients 600 --bytes 100
		[ "$status" -eq 0 ]
	done
	run "${CLIENT[@]}" --timeout 30 echo "127.0.0.1:$PORT2" --clients 50
	[ "$status" -eq 0 ]
	# The lines that do not fit in what may wait are counted.
	wait_until 5000 log_has "access log $fifo: [0-9]* lines dropped so far (64 KiB of lines waiting: the writer is slow or blocked)"
	# Stopping does not hang on the stuck writer.
	stop_daemon
	grep -q "access logs still busy" "$LOG"
}

@test "an access log whose flush found the worker queue full writes once the queue has room, with no new line or SIGUSR1" {
	# The pool's behaviour: the same with any loop_threads.
	once_per_build
	three_logs_conf
	start_daemon
	fill_queue
	# c's lines find the queue full: more than its 64 KiB per loop thread
	# wait (600 clients of about 70 bytes, twice per thread).
	threads=$(sed -n 's/.* ready: .* \([0-9]*\) loop threads.*/\1/p' "$LOG")
	for round in $(seq $((2 * threads))); do
		run "${CLIENT[@]}" --timeout 30 echo "127.0.0.1:$PORT3" --clients 600 --bytes 100
		[ "$status" -eq 0 ]
	done
	[ ! -s "$CLOG" ]
	# A reader unblocks the worker; 50 more clients (77 bytes each) then.
	cat "$FIFO" >/dev/null &
	run "${CLIENT[@]}" --timeout 30 echo "127.0.0.1:$PORT3" --clients 50 --bytes 77
	[ "$status" -eq 0 ]
	wait_until 1000 count_is 50 grep -c ' 77 77 client-fin$' "$CLOG"
	written=$(wc -l <"$CLOG")
	# The drop warning names the limit that was hit.
	log_has "access log $CLOG: [0-9]* lines dropped so far (the worker queue is full)"
	refute log_has "the writer is slow or blocked"
	stop_daemon
	[ "$(wc -l <"$CLOG")" -eq "$written" ]
	echo "c: $written lines written before the stop, $(sed -n 's/.* \([0-9]*\) lines dropped in all$/\1/p' "$LOG") dropped in all"
}

@test "at exit, lines waiting for room in a full worker queue reach their file once it moves" {
	three_logs_conf
	start_daemon
	fill_queue
	run "${CLIENT[@]}" echo "127.0.0.1:$PORT3" --clients 20
	[ "$status" -eq 0 ]
	kill -TERM "$DAEMON_PID"
	# The loops have ended: the daemon waits (2 s) for the logs.
	wait_until 5000 log_has "aio-echod stopped"
	cat "$FIFO" >/dev/null &
	wait_exit 20000
	[ "$DAEMON_STATUS" -eq 0 ]
	cat "$CLOG" || true
	grep "dropped" "$LOG" || true
	[ "$(wc -l <"$CLOG")" -eq 20 ]
	refute log_has "lines dropped"
}
