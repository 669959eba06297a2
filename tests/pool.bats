#!/usr/bin/env bats
# The worker pool keeps blocking file work off the event loop.

load helpers

setup() {
	PORT=$(free_port)
	ADDR="127.0.0.1:$PORT"
	PORT2=$(free_port)
}

@test "an access log on a FIFO nobody reads never blocks the loop" {
	fifo=$BATS_TEST_TMPDIR/fifo
	mkfifo "$fifo"
	cat >"$CONF" <<EOC
listeners = (
  { name = "logged"; address = "$ADDR"; service = "echo";
    access_log = "$fifo"; },
  { name = "other"; address = "127.0.0.1:$PORT2"; service = "echo"; }
);
EOC
	start_daemon
	# A worker is stuck opening the FIFO; every client is still served,
	# on this listener and on the other one.
	# Each loop thread keeps up to 64 KiB of lines waiting: 600 lines
	# of about 100 bytes per thread, twice over, do not fit.
	threads=$(sed -n 's/.* ready: .* \([0-9]*\) loop threads.*/\1/p' "$LOG")
	for round in $(seq $((2 * threads))); do
		run "${CLIENT[@]}" --timeout 30 echo "$ADDR" --clients 600 --bytes 100
		[ "$status" -eq 0 ]
	done
	run "${CLIENT[@]}" --timeout 30 echo "127.0.0.1:$PORT2" --clients 50
	[ "$status" -eq 0 ]
	# The lines that do not fit in what may wait are counted.
	wait_until 5000 log_has "access log $fifo: [0-9]* lines dropped so far (the writer is blocked)"
	# Stopping does not hang on the stuck writer.
	stop_daemon
	grep -q "access logs still busy" "$LOG"
}
