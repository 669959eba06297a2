#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The PROXY protocol with real peers: HAProxy in front of aio-echod
# (send-proxy, send-proxy-v2), and aio-echod in front of HAProxy
# (accept-proxy) and nginx stream (listen ... proxy_protocol).  Each
# peer's own log must show the client, not the hop before it.  What is
# tested does not depend on loop_threads: once per build.

load helpers

EDGE=(python3 "$BATS_TEST_DIRNAME/tools/edge.py")

setup() {
	once_per_build
	PORT=$(free_port)
	ADDR=127.0.0.1:$PORT
	PEER_PORT=$(free_port)
	ALOG=$BATS_TEST_TMPDIR/access.log
	PEER_LOG=$BATS_TEST_TMPDIR/peer.log
	PEER_PID=
}

eval "$(declare -f teardown | sed '1s/^teardown/helpers_teardown/')"
teardown() {
	if [ -n "$PEER_PID" ]; then
		kill "$PEER_PID" 2>/dev/null || true
		wait "$PEER_PID" 2>/dev/null || true
	fi
	helpers_teardown
}

# port_open PORT: something listens on 127.0.0.1:PORT.
port_open() {
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null
}

# haproxy_start BIND_LINE_EXTRA SERVER_LINE_EXTRA UPSTREAM_PORT: HAProxy
# on $PEER_PORT to 127.0.0.1:UPSTREAM_PORT, logging each connection's
# client (%ci:%cp) to $PEER_LOG.
haproxy_start() {
	cat >"$BATS_TEST_TMPDIR/haproxy.cfg" <<EOC
global
  log stdout format raw local0
defaults
  mode tcp
  log global
  log-format "client %ci:%cp"
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe
  bind 127.0.0.1:$PEER_PORT $1
  default_backend be
backend be
  server up 127.0.0.1:$3 $2
EOC
	haproxy -db -f "$BATS_TEST_TMPDIR/haproxy.cfg" >"$PEER_LOG" 2>&1 &
	PEER_PID=$!
	wait_until 10000 port_open "$PEER_PORT"
}

@test "HAProxy send-proxy-v2 and send-proxy in front: the access log shows HAProxy's client" {
	for opt in send-proxy-v2 send-proxy; do
		echo_conf "$ADDR" "access_log = \"$ALOG\"; proxy_protocol = true; proxy_protocol_from = ( \"127.0.0.1/32\" );"
		start_daemon
		haproxy_start "" "$opt" "$PORT"
		run "${CLIENT[@]}" echo "127.0.0.1:$PEER_PORT" --bytes 100000
		[ "$status" -eq 0 ] || { echo "$opt: $output"; cat "$LOG"; false; }
		run "${EDGE[@]}" conns "127.0.0.1:$PEER_PORT" 1 --bind 127.0.0.5
		[ "$output" = "served 1 refused 0" ]
		# The balancer is 127.0.0.1 (field 9); the client, 127.0.0.5.
		wait_until 5000 grep -q '^[^ ]* echo 127\.0\.0\.5:[0-9]* - [0-9]* 1 1 client-fin 127\.0\.0\.1:' "$ALOG"
		stop_daemon
		kill "$PEER_PID"
		wait "$PEER_PID" || true
		PEER_PID=
		rm -f "$ALOG"
	done
}

@test "send_proxy_protocol v2 to HAProxy's accept-proxy: HAProxy logs the real client" {
	start_upstream UP echo
	haproxy_start accept-proxy "" "$UP_PORT"
	proxy_conf "$ADDR" "\"127.0.0.1:$PEER_PORT\"" 'send_proxy_protocol = "v2";'
	start_daemon
	run "${EDGE[@]}" conns "$ADDR" 1 --bind 127.0.0.6
	[ "$output" = "served 1 refused 0" ]
	run "${CLIENT[@]}" echo "$ADDR" --bytes 100000
	[ "$status" -eq 0 ]
	wait_until 5000 grep -q "^client 127\.0\.0\.6:" "$PEER_LOG"
	# Never the proxy's own connection (whose port HAProxy would log).
	[ "$(grep -c '^client ' "$PEER_LOG")" -eq 2 ]
}

@test "send_proxy_protocol v1 to nginx stream's proxy_protocol: \$proxy_protocol_addr is the real client" {
	local mod=/usr/lib/nginx/modules/ngx_stream_module.so
	start_upstream UP echo
	mkdir -p "$BATS_TEST_TMPDIR/nginx"
	cat >"$BATS_TEST_TMPDIR/nginx.conf" <<EOC
load_module $mod;
daemon off;
master_process off;
worker_processes 1;
pid $BATS_TEST_TMPDIR/nginx/nginx.pid;
error_log $BATS_TEST_TMPDIR/nginx/error.log warn;
events { worker_connections 64; }
stream {
  log_format pp 'client \$proxy_protocol_addr:\$proxy_protocol_port via \$remote_addr';
  server {
    listen 127.0.0.1:$PEER_PORT proxy_protocol;
    access_log $PEER_LOG pp;
    proxy_pass 127.0.0.1:$UP_PORT;
    proxy_half_close on;
  }
}
EOC
	nginx -p "$BATS_TEST_TMPDIR/nginx" -e "$BATS_TEST_TMPDIR/nginx/error.log" -c "$BATS_TEST_TMPDIR/nginx.conf" &
	PEER_PID=$!
	wait_until 10000 port_open "$PEER_PORT"
	proxy_conf "$ADDR" "\"127.0.0.1:$PEER_PORT\"" 'send_proxy_protocol = "v1";'
	start_daemon
	run "${EDGE[@]}" conns "$ADDR" 1 --bind 127.0.0.7
	[ "$output" = "served 1 refused 0" ]
	run "${CLIENT[@]}" echo "$ADDR" --bytes 100000
	[ "$status" -eq 0 ] || { echo "$output"; cat "$LOG" "$BATS_TEST_TMPDIR/nginx/error.log"; false; }
	# nginx logs a session when it ends (and the probe of its port,
	# which sent no header, as "client :").
	wait_until 10000 grep -q '^client 127\.0\.0\.7:[0-9]* via 127\.0\.0\.1$' "$PEER_LOG"
	wait_until 10000 grep -q '^client 127\.0\.0\.1:[0-9]* via 127\.0\.0\.1$' "$PEER_LOG"
	[ "$(grep -c '^client 127' "$PEER_LOG")" -eq 2 ]
}
