#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The UDP echo (RFC 862): udp:ADDRESS listeners.  Datagrams come back
# whole, from the address they were sent to; the loop guards and
# per_source's rate drop (and count) what must not be answered; reloads
# add and remove UDP listeners; systemd may pass the socket.  Runs with
# AIO_LOOP_THREADS=1 and 2 like the rest.

load helpers

UDP=(python3 "$BATS_TEST_DIRNAME/tools/udp.py")
SCRAPE=(python3 "$BATS_TEST_DIRNAME/tools/scrape.py")

setup() {
	PORT=$(free_port)
	MPORT=$(free_port)
}

# metric SAMPLE VALUE: the metrics listener on $MPORT shows it.
metric_eq() {
	[ "$("${SCRAPE[@]}" get "127.0.0.1:$MPORT" "$1" 2>&1)" = "$2" ]
}

# rewrite_conf: $CONF from stdin, keeping the loop_threads line that
# start_daemon put in (a reload cannot change loop_threads).
rewrite_conf() {
	local lt

	lt=$(grep '^loop_threads' "$CONF" || true)
	{ echo "$lt"; cat; } >"$CONF.new"
	mv "$CONF.new" "$CONF"
}

# udp_conf LISTENER-KEYS [GLOBAL KEYS]: a UDP echo "u" on 127.0.0.1:PORT
# and metrics on MPORT.
udp_conf() {
	cat >"$CONF" <<EOC
log_level = "debug";
$2
listeners = (
  { name = "u"; address = "udp:127.0.0.1:$PORT"; service = "echo"; $1 },
  { name = "m"; address = "127.0.0.1:$MPORT"; service = "metrics"; }
);
EOC
}

@test "byte-exact at 1, 1,400 and 65,507 bytes on IPv4 and IPv6; nc -u; TCP on the same port" {
	cat >"$CONF" <<EOC
listeners = (
  { name = "u"; address = "udp:127.0.0.1:$PORT"; service = "echo"; },
  { name = "u6"; address = "udp:[::1]:$PORT"; service = "echo"; },
  { name = "t"; address = "127.0.0.1:$PORT"; service = "echo"; }
);
EOC
	start_daemon
	log_has "u: listening on udp:127.0.0.1:$PORT (echo)"
	run "${UDP[@]}" echo "127.0.0.1:$PORT" --sizes 1,1400,65507
	echo "$output"
	[ "$status" -eq 0 ] && [ "$output" = "ok 3" ]
	run "${UDP[@]}" echo "[::1]:$PORT" --sizes 1,1400,65507
	echo "$output"
	[ "$status" -eq 0 ] && [ "$output" = "ok 3" ]
	run bash -c "printf 'hello udp' | nc -u -w 1 127.0.0.1 $PORT"
	[ "$output" = "hello udp" ]
	run "${CLIENT[@]}" echo "127.0.0.1:$PORT" --bytes 1000
	[ "$status" -eq 0 ]
	stop_daemon
	log_has "u: 4 datagrams echoed, 0 dropped; 66917 bytes in, 66917 bytes out"
	log_has "u6: 3 datagrams echoed, 0 dropped"
	log_has "t: 1 served"
	# No line per datagram.
	refute grep -q "u 127.0.0.1" "$LOG"
}

@test "each reply leaves from the address its datagram was sent to (127.0.0.1, 127.0.0.2)" {
	cat >"$CONF" <<EOC
listeners = (
  { name = "any"; address = "udp:0.0.0.0:$PORT"; service = "echo"; }
);
EOC
	start_daemon
	run "${UDP[@]}" echo "127.0.0.1:$PORT" --to 127.0.0.1,127.0.0.2 \
		--sizes 1,1400 --clients 4
	echo "$output"
	[ "$status" -eq 0 ] && [ "$output" = "ok 16" ]
	stop_daemon
}

@test "no reply to source ports 7 and 19, nor to the listener's own port; counted" {
	once_per_build
	udp_conf
	start_daemon
	for sport in 7 19 "$PORT"; do
		run "${UDP[@]}" silent "127.0.0.1:$PORT" --sport "$sport" \
			--src 127.0.0.2
		echo "$output"
		[ "$status" -ne 77 ] || skip "cannot bind a port below 1024 here"
		[ "$status" -eq 0 ]
	done
	run "${UDP[@]}" echo "127.0.0.1:$PORT" --sizes 5
	[ "$status" -eq 0 ]
	wait_until 5000 metric_eq 'aio_echod_udp_datagrams_total{listener="u",result="dropped_port"}' 3
	metric_eq 'aio_echod_udp_datagrams_total{listener="u",result="echoed"}' 1
	metric_eq 'aio_echod_received_bytes_total{listener="u"}' 20
	metric_eq 'aio_echod_sent_bytes_total{listener="u"}' 5
	metric_eq 'aio_echod_connections_accepted_total{listener="u"}' 0
	stop_daemon
	log_has "u: 1 datagrams echoed, 3 dropped, 3 port; 20 bytes in, 5 bytes out"
}

