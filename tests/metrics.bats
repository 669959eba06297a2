#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The metrics service: Prometheus text over HTTP/1.x, its numbers exact,
# its format accepted by promtool and by a real Prometheus server, and
# its HTTP side sound against hostile clients.

load helpers

SCRAPE=(python3 "$BATS_TEST_DIRNAME/tools/scrape.py")
RAW=(python3 "$BATS_TEST_DIRNAME/tools/http_raw.py")
SNAP=$BATS_TEST_TMPDIR/snapshot.txt
PROM_PID=

setup() {
	MPORT=$(free_port)
	EPORT=$(free_port)
	PPORT=$(free_port)
	MADDR=127.0.0.1:$MPORT
	EADDR=127.0.0.1:$EPORT
	PADDR=127.0.0.1:$PPORT
}

# Stop a Prometheus server a test started, then the helpers' teardown.
eval "$(declare -f teardown | sed '1s/^teardown/helpers_teardown/')"
teardown() {
	if [ -n "$PROM_PID" ]; then
		kill "$PROM_PID" 2>/dev/null || true
		wait "$PROM_PID" 2>/dev/null || true
		PROM_PID=
	fi
	helpers_teardown
}

# conf LISTENERS [GLOBAL KEYS]: write $CONF with the listeners given.
conf() {
	cat >"$CONF" <<EOC
log_level = "debug";
$2
listeners = ( $1 );
EOC
}

# metrics_l [KEYS], echo_l [KEYS] [NAME], proxy_l NAME ADDRESS UPSTREAM
# [KEYS]: one listener's group.
metrics_l() {
	echo "{ name = \"metrics\"; address = \"$MADDR\"; service = \"metrics\"; $1 }"
}
echo_l() {
	echo "{ name = \"${2:-echo}\"; address = \"$EADDR\"; service = \"echo\"; $1 }"
}
proxy_l() {
	echo "{ name = \"$1\"; address = \"$2\"; service = \"proxy\"; upstreams = ( \"$3\" ); $4 }"
}

# metric SAMPLE: its value in a scrape taken now.
metric() {
	"${SCRAPE[@]}" get "$MADDR" "$1"
}

# metric_is SAMPLE VALUE: it is VALUE now (else say what it is).
metric_is() {
	local v
	v=$(metric "$1" 2>&1) || true
	if [ "$v" != "$2" ]; then
		echo "$1 is \"$v\", expected $2" >&2
		return 1
	fi
}

metric_eq() {
	[ "$(metric "$1" 2>/dev/null)" = "$2" ]
}

# metric_ge SAMPLE N: it is at least N now.
metric_ge() {
	local v
	v=$(metric "$1" 2>/dev/null) &&
		awk -v v="$v" -v n="$2" 'BEGIN { exit !(v + 0 >= n + 0) }'
}

# expect SAMPLE VALUE [MS]: it becomes VALUE within MS (10 s).
expect() {
	if ! wait_until "${3:-10000}" metric_eq "$1" "$2"; then
		metric_is "$1" "$2"
		return 1
	fi
}

# snap: take one scrape into $SNAP, for snap_is.
snap() {
	"${SCRAPE[@]}" text "$MADDR" >"$SNAP"
}

# snap_is SAMPLE VALUE: it is VALUE in the scrape that snap took.
snap_is() {
	local v
	v=$("${SCRAPE[@]}" get "@$SNAP" "$1" 2>&1) || true
	if [ "$v" != "$2" ]; then
		echo "$1 is \"$v\" in the snapshot, expected $2" >&2
		return 1
	fi
}

# labelled LABEL=VALUE: how many samples carry that label now.
labelled() {
	"${SCRAPE[@]}" count "$MADDR" "$1"
}

# reloaded N: the Nth reload has been applied on every thread.
reloaded() {
	[ "$(grep -c "SIGHUP: reloaded" "$LOG")" -ge "$1" ]
}

# le A B: the number A is at most B.
le() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'
}

# A line of "$output" that matches the extended regex $1, or fail.
has_line() {
	if ! grep -qE -- "$1" <<<"$output"; then
		echo "no line matching /$1/ in:" >&2
		echo "$output" >&2
		return 1
	fi
}

# ---------------------------------------------------------------------
# Exact values

