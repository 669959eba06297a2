#!/usr/bin/env bats
# Startup hygiene: a startup that never blocks, UNIX socket files and
# directories an operator can trust, and standard fds that are never
# handed to sockets.

load helpers

UNIXPEER=(python3 "$BATS_TEST_DIRNAME/tools/unixpeer.py")

# run_daemon_bg [ENV...]: start the daemon on $CONF without waiting for
# readiness (the test decides what to wait for).
run_daemon_bg() {
	env "$@" "$AIO_BIN" -f "$CONF" 2>"$LOG" &
	DAEMON_PID=$!
}

# exit_status_within MS: the daemon exits within MS; its status goes to
# DAEMON_STATUS (wait_exit's own "wait" trips errexit on a non-zero one).
exit_status_within() {
	wait_until "$1" daemon_gone || return 1
	DAEMON_STATUS=0
	wait "$DAEMON_PID" || DAEMON_STATUS=$?
	DAEMON_PID=
}

@test "a live UNIX socket with a full accept queue: startup exits 1 at once, naming the listener" {
	sock=$BATS_TEST_TMPDIR/full.sock
	"${UNIXPEER[@]}" full "$sock" >"$BATS_TEST_TMPDIR/full.out" 2>&1 &
	wait_until 5000 grep -q "^full" "$BATS_TEST_TMPDIR/full.out"
	echo_conf "unix:$sock"
	run_daemon_bg
	exit_status_within 5000
	cat "$LOG"
	[ "$DAEMON_STATUS" -eq 1 ]
	log_has "listener echo: unix:$sock: Address already in use"
	[ -S "$sock" ]
}