@test "per_source.connection_rate: 1,000 datagrams over the rate are dropped and counted" {
	once_per_build
	udp_conf 'per_source = { connection_rate = "10/1h"; };'
	start_daemon
	run "${UDP[@]}" burst "127.0.0.1:$PORT" --count 1010 --wait-ms 500
	echo "$output"
	[ "$output" = "sent 1010 replies 10" ]
	wait_until 5000 metric_eq 'aio_echod_udp_datagrams_total{listener="u",result="dropped_rate"}' 1000
	metric_eq 'aio_echod_udp_datagrams_total{listener="u",result="echoed"}' 10
	metric_eq 'aio_echod_udp_datagrams_total{listener="u",result="dropped_full"}' 0
	stop_daemon
	log_has "u: 10 datagrams echoed, 1000 dropped, 1000 rate"
}

@test "deny drops a source's datagrams, counted" {
	once_per_build
	udp_conf 'deny = ( "127.0.0.2/32" );'
	start_daemon
	run "${UDP[@]}" echo "127.0.0.1:$PORT" --sizes 3
	[ "$status" -eq 0 ]
	run python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.2', 0)); s.settimeout(0.5)
s.sendto(b'x', ('127.0.0.1', $PORT))
try:
    s.recvfrom(100); print('reply')
except socket.timeout:
    print('no reply')"
	[ "$output" = "no reply" ]
	wait_until 5000 metric_eq 'aio_echod_udp_datagrams_total{listener="u",result="dropped_denied"}' 1
	stop_daemon
}