@test "exact counts: 10 echo clients of 1,000 bytes" {
	conf "$(echo_l), $(metrics_l)"
	start_daemon
	run "${CLIENT[@]}" echo "$EADDR" --clients 10 --bytes 1000
	echo "$output"
	[ "$status" -eq 0 ]
	expect 'aio_echod_connections_active{listener="echo"}' 0
	snap
	snap_is 'aio_echod_connections_accepted_total{listener="echo"}' 10
	snap_is 'aio_echod_received_bytes_total{listener="echo"}' 10000
	snap_is 'aio_echod_sent_bytes_total{listener="echo"}' 10000
	snap_is 'aio_echod_connections_closed_total{listener="echo",reason="client-fin"}' 10
	snap_is 'aio_echod_connections_closed_total{listener="echo",reason="reset"}' 0
	snap_is 'aio_echod_connection_duration_seconds_count{listener="echo"}' 10
	snap_is 'aio_echod_connections_rejected_total{reason="max_connections",listener="echo"}' 0
	stop_daemon
}

@test "exact counts: 3 clients of a proxy whose only upstream refuses" {
	dead=$(free_port)
	conf "$(proxy_l dead "$EADDR" "127.0.0.1:$dead"), $(metrics_l)"
	start_daemon
	for _ in 1 2 3; do
		run "${CLIENT[@]}" --timeout 10 expect-reset "$EADDR"
		[ "$status" -eq 0 ]
	done
	expect 'aio_echod_connections_active{listener="dead"}' 0
	snap
	snap_is 'aio_echod_connections_accepted_total{listener="dead"}' 3
	snap_is "aio_echod_upstream_connects_total{listener=\"dead\",upstream=\"127.0.0.1:$dead\",result=\"refused\"}" 3
	snap_is "aio_echod_upstream_connects_total{listener=\"dead\",upstream=\"127.0.0.1:$dead\",result=\"ok\"}" 0
	snap_is "aio_echod_upstream_connect_duration_seconds_count{listener=\"dead\",upstream=\"127.0.0.1:$dead\"}" 0
	snap_is 'aio_echod_connections_closed_total{listener="dead",reason="connect-failed"}' 3
	snap_is "aio_echod_upstream_active_connections{listener=\"dead\",upstream=\"127.0.0.1:$dead\"}" 0
	stop_daemon
}

@test "exact counts: a proxy client through a working upstream" {
	start_upstream UP echo
	up=127.0.0.1:$UP_PORT
	conf "$(proxy_l px "$EADDR" "$up"), $(metrics_l)"
	start_daemon
	run "${CLIENT[@]}" echo "$EADDR" --bytes 1000
	echo "$output"
	[ "$status" -eq 0 ]
	expect 'aio_echod_connections_active{listener="px"}' 0
	expect "aio_echod_upstream_active_connections{listener=\"px\",upstream=\"$up\"}" 0
	snap
	snap_is "aio_echod_upstream_connects_total{listener=\"px\",upstream=\"$up\",result=\"ok\"}" 1
	snap_is "aio_echod_upstream_connects_total{listener=\"px\",upstream=\"$up\",result=\"refused\"}" 0
	snap_is "aio_echod_upstream_connect_duration_seconds_count{listener=\"px\",upstream=\"$up\"}" 1
	snap_is "aio_echod_upstream_sent_bytes_total{listener=\"px\",upstream=\"$up\"}" 1000
	snap_is "aio_echod_upstream_received_bytes_total{listener=\"px\",upstream=\"$up\"}" 1000
	snap_is 'aio_echod_received_bytes_total{listener="px"}' 1000
	snap_is 'aio_echod_sent_bytes_total{listener="px"}' 1000
	snap_is 'aio_echod_connections_accepted_total{listener="px"}' 1
	stop_daemon
}

# ---------------------------------------------------------------------
# The format: promtool, our own checks, a real Prometheus

