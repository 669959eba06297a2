#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The edge: the PROXY protocol received, allow and deny, allow_uid,
# per-source limits, TCP keepalive.  Clients bind 127.0.0.2, 127.0.0.3...
# to be different sources.

load helpers

EDGE=(python3 "$BATS_TEST_DIRNAME/tools/edge.py")
SCRAPE=(python3 "$BATS_TEST_DIRNAME/tools/scrape.py")

setup() {
	PORT=$(free_port)
	ADDR=127.0.0.1:$PORT
	MPORT=$(free_port)
	MADDR=127.0.0.1:$MPORT
	ALOG=$BATS_TEST_TMPDIR/access.log
}

# edge_conf KEYS...: an echo listener "echo" on $ADDR with KEYS, an
# access log, and a metrics listener on $MADDR.
edge_conf() {
	cat >"$CONF" <<EOC
log_level = "debug";
listeners = (
  { name = "echo"; address = "$ADDR"; service = "echo";
    access_log = "$ALOG"; $* },
  { name = "metrics"; address = "$MADDR"; service = "metrics"; }
);
EOC
}

# rejected REASON: the echo listener's count of clients refused for it.
rejected() {
	"${SCRAPE[@]}" get "$MADDR" \
		"aio_echod_connections_rejected_total{listener=\"echo\",reason=\"$1\"}"
}

@test "PROXY v1 and v2 headers, whole or one byte at a time: byte-exact echo, the client's address logged" {
	edge_conf 'proxy_protocol = true; proxy_protocol_from = ( "127.0.0.1/32" );'
	start_daemon
	for kind in v1 v2 v2-tlv; do
		run "${EDGE[@]}" header "$ADDR" $kind --data 5000
		[ "$status" -eq 0 ] || { echo "$kind: $output"; false; }
		run "${EDGE[@]}" header "$ADDR" $kind --split --data 300
		[ "$status" -eq 0 ] || { echo "$kind split: $output"; false; }
	done
	run "${EDGE[@]}" header "$ADDR" v1-tcp6 --src 2001:db8::5 --sport 99
	[ "$status" -eq 0 ]
	run "${EDGE[@]}" header "$ADDR" v2-tcp6 --src 2001:db8::6 --sport 98
	[ "$status" -eq 0 ]
	wait_until 5000 count_is 8 grep -c " client-fin 127.0.0.1:" "$ALOG"
	# Field 3 is the client the header named, field 9 the balancer.
	[ "$(awk '$3 == "192.0.2.7:4242" && $9 ~ /^127\.0\.0\.1:/' "$ALOG" | wc -l)" -eq 6 ]
	grep -q ' \[2001:db8::5\]:99 .* client-fin 127\.0\.0\.1:' "$ALOG"
	grep -q ' \[2001:db8::6\]:98 .* client-fin 127\.0\.0\.1:' "$ALOG"
	[ "$(rejected proxy_header)" = 0 ]
	[ "$("${SCRAPE[@]}" get "$MADDR" 'aio_echod_connections_accepted_total{listener="echo"}')" = 8 ]
}

@test "PROXY LOCAL and UNKNOWN keep the connection's own address" {
	# Each client's own checks: the same with any loop_threads.
	once_per_build
	edge_conf 'proxy_protocol = true; proxy_protocol_from = ( "127.0.0.0/8" );'
	start_daemon
	run "${EDGE[@]}" header "$ADDR" v2-local
	[ "$status" -eq 0 ]
	run "${EDGE[@]}" header "$ADDR" v1-unknown
	[ "$status" -eq 0 ]
	wait_until 5000 count_is 2 grep -c " client-fin -$" "$ALOG"
	[ "$(awk '$3 ~ /^127\.0\.0\.1:/' "$ALOG" | wc -l)" -eq 2 ]
}

