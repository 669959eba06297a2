#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The worker pool keeps blocking file work off the event loop.  Its
# threads start with its first job: a daemon that never gives it one
# stays a single thread (the kernel's fdget() then skips the atomic
# reference count on each fd a recv or send takes).

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

# daemon_tasks: the daemon's threads; daemon_workers: how many of them are
# worker threads (named once they run).
daemon_tasks() {
	local t n=0
	for t in /proc/"$DAEMON_PID"/task/*; do
		[ -e "$t" ] && n=$((n + 1))
	done
	echo "$n"
}
daemon_workers() {
	local t n=0
	for t in /proc/"$DAEMON_PID"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = aio-worker ] && n=$((n + 1))
	done
	echo "$n"
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

@test "loop_threads = 1: an echo daemon with no access log stays one thread after serving clients" {
	once_per_build	# it sets its own loop_threads
	echo_conf "$ADDR" "" "loop_threads = 1;"
	start_daemon
	run "${CLIENT[@]}" echo "$ADDR" --clients 20
	[ "$status" -eq 0 ]
	[ "$(daemon_tasks)" -eq 1 ]
	stop_daemon
}

@test "loop_threads = 1: a proxy to a numeric upstream, health-checked and scraped, stays one thread" {
	once_per_build
	MPORT=$(free_port)
	start_upstream UP echo
	cat >"$CONF" <<EOC
loop_threads = 1;
listeners = (
  { name = "px"; address = "$ADDR"; service = "proxy";
    upstreams = ( "127.0.0.1:$UP_PORT" );
    health_check = { interval = "100ms"; timeout = "500ms"; }; },
  { name = "m"; address = "127.0.0.1:$MPORT"; service = "metrics"; }
);
EOC
	start_daemon
	run "${CLIENT[@]}" echo "$ADDR" --clients 20
	[ "$status" -eq 0 ]
	# Three checks passed, seen by a scrape.
	checks_ok() {
		local n
		n=$(python3 "$BATS_TEST_DIRNAME/tools/scrape.py" get "127.0.0.1:$MPORT" \
			"aio_echod_upstream_checks_total{listener=\"px\",upstream=\"127.0.0.1:$UP_PORT\",result=\"ok\"}") &&
			[ -n "$n" ] && [ "$n" -ge 3 ]
	}
	wait_until 5000 checks_ok
	[ "$(daemon_tasks)" -eq 1 ]
	stop_daemon
}

@test "the first access log line starts every worker thread; the daemon still stops cleanly" {
	once_per_build
	echo_conf "$ADDR" "access_log = \"$BATS_TEST_TMPDIR/a.log\";" \
		"loop_threads = 1; worker_threads = 3;"
	start_daemon
	[ "$(daemon_tasks)" -eq 1 ]
	run "${CLIENT[@]}" echo "$ADDR"
	[ "$status" -eq 0 ]
	wait_until 5000 test -s "$BATS_TEST_TMPDIR/a.log"
	wait_until 5000 count_is 3 daemon_workers
	run "${CLIENT[@]}" echo "$ADDR" --clients 20
	[ "$status" -eq 0 ]
	wait_until 5000 count_is 21 grep -c '' "$BATS_TEST_TMPDIR/a.log"
	[ "$(daemon_workers)" -eq 3 ]
	stop_daemon
}

@test "a proxy to a name (localhost) starts the worker threads to resolve it" {
	once_per_build
	start_upstream UP echo
	proxy_conf "$ADDR" "\"localhost:$UP_PORT\"" "" \
		"loop_threads = 1; worker_threads = 2;"
	start_daemon
	[ "$(daemon_tasks)" -eq 1 ]
	run "${CLIENT[@]}" echo "$ADDR"
	[ "$status" -eq 0 ]
	log_has "px: resolved localhost:$UP_PORT"
	wait_until 5000 count_is 2 daemon_workers
	stop_daemon
}

@test "the first reload starts the worker threads, which read the file" {
	once_per_build
	echo_conf "$ADDR" "" "loop_threads = 1; worker_threads = 2;"
	start_daemon
	[ "$(daemon_tasks)" -eq 1 ]
	kill -HUP "$DAEMON_PID"
	wait_until 5000 log_has "SIGHUP: reloaded"
	wait_until 5000 count_is 2 daemon_workers
	run "${CLIENT[@]}" echo "$ADDR"
	[ "$status" -eq 0 ]
	stop_daemon
}