@test "promtool accepts a scrape after mixed traffic, reloads and a rejected client" {
	# What it checks does not depend on loop_threads.
	once_per_build
	start_upstream UP echo
	dead=$(free_port)
	PXADDR=127.0.0.1:$(free_port)
	DEADADDR=127.0.0.1:$(free_port)
	conf "$(echo_l 'max_connections = 1;'), $(proxy_l px "$PXADDR" "127.0.0.1:$UP_PORT"),
	    $(proxy_l dead "$DEADADDR" "127.0.0.1:$dead"), $(metrics_l)"
	start_daemon
	cp "$CONF" "$BATS_TEST_TMPDIR/good.conf"
	run "${CLIENT[@]}" echo "$EADDR" --bytes 5000
	[ "$status" -eq 0 ]
	run "${CLIENT[@]}" echo "$PXADDR" --bytes 5000
	[ "$status" -eq 0 ]
	run "${CLIENT[@]}" --timeout 10 expect-reset "$DEADADDR"
	[ "$status" -eq 0 ]
	# One client held open, the next is over max_connections.
	bg_client HOLD --timeout 60 hold "$EADDR" 1
	wait_until 10000 output_has HOLD "holding 1"
	run "${CLIENT[@]}" --timeout 10 rejected "$EADDR"
	[ "$status" -eq 0 ]
	metric_is 'aio_echod_connections_rejected_total{listener="echo",reason="max_connections"}' 1
	metric_is 'aio_echod_connections_closed_total{listener="echo",reason="limit"}' 1
	kill "$HOLD_PID"
	# A reload that fails, then one that works.
	printf 'listeners = ( { name = "echo";\n  address = 7; } );\n' >"$CONF"
	kill -HUP "$DAEMON_PID"
	wait_until 10000 log_has "SIGHUP: reload failed"
	expect 'aio_echod_reloads_total{result="failed"}' 1
	metric_is 'aio_echod_reloads_total{result="ok"}' 0
	metric_is 'aio_echod_config_last_reload_successful' 0
	cp "$BATS_TEST_TMPDIR/good.conf" "$CONF"
	kill -HUP "$DAEMON_PID"
	wait_until 10000 reloaded 1
	expect 'aio_echod_reloads_total{result="ok"}' 1
	metric_is 'aio_echod_reloads_total{result="failed"}' 1
	metric_is 'aio_echod_config_last_reload_successful' 1
	expect 'aio_echod_connections_active{listener="echo"}' 0

	"${SCRAPE[@]}" text "$MADDR" >"$BATS_TEST_TMPDIR/scrape.txt"
	run bash -c "promtool check metrics <'$BATS_TEST_TMPDIR/scrape.txt' 2>&1"
	echo "promtool: status $status, output:"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# One # HELP and # TYPE per family, buckets increasing and ending
	# at +Inf == _count, for every histogram.
	run "${SCRAPE[@]}" check "@$BATS_TEST_TMPDIR/scrape.txt"
	echo "$output"
	[ "$status" -eq 0 ]
	# The families the scrape must have, histograms with samples in.
	for f in aio_echod_build_info aio_echod_start_time_seconds \
		aio_echod_loop_threads aio_echod_connections_accepted_total \
		aio_echod_connections_active aio_echod_connections_rejected_total \
		aio_echod_connections_closed_total aio_echod_received_bytes_total \
		aio_echod_sent_bytes_total aio_echod_connection_duration_seconds \
		aio_echod_upstream_connects_total \
		aio_echod_upstream_connect_duration_seconds \
		aio_echod_upstream_active_connections \
		aio_echod_upstream_received_bytes_total \
		aio_echod_upstream_sent_bytes_total aio_echod_reloads_total \
		aio_echod_config_last_reload_successful \
		aio_echod_config_last_reload_success_timestamp_seconds \
		aio_echod_worker_queue_jobs aio_echod_worker_jobs_total \
		aio_echod_access_log_dropped_lines_total \
		aio_echod_loop_lag_seconds process_cpu_seconds_total \
		process_resident_memory_bytes process_open_fds process_max_fds \
		process_start_time_seconds; do
		[ "$(grep -c "^# TYPE $f " "$BATS_TEST_TMPDIR/scrape.txt")" -eq 1 ] ||
			{ echo "no # TYPE $f" >&2; false; }
	done
	# Served clients have a duration; the rejected one does not.
	SNAP=$BATS_TEST_TMPDIR/scrape.txt
	snap_is 'aio_echod_connections_accepted_total{listener="echo"}' 2
	snap_is 'aio_echod_connection_duration_seconds_count{listener="echo"}' 2
	snap_is 'aio_echod_connection_duration_seconds_bucket{listener="echo",le="+Inf"}' 2
	snap_is 'aio_echod_connections_closed_total{listener="echo",reason="limit"}' 1
	snap_is 'aio_echod_connections_closed_total{listener="echo",reason="client-fin"}' 2
	snap_is 'aio_echod_upstream_connect_duration_seconds_count{listener="px",upstream="127.0.0.1:'"$UP_PORT"'"}' 1
	stop_daemon
}

# prometheus_up: a Prometheus server scraping $MADDR every second, as
# job "aio", listening on $PADDR; its pid in PROM_PID.
prometheus_up() {
	cat >"$BATS_TEST_TMPDIR/prometheus.yml" <<EOC
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: aio
    static_configs:
      - targets: ["$MADDR"]
EOC
	prometheus --config.file="$BATS_TEST_TMPDIR/prometheus.yml" \
		--storage.tsdb.path="$BATS_TEST_TMPDIR/tsdb" \
		--web.listen-address="$PADDR" \
		>"$BATS_TEST_TMPDIR/prometheus.log" 2>&1 &
	PROM_PID=$!
	if ! wait_until 60000 curl -sf -o /dev/null "http://$PADDR/-/ready"; then
		cat "$BATS_TEST_TMPDIR/prometheus.log" >&2
		return 1
	fi
}

# promql_is QUERY VALUE: Prometheus answers VALUE for QUERY.
promql_is() {
	[ "$("${SCRAPE[@]}" promql "http://$PADDR" "$1" 2>/dev/null)" = "$2" ]
}

@test "a real Prometheus server scrapes the service and sees the counts" {
	# What it checks does not depend on loop_threads.
	once_per_build
	conf "$(echo_l), $(metrics_l)"
	start_daemon
	run "${CLIENT[@]}" echo "$EADDR" --clients 7 --bytes 100
	[ "$status" -eq 0 ]
	prometheus_up
	if ! wait_until 60000 promql_is 'aio_echod_connections_accepted_total{listener="echo"}' 7 ||
		! wait_until 10000 promql_is 'up{job="aio"}' 1; then
		"${SCRAPE[@]}" promql "http://$PADDR" 'aio_echod_connections_accepted_total{listener="echo"}' >&2 || true
		"${SCRAPE[@]}" promql "http://$PADDR" 'up{job="aio"}' >&2 || true
		curl -s "http://$PADDR/api/v1/targets" >&2 || true
		echo >&2
		tail -n 30 "$BATS_TEST_TMPDIR/prometheus.log" >&2
		false
	fi
	# Every sample of a scrape was taken in.
	n=$("${SCRAPE[@]}" check "$MADDR" | sed -n 's/.* \([0-9]*\) samples: ok$/\1/p')
	[ -n "$n" ]
	wait_until 10000 promql_is 'scrape_samples_scraped{job="aio"}' "$n"
	refute grep -qi "level=warn.*aio\|invalid\|error parsing" "$BATS_TEST_TMPDIR/prometheus.log"
	stop_daemon
}

# ---------------------------------------------------------------------
# Hostile clients

@test "200 slow clients trickling a head do not slow scrapes; header_timeout cuts them" {
	conf "$(metrics_l 'header_timeout = "3s";')"
	start_daemon
	run "${SCRAPE[@]}" latency "$MADDR" 10
	echo "without: $output"
	[ "$status" -eq 0 ]
	without=$(awk '{print $2}' <<<"$output")
	"${RAW[@]}" --timeout 30 slow "$MADDR" 200 \
		'GET /metrics HTTP/1.1\r\nHost: localhost\r\nUser-Agent: a-slow-client\r\nAccept: */*\r\n\r\n' \
		>"$BATS_TEST_TMPDIR/slow.out" 2>&1 &
	SLOW_PID=$!
	wait_until 10000 grep -q "^connected 200" "$BATS_TEST_TMPDIR/slow.out"
	wait_until 10000 metric_ge 'aio_echod_connections_active{listener="metrics"}' 201
	run "${SCRAPE[@]}" latency "$MADDR" 10
	echo "with: $output"
	[ "$status" -eq 0 ]
	with=$(awk '{print $2}' <<<"$output")
	# They were all still there when the scrapes ended.
	metric_ge 'aio_echod_connections_active{listener="metrics"}' 201
	le "$with" "$((${without%.*} + 100))"
	# Cut by header_timeout (counted from the accept): a 408, then EOF.
	wait "$SLOW_PID"
	cat "$BATS_TEST_TMPDIR/slow.out"
	grep -qx "closed 200: 408/eof=200" "$BATS_TEST_TMPDIR/slow.out"
	cut=$(sed -n 's/^cut after \(.*\)\.\.\(.*\) s$/\1 \2/p' "$BATS_TEST_TMPDIR/slow.out")
	le 2.8 "${cut% *}"
	le "${cut#* }" 10
	expect 'aio_echod_connections_closed_total{listener="metrics",reason="header-timeout"}' 200
	metric_is 'aio_echod_connections_closed_total{listener="metrics",reason="reset"}' 0
	stop_daemon
}

@test "a 1 MiB request line is answered 431, then a clean close" {
	conf "$(metrics_l)"
	start_daemon
	# All of it sent before reading: the answer must not be lost to a
	# reset from unread bytes.
	run "${RAW[@]}" raw "$MADDR" 'GET /| HTTP/1.1\r\nHost: x\r\n\r\n' --fill 1048576
	echo "$output"
	[ "$status" -eq 0 ]
	has_line '^HTTP/1.1 (431|400) '
	has_line '^  Connection: close'
	has_line '^== eof after'
	expect 'aio_echod_connections_closed_total{listener="metrics",reason="bad-request"}' 1
	# The rest was read and dropped, not left in the socket.
	metric_ge 'aio_echod_received_bytes_total{listener="metrics"}' 1048576
	stop_daemon
}

@test "1,000 scrapes on one keep-alive connection: one connection served" {
	conf "$(metrics_l)"
	start_daemon
	run "${SCRAPE[@]}" --timeout 30 keepalive "$MADDR" 1000 \
		'aio_echod_connections_accepted_total{listener="metrics"}'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "1000 ok" ]
	[ "${lines[1]}" = 1 ]
	wait_until 10000 log_has "metrics 127.0.0.1:[0-9]*: closed (client-fin)"
	[ "$(grep -c "metrics 127.0.0.1:[0-9]*: closed" "$LOG")" -eq 1 ]
	# This scrape's own connection is the second.
	snap
	# Served: the held one, any scrape that came before it was accepted,
	# and this one, still open.
	acc=$("${SCRAPE[@]}" get "@$SNAP" 'aio_echod_connections_accepted_total{listener="metrics"}')
	snap_is 'aio_echod_connections_closed_total{listener="metrics",reason="client-fin"}' $((acc - 1))
	snap_is 'aio_echod_connections_active{listener="metrics"}' 1
	[ "$acc" -ge 2 ]
	snap_is 'aio_echod_connections_active{listener="metrics"}' 1
	stop_daemon
}

@test "non-HTTP bytes are answered 400, then a close" {
	conf "$(metrics_l)"
	start_daemon
	# The start of a TLS ClientHello.
	run "${RAW[@]}" raw "$MADDR" '\x16\x03\x01\x02\x00'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "HTTP/1.1 400 Bad Request" ]
	has_line '^== eof after'
	run "${RAW[@]}" raw "$MADDR" '\x00\xff garbage\r\n\r\n'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "HTTP/1.1 400 Bad Request" ]
	has_line '^== eof after'
	expect 'aio_echod_connections_closed_total{listener="metrics",reason="bad-request"}' 2
	stop_daemon
}