@test "hostile PROXY headers are refused with a reset and counted; others are served meanwhile" {
	# Each client's own checks: the same with any loop_threads.
	once_per_build
	edge_conf 'proxy_protocol = true; proxy_protocol_from = ( "127.0.0.1/32" ); proxy_protocol_timeout = "400ms";'
	start_daemon
	for kind in v1-nocrlf v2-short v2-badcmd garbage; do
		run "${EDGE[@]}" header "$ADDR" $kind --expect reset
		[ "$status" -eq 0 ] || { echo "$kind: $output"; false; }
	done
	# Late: nothing at all, and a good header after the timeout.
	run "${EDGE[@]}" header "$ADDR" none --data 0 --expect reset
	[ "$status" -eq 0 ]
	run "${EDGE[@]}" header "$ADDR" v1 --delay 0.8 --expect reset
	[ "$status" -eq 0 ]
	run "${EDGE[@]}" header "$ADDR" v2
	[ "$status" -eq 0 ]
	wait_until 5000 count_is 6 rejected proxy_header
	wait_until 5000 count_is 6 grep -c " limit " "$ALOG"
	log_has "closed (limit): no complete header within proxy_protocol_timeout"
}

@test "a sender not in proxy_protocol_from is refused at accept, before a byte is read" {
	# Each client's own checks: the same with any loop_threads.
	once_per_build
	edge_conf 'proxy_protocol = true; proxy_protocol_from = ( "127.0.0.1/32", "::1/128" );'
	start_daemon
	run "${EDGE[@]}" header "$ADDR" v1 --bind 127.0.0.2 --expect reset
	[ "$status" -eq 0 ]
	wait_until 5000 count_is 1 rejected proxy_from
	log_has "127.0.0.2:[0-9]*: closed (limit): not in proxy_protocol_from"
	run "${EDGE[@]}" header "$ADDR" v1
	[ "$status" -eq 0 ]
}

@test "the PROXY protocol's keys: file:line errors" {
	once_per_build
	cat >"$CONF" <<EOC
listeners = (
  { name = "a"; address = "127.0.0.1:1"; service = "echo";
    proxy_protocol = true; },
  { name = "b"; address = "unix:/tmp/b.sock"; service = "echo";
    proxy_protocol = true; proxy_protocol_from = ( "10.0.0.0/8" ); },
  { name = "c"; address = "127.0.0.1:2"; service = "echo";
    proxy_protocol_from = ( "10.0.0.0/8" ); },
  { name = "d"; address = "127.0.0.1:3"; service = "echo";
    proxy_protocol = true; proxy_protocol_from = ( "10.0.0.1/8", "300.0.0.0/8" ); },
  { name = "e"; address = "127.0.0.1:4"; service = "echo";
    send_proxy_protocol = "v2"; },
  { name = "f"; address = "127.0.0.1:5"; service = "proxy";
    upstreams = ( "127.0.0.1:6" ); send_proxy_protocol = "v3"; }
);
EOC
	run "$AIO_BIN" -n -f "$CONF"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$CONF:3: proxy_protocol: needs proxy_protocol_from"* ]]
	[[ "$output" == *"$CONF:5: proxy_protocol_from: not for a unix: address"* ]]
	[[ "$output" == *"$CONF:7: proxy_protocol_from: only with proxy_protocol = true"* ]]
	[[ "$output" == *"$CONF:9: proxy_protocol_from: \"10.0.0.1/8\": host bits set: not a network address (did you mean \"10.0.0.0/8\"?)"* ]]
	[[ "$output" == *"$CONF:9: proxy_protocol_from: \"300.0.0.0/8\": "* ]]
	[[ "$output" == *"$CONF:11: send_proxy_protocol: only for service \"proxy\""* ]]
	[[ "$output" == *"$CONF:13: send_proxy_protocol: \"v3\": expected"* ]]
}

