#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# SIGHUP: the configuration read again and swapped in, all or nothing,
# in one process, on every loop thread.

load helpers

setup() {
	PORT_A=$(free_port)
	PORT_B=$(free_port)
	ADDR_A=127.0.0.1:$PORT_A
	ADDR_B=127.0.0.1:$PORT_B
}

# conf LISTENERS [GLOBAL KEYS]: write $CONF with the listeners given.
conf() {
	cat >"$CONF" <<EOC
log_level = "debug";
$2
listeners = ( $1 );
EOC
}


# echo_a [KEYS] / echo_b [KEYS]: the two echo listeners' groups.
echo_a() { echo "{ name = \"a\"; address = \"$ADDR_A\"; service = \"echo\"; $1 }"; }
echo_b() { echo "{ name = \"b\"; address = \"$ADDR_B\"; service = \"echo\"; $1 }"; }

# reloaded N: the Nth reload has been applied on every thread.
reloaded() {
	[ "$(grep -c "SIGHUP: reloaded" "$LOG")" -ge "$1" ]
}

@test "reload adds, changes and removes listeners; clients keep their settings" {
	conf "$(echo_a)"
	start_daemon
	# A client from before: idle_timeout 300 s, whatever comes later.
	bg_client OLD --timeout 60 hold "$ADDR_A" 1
	wait_until 10000 output_has OLD "holding 1"
	conf "$(echo_a 'idle_timeout = "500ms";'), $(echo_b)"
	kill -HUP "$DAEMON_PID"
	wait_until 5000 reloaded 1
	log_has "b: listening on $ADDR_B"
	run "${CLIENT[@]}" echo "$ADDR_B"
	[ "$status" -eq 0 ]
	# A new client of a gets the new idle_timeout; the old one stays.
	run "${CLIENT[@]}" --timeout 10 idle "$ADDR_A"
	[ "$status" -eq 0 ]
	refute output_has OLD "closed by the daemon"
	# Remove a: its socket closes, its client carries on.
	conf "$(echo_b)"
	kill -HUP "$DAEMON_PID"
	wait_until 5000 reloaded 2
	log_has "a: removed by the reload"
	run "${CLIENT[@]}" --timeout 5 echo "$ADDR_A"
	[ "$status" -ne 0 ]
	run "${CLIENT[@]}" echo "$ADDR_B"
	[ "$status" -eq 0 ]
	refute output_has OLD "closed by the daemon"
	stop_daemon
	output_has OLD "all 1 closed by the daemon"
}

@test "a broken file keeps the old configuration, with file:line in the log" {
	conf "$(echo_a)"
	start_daemon
	printf 'listeners = ( { name = "a";\n  address = 7; } );\n' >"$CONF"
	kill -HUP "$DAEMON_PID"
	wait_until 5000 log_has "SIGHUP: reload failed, running the previous configuration: $CONF:2: "
	run "${CLIENT[@]}" echo "$ADDR_A"
	[ "$status" -eq 0 ]
	# Fixed, it applies.
	conf "$(echo_a), $(echo_b)"
	kill -HUP "$DAEMON_PID"
	wait_until 5000 reloaded 1
	run "${CLIENT[@]}" echo "$ADDR_B"
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "all or nothing: a listener that cannot bind leaves every other change undone" {
	busy=$(free_port)
	python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
print("bound", flush=True); time.sleep(60)' "$busy" >"$BATS_TEST_TMPDIR/busy.out" &
	wait_until 5000 grep -q bound "$BATS_TEST_TMPDIR/busy.out"
	conf "$(echo_a)"
	start_daemon
	conf "$(echo_a), $(echo_b), { name = \"c\"; address = \"127.0.0.1:$busy\"; service = \"echo\"; }"
	kill -HUP "$DAEMON_PID"
	wait_until 5000 log_has "reload failed, running the previous configuration: listener c: 127.0.0.1:$busy: Address already in use"
	# b was bound for the reload, then closed again.
	run "${CLIENT[@]}" --timeout 5 echo "$ADDR_B"
	[ "$status" -ne 0 ]
	run "${CLIENT[@]}" echo "$ADDR_A"
	[ "$status" -eq 0 ]
	stop_daemon
	# b never served: no summary of it, then or at exit.
	refute log_has " b: [0-9]* served"
}

@test "a 50 MiB proxied transfer across 5 reloads stays byte-exact" {
	start_upstream UP echo
	px() { echo "{ name = \"px\"; address = \"$ADDR_A\"; service = \"proxy\"; upstreams = ( \"127.0.0.1:$UP_PORT\" ); $1 }"; }
	conf "$(px)"
	start_daemon
	# 800 chunks 5 ms apart: the stream lasts (4 s at least) while the
	# reloads come.
	bg_client BIG --timeout 120 echo "$ADDR_A" --bytes $((50 * 1024 * 1024)) \
		--chunk 65536 --pause 0.005
	wait_until 10000 output_has BIG "^sending"
	for i in 1 2 3 4 5; do
		conf "$(px "idle_timeout = \"${i}0s\";"), $(echo_b)"
		[ $((i % 2)) -eq 0 ] && conf "$(px "idle_timeout = \"${i}0s\";")"
		kill -HUP "$DAEMON_PID"
		wait_until 5000 reloaded "$i"
	done
	# The reloads came while the bytes were still flowing.
	refute output_has BIG "byte-exact"
	wait "$BIG_PID"
	output_has BIG "byte-exact"
	stop_daemon
}