# ---------------------------------------------------------------------
# The protocol

@test "404, 405 with Allow, HEAD without a body, the index, the content type" {
	conf "$(metrics_l)"
	start_daemon
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$MADDR/nope")" = 404 ]
	run curl -s -i -X POST "http://$MADDR/metrics"
	echo "$output"
	[[ "${lines[0]}" == "HTTP/1.1 405 "* ]]
	has_line $'^Allow: GET, HEAD\r$'
	run "${RAW[@]}" raw --head "$MADDR" 'HEAD /metrics HTTP/1.1\r\nConnection: close\r\n\r\n'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "HTTP/1.1 200 OK" ]
	has_line '^  Content-Type: text/plain; version=0.0.4; charset=utf-8$'
	has_line '^  Content-Length: [1-9][0-9]{3,}$'
	refute has_line '^trailing'
	has_line '^== eof after'
	run curl -s "http://$MADDR/"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"/metrics"* ]]
	h=$BATS_TEST_TMPDIR/headers
	b=$BATS_TEST_TMPDIR/body
	curl -s -D "$h" -o "$b" "http://$MADDR/metrics"
	cat "$h"
	head -c 7 "$b" | grep -qx "# HELP "
	grep -qx $'Content-Type: text/plain; version=0.0.4; charset=utf-8\r' "$h"
	grep -qx "Content-Length: $(wc -c <"$b")"$'\r' "$h"
	stop_daemon
}