@test "allow and deny: IPv4 prefixes, refused at accept with a reset" {
	# Each client's own checks: the same with any loop_threads.
	once_per_build
	edge_conf 'allow = ( "127.0.0.0/29" ); deny = ( "127.0.0.2/32", "127.0.0.4/31" );'
	start_daemon
	for ip in 127.0.0.1 127.0.0.3 127.0.0.6; do
		run "${EDGE[@]}" header "$ADDR" none --bind $ip
		[ "$status" -eq 0 ] || { echo "$ip: $output"; false; }
	done
	for ip in 127.0.0.2 127.0.0.4 127.0.0.5 127.0.0.8 127.0.1.1; do
		run "${EDGE[@]}" header "$ADDR" none --bind $ip --expect reset
		[ "$status" -eq 0 ] || { echo "$ip: $output"; false; }
	done
	wait_until 5000 count_is 5 rejected denied
	log_has "127.0.0.2:[0-9]*: closed (limit): in deny"
	log_has "127.0.0.8:[0-9]*: closed (limit): not in allow"
}

@test "allow and deny apply to the address a PROXY header names, IPv4-mapped too" {
	# Each client's own checks: the same with any loop_threads.
	once_per_build
	edge_conf 'proxy_protocol = true; proxy_protocol_from = ( "127.0.0.1/32" ); deny = ( "192.0.2.0/24" );'
	start_daemon
	run "${EDGE[@]}" header "$ADDR" v2 --src 192.0.2.9 --expect reset
	[ "$status" -eq 0 ]
	run "${EDGE[@]}" header "$ADDR" v2 --src 198.51.100.1
	[ "$status" -eq 0 ]
	# An IPv4-mapped IPv6 client matches the IPv4 rules.
	run "${EDGE[@]}" header "$ADDR" v1-tcp6 --src ::ffff:192.0.2.10 --expect reset
	[ "$status" -eq 0 ]
	run "${EDGE[@]}" header "$ADDR" v1-tcp6 --src ::ffff:198.51.100.2
	[ "$status" -eq 0 ]
	wait_until 5000 count_is 2 rejected denied
	log_has "192.0.2.9:4242: closed (limit): in deny"
}

@test "allow_uid on a unix: listener checks the peer's credentials" {
	once_per_build
	SOCK=$BATS_TEST_TMPDIR/e.sock
	cat >"$CONF" <<EOC
log_level = "debug";
listeners = (
  { name = "root"; address = "unix:$SOCK.root"; service = "echo";
    allow_uid = ( 0, "root" ); },
  { name = "nobody"; address = "unix:$SOCK.nobody"; service = "echo";
    allow_uid = ( "nobody" ); }
);
EOC
	start_daemon
	run "${CLIENT[@]}" echo "unix:$SOCK.root" --bytes 100
	[ "$status" -eq 0 ]
	run "${CLIENT[@]}" rejected "unix:$SOCK.nobody"
	[ "$status" -eq 0 ]
	log_has "closed (limit): uid not in allow_uid"
}

@test "per_source: the 17th connection of one source is refused while another source is served" {
	edge_conf 'per_source = { max_connections = 16; };'
	start_daemon
	"${EDGE[@]}" --timeout 20 conns "$ADDR" 17 --bind 127.0.0.2 >"$BATS_TEST_TMPDIR/a.out" &
	wait_until 15000 grep -q "served" "$BATS_TEST_TMPDIR/a.out"
	[ "$(cat "$BATS_TEST_TMPDIR/a.out")" = "served 16 refused 1" ]
	wait_until 5000 count_is 1 rejected source_limit
}

@test "per_source connection_rate: a burst of 8 at 5/10s serves 5 and refuses 3" {
	# Each client's own checks: the same with any loop_threads.
	once_per_build
	edge_conf 'per_source = { connection_rate = "5/10s"; };'
	start_daemon
	run "${EDGE[@]}" conns "$ADDR" 8 --bind 127.0.0.3
	[ "$output" = "served 5 refused 3" ]
	run "${EDGE[@]}" conns "$ADDR" 2 --bind 127.0.0.4
	[ "$output" = "served 2 refused 0" ]
	wait_until 5000 count_is 3 rejected source_rate
}

