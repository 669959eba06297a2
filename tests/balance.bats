#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# Balancing: smooth weighted round-robin, least-connections, source-hash,
# backups, passive ejection (max_fails, fail_timeout), every upstream
# down, the upstream options' errors, and state kept across a reload.
# The upstreams run upstream.py's "tell" mode: each client learns the
# port of the upstream it reached (tests/tools/balance.py).

load helpers

BAL=(python3 "$BATS_TEST_DIRNAME/tools/balance.py")
SCRAPE=(python3 "$BATS_TEST_DIRNAME/tools/scrape.py")

setup() {
	PORT=$(free_port)
	MPORT=$(free_port)
	ADDR="127.0.0.1:$PORT"
	ALOG=$BATS_TEST_TMPDIR/access.log
}

# bal_conf UPSTREAMS [LISTENER KEYS]: proxy "px" on $ADDR with those
# upstreams (the inside of the list), and metrics on $MPORT.
bal_conf() {
	cat >"$CONF" <<EOC
log_level = "debug";
listeners = (
  { name = "px"; address = "$ADDR"; service = "proxy";
    upstreams = ( $1 ); access_log = "$ALOG"; $2 },
  { name = "m"; address = "127.0.0.1:$MPORT"; service = "metrics"; }
);
EOC
}

# letters PORT-A PORT-B ...: stdin's ports as letters (A for PORT-A...).
letters() {
	local map=() i=0 p
	for p in "$@"; do
		map+=("-e" "s/\\b$p\\b/$(printf "\\x$(printf %x $((65 + i)))")/g")
		i=$((i + 1))
	done
	sed "${map[@]}" | tr -d ' '
}

# kill_upstream NAME: stop it and wait until its port refuses.
kill_upstream() {
	local pid=${1}_PID port=${1}_PORT
	kill "${!pid}"
	wait "${!pid}" 2>/dev/null || true
	wait_until 5000 refute python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "${!port}"
}

@test "smooth weighted round-robin: 8 clients over weights 3 and 1 go A A B A A A B A, over every loop thread" {
	tell_upstream A
	tell_upstream B
	bal_conf "\"127.0.0.1:$A_PORT weight=3\", \"127.0.0.1:$B_PORT\""
	start_daemon
	run "${BAL[@]}" seq "$ADDR" 8
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(letters "$A_PORT" "$B_PORT" <<<"$output")" = AABAAABA ]
	# Equal weights: in turn, whatever thread a client lands on.
	stop_daemon
	bal_conf "\"127.0.0.1:$A_PORT\", \"127.0.0.1:$B_PORT\""
	start_daemon
	run "${BAL[@]}" seq "$ADDR" 6
	[ "$(letters "$A_PORT" "$B_PORT" <<<"$output")" = ABABAB ]
	stop_daemon
}

# counts: read the hold client's counts up to its "." line into $COUNTS
# ("PORT N / PORT N / ").
counts() {
	local line
	COUNTS=" "
	while read -r -t 30 line <&"${HOLD[0]}" && [ "$line" != . ]; do
		COUNTS+="$line / "
	done
	echo "counts:$COUNTS"
}

# least_connections WEIGHT-A A1 B1 A2 B2: a fresh daemon balancing by
# least-connections over A (weight WEIGHT-A) and B.  20 clients held
# open end A1 on A and B1 on B; once A's are closed (and its relays
# gone), 10 more end A2 and B2 open: a round-robin would have given B
# its share of them.
least_connections() {
	local active="aio_echod_upstream_active_connections{listener=\"px\",upstream=\"127.0.0.1:$A_PORT\"}"
	local hold_pid

	bal_conf "\"127.0.0.1:$A_PORT weight=$1\", \"127.0.0.1:$B_PORT\"" 'balance = "least-connections";'
	start_daemon
	coproc HOLD { "${BAL[@]}" hold "$ADDR" 20; }
	# bash unsets HOLD_PID once the coprocess has ended: keep it.
	hold_pid=$HOLD_PID
	counts
	[[ "$COUNTS" == *" $A_PORT $2 / "* && "$COUNTS" == *" $B_PORT $3 / "* ]]
	echo "close $A_PORT" >&"${HOLD[1]}"
	counts
	wait_until 5000 count_is 0 "${SCRAPE[@]}" get "127.0.0.1:$MPORT" "$active"
	echo "open 10" >&"${HOLD[1]}"
	counts
	[[ "$COUNTS" == *" $A_PORT $4 / "* && "$COUNTS" == *" $B_PORT $5 / "* ]]
	exec {HOLD[1]}>&-
	wait "$hold_pid"
	stop_daemon
}