@test "HTTP/1.0 closes, unless keep-alive; pipelined requests in order; 505 for HTTP/2.0" {
	conf "$(metrics_l)"
	start_daemon
	# HTTP/1.0: the answer, then our EOF without the client closing.
	run "${RAW[@]}" raw "$MADDR" 'GET /metrics HTTP/1.0\r\n\r\n'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "HTTP/1.1 200 OK" ]
	has_line '^  Connection: close$'
	has_line '^== eof after'
	# HTTP/1.0 with keep-alive: a second request on the same connection.
	run "${RAW[@]}" requests "$MADDR" 'GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' \
		'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' --then open
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^HTTP/1.1 200 OK$' <<<"$output")" -eq 2 ]
	[ "$(grep -c '^  Connection: keep-alive$' <<<"$output")" -eq 2 ]
	has_line '^== open$'
	# Two requests in one write: two answers, in order.
	run "${RAW[@]}" raw "$MADDR" 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^HTTP/1.1 200 OK$' <<<"$output")" -eq 2 ]
	grep '^  body ' <<<"$output" | head -n 1 | grep -q ': # HELP '
	grep '^  body ' <<<"$output" | tail -n 1 | grep -q ': aio-echod$'
	refute has_line '^trailing'
	has_line '^== eof after'
	# HTTP/1.1 pipelined and then our half-close: both answered.
	run "${RAW[@]}" raw --shut "$MADDR" 'GET / HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n'
	echo "$output"
	[ "$status" -eq 0 ]
	grep '^  body ' <<<"$output" | head -n 1 | grep -q ': aio-echod$'
	grep '^  body ' <<<"$output" | tail -n 1 | grep -q ': # HELP '
	has_line '^== eof after'
	run "${RAW[@]}" raw "$MADDR" 'GET /metrics HTTP/2.0\r\n\r\n'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "HTTP/1.1 505 HTTP Version Not Supported" ]
	has_line '^== eof after'
	stop_daemon
}

