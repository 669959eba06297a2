#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# loop_threads: connections spread over the loop threads, and everything
# per listener (limits, counters, logs, stop) holds across them.

load helpers

setup() {
	once_per_build	# every test here sets its own loop_threads
	PORT=$(free_port)
	ADDR=127.0.0.1:$PORT
}

# served_on N: how many clients loop thread N's copy of "echo" served, from
# its "stopped accepting on loop thread N (M served" line.
served_on() {
	sed -n "s/.*echo: stopped accepting on loop thread $1 (\([0-9]*\) served.*/\1/p" "$LOG"
}

@test "loop_threads = 2: clients spread over both threads, counters summed" {
	echo_conf "$ADDR" "" "loop_threads = 2;"
	start_daemon
	log_has " ready: 1 listeners, 2 loop threads"
	run "${CLIENT[@]}" echo "$ADDR" --clients 200 --bytes 100
	[ "$status" -eq 0 ]
	stop_daemon
	a=$(served_on 0)
	b=$(served_on 1)
	echo "thread 0: $a, thread 1: $b"
	[ $((a + b)) -eq 200 ]
	# SO_REUSEPORT hashes the client's port: 200 clients all on one
	# thread would be a 1 in 2^199 chance.
	[ "$a" -gt 0 ] && [ "$b" -gt 0 ]
	log_has "echo: 200 served, 200 client-fin; 20000 bytes in, 20000 bytes out"
}

@test "reuseport = false: the threads share one socket and serve every client" {
	echo_conf "$ADDR" "reuseport = false;" "loop_threads = 2;"
	start_daemon
	run "${CLIENT[@]}" echo "$ADDR" --clients 100
	[ "$status" -eq 0 ]
	stop_daemon
	[ $(($(served_on 0) + $(served_on 1))) -eq 100 ]
	log_has "echo: 100 served, 100 client-fin"
}

@test "a UNIX listener with two loop threads serves every client, counted once" {
	SOCK=$BATS_TEST_TMPDIR/echo.sock
	echo_conf "unix:$SOCK" "" "loop_threads = 2;"
	start_daemon
	run "${CLIENT[@]}" echo "unix:$SOCK" --clients 50
	[ "$status" -eq 0 ]
	stop_daemon
	log_has "echo: 50 served, 50 client-fin"
	[ $(($(served_on 0) + $(served_on 1))) -eq 50 ]
	[ ! -e "$SOCK" ]
}

@test "max_connections counts the clients of every loop thread" {
	echo_conf "$ADDR" "max_connections = 4;" "loop_threads = 2;"
	start_daemon
	bg_client HOLD --timeout 60 hold "$ADDR" 4
	wait_until 10000 output_has HOLD "holding 4"
	# Whichever thread each lands on, all are over the limit.
	for i in 1 2 3 4 5 6; do
		run "${CLIENT[@]}" --timeout 5 rejected "$ADDR"
		[ "$status" -eq 0 ]
	done
	kill "$HOLD_PID"
	# All four places free again, on whichever threads they were.
	wait_until 5000 count_is 4 grep -c "closed (client-fin)" "$LOG"
	run "${CLIENT[@]}" echo "$ADDR" --clients 4
	[ "$status" -eq 0 ]
	stop_daemon
	log_has "echo: 8 served, 8 client-fin, 6 limit"
}