@test "per_source with a PROXY header counts the client it names, not the balancer" {
	# Each client's own checks: the same with any loop_threads.
	once_per_build
	edge_conf 'proxy_protocol = true; proxy_protocol_from = ( "127.0.0.1/32" ); per_source = { connection_rate = "2/1m"; };'
	start_daemon
	for i in 1 2; do
		run "${EDGE[@]}" header "$ADDR" v1 --src 192.0.2.1
		[ "$status" -eq 0 ]
	done
	run "${EDGE[@]}" header "$ADDR" v1 --src 192.0.2.1 --expect reset
	[ "$status" -eq 0 ]
	run "${EDGE[@]}" header "$ADDR" v1 --src 192.0.2.2
	[ "$status" -eq 0 ]
	wait_until 5000 count_is 1 rejected source_rate
}

# pp_client ADDR [BIND]: send "hello" (then half-close) and read to EOF;
# prints the client's own port.
pp_client() {
	python3 - "$@" <<'PY'
import socket, sys
host, _, port = sys.argv[1].rpartition(":")
if host == "unix":
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(port)
else:
    s = socket.socket()
    s.settimeout(10)
    if len(sys.argv) > 2:
        s.bind((sys.argv[2], 0))
    s.connect((host, int(port)))
s.sendall(b"hello")
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
print(s.getsockname()[1] if host != "unix" else 0)
PY
}

@test "send_proxy_protocol v1 and v2: the client's address, then its bytes, exactly; not counted as its bytes" {
	# Each client's own checks: the same with any loop_threads.
	once_per_build
	start_upstream UP stream
	for v in v1 v2; do
		proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "send_proxy_protocol = \"$v\"; access_log = \"$ALOG\";"
		start_daemon
		sport=$(pp_client "$ADDR" 127.0.0.9)
		want=$(python3 - "$v" "$sport" "$PORT" <<'PY'
import socket, struct, sys
v, sport, dport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if v == "v1":
    h = f"PROXY TCP4 127.0.0.9 127.0.0.1 {sport} {dport}\r\n".encode()
else:
    body = socket.inet_aton("127.0.0.9") + socket.inet_aton("127.0.0.1") + struct.pack("!HH", sport, dport)
    h = b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body
print((h + b"hello").hex())
PY
)
		wait_until 5000 grep -q "^stream $want$" "$BATS_TEST_TMPDIR/UP.up"
		wait_until 5000 grep -q " 127.0.0.9:$sport 127.0.0.1:$UP_PORT [0-9]* 5 0 " "$ALOG"
		stop_daemon
	done
}

@test "send_proxy_protocol from a unix: listener: v2 says AF_UNIX, v1 says UNKNOWN" {
	once_per_build
	start_upstream UP stream
	SOCK=$BATS_TEST_TMPDIR/pp.sock
	for v in v1 v2; do
		proxy_conf "unix:$SOCK" "\"127.0.0.1:$UP_PORT\"" "send_proxy_protocol = \"$v\";"
		start_daemon
		pp_client "unix:$SOCK"
		stop_daemon
	done
	grep -q "^stream $(printf 'PROXY UNKNOWN\r\nhello' | xxd -p | tr -d '\n')$" "$BATS_TEST_TMPDIR/UP.up"
	# v2, PROXY, AF_UNIX stream, 216 bytes: an unnamed client, our path.
	grep -q "^stream 0d0a0d0a000d0a515549540a213100d800" "$BATS_TEST_TMPDIR/UP.up"
	grep -q "$(printf '%s' "$SOCK" | xxd -p | tr -d '\n')" "$BATS_TEST_TMPDIR/UP.up"
}

@test "TCP keepalive on clients and upstreams, and TCP_NODELAY on both, seen on the daemon's own sockets" {
	# Each client's own checks: the same with any loop_threads.
	once_per_build
	start_upstream UP echo
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" 'tcp_keepalive = { idle = "7s"; interval = "3s"; count = 4; }; upstream_tcp_keepalive = { idle = "11s"; };'
	start_daemon
	"${CLIENT[@]}" --timeout 20 hold "$ADDR" 1 >"$BATS_TEST_TMPDIR/hold.out" 2>&1 &
	wait_until 5000 grep -q holding "$BATS_TEST_TMPDIR/hold.out"
	run python3 "$BATS_TEST_DIRNAME/tools/sockopts.py" "$DAEMON_PID" "$PORT" "$UP_PORT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"client nodelay 1 keepalive 1 idle 7 intvl 3 cnt 4"* ]]
	[[ "$output" == *"upstream nodelay 1 keepalive 1 idle 11 intvl 10 cnt 6"* ]]
}