@test "clients queued on an unchanged listener during a reload are served" {
	conf "$(echo_a 'backlog = 64;')"
	start_daemon
	sockets() { ss -Htlne "( sport = :$PORT_A )" | grep -o 'ino:[0-9]*' | sort; }
	before=$(sockets)
	# Stopped, the daemon accepts nobody: the kernel queues them.
	kill -STOP "$DAEMON_PID"
	bg_client Q --timeout 60 echo "$ADDR_A" --clients 20
	# All 20 connected (and, having sent, half-closed: FIN-WAIT-2).
	wait_until 5000 count_is 20 bash -c "ss -Htn '( dport = :$PORT_A )' | wc -l"
	conf "$(echo_a 'backlog = 64;'), $(echo_b)"
	kill -HUP "$DAEMON_PID"
	kill -CONT "$DAEMON_PID"
	wait_until 5000 reloaded 1
	wait "$Q_PID"
	output_has Q "20 clients x 1024 bytes: byte-exact"
	# The very sockets they were queued on, on every thread.
	[ "$(sockets)" = "$before" ]
	[ -n "$before" ]
	stop_daemon
}

@test "a SIGHUP during a reload is queued, not lost" {
	fifo=$BATS_TEST_TMPDIR/fifo
	mkfifo "$fifo"
	conf "$(echo_a "access_log = \"$fifo\";")" "worker_threads = 1;"
	start_daemon
	# The only worker blocks opening the FIFO: the reload's read waits.
	run "${CLIENT[@]}" echo "$ADDR_A"
	[ "$status" -eq 0 ]
	wait_until 5000 log_has "a 127.0.0.1:[0-9]*: closed"
	conf "$(echo_a "access_log = \"$fifo\";"), $(echo_b)" "worker_threads = 1;"
	kill -HUP "$DAEMON_PID"
	wait_until 5000 log_has "SIGHUP: reloading the configuration"
	kill -HUP "$DAEMON_PID"
	wait_until 5000 log_has "SIGHUP: a reload is running; another will follow"
	cat "$fifo" >/dev/null &
	wait_until 5000 reloaded 2
	run "${CLIENT[@]}" echo "$ADDR_B"
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "an unchanged upstream list keeps its names resolved across reloads" {
	start_upstream UP echo
	px() { echo "{ name = \"px\"; address = \"$ADDR_A\"; service = \"proxy\"; upstreams = ( \"localhost:$UP_PORT\" ); $1 }"; }
	conf "$(px)"
	start_daemon
	# 50 clients: every loop thread has looked the name up.
	run "${CLIENT[@]}" echo "$ADDR_A" --clients 50
	[ "$status" -eq 0 ]
	n=$(grep -c "px: resolved localhost" "$LOG")
	for i in 1 2 3; do
		conf "$(px "idle_timeout = \"${i}0s\";")"
		kill -HUP "$DAEMON_PID"
		wait_until 5000 reloaded "$i"
	done
	run "${CLIENT[@]}" echo "$ADDR_A" --clients 50
	[ "$status" -eq 0 ]
	# No lookup was needed again: the cache and the turn were kept.
	[ "$(grep -c "px: resolved localhost" "$LOG")" -eq "$n" ]
	stop_daemon
}