# eof_within LO HI: raw's "== eof after T s" has LO <= T <= HI.
eof_within() {
	local t
	t=$(sed -n 's/^== eof after \(.*\) s$/\1/p' <<<"$output")
	[ -n "$t" ] && le "$1" "$t" && le "$t" "$2"
}

@test "header_timeout: silent clients and half heads get 408 after it, then a close" {
	conf "$(metrics_l 'header_timeout = "1s";')"
	start_daemon
	# Three of each at once: each must be answered 408, none cut short.
	pids=()
	for i in 1 2 3; do
		"${RAW[@]}" raw "$MADDR" '' >"$BATS_TEST_TMPDIR/silent$i.out" 2>&1 &
		pids+=($!)
		"${RAW[@]}" raw "$MADDR" 'GET /metrics HTTP/1.1\r\nHost: x' \
			>"$BATS_TEST_TMPDIR/half$i.out" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || true	# each gives up after 10 s
	done
	for f in "$BATS_TEST_TMPDIR"/silent*.out "$BATS_TEST_TMPDIR"/half*.out; do
		output=$(cat "$f")
		echo "${f##*/}: $output"
		[ "$(head -n 1 "$f")" = "HTTP/1.1 408 Request Timeout" ]
		has_line '^  Connection: close$'
		eof_within 0.8 5
	done
	expect 'aio_echod_connections_closed_total{listener="metrics",reason="header-timeout"}' 6
	metric_is 'aio_echod_connections_closed_total{listener="metrics",reason="reset"}' 0
	[ "$(grep -c "metrics 127.0.0.1:[0-9]*: closed (header-timeout)" "$LOG")" -eq 6 ]
	stop_daemon
}

@test "an idle keep-alive connection is closed by idle_timeout, not header_timeout" {
	conf "$(metrics_l 'header_timeout = "1s"; idle_timeout = "2500ms";')"
	start_daemon
	run "${RAW[@]}" requests "$MADDR" 'GET /metrics HTTP/1.1\r\n\r\n' --then eof
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "HTTP/1.1 200 OK" ]
	# Silent: no 408 after the last answer.
	[ "$(grep -c '^HTTP/' <<<"$output")" -eq 1 ]
	refute has_line '^trailing'
	eof_within 2.3 8
	expect 'aio_echod_connections_closed_total{listener="metrics",reason="idle-timeout"}' 1
	metric_is 'aio_echod_connections_closed_total{listener="metrics",reason="header-timeout"}' 0
	stop_daemon
}