@test "least-connections over the loop threads: 20 long clients end 10 and 10; with weight=3 against 1, 15 and 5" {
	tell_upstream A
	tell_upstream B
	least_connections 1 10 10 10 10
	least_connections 3 15 5 10 5
}

@test "source-hash: 100 sources keep their upstream over 3 rounds; one of 4 down moves only its own sources" {
	local i min=101 gone n
	for i in A B C D; do tell_upstream "$i"; done
	bal_conf "\"127.0.0.1:$A_PORT\", \"127.0.0.1:$B_PORT\", \"127.0.0.1:$C_PORT\", \"127.0.0.1:$D_PORT\"" 'balance = "source-hash";'
	start_daemon
	for i in 1 2 3; do
		"${BAL[@]}" sources "$ADDR" 100 >"$BATS_TEST_TMPDIR/r$i"
	done
	cmp "$BATS_TEST_TMPDIR/r1" "$BATS_TEST_TMPDIR/r2"
	cmp "$BATS_TEST_TMPDIR/r1" "$BATS_TEST_TMPDIR/r3"
	refute grep -q " -$" "$BATS_TEST_TMPDIR/r1"
	# Every upstream has a share.  The one with the fewest sources goes
	# down (at most 25 of 100 then: the issue's bound of 35 holds
	# whatever the random ports do to the hash, which a fixed choice
	# would only hold most of the time; the unit test checks the spread).
	for i in A B C D; do
		n=$(grep -c " $(eval echo "\$${i}_PORT")$" "$BATS_TEST_TMPDIR/r1" || true)
		[ "$n" -ge 1 ]
		if [ "$n" -lt "$min" ]; then min=$n; gone=$i; fi
	done
	gone_port=$(eval echo "\$${gone}_PORT")
	kill_upstream "$gone"
	"${BAL[@]}" sources "$ADDR" 100 >"$BATS_TEST_TMPDIR/after"
	refute grep -q " -$" "$BATS_TEST_TMPDIR/after"
	moved=$(diff "$BATS_TEST_TMPDIR/r1" "$BATS_TEST_TMPDIR/after" | grep -c '^<' || true)
	echo "moved $moved, $gone had $min"
	[ "$moved" -eq "$min" ]
	[ "$moved" -le 35 ]
	# Only its sources moved.
	[ "$(diff "$BATS_TEST_TMPDIR/r1" "$BATS_TEST_TMPDIR/after" | grep '^<' | grep -vc " $gone_port$" || true)" -eq 0 ]
	stop_daemon
}

@test "backup: clients reach it only while every primary is down, and leave it once one is back" {
	tell_upstream A
	tell_upstream K
	bal_conf "\"127.0.0.1:$A_PORT\", \"127.0.0.1:$K_PORT backup\"" 'fail_timeout = "300ms";'
	start_daemon
	run "${BAL[@]}" seq "$ADDR" 4
	[ "$(letters "$A_PORT" "$K_PORT" <<<"$output")" = AAAA ]
	kill_upstream A
	run "${BAL[@]}" seq "$ADDR" 4
	echo "$output"
	[ "$(letters "$A_PORT" "$K_PORT" <<<"$output")" = BBBB ]
	wait_until 5000 log_has "px: upstream 127.0.0.1:$A_PORT ejected for 300 ms"
	tell_upstream A "$A_PORT"
	# Once fail_timeout has run out, the next client tries A again, and
	# from then on everyone goes there.
	wait_until 5000 bash -c "[ \"\$(${BAL[*]} seq $ADDR 1)\" = $A_PORT ]"
	run "${BAL[@]}" seq "$ADDR" 4
	[ "$(letters "$A_PORT" "$K_PORT" <<<"$output")" = AAAA ]
	log_has "px: upstream 127.0.0.1:$A_PORT is back"
	stop_daemon
}