@test "a removed listener's clients still count: logs reopened, summary at exit" {
	alog=$BATS_TEST_TMPDIR/a.log
	conf "$(echo_a "access_log = \"$alog\";")"
	start_daemon
	run "${CLIENT[@]}" echo "$ADDR_A"
	[ "$status" -eq 0 ]
	bg_client OLD --timeout 60 hold "$ADDR_A" 1
	wait_until 10000 output_has OLD "holding 1"
	conf "$(echo_b)"
	kill -HUP "$DAEMON_PID"
	wait_until 5000 reloaded 1
	wait_until 5000 count_is 1 awk 'END { print NR }' "$alog"
	mv "$alog" "$alog.1"
	kill -USR1 "$DAEMON_PID"
	wait_until 5000 log_has "SIGUSR1: reopening"
	stop_daemon
	# The held client's line went to the reopened file.
	wait_until 5000 count_is 1 awk 'END { print NR }' "$alog"
	log_has "a (removed by a reload): 2 served"
}

@test "a reload that raises max_connections past the fd limit says so" {
	conf "$(echo_a 'max_connections = 10;')"
	DAEMON_WRAP=(prlimit --nofile=200:200 --)
	start_daemon
	refute log_has "open file limit is 200"
	conf "$(echo_a 'max_connections = 1000;')"
	kill -HUP "$DAEMON_PID"
	wait_until 5000 reloaded 1
	log_has "open file limit is 200 but max_connections needs"
	stop_daemon
}

# churn_conf ODD: "a" (echo, access log) and "px" (proxy, its upstream
# list changing every time) always; with ODD = 1, also "b" (TCP) and "u"
# (UNIX), each with an access log.
churn_conf() {
	local ups="\"127.0.0.1:$UP_PORT\"" more=
	if [ "$1" = 1 ]; then
		ups="\"127.0.0.1:$UP_PORT\", \"127.0.0.1:$DEAD_PORT\""
		more=", $(echo_b "access_log = \"$BATS_TEST_TMPDIR/b.log\";"),
		{ name = \"u\"; address = \"unix:$BATS_TEST_TMPDIR/u.sock\";
		  service = \"echo\"; access_log = \"$BATS_TEST_TMPDIR/u.log\"; }"
	fi
	conf "$(echo_a "access_log = \"$BATS_TEST_TMPDIR/a.log\";"),
	{ name = \"px\"; address = \"127.0.0.1:$PORT_PX\"; service = \"proxy\";
	  upstreams = ( $ups ); access_log = \"$BATS_TEST_TMPDIR/px.log\"; }
	$more"
}

# ping PORT: one line through a new TCP connection, echoed back.
ping() {
	local line
	exec 8<>"/dev/tcp/127.0.0.1/$1"
	echo hi >&8
	read -r -t 5 line <&8
	exec 8>&-
	[ "$line" = hi ]
}

# conns_left: TCP connections the daemon still has with clients and the
# upstream.
conns_left() {
	ss -Htn state established "( sport = :$PORT_A or sport = :$PORT_B or sport = :$PORT_PX or dport = :$UP_PORT )" | wc -l
}

# fds: the daemon's open file descriptors.
fds() {
	ls "/proc/$DAEMON_PID/fd" | wc -l
}