# ---------------------------------------------------------------------
# Configuration

@test "a metrics listener on a unix: socket" {
	sock=$BATS_TEST_TMPDIR/run/metrics.sock
	MADDR=unix:$sock
	conf "$(echo_l), $(metrics_l)"
	start_daemon
	[ -S "$sock" ]
	run curl -s --unix-socket "$sock" http://localhost/metrics
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "# HELP "* ]]
	run "${CLIENT[@]}" echo "$EADDR" --clients 2
	[ "$status" -eq 0 ]
	expect 'aio_echod_connections_accepted_total{listener="echo"}' 2
	stop_daemon
	[ ! -e "$sock" ]
}

@test "proxy keys on a metrics listener and header_timeout elsewhere are file:line errors" {
	f=$BATS_TEST_TMPDIR/bad.conf
	for key in 'upstreams = ( "127.0.0.1:1" )' 'balance = "random"' \
		'connect_timeout = "1s"' 'fin_timeout = "1s"'; do
		printf 'listeners = (\n  { name = "m"; address = "%s"; service = "metrics";\n\n    %s; }\n);\n' \
			"$MADDR" "$key" >"$f"
		run "$AIO_BIN" -n -f "$f"
		echo "$output"
		[ "$status" -eq 1 ]
		[[ "$output" == *"$f:4: ${key%% *}: only for service \"proxy\""* ]]
	done
	printf 'listeners = (\n  { name = "e"; address = "%s"; service = "echo";\n    header_timeout = "1s"; }\n);\n' \
		"$EADDR" >"$f"
	run "$AIO_BIN" -n -f "$f"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$f:3: header_timeout: only for service \"metrics\""* ]]
	printf 'listeners = (\n  { name = "p"; address = "%s"; service = "proxy";\n    upstreams = ( "127.0.0.1:1" );\n    header_timeout = "1s"; }\n);\n' \
		"$EADDR" >"$f"
	run "$AIO_BIN" -n -f "$f"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$f:4: header_timeout: only for service \"metrics\""* ]]
	# And a metrics listener with its own keys is fine.
	printf 'listeners = (\n  { name = "m"; address = "%s"; service = "metrics";\n    header_timeout = "2s"; idle_timeout = "5s"; max_connections = 4; }\n);\n' \
		"$MADDR" >"$f"
	run "$AIO_BIN" -n -f "$f"
	echo "$output"
	[ "$status" -eq 0 ]
}

# metrics_refused: a scrape now is cut (not served).
metrics_refused() {
	! curl -s -m 5 -o /dev/null "http://$MADDR/metrics"
}

@test "max_connections applies to the metrics listener" {
	conf "$(metrics_l 'max_connections = 1;')"
	start_daemon
	bg_client HOLD --timeout 60 sleep "$MADDR"
	wait_until 10000 output_has HOLD connected
	# Once the held connection is accepted, the next is refused.
	wait_until 10000 metrics_refused
	log_has "metrics: max_connections reached: closing new clients"
	served=$(grep -c "metrics 127.0.0.1:[0-9]*: closed (client-fin)" "$LOG" || true)
	kill "$HOLD_PID"
	wait_until 10000 count_is $((served + 1)) grep -c "metrics 127.0.0.1:[0-9]*: closed (client-fin)" "$LOG"
	snap
	snap_is 'aio_echod_connections_rejected_total{listener="metrics",reason="max_connections"}' 1
	snap_is 'aio_echod_connections_closed_total{listener="metrics",reason="limit"}' 1
	# Served: the held one, any scrape that came before it was accepted,
	# and this one, still open.
	acc=$("${SCRAPE[@]}" get "@$SNAP" 'aio_echod_connections_accepted_total{listener="metrics"}')
	snap_is 'aio_echod_connections_closed_total{listener="metrics",reason="client-fin"}' $((acc - 1))
	snap_is 'aio_echod_connections_active{listener="metrics"}' 1
	[ "$acc" -ge 2 ]
	stop_daemon
}

# ---------------------------------------------------------------------
# Loop lag, worker pool, process