# port_on_thread N: a local port whose clients SO_REUSEPORT hands to loop
# thread N (the kernel's choice is a hash of the addresses and ports, the
# same for the same port while the listening sockets stay): found by
# connecting from one port after another and reading the debug lines.
port_on_thread() {
	local p i

	for i in $(seq 60); do
		p=$(free_port)
		"${CLIENT[@]}" --timeout 5 --src-port "$p" reset "$ADDR" >/dev/null || continue
		wait_until 5000 log_has "echo 127.0.0.1:$p: closed" || return 1
		if log_has "echo 127.0.0.1:$p: closed .*, loop thread $1\$"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

@test "a busy client on another loop thread gets the whole shutdown_timeout" {
	echo_conf "$ADDR" "" "loop_threads = 2; shutdown_timeout = 2;"
	start_daemon
	port=$(port_on_thread 1)
	bg_client S1 --timeout 30 --src-port "$port" stall "$ADDR"
	wait_until 10000 output_has S1 stalled
	t0=$(now_ms)
	kill -TERM "$DAEMON_PID"
	wait_exit 10000
	took=$(($(now_ms) - t0))
	echo "exit after $took ms"
	[ "$DAEMON_STATUS" -eq 0 ]
	# Thread 0 had nothing to drain; thread 1's client still had 2 s.
	[ "$took" -ge 1900 ]
	log_has "closed (shutdown) .*, loop thread 1$"
	log_has "shutdown_timeout reached: closing 1 busy connection"
}

@test "SIGTERM drains every loop thread; a second one cancels them all" {
	echo_conf "$ADDR" "" "loop_threads = 4; shutdown_timeout = 60;"
	start_daemon
	# Busy connections (a write the client never reads) on the threads.
	for i in 1 2 3 4 5 6 7 8; do
		bg_client "S$i" --timeout 30 stall "$ADDR"
	done
	for i in 1 2 3 4 5 6 7 8; do
		wait_until 10000 output_has "S$i" stalled
	done
	bg_client IDLE --timeout 30 hold "$ADDR" 20
	wait_until 10000 output_has IDLE "holding 20"
	kill -TERM "$DAEMON_PID"
	# Idle clients go at once, on every thread.
	wait_until 5000 output_has IDLE "all 20 closed"
	refute daemon_gone
	kill -TERM "$DAEMON_PID"
	wait_exit 5000
	[ "$DAEMON_STATUS" -eq 0 ]
	[ "$(grep -c 'stopped accepting on loop thread' "$LOG")" -eq 4 ]
	log_has "aio-echod stopped"
}

@test "SIGUSR1 reopens the access log on every loop thread" {
	echo_conf "$ADDR" "access_log = \"$BATS_TEST_TMPDIR/access.log\";" \
		"loop_threads = 2;"
	start_daemon
	run "${CLIENT[@]}" echo "$ADDR" --clients 40
	[ "$status" -eq 0 ]
	wait_until 5000 count_is 40 awk 'END { print NR }' "$BATS_TEST_TMPDIR/access.log"
	mv "$BATS_TEST_TMPDIR/access.log" "$BATS_TEST_TMPDIR/access.log.1"
	kill -USR1 "$DAEMON_PID"
	wait_until 5000 log_has "SIGUSR1: reopening 1 access logs"
	run "${CLIENT[@]}" echo "$ADDR" --clients 40
	[ "$status" -eq 0 ]
	stop_daemon
	# Every line after the signal, from both threads, is in the new file.
	[ "$(wc -l <"$BATS_TEST_TMPDIR/access.log")" -eq 40 ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/access.log.1")" -eq 40 ]
	[ "$(served_on 0)" -gt 0 ] && [ "$(served_on 1)" -gt 0 ]
}

@test "loop_threads: \"auto\" is one per CPU; bad values are file:line errors" {
	echo_conf "$ADDR" "" 'loop_threads = "auto";'
	start_daemon
	cpus=$(python3 -c 'import os; print(min(len(os.sched_getaffinity(0)), 256))')
	log_has " ready: 1 listeners, $cpus loop threads"
	stop_daemon
	for bad in 0 257 '"many"' 1.5; do
		echo_conf "$ADDR" "" "loop_threads = $bad;"
		run "$AIO_BIN" -n -f "$CONF"
		[ "$status" -eq 1 ]
		[[ "$output" == *"aio-echod.conf:2: loop_threads: "* ]]
	done
	echo_conf "unix:$BATS_TEST_TMPDIR/s" "reuseport = true;"
	run "$AIO_BIN" -n -f "$CONF"
	[ "$status" -eq 1 ]
	[[ "$output" == *"reuseport: not for a unix: address"* ]]
}

@test "a second daemon on the same port fails to start, even with reuseport" {
	echo_conf "$ADDR" "" "loop_threads = 2;"
	start_daemon
	first=$DAEMON_PID
	run "$AIO_BIN" -f "$CONF"
	[ "$status" -eq 1 ]
	[[ "$output" == *"listener echo: $ADDR: Address already in use"* ]]
	DAEMON_PID=$first
	run "${CLIENT[@]}" echo "$ADDR" --clients 20
	[ "$status" -eq 0 ]
	stop_daemon
	log_has "echo: 20 served"
}

@test "out of fds at any point of startup: exit 1 with a reason, nothing left behind" {
	SOCK=$BATS_TEST_TMPDIR/echo.sock
	cat >"$CONF" <<EOC
loop_threads = 4;
listeners = (
  { name = "echo"; address = "$ADDR"; service = "echo"; max_connections = 4; },
  { name = "local"; address = "unix:$SOCK"; service = "echo"; max_connections = 4; }
);
EOC
	started=0
	for n in $(seq 12 48); do
		# LeakSanitizer (ASan builds) reads /proc at exit, and has no
		# fd to do it with here: it would fail on its own account.
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
			prlimit --nofile=$n:$n "$AIO_BIN" -f "$CONF" 2>"$LOG" &
		pid=$!
		wait_until 5000 bash -c "! kill -0 $pid 2>/dev/null || grep -q ' ready: ' '$LOG'"
		if grep -q " ready: " "$LOG"; then
			started=$((started + 1))
			kill -TERM "$pid"
			# At once, though an accept may be pausing on EMFILE
			# (it waited out shutdown_timeout, 30 s, once).
			wait_until 10000 bash -c "! kill -0 $pid 2>/dev/null || grep -q 'aio-echod stopped' '$LOG'"
			grep -q "aio-echod stopped" "$LOG"
		fi
		status=0
		wait "$pid" || status=$?
		echo "nofile $n: exit $status"
		if ! grep -q " ready: " "$LOG"; then
			[ "$status" -eq 1 ]
			grep -q "crit: " "$LOG"
		else
			[ "$status" -eq 0 ]
		fi
		refute grep -qE "AddressSanitizer|runtime error:|LeakSanitizer" "$LOG"
		[ ! -e "$SOCK" ]
	done
	# The range covers both failing and starting.
	[ "$started" -gt 0 ] && [ "$started" -lt 37 ]
}

@test "waiting for 64 loop threads to drain does not spin the main thread" {
	echo_conf "$ADDR" "" "loop_threads = 64; shutdown_timeout = 3;"
	start_daemon
	# A busy client, on one of the 63 other threads most likely: the
	# first thread's loop ends at once, then it waits for the others.
	bg_client S1 --timeout 30 stall "$ADDR"
	wait_until 10000 output_has S1 stalled
	ticks() { awk '{print $14 + $15}' "/proc/$DAEMON_PID/task/$DAEMON_PID/stat"; }
	kill -TERM "$DAEMON_PID"
	wait_until 2000 log_has "echo: stopped accepting on loop thread 0"
	t1=$(ticks)
	# One second of the wait, well inside the 3 s drain.
	end=$(($(now_ms) + 1000))
	wait_until 1500 bash -c "[ \$((\$(date +%s%N) / 1000000)) -ge $end ]"
	t2=$(ticks)
	echo "main thread: $((t2 - t1)) clock ticks of CPU in 1 s of waiting"
	[ $((t2 - t1)) -lt 30 ]
	wait_exit 10000
	[ "$DAEMON_STATUS" -eq 0 ]
	log_has "aio-echod stopped"
}

@test "an idle daemon's loop threads sleep: a few wakeups a second each, without a watchdog" {
	not_under_tsan "it counts the daemon's threads, and TSan adds its own"
	echo_conf "$ADDR" "" "loop_threads = 2;"
	start_daemon
	# Voluntary context switches are the thread's sleeps: each wakeup
	# ends in one.  The loop lag sampler wakes each thread 10 times a
	# second; a heartbeat nobody reads used to wake the second every ms.
	wakeups() {
		awk '/^voluntary_ctxt_switches/ { print $2 }' \
			"/proc/$DAEMON_PID/task/$1/status"
	}
	tids=$(grep -l '^aio-loop\|^aio-echod' /proc/$DAEMON_PID/task/*/comm |
		sed 's|.*/task/\([0-9]*\)/comm|\1|')
	declare -A before
	for t in $tids; do before[$t]=$(wakeups "$t"); done
	t0=$(now_ms)
	sleep 2
	t1=$(now_ms)
	for t in $tids; do
		n=$(( ($(wakeups "$t") - before[$t]) * 1000 / (t1 - t0) ))
		echo "thread $t ($(cat /proc/$DAEMON_PID/task/$t/comm)): $n wakeups a second"
		[ "$n" -le 30 ]
	done
	[ "$(wc -w <<<"$tids")" -eq 2 ]
}