@test "100 reloads that add and remove listeners free what they replace: fds and RSS stay" {
	start_upstream UP echo
	PORT_PX=$(free_port)
	DEAD_PORT=$(free_port)
	churn_conf 1
	start_daemon
	n=0
	# round I: reload to churn_conf (I % 2), with clients across it: one
	# held on "b" from before the reload that removes it to after, one on
	# "u", and one through the proxy.
	round() {
		local line
		if [ $(($1 % 2)) = 1 ]; then
			exec 7<>"/dev/tcp/127.0.0.1/$PORT_B"
			echo "u$1" | socat -t 5 - "UNIX-CONNECT:$BATS_TEST_TMPDIR/u.sock" | grep -q "u$1"
		fi
		churn_conf $(($1 % 2 == 0))
		kill -HUP "$DAEMON_PID"
		n=$((n + 1))
		wait_until 10000 reloaded "$n"
		if [ $(($1 % 2)) = 1 ]; then
			echo "b$1" >&7
			read -r -t 5 line <&7
			exec 7>&-
			[ "$line" = "b$1" ]
		fi
		ping "$PORT_A"
		ping "$PORT_PX"
	}
	round 1
	round 2
	# Every loop thread's copies have had clients: their access logs are
	# open (each opens its file at its first line).
	for i in $(seq 20); do
		ping "$PORT_A"
		ping "$PORT_PX"
	done
	wait_until 5000 count_is 0 conns_left
	# Its last log lines written: the removed listeners' files closed.
	wait_until 5000 count_is 1 awk 'END { print NR }' "$BATS_TEST_TMPDIR/b.log"
	before_fds=$(fds)
	before_rss=$(rss_kb)
	ls -l "/proc/$DAEMON_PID/fd" | awk '{ print $NF }' | sort >"$BATS_TEST_TMPDIR/fds.before"
	for i in $(seq 3 102); do
		round "$i"
	done
	# Every removed listener's last client has gone: what it used is
	# freed, its log file closed.
	wait_until 5000 count_is 0 conns_left
	wait_until 5000 count_is "$before_fds" fds ||
		ls -l "/proc/$DAEMON_PID/fd" | awk '{ print $NF }' | sort |
		diff "$BATS_TEST_TMPDIR/fds.before" - || true
	after_rss=$(rss_kb)
	echo "fds $before_fds -> $(fds); RSS $before_rss -> $after_rss KiB"
	[ "$(fds)" -eq "$before_fds" ]
	if ! sanitized &&
		[ "${AIO_VALGRIND:-0}" != 1 ]; then
		[ $((after_rss - before_rss)) -lt 256 ]
	fi
	# The removed listeners said what they served, each time.
	[ "$(grep -c "b (removed by a reload): 1 served, 1 client-fin" "$LOG")" -eq 51 ]
	[ "$(grep -c "u (removed by a reload): 1 served, 1 client-fin" "$LOG")" -eq 51 ]
	stop_daemon
}

@test "a removed listener with no clients left closes its log: SIGUSR1 no longer re-creates it" {
	conf "$(echo_a "access_log = \"$BATS_TEST_TMPDIR/a.log\";")" "worker_threads = 1;"
	start_daemon
	run "${CLIENT[@]}" echo "$ADDR_A"
	[ "$status" -eq 0 ]
	wait_until 5000 count_is 1 awk 'END { print NR }' "$BATS_TEST_TMPDIR/a.log"
	conf "$(echo_b "access_log = \"$BATS_TEST_TMPDIR/b.log\";")" "worker_threads = 1;"
	kill -HUP "$DAEMON_PID"
	wait_until 5000 reloaded 1
	wait_until 5000 log_has "a (removed by a reload): 1 served"
	# logrotate moves both files, then signals.
	mv "$BATS_TEST_TMPDIR/a.log" "$BATS_TEST_TMPDIR/a.log.1"
	kill -USR1 "$DAEMON_PID"
	wait_until 5000 log_has "SIGUSR1: reopening"
	# b's log is reopened, and a line of b's written after it: with one
	# worker, any reopen of a's would have run before.
	run "${CLIENT[@]}" echo "$ADDR_B"
	[ "$status" -eq 0 ]
	wait_until 5000 count_is 1 awk 'END { print NR }' "$BATS_TEST_TMPDIR/b.log"
	[ ! -e "$BATS_TEST_TMPDIR/a.log" ]
	stop_daemon
}