@test "passive ejection: after max_fails timed-out connects the next clients go elsewhere at once" {
	start_upstream FULL full
	tell_upstream B
	bal_conf "\"127.0.0.1:$FULL_PORT\", \"127.0.0.1:$B_PORT\"" 'connect_timeout = "600ms"; max_fails = 2; balance = "first";'
	start_daemon
	# Two clients each wait out connect_timeout (600 ms) on the blackhole, then
	# reach B; the second failure ejects it.
	for i in 1 2; do
		run "${BAL[@]}" timed "$ADDR"
		echo "$output"
		[ "${output% *}" = "$B_PORT" ]
		[ "$(awk -v t="${output#* }" 'BEGIN { print (t > 550) }')" = 1 ]
	done
	wait_until 5000 log_has "px: upstream 127.0.0.1:$FULL_PORT ejected"
	# The next ones go to B at once: nowhere near connect_timeout (the
	# figure is printed; the bound is only "not waiting on it").
	for i in 1 2 3; do
		run "${BAL[@]}" timed "$ADDR"
		echo "client while it is down: $output ms" >&3
		[ "${output% *}" = "$B_PORT" ]
		[ "$(awk -v t="${output#* }" 'BEGIN { print (t < 300) }')" = 1 ]
	done
	[ "$("${SCRAPE[@]}" get "127.0.0.1:$MPORT" "aio_echod_upstream_connects_total{listener=\"px\",upstream=\"127.0.0.1:$FULL_PORT\",result=\"timeout\"}")" = 2 ]
	stop_daemon
}

# syn_sent PORT: how many connections to 127.0.0.1:PORT wait in SYN-SENT
# (upstream.py's "full" fillers among them).
syn_sent() {
	ss -Htn state syn-sent dst "127.0.0.1:$1" | wc -l
}

# syn_sent_over PORT N: more than N wait.
syn_sent_over() {
	[ "$(syn_sent "$1")" -gt "$2" ]
}

@test "every upstream ejected: one probe client at a time, the others reset at once as no-upstream" {
	start_upstream X full
	start_upstream Y full
	bal_conf "\"127.0.0.1:$X_PORT\", \"127.0.0.1:$Y_PORT\"" 'connect_timeout = "1200ms"; fail_timeout = "1h";'
	start_daemon
	# The first client waits on both blackholes, which ejects both.
	run "${CLIENT[@]}" --timeout 10 expect-reset "$ADDR"
	[ "$status" -eq 0 ]
	wait_until 5000 count_is 1 grep -c " connect-failed$" "$ALOG"
	# The next one probes X (out longest) and waits there...
	x0=$(syn_sent "$X_PORT")
	y0=$(syn_sent "$Y_PORT")
	bg_client PROBE --timeout 10 expect-reset "$ADDR"
	wait_until 5000 syn_sent_over "$X_PORT" "$x0"
	# ...while every other is reset at once, trying nothing (three from
	# one process, quick enough to fit in the probe's wait).
	run "${BAL[@]}" seq "$ADDR" 3
	[ "$output" = "- - -" ]
	wait_until 5000 count_is 3 grep -c " no-upstream$" "$ALOG"
	[ "$(syn_sent "$Y_PORT")" -eq "$y0" ]
	wait "$PROBE_PID"
	wait_until 5000 count_is 2 grep -c " connect-failed$" "$ALOG"
	[ "$("${SCRAPE[@]}" get "127.0.0.1:$MPORT" 'aio_echod_connections_closed_total{listener="px",reason="no-upstream"}')" = 3 ]
	log_has "px: every upstream is down: clients are refused"
	stop_daemon
}

@test "every upstream ejected, then one restarts: the next client is served by it at once, not after fail_timeout" {
	tell_upstream A
	tell_upstream B
	bal_conf "\"127.0.0.1:$A_PORT\", \"127.0.0.1:$B_PORT\"" 'fail_timeout = "1h"; balance = "first";'
	start_daemon
	kill_upstream A
	kill_upstream B
	run "${BAL[@]}" seq "$ADDR" 1
	[ "$output" = - ]
	wait_until 5000 log_has "px: upstream 127.0.0.1:$B_PORT ejected"
	tell_upstream B "$B_PORT"
	# Each client probes one (refused at once); within two, B.
	run "${BAL[@]}" seq "$ADDR" 3
	echo "$output"
	[[ " $output " == *" $B_PORT "* ]]
	run "${BAL[@]}" seq "$ADDR" 2
	[ "$output" = "$B_PORT $B_PORT" ]
	log_has "px: upstream 127.0.0.1:$B_PORT is back"
	stop_daemon
}

@test "an unchanged upstream keeps its ejection across a reload that changes the others" {
	once_per_build
	tell_upstream A
	tell_upstream B
	tell_upstream C
	bal_conf "\"127.0.0.1:$A_PORT\", \"127.0.0.1:$B_PORT\"" 'fail_timeout = "1h"; balance = "first";'
	start_daemon
	kill_upstream A
	run "${BAL[@]}" seq "$ADDR" 2
	[ "$output" = "$B_PORT $B_PORT" ]
	tell_upstream A "$A_PORT"
	# A is back, but ejected for an hour; a reload that adds C keeps that.
	bal_conf "\"127.0.0.1:$A_PORT\", \"127.0.0.1:$B_PORT\", \"127.0.0.1:$C_PORT\"" 'fail_timeout = "1h"; balance = "first";'
	kill -HUP "$DAEMON_PID"
	wait_until 5000 log_has "reloaded"
	run "${BAL[@]}" seq "$ADDR" 2
	[ "$output" = "$B_PORT $B_PORT" ]
	stop_daemon
}

@test "upstream options: file:line errors for unknown, repeated or out-of-range options, weight with first, and all backups" {
	once_per_build
	local bad
	# Each: the upstreams|other keys|the message.
	for bad in '"127.0.0.1:1 wait=3"||unknown option "wait=3"' \
		'"127.0.0.1:1 weight=0"||weight: expected a whole number from 1 to 256' \
		'"127.0.0.1:1 weight=257"||weight: expected a whole number from 1 to 256' \
		'"127.0.0.1:1 weight=2x"||weight: expected a whole number' \
		'"127.0.0.1:1 backup backup", "127.0.0.1:2"||"backup" given twice' \
		'"127.0.0.1:1 backup"||every one is a backup' \
		'"127.0.0.1:1 weight=2", "127.0.0.1:2"|balance = "first";|weight= has no effect with balance = "first"' \
		'"127.0.0.1:1", "127.0.0.1:1 weight=2"||"127.0.0.1:1" is listed twice' \
		'"unix:/run/my dir/x.sock"||unknown option "dir/x.sock" (known: weight=N, backup; a path cannot have spaces)'; do
		IFS='|' read -r ups keys msg <<<"$bad"
		bal_conf "$ups" "$keys"
		run "$AIO_BIN" -n -f "$CONF"
		echo "$output"
		[ "$status" -eq 1 ]
		[[ "$output" == *"$CONF:4: upstreams: "*"$msg"* ]]
	done
	bal_conf "\"127.0.0.1:1 weight=256 backup\", \"localhost:2  weight=1\"" 'balance = "least-connections"; max_fails = 0; fail_timeout = "1s";'
	run "$AIO_BIN" -n -f "$CONF"
	echo "$output"
	[ "$status" -eq 0 ]
}
