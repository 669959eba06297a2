#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Capture seed inputs from real peers into the fuzz corpora: the PROXY
# headers HAProxy and nginx send, and the requests curl and Prometheus
# make.  Run by hand when a peer changes (it needs haproxy, nginx with
# libnginx-mod-stream, curl, prometheus and python3); the captures are
# committed under tests/fuzz/corpus/.  Loopback only.
set -euo pipefail
cd "$(dirname "$0")"
corpus=$PWD/corpus
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

# capture PORT FILE [http] &: accept one connection on 127.0.0.1:PORT
# (or [::1] if PORT starts with "6:"), keep what arrives until the peer
# is quiet for 0.3 s (http: until the end of the head, then answer).
capture() {
	python3 - "$@" <<'PY'
import socket, sys
port, out = sys.argv[1], sys.argv[2]
http = len(sys.argv) > 3
fam, host = socket.AF_INET, "127.0.0.1"
if port.startswith("6:"):
    fam, host, port = socket.AF_INET6, "::1", port[2:]
s = socket.socket(fam)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, int(port)))
s.listen(1)
s.settimeout(30)
c, _ = s.accept()
c.settimeout(0.3)
data = b""
while True:
    try:
        d = c.recv(65536)
    except socket.timeout:
        break
    if not d:
        break
    data += d
    if http and b"\r\n\r\n" in data:
        body = b"up 1\n"
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; "
                  b"version=0.0.4\r\nContent-Length: %d\r\n\r\n%s"
                  % (len(body), body))
        break
open(out, "wb").write(data)
c.close()
PY
}

# wait_file FILE: until FILE exists (at most 20 s).
wait_file() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	echo "seeds: no capture in $1" >&2
	return 1
}

# send PORT: a client's first bytes through a proxy on 127.0.0.1:PORT.
send() {
	python3 -c '
import socket, sys, time
fam, host, port = socket.AF_INET, "127.0.0.1", sys.argv[1]
if port.startswith("6:"):
    fam, host, port = socket.AF_INET6, "::1", port[2:]
c = socket.create_connection((host, int(port)), timeout=5)
c.sendall(b"PING\r\n")
time.sleep(0.5)
c.close()' "$1"
}

# HAProxy: send-proxy (v1) and send-proxy-v2 with a unique-id TLV, from
# IPv4 and IPv6 clients.
cat >"$work/haproxy.cfg" <<CFG
global
	log stderr format raw local0 emerg
defaults
	mode tcp
	timeout connect 2s
	timeout client 5s
	timeout server 5s
frontend v1
	bind 127.0.0.1:17101
	default_backend v1
backend v1
	server s 127.0.0.1:17201 send-proxy
frontend v2
	bind 127.0.0.1:17102
	unique-id-format %{+X}o\ %ci:%cp_%fi:%fp_%Ts_%rt
	default_backend v2
backend v2
	server s 127.0.0.1:17202 send-proxy-v2 proxy-v2-options unique-id
frontend v2six
	bind [::1]:17103
	default_backend v2six
backend v2six
	server s 127.0.0.1:17203 send-proxy-v2
CFG
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pids+=($!)
for n in 1 2 3; do
	capture 1720$n "$work/haproxy$n" &
	pids+=($!)
done
sleep 1
send 17101
send 17102
send 6:17103
wait_file "$work/haproxy1" && cp "$work/haproxy1" "$corpus/proxyproto/haproxy-send-proxy-v1"
wait_file "$work/haproxy2" && cp "$work/haproxy2" "$corpus/proxyproto/haproxy-send-proxy-v2-unique-id"
wait_file "$work/haproxy3" && cp "$work/haproxy3" "$corpus/proxyproto/haproxy-send-proxy-v2-ipv6"

# nginx stream: proxy_protocol on (v1), IPv4 and IPv6 clients.
mkdir -p "$work/nginx/logs"
cat >"$work/nginx.conf" <<CFG
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
pid $work/nginx.pid;
error_log stderr;
events { }
stream {
	server {
		listen 127.0.0.1:17111;
		listen [::1]:17111;
		proxy_pass 127.0.0.1:17211;
		proxy_protocol on;
	}
}
CFG
nginx -p "$work/nginx" -c "$work/nginx.conf" -g 'daemon off;' >"$work/nginx.log" 2>&1 &
pids+=($!)
capture 17211 "$work/nginx4" &
pids+=($!)
sleep 1
send 17111
wait_file "$work/nginx4" && cp "$work/nginx4" "$corpus/proxyproto/nginx-proxy-protocol-ipv4"
capture 17211 "$work/nginx6" &
pids+=($!)
sleep 0.5
send 6:17111
wait_file "$work/nginx6" && cp "$work/nginx6" "$corpus/proxyproto/nginx-proxy-protocol-ipv6"

# curl: GET, HEAD and HTTP/1.0.
for how in get head http10; do
	capture 17301 "$work/curl-$how" http &
	pids+=($!)
	sleep 0.5
	case $how in
	get) curl -s http://127.0.0.1:17301/metrics >/dev/null ;;
	head) curl -s -I http://127.0.0.1:17301/metrics >/dev/null ;;
	http10) curl -s --http1.0 http://127.0.0.1:17301/metrics >/dev/null ;;
	esac
	wait_file "$work/curl-$how" && cp "$work/curl-$how" "$corpus/http/curl-$how"
done

# Prometheus: one scrape.
cat >"$work/prometheus.yml" <<CFG
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: aio-echod
    static_configs:
      - targets: ['127.0.0.1:17302']
CFG
capture 17302 "$work/prometheus" http &
pids+=($!)
prometheus --config.file="$work/prometheus.yml" \
	--storage.tsdb.path="$work/tsdb" --web.listen-address=127.0.0.1:17309 \
	>"$work/prometheus.log" 2>&1 &
pids+=($!)
wait_file "$work/prometheus" && cp "$work/prometheus" "$corpus/http/prometheus-scrape"
echo "seeds: captured"
