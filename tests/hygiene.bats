#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
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

@test "socket_mode and socket_group (a number) set the UNIX socket file's mode and group" {
	sock=$BATS_TEST_TMPDIR/s.sock
	echo_conf "unix:$sock" "socket_mode = \"0660\"; socket_group = \"$(id -g)\";"
	start_daemon
	[ "$(stat -c '%a %g' "$sock")" = "660 $(id -g)" ]
	run "${CLIENT[@]}" echo "unix:$sock"
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "socket_group by name" {
	sock=$BATS_TEST_TMPDIR/s.sock
	echo_conf "unix:$sock" "socket_mode = \"640\"; socket_group = \"$(id -gn)\";"
	start_daemon
	[ "$(stat -c '%a %g' "$sock")" = "640 $(id -g)" ]
	stop_daemon
}

@test "under umask 077 the socket file is 0666 by default and a created parent is 0755" {
	dir=$BATS_TEST_TMPDIR/run
	echo_conf "unix:$dir/e.sock"
	umask 077
	start_daemon
	[ "$(stat -c '%a' "$dir")" = 755 ]
	[ "$(stat -c '%a' "$dir/e.sock")" = 666 ]
	stop_daemon
}

@test "a parent directory that is a symlink is refused, naming the listener" {
	mkdir "$BATS_TEST_TMPDIR/real"
	ln -s "$BATS_TEST_TMPDIR/real" "$BATS_TEST_TMPDIR/link"
	echo_conf "unix:$BATS_TEST_TMPDIR/link/e.sock"
	run timeout 10 "$AIO_BIN" -f "$CONF"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"listener echo: unix:$BATS_TEST_TMPDIR/link/e.sock: Too many levels of symbolic links"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/real/e.sock" ]
}

@test "a world-writable parent directory without the sticky bit (0777) is refused" {
	mkdir -m 0777 "$BATS_TEST_TMPDIR/open"
	echo_conf "unix:$BATS_TEST_TMPDIR/open/e.sock"
	run timeout 10 "$AIO_BIN" -f "$CONF"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"listener echo: unix:$BATS_TEST_TMPDIR/open/e.sock: Operation not permitted"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/open/e.sock" ]
}

@test "a sticky world-writable parent directory (1777, like /tmp) is accepted" {
	mkdir -m 1777 "$BATS_TEST_TMPDIR/sticky"
	echo_conf "unix:$BATS_TEST_TMPDIR/sticky/e.sock"
	start_daemon
	run "${CLIENT[@]}" echo "unix:$BATS_TEST_TMPDIR/sticky/e.sock"
	[ "$status" -eq 0 ]
	stop_daemon
}

# fd_target N: what the daemon's fd N points at.
fd_target() {
	readlink "/proc/$DAEMON_PID/fd/$1"
}

@test "started with stdin and stdout closed, the daemon has them on /dev/null" {
	port=$(free_port)
	echo_conf "127.0.0.1:$port"
	"$AIO_BIN" -f "$CONF" 2>"$LOG" <&- >&- &
	DAEMON_PID=$!
	wait_until 15000 log_has " ready: "
	[ "$(fd_target 0)" = /dev/null ]
	[ "$(fd_target 1)" = /dev/null ]
	run "${CLIENT[@]}" echo "127.0.0.1:$port"
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "started with fds 0 to 2 closed, no socket becomes stderr and clients are served" {
	sock=$BATS_TEST_TMPDIR/e.sock
	echo_conf "unix:$sock"
	"$AIO_BIN" -f "$CONF" <&- >&- 2>&- &
	DAEMON_PID=$!
	# No log to wait on: ready is when a client is served.
	wait_until 15000 "${CLIENT[@]}" --timeout 2 echo "unix:$sock"
	run "${CLIENT[@]}" echo "unix:$sock" --clients 3
	[ "$status" -eq 0 ]
	for fd in 0 1 2; do
		[ "$(fd_target $fd)" = /dev/null ]
	done
	stop_daemon
}
