#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The fuzz corpora through the real network path, without a fuzzer: every
# PROXY protocol entry to an echo listener with proxy_protocol = true,
# every HTTP entry to a metrics listener.  The daemon must survive each
# and answer or close as the parser decided (tests/fuzz/verdict.c says
# what it decided, tests/tools/corpus_send.py checks the answers).  What
# is tested does not depend on loop_threads: once per build.

load helpers

CORPUS=$BATS_TEST_DIRNAME/fuzz/corpus

setup() {
	once_per_build
	VERDICT=$(dirname "$AIO_BIN")/tests/fuzz/fuzz_verdict
	[ -x "$VERDICT" ] || {
		echo "no $VERDICT: build the tests (cmake --build)" >&2
		return 1
	}
	PORT=$(free_port)
	ADDR=127.0.0.1:$PORT
}

# send_corpus KIND: every entry of $CORPUS/KIND to $PORT; then the
# daemon still serves and stops cleanly.
send_corpus() {
	"$VERDICT" "$1" "$CORPUS/$1"/* >"$BATS_TEST_TMPDIR/verdicts"
	run python3 "$BATS_TEST_DIRNAME/tools/corpus_send.py" "$1" "$PORT" \
		<"$BATS_TEST_TMPDIR/verdicts"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" =~ corpus_send:\ ([0-9]+)\ entries,\ 0\ wrong ]]
	[ "${BASH_REMATCH[1]}" -eq "$(ls "$CORPUS/$1" | wc -l)" ]
	kill -0 "$DAEMON_PID"
}

@test "every PROXY protocol corpus entry is taken or refused as the parser decided" {
	echo_conf "$ADDR" 'proxy_protocol = true; proxy_protocol_from = ( "127.0.0.0/8" );
	    proxy_protocol_timeout = "5s";'
	start_daemon
	send_corpus proxyproto
	# Still an echo for a client with a good header.
	run python3 "$BATS_TEST_DIRNAME/tools/edge.py" header "$ADDR" v1 --data 100
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "every HTTP corpus entry is answered with the status the parser decided" {
	cat >"$CONF" <<EOC
log_level = "debug";
listeners = (
  { name = "m"; address = "$ADDR"; service = "metrics"; }
);
EOC
	start_daemon
	send_corpus http
	run curl -sf "http://$ADDR/metrics"
	[ "$status" -eq 0 ]
	[[ "$output" == *aio_echod_connections_accepted_total* ]]
	stop_daemon
}