@test "reload adds a UDP listener, then removes it" {
	cat >"$CONF" <<EOC
listeners = (
  { name = "t"; address = "127.0.0.1:$PORT"; service = "echo"; }
);
EOC
	start_daemon
	run "${UDP[@]}" silent "127.0.0.1:$PORT" --sport 0 --wait-ms 200
	[ "$status" -eq 0 ]
	rewrite_conf <<EOC
listeners = (
  { name = "t"; address = "127.0.0.1:$PORT"; service = "echo"; },
  { name = "u"; address = "udp:127.0.0.1:$PORT"; service = "echo"; }
);
EOC
	kill -HUP "$DAEMON_PID"
	wait_until 5000 log_has "SIGHUP: reloaded"
	run "${UDP[@]}" echo "127.0.0.1:$PORT" --sizes 1,1400 --clients 3
	echo "$output"
	[ "$status" -eq 0 ]
	rewrite_conf <<EOC
listeners = (
  { name = "t"; address = "127.0.0.1:$PORT"; service = "echo"; }
);
EOC
	kill -HUP "$DAEMON_PID"
	wait_until 5000 count_is 2 grep -c "SIGHUP: reloaded" "$LOG"
	wait_until 5000 log_has "u (removed by a reload): 6 datagrams echoed"
	run "${UDP[@]}" silent "127.0.0.1:$PORT" --sport 0 --wait-ms 300
	[ "$status" -eq 0 ]
	run "${CLIENT[@]}" echo "127.0.0.1:$PORT" --bytes 100
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "loop_threads = 2: datagrams of many sources, with and without reuseport" {
	once_per_build
	port2=$(free_port)
	cat >"$CONF" <<EOC
loop_threads = 2;
listeners = (
  { name = "rp"; address = "udp:127.0.0.1:$PORT"; service = "echo"; },
  { name = "one"; address = "udp:127.0.0.1:$port2"; service = "echo";
    reuseport = false; }
);
EOC
	start_daemon
	run "${UDP[@]}" echo "127.0.0.1:$PORT" --sizes 1,1400 --clients 20
	[ "$status" -eq 0 ] && [ "$output" = "ok 40" ]
	run "${UDP[@]}" echo "127.0.0.1:$port2" --sizes 1,1400 --clients 20
	[ "$status" -eq 0 ] && [ "$output" = "ok 40" ]
	stop_daemon
	log_has "rp: 40 datagrams echoed"
	log_has "one: 40 datagrams echoed"
}

@test "a UDP socket passed by systemd (ListenDatagram=), matched by name" {
	once_per_build
	cat >"$CONF" <<EOC
loop_threads = 2;
listeners = (
  { name = "u"; address = "udp:127.0.0.1:$PORT"; service = "echo"; }
);
EOC
	DAEMON_WRAP=(systemd-socket-activate --datagram -l "127.0.0.1:$PORT" --fdname=u)
	"${DAEMON_WRAP[@]}" "$AIO_BIN" -f "$CONF" 2>"$LOG" &
	DAEMON_PID=$!
	wait_until 5000 log_has "Listening on"
	# The first datagram starts the daemon, which answers it.
	run "${UDP[@]}" echo "127.0.0.1:$PORT" --sizes 1400 --wait-ms 10000
	echo "$output"
	[ "$status" -eq 0 ]
	log_has "u: listening on udp:127.0.0.1:$PORT (echo, socket from systemd)"
	run "${UDP[@]}" echo "127.0.0.1:$PORT" --sizes 1,65507 --clients 5
	[ "$status" -eq 0 ]
	stop_daemon
	log_has "u: 11 datagrams echoed"
}

@test "a stream socket passed for a UDP listener is a startup error" {
	once_per_build
	cat >"$CONF" <<EOC
listeners = (
  { name = "u"; address = "udp:127.0.0.1:$PORT"; service = "echo"; }
);
EOC
	DAEMON_WRAP=(systemd-socket-activate -l "127.0.0.1:$PORT" --fdname=u)
	"${DAEMON_WRAP[@]}" "$AIO_BIN" -f "$CONF" 2>"$LOG" &
	DAEMON_PID=$!
	wait_until 5000 log_has "Listening on"
	"${CLIENT[@]}" --timeout 5 echo "127.0.0.1:$PORT" >/dev/null 2>&1 || true
	wait_exit 5000
	[ "$DAEMON_STATUS" -eq 1 ]
	log_has "listener u: the socket systemd passed as \"u\" is not a UDP socket on udp:127.0.0.1:$PORT"
}

@test "a UDP listener has no connections to budget fds for: no open-file warning at a small limit" {
	once_per_build
	cat >"$CONF" <<EOC
loop_threads = 1;
listeners = ( { name = "u"; address = "udp:127.0.0.1:$PORT"; service = "echo"; } );
EOC
	DAEMON_WRAP=(prlimit --nofile=128:128 --)
	start_daemon
	# It counted as 1,024 clients once: "open file limit is 128 but
	# max_connections needs 1094".
	refute log_has "open file limit"
	run "${UDP[@]}" echo "127.0.0.1:$PORT" --sizes 10
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "no reply to a datagram sent to a broadcast address: IPv4 socket, and a dual-stack one systemd passed" {
	once_per_build
	# In a network namespace of its own (lo only), so that the listeners
	# may take 0.0.0.0 and [::]: a broadcast reaches only a wildcard.
	# The dual-stack socket reports an IPv4 datagram's destination as a
	# mapped IPv6 address, which alone cannot tell a subnet's broadcast
	# address (127.255.255.255 here) from a host's: it was answered as
	# one (and the reply failed, counted as "send buffer full").
	run timeout 60 unshare -n bash -s "$AIO_BIN" "$BATS_TEST_TMPDIR" "${UDP[1]}" \
		"$AIO_LOOP_THREADS" <<'SH'
set -u
bin=$1 dir=$2 udp=$3 threads=$4
ip link set lo up || exit 1
# serve NAME ADDRESS [WRAPPER...]: the daemon on one UDP listener until
# it says it listens; $pid is its pid.
serve() {
	local name=$1 addr=$2 i
	shift 2
	printf 'loop_threads = %s;\nlisteners = ( { name = "%s"; address = "udp:%s"; service = "echo"; } );\n' \
		"$threads" "$name" "$addr" >"$dir/$name.conf"
	"$@" "$bin" -f "$dir/$name.conf" 2>"$dir/$name.log" &
	pid=$!
	for i in $(seq 500); do
		grep -q "Listening on\|listening on" "$dir/$name.log" && return 0
		sleep 0.01
	done
	return 1
}
# check NAME PORT: one unicast echo (from 127.0.0.1), one broadcast
# without a reply, then the exit summary's counts.
check() {
	python3 "$udp" echo "127.0.0.1:$2" --sizes 5 --wait-ms 10000 &&
		python3 "$udp" silent "127.255.255.255:$2" --broadcast || return 1
	kill -TERM "$pid"
	wait "$pid" || { echo "$1: exit $?"; cat "$dir/$1.log"; return 1; }
	cat "$dir/$1.log"
}
serve v4 0.0.0.0:7007 && check v4 7007 || exit 1
serve ds "[::]:7008" systemd-socket-activate --datagram -l "[::]:7008" --fdname=ds &&
	check ds 7008 || exit 1
SH
	echo "$output"
	[ "$status" -eq 0 ]
	# Every loop thread's socket gets its own copy of a broadcast.
	[[ "$output" == *"v4: 1 datagrams echoed, $AIO_LOOP_THREADS dropped, $AIO_LOOP_THREADS denied"* ]]
	[[ "$output" == *"ds: 1 datagrams echoed, 1 dropped, 1 denied"* ]]
}
