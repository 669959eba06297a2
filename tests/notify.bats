#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The systemd contract without systemd: the test owns NOTIFY_SOCKET and
# reads what the daemon tells it, checking that each message comes from
# the daemon's main pid (what NotifyAccess=main accepts).

load helpers

setup() {
	PORT=$(free_port)
	ADDR=127.0.0.1:$PORT
	NOTES=$BATS_TEST_TMPDIR/notes
	RAW=$BATS_TEST_TMPDIR/notes.json
	export NOTIFY_SOCKET=$BATS_TEST_TMPDIR/notify.sock
	python3 "$BATS_TEST_DIRNAME/tools/notify_listen.py" "$NOTIFY_SOCKET" "$RAW" >"$NOTES" 2>&1 &
	wait_until 5000 grep -q '^listening' "$NOTES"
}

# note_has TEXT: the daemon's main pid sent a message with TEXT.
note_has() {
	grep -q "^pid=$DAEMON_PID .*$1" "$NOTES"
}

# notes_count TEXT: how many messages with TEXT the main pid sent.
notes_count() {
	grep -c "^pid=$DAEMON_PID .*$1" "$NOTES" || true
}

# notes_at_least N TEXT: the main pid sent N messages with TEXT or more
# (for wait_until: counted anew each time).
notes_at_least() {
	[ "$(notes_count "$2")" -ge "$1" ]
}

# raw_check [KEY...]: every message the main pid sent, as received, is
# lines of KEY=VALUE with at most one STATUS=, and its keys are READY,
# STATUS, RELOADING, MONOTONIC_USEC or one of KEY...; prints any other.
raw_check() {
	python3 - "$RAW" "$DAEMON_PID" "$@" <<'EOF'
import json
import sys

raw, pid, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
meant = {"READY", "STATUS", "RELOADING", "MONOTONIC_USEC", *extra}
bad = seen = 0
for line in open(raw):
    m = json.loads(line)
    if m["pid"] != pid:
        continue
    seen += 1
    lines = m["text"].split("\n")
    keys = [a.split("=", 1)[0] for a in lines]
    if (keys.count("STATUS") > 1 or any("=" not in a for a in lines)
            or set(keys) - meant):
        print("unmeant:", repr(m["text"]))
        bad += 1
print(f"{seen} messages, {bad} with unmeant assignments")
sys.exit(1 if bad or not seen else 0)
EOF
}

@test "READY=1 with a STATUS once listening, from the main pid; STOPPING=1 at SIGTERM" {
	once_per_build	# it sets its own loop_threads
	echo_conf "$ADDR" "" "loop_threads = 2;"
	start_daemon
	wait_until 5000 note_has "READY=1 STATUS=1 listeners on 2 loop threads"
	# Ready means serving.
	run "${CLIENT[@]}" echo "$ADDR"
	[ "$status" -eq 0 ]
	# Nothing came from another process or thread id.
	refute grep -v "^listening\|^pid=$DAEMON_PID " "$NOTES"
	kill -TERM "$DAEMON_PID"
	wait_until 5000 note_has "STOPPING=1 EXTEND_TIMEOUT_USEC=35000000"
	pid=$DAEMON_PID
	wait_exit 5000
	[ "$DAEMON_STATUS" -eq 0 ]
}

@test "STATUS= follows the clients, at most once a second" {
	once_per_build	# it sets its own loop_threads
	echo_conf "$ADDR" "" "loop_threads = 2;"
	start_daemon
	bg_client HOLD --timeout 60 hold "$ADDR" 3
	wait_until 10000 output_has HOLD "holding 3"
	wait_until 5000 note_has "STATUS=1 listeners on 2 loop threads, 3 clients"
	t0=$(now_ms)
	n0=$(notes_count "STATUS=")
	wait_until 5000 notes_at_least $((n0 + 3)) "STATUS="
	took=$(($(now_ms) - t0))
	echo "3 updates in $took ms"
	[ "$took" -ge 1900 ]
	stop_daemon
}

@test "a long drain keeps extending systemd's stop timeout" {
	echo_conf "$ADDR" "" "shutdown_timeout = 20;"
	start_daemon
	bg_client S1 --timeout 30 stall "$ADDR"
	wait_until 10000 output_has S1 stalled
	kill -TERM "$DAEMON_PID"
	wait_until 5000 note_has "STATUS=stopping: 1 clients left"
	# Each update asks for what is left of the drain, plus 5 s.
	wait_until 5000 note_has "STOPPING=1 EXTEND_TIMEOUT_USEC=2[0-4][0-9]\{6\}$"
	kill -TERM "$DAEMON_PID"
	wait_exit 5000
	[ "$DAEMON_STATUS" -eq 0 ]
}

