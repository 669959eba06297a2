#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Text a peer controls never reaches a log raw: UNIX clients bound to
# paths with spaces and newlines cannot forge access log records, stderr
# lines or journal lines.  Each sink has its own test.

load helpers

UNIXPEER=(python3 "$BATS_TEST_DIRNAME/tools/unixpeer.py")

# Four client socket names (Python literals): a space, a forged access
# log record, a forged stderr line, a backslash and a non-ASCII byte.
NAMES=(
	"'a b'"
	"'r\\n2026-11-25T10:00:00.000Z echo unix:forged - 1 2 3 client-fin'"
	"'s\\nFORGED crit: injected line'"
	"b'back\\\\slash \\xff'"
)

setup() {
	SOCK=$BATS_TEST_TMPDIR/e.sock
	mkdir "$BATS_TEST_TMPDIR/c"
}

# four_clients: each of NAMES connects once and gets its echo.
four_clients() {
	run "${UNIXPEER[@]}" named "unix:$SOCK" "$BATS_TEST_TMPDIR/c" "${NAMES[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "done 4" ]
}

@test "access log: UNIX clients with spaces and newlines in their paths give one 8-field line each" {
	alog=$BATS_TEST_TMPDIR/access.log
	echo_conf "unix:$SOCK" "access_log = \"$alog\";"
	start_daemon
	four_clients
	wait_until 5000 bash -c "[ \$(wc -l <'$alog') -ge 4 ]"
	stop_daemon
	cat -A "$alog"
	[ "$(wc -l <"$alog")" -eq 4 ]
	awk 'NF != 8 { bad = 1 } END { exit bad }' "$alog"
	# TIME LISTENER CLIENT UPSTREAM MS IN OUT REASON
	grep -q ' echo unix:a\\x20b - ' "$alog"
	grep -q ' echo unix:r\\x0a2026-11-25T10:00:00.000Z\\x20echo\\x20unix:forged' "$alog"
	grep -q ' echo unix:back\\x5cslash\\x20\\xff - ' "$alog"
}

@test "stderr: debug lines name UNIX clients escaped, and no line is forged" {
	echo_conf "unix:$SOCK"
	start_daemon
	four_clients
	wait_until 5000 bash -c "[ \$(grep -c 'closed (client-fin)' '$LOG') -eq 4 ]"
	stop_daemon
	cat -A "$LOG"
	refute grep -Ev '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z (debug|info|warn|crit): ' "$LOG"
	grep -q 'debug: echo unix:s\\x0aFORGED\\x20crit:\\x20injected\\x20line: closed (client-fin)' "$LOG"
	grep -q 'debug: echo unix:a\\x20b: closed' "$LOG"
}

@test "journal: with JOURNAL_STREAM every line starts with <N>, UNIX clients included" {
	echo_conf "unix:$SOCK"
	DAEMON_WRAP=(env JOURNAL_STREAM=1:1)
	start_daemon
	four_clients
	wait_until 5000 bash -c "[ \$(grep -c 'closed (client-fin)' '$LOG') -eq 4 ]"
	stop_daemon
	cat -A "$LOG"
	refute grep -Ev '^<[0-7]>' "$LOG"
	grep -q '^<7>echo unix:r\\x0a2026' "$LOG"
}

@test "access log: a UNIX client with an unnamed socket is logged as unix" {
	alog=$BATS_TEST_TMPDIR/access.log
	echo_conf "unix:$SOCK" "access_log = \"$alog\";"
	start_daemon
	run "${CLIENT[@]}" echo "unix:$SOCK"
	[ "$status" -eq 0 ]
	wait_until 5000 test -s "$alog"
	stop_daemon
	cat "$alog"
	grep -Eq '^[^ ]+ echo unix - [0-9]+ 1024 1024 client-fin$' "$alog"
	grep -q 'debug: echo unix: closed (client-fin)' "$LOG"
}