@test "loop lag per thread, loop_threads, the worker pool, process_open_fds" {
	n=${AIO_LOOP_THREADS:-2}
	conf "$(echo_l), $(metrics_l)" "loop_threads = $n;"
	start_daemon
	metric_is aio_echod_loop_threads "$n"
	for ((t = 0; t < n; t++)); do
		wait_until 20000 metric_ge "aio_echod_loop_lag_seconds_count{thread=\"$t\"}" 5 ||
			metric_is "aio_echod_loop_lag_seconds_count{thread=\"$t\"}" ">= 5"
	done
	[ "$(labelled "thread=$n")" -eq 0 ]
	# Counts grow: the sampler keeps running.
	c=$(metric 'aio_echod_loop_lag_seconds_count{thread="0"}')
	wait_until 20000 metric_ge 'aio_echod_loop_lag_seconds_count{thread="0"}' $((c + 3))
	metric aio_echod_worker_queue_jobs
	metric 'aio_echod_worker_jobs_total{result="done"}'
	metric 'aio_echod_worker_jobs_total{result="cancelled"}'
	metric 'aio_echod_worker_jobs_total{result="expired"}'
	fds=$(metric process_open_fds)
	real=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
	echo "process_open_fds $fds, /proc/$DAEMON_PID/fd has $real"
	[ "$fds" -gt 0 ]
	[ $((fds - real)) -le 5 ] && [ $((real - fds)) -le 5 ]
	max=$(metric process_max_fds)
	[ "$max" = "$(awk '/^Max open files/ {print $4}' "/proc/$DAEMON_PID/limits")" ]
	[ "$(metric process_resident_memory_bytes)" -gt 1000000 ]
	start=$(metric process_start_time_seconds)
	[ "$start" = "$(metric aio_echod_start_time_seconds)" ]
	le "$start" "$(date +%s.%N)"
	le "$(date +%s)" "$(awk -v s="$start" 'BEGIN { printf "%.3f", s + 600 }')"
	metric_ge process_cpu_seconds_total 0
	stop_daemon
}

# ---------------------------------------------------------------------
# Reloads

@test "a reload keeps a listener's counters" {
	conf "$(echo_l), $(metrics_l)"
	start_daemon
	run "${CLIENT[@]}" echo "$EADDR" --clients 5 --bytes 100
	[ "$status" -eq 0 ]
	kill -HUP "$DAEMON_PID"
	wait_until 10000 reloaded 1
	run "${CLIENT[@]}" echo "$EADDR" --clients 5 --bytes 100
	[ "$status" -eq 0 ]
	expect 'aio_echod_connections_active{listener="echo"}' 0
	snap
	snap_is 'aio_echod_connections_accepted_total{listener="echo"}' 10
	snap_is 'aio_echod_received_bytes_total{listener="echo"}' 1000
	snap_is 'aio_echod_connections_closed_total{listener="echo",reason="client-fin"}' 10
	expect 'aio_echod_reloads_total{result="ok"}' 1
	stop_daemon
}

@test "a renamed listener: the old name's series go with its clients, the new starts at 0" {
	conf "$(echo_l '' old), $(metrics_l)"
	start_daemon
	cp "$CONF" "$BATS_TEST_TMPDIR/old.conf"
	run "${CLIENT[@]}" echo "$EADDR" --clients 3
	[ "$status" -eq 0 ]
	bg_client HOLD --timeout 60 hold "$EADDR" 1
	wait_until 10000 output_has HOLD "holding 1"
	sed 's/name = "old"/name = "new"/' "$BATS_TEST_TMPDIR/old.conf" >"$CONF"
	kill -HUP "$DAEMON_PID"
	wait_until 10000 reloaded 1
	# The held client keeps the old settings, and so the old series.
	metric_is 'aio_echod_connections_accepted_total{listener="old"}' 4
	metric_is 'aio_echod_connections_active{listener="old"}' 1
	metric_is 'aio_echod_connections_accepted_total{listener="new"}' 0
	metric_is 'aio_echod_connections_active{listener="new"}' 0
	kill "$HOLD_PID"
	wait_until 10000 count_is 0 labelled listener=old
	metric_is 'aio_echod_connections_accepted_total{listener="new"}' 0
	run "${CLIENT[@]}" echo "$EADDR" --clients 2
	[ "$status" -eq 0 ]
	expect 'aio_echod_connections_active{listener="new"}' 0
	metric_is 'aio_echod_connections_accepted_total{listener="new"}' 2
	metric_is 'aio_echod_connections_closed_total{listener="new",reason="client-fin"}' 2
	[ "$(labelled listener=old)" -eq 0 ]
	stop_daemon
}