@test "WATCHDOG=1 every half WATCHDOG_USEC, none while the daemon is stopped" {
	once_per_build	# it sets its own loop_threads
	echo_conf "$ADDR" "" "loop_threads = 2;"
	WATCHDOG_USEC=400000 start_daemon
	wait_until 5000 notes_at_least 3 "WATCHDOG=1"
	kill -STOP "$DAEMON_PID"
	n0=$(notes_count "WATCHDOG=1")
	# Stopped for a second: a live daemon would have pinged 5 times.
	end=$(($(now_ms) + 1000))
	wait_until 1500 bash -c "[ \$((\$(date +%s%N) / 1000000)) -ge $end ]"
	n1=$(notes_count "WATCHDOG=1")
	kill -CONT "$DAEMON_PID"
	[ "$n1" -eq "$n0" ]
	wait_until 5000 notes_at_least $((n1 + 1)) "WATCHDOG=1"
	stop_daemon
	refute log_has "not feeding the watchdog"
}

@test "no watchdog pings without WATCHDOG_USEC, and nothing at all without NOTIFY_SOCKET" {
	echo_conf "$ADDR"
	start_daemon
	wait_until 5000 note_has "READY=1"
	stop_daemon
	[ "$(grep -c "WATCHDOG=1" "$NOTES")" -eq 0 ]
	: >"$NOTES"
	NOTIFY_SOCKET= start_daemon
	stop_daemon
	[ "$(grep -c "^pid=" "$NOTES")" -eq 0 ]
}

@test "one stalled loop thread stops the watchdog pings; they resume with it" {
	once_per_build	# it sets its own loop_threads
	echo_conf "$ADDR" "" "loop_threads = 2;"
	WATCHDOG_USEC=400000 start_daemon
	wait_until 5000 notes_at_least 3 "WATCHDOG=1"
	python3 "$BATS_TEST_DIRNAME/tools/stall_thread.py" "$DAEMON_PID" aio-loop-1 1.5 \
		>"$BATS_TEST_TMPDIR/stall.out" 2>&1 &
	wait_until 5000 grep -q "^stalled" "$BATS_TEST_TMPDIR/stall.out"
	# Thread 0 still runs: it says why it stops feeding the watchdog.
	wait_until 3000 log_has "loop thread 1 has not turned in [0-9]* ms: not feeding the watchdog"
	n0=$(notes_count "WATCHDOG=1")
	wait_until 5000 grep -q "^released" "$BATS_TEST_TMPDIR/stall.out"
	n1=$(notes_count "WATCHDOG=1")
	# At most the one ping already under way when the thread stopped.
	echo "pings while stalled: $((n1 - n0))"
	[ "$((n1 - n0))" -le 1 ]
	wait_until 5000 notes_at_least $((n1 + 2)) "WATCHDOG=1"
	stop_daemon
}

@test "SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 with the reload in STATUS" {
	once_per_build	# it sets its own loop_threads
	echo_conf "$ADDR" "" "loop_threads = 2;"
	start_daemon
	wait_until 5000 note_has "READY=1"
	kill -HUP "$DAEMON_PID"
	wait_until 5000 note_has "RELOADING=1 MONOTONIC_USEC=[0-9]*$"
	wait_until 5000 note_has "READY=1 STATUS=1 listeners on 2 loop threads, 0 clients, 1 reloads"
	# A broken file: READY=1 again, the old configuration and the error.
	echo "listeners = (" >"$CONF"
	kill -HUP "$DAEMON_PID"
	wait_until 5000 note_has "READY=1 STATUS=.*, 1 reloads; reload failed, running the previous configuration: $CONF:2: syntax error"
	stop_daemon
}

@test "a refused file's values cannot add assignments to what systemd hears" {
	# What it checks does not depend on loop_threads.
	once_per_build
	echo_conf "$ADDR"
	start_daemon
	wait_until 5000 note_has "READY=1"
	# libconfig reads "\n" in a string as a newline; STATUS= quotes it.
	sed -i 's/^log_level = .*/log_level = "warn\\nMAINPID=1\\nSTOPPING=1\\nWATCHDOG=1";/' "$CONF"
	kill -HUP "$DAEMON_PID"
	wait_until 5000 log_has "SIGHUP: reload failed"
	# And two of the STATUS= updates a second that repeat it.
	n0=$(notes_count "STATUS=.*reload failed")
	wait_until 5000 notes_at_least $((n0 + 2)) "STATUS=.*reload failed"
	raw_check
	note_has 'READY=1 STATUS=.*reload failed.*log_level: "warn\\x0aMAINPID=1\\x0aSTOPPING=1\\x0aWATCHDOG=1": expected'
	pid=$DAEMON_PID
	stop_daemon
	# Stopping adds what the daemon means then, and nothing else.
	DAEMON_PID=$pid raw_check STOPPING EXTEND_TIMEOUT_USEC
}