@test "per_source: 100,000 distinct sources leave memory within the table's fixed size" {
	once_per_build
	if sanitized; then
		skip "RSS is not comparable under a sanitizer"
	fi
	edge_conf 'per_source = { max_connections = 4; table_size = 1024; };' 'backlog = 4096;'
	start_daemon
	run "${EDGE[@]}" sources "$ADDR" 2000
	[ "$output" = "connected 2000" ]
	before=$(rss_kb)
	run "${EDGE[@]}" --timeout 60 sources "$ADDR" 100000
	[ "$output" = "connected 100000" ]
	wait_until 20000 count_is 102000 grep -c . "$ALOG"
	after=$(rss_kb)
	echo "RSS $before KiB -> $after KiB"
	# 100,000 entries would be 5.5 MiB; the table holds 1,024 (56 KiB).
	[ $((after - before)) -lt 2048 ]
	[ "$(rejected source_limit)" = 0 ]
}

@test "send_proxy_protocol: a client that resets before its first byte is a reset upstream too, not a FIN" {
	# Each client's own checks: the same with any loop_threads.
	once_per_build
	start_upstream UP sink
	proxy_conf "$ADDR" "\"127.0.0.1:$UP_PORT\"" "access_log = \"$ALOG\"; send_proxy_protocol = \"v1\";"
	start_daemon
	python3 - "$ADDR" <<'PY'
import socket, struct, sys
host, _, port = sys.argv[1].rpartition(":")
for i in range(5):
    s = socket.create_connection((host, int(port)), 10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
PY
	wait_until 10000 count_is 5 grep -c "^got " "$BATS_TEST_TMPDIR/UP.up" || { cat "$BATS_TEST_TMPDIR/UP.up" "$ALOG"; grep px "$LOG"; false; }
	refute grep -q "eof" "$BATS_TEST_TMPDIR/UP.up"
	refute grep -q "client-fin" "$ALOG"
}

@test "the stop cuts a client still sending its PROXY header at once, with a reset" {
	edge_conf 'proxy_protocol = true; proxy_protocol_from = ( "127.0.0.1/32" ); proxy_protocol_timeout = "60s";'
	start_daemon
	python3 - "$PORT" >"$BATS_TEST_TMPDIR/c.out" 2>&1 <<'PY' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"PROXY TCP4 1.2.3")
print("sent", flush=True)
s.settimeout(30)
try:
    print("got", s.recv(100), flush=True)
except ConnectionResetError:
    print("reset", flush=True)
PY
	wait_until 5000 grep -q sent "$BATS_TEST_TMPDIR/c.out"
	wait_until 5000 count_is 1 "${SCRAPE[@]}" get "$MADDR" 'aio_echod_connections_active{listener="echo"}'
	kill -TERM "$DAEMON_PID"
	# Long before shutdown_timeout (30 s) or the header's 60 s.
	wait_exit 10000
	[ "$DAEMON_STATUS" -eq 0 ]
	wait_until 5000 grep -q reset "$BATS_TEST_TMPDIR/c.out"
	grep -q " shutdown " "$ALOG"
}

@test "a client refused for max_connections keeps its per_source rate token" {
	# Each client's own checks: the same with any loop_threads.
	once_per_build
	edge_conf 'max_connections = 1; per_source = { connection_rate = "2/1m"; };'
	start_daemon
	run "${EDGE[@]}" conns "$ADDR" 2 --bind 127.0.0.3
	[ "$output" = "served 1 refused 1" ]
	run "${EDGE[@]}" conns "$ADDR" 1 --bind 127.0.0.3
	[ "$output" = "served 1 refused 0" ]
	[ "$(rejected max_connections)" = 1 ]
	[ "$(rejected source_rate)" = 0 ]
}
