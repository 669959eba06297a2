# SPDX-License-Identifier: BSD-2-Clause
# Shared by tests/*.bats: a fresh daemon per test, with a configuration
# generated in $BATS_TEST_TMPDIR, stopped or killed in teardown.  Waits
# poll with a deadline; nothing sleeps a fixed time hoping for readiness.
#
# AIO_BIN    the daemon to test (default: build/aio-echod)
# AIO_VALGRIND=1  run the daemon under valgrind
# AIO_LOOP_THREADS=N  run every daemon with loop_threads = N, unless the
#            test's configuration sets it (CI runs the suite with 1 and 2)
# AIO_REPEAT_PASS=1  this pass repeats the suite on a build already
#            tested: tests marked once_per_build skip

AIO_BIN=${AIO_BIN:-$BATS_TEST_DIRNAME/../build/aio-echod}
CLIENT=(python3 "$BATS_TEST_DIRNAME/tools/client.py")
CONF=$BATS_TEST_TMPDIR/aio-echod.conf
LOG=$BATS_TEST_TMPDIR/daemon.log
DAEMON_PID=
DAEMON_STATUS=

# Tests start python3 often (clients, upstreams, free_port): Debian's
# /usr/bin/python3, which the test command installs, goes ahead of any
# version manager's shim on PATH.  pyenv's shim runs a few bash scripts
# at every start: 0.43 s of CPU a call against 0.03 s, and echo.bats
# took 48 s instead of 29.
case ":$PATH" in
:/usr/bin:*) ;;
*) [ ! -x /usr/bin/python3 ] || export PATH="/usr/bin:$PATH" ;;
esac

now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# wait_until MS COMMAND...: run COMMAND every 20 ms until it succeeds;
# fail once MS milliseconds have passed.
wait_until() {
	local t=${EPOCHREALTIME/[.,]/} end
	end=$((t + $1 * 1000))
	shift
	until "$@"; do
		t=${EPOCHREALTIME/[.,]/}
		[ "$t" -lt "$end" ] || return 1
		sleep 0.02
	done
}

# refute COMMAND...: fail if COMMAND succeeds.  (A bare "! COMMAND" never
# fails a bats test unless it is the test's last line: errexit ignores
# the status of a negated command.)
refute() {
	if "$@"; then
		return 1
	fi
}

# count_is N COMMAND...: COMMAND prints N (for wait_until, which runs it
# anew each time; a "$(...)" in its arguments would be read only once).
count_is() {
	local n=$1
	shift
	[ "$("$@" 2>/dev/null)" = "$n" ]
}

# once_per_build: skip this test in a repeat pass (AIO_REPEAT_PASS=1).
# For a test that would run the same in every pass: it sets its own
# loop_threads, or what it tests does not depend on them.
once_per_build() {
	if [ "${AIO_REPEAT_PASS:-0}" = 1 ]; then
		skip "once per build: the same in every pass"
	fi
}

# sanitized: the daemon is an ASan or TSan build, whose allocator pads
# and keeps freed memory and whose shadow memory is resident too: an
# RSS count means nothing there.
sanitized() {
	ldd "$AIO_BIN" | grep -qE 'libasan|libtsan'
}

# not_under_tsan WHY: skip this test on a ThreadSanitizer build (told
# by the library it links): for counts that TSan's own thread or its
# slowness changes.
not_under_tsan() {
	if ldd "$AIO_BIN" | grep -q libtsan; then
		skip "not under ThreadSanitizer: $1"
	fi
}

# A loopback TCP port that was free a moment ago, below the kernel's
# ephemeral range (ip_local_port_range): a port the kernel lends to
# outgoing connections can be taken by a test's own clients between
# this choice and the daemon's bind (it was: "Address already in use").
# Never one it already gave this test ($BATS_TEST_TMPDIR/.ports), nor,
# when bats files run side by side (tests/run-all.sh sets
# AIO_PORT_REGISTRY to a directory they share), one that any of them
# took: a file per port, created exclusively, claims it.  Without that,
# two tests could pick the same port between check and bind, or one
# could listen on a port another relies on finding closed.
free_port() {
	python3 - "${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:-}}" \
		"${AIO_PORT_REGISTRY:-}" <<'PY'
import os, random, socket, sys
used_file = os.path.join(sys.argv[1], ".ports") if sys.argv[1] else None
registry = sys.argv[2]
used = set()
if used_file and os.path.exists(used_file):
    used = {int(p) for p in open(used_file).read().split()}
lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
ports = list(range(10000, lo)) or list(range(hi + 1, 65536))
random.shuffle(ports)
for p in ports[:4000]:
    if p in used:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    if registry:
        try:
            os.close(os.open(os.path.join(registry, str(p)),
                             os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            continue
    if used_file:
        with open(used_file, "a") as f:
            f.write("%d\n" % p)
    print(p)
    sys.exit(0)
sys.exit("free_port: no free port outside the ephemeral range")
PY
}

# echo_conf ADDRESS [LISTENER KEYS] [GLOBAL KEYS]: one echo listener.
echo_conf() {
	cat >"$CONF" <<EOC
log_level = "debug";
$3
listeners = (
  { name = "echo"; address = "$1"; service = "echo"; $2 }
);
EOC
}

# bg_client NAME ARGS...: run the test client in the background; its
# output goes to $BATS_TEST_TMPDIR/NAME.out and its pid to $NAME_PID.
bg_client() {
	local name=$1
	shift
	"${CLIENT[@]}" "$@" >"$BATS_TEST_TMPDIR/$name.out" 2>&1 &
	printf -v "${name}_PID" '%s' "$!"
}

# output_has NAME TEXT: the background client NAME has printed TEXT.
output_has() {
	grep -q -- "$2" "$BATS_TEST_TMPDIR/$1.out"
}

# start_upstream NAME MODE [N]: a tests/tools/upstream.py server on a free
# loopback port, which goes to $NAME_PORT: one of free_port's, so that a
# test can start it again on the same port (the kernel's own choice would
# be in the ephemeral range, where a client may hold it by then).
start_upstream() {
	local name=$1 out=$BATS_TEST_TMPDIR/$1.up
	shift
	python3 "$BATS_TEST_DIRNAME/tools/upstream.py" "$1" "$(free_port)" "${@:2}" >"$out" 2>&1 &
	printf -v "${name}_PID" '%s' "$!"
	wait_until 5000 grep -q "^listening" "$out" || return 1
	printf -v "${name}_PORT" '%s' "$(awk '/^listening/ {print $2}' "$out")"
}

# tell_upstream NAME [PORT]: an upstream.py "tell" server (each client
# learns which upstream it reached), on PORT (to start one again where
# it was) or a free port; its port goes to $NAME_PORT, its pid to
# $NAME_PID.
tell_upstream() {
	if [ -z "${2:-}" ]; then
		start_upstream "$1" tell
		return
	fi
	python3 "$BATS_TEST_DIRNAME/tools/upstream.py" tell "$2" >"$BATS_TEST_TMPDIR/$1.up" 2>&1 &
	printf -v "${1}_PID" '%s' "$!"
	wait_until 5000 grep -q "^listening" "$BATS_TEST_TMPDIR/$1.up"
	printf -v "${1}_PORT" '%s' "$2"
}

# proxy_conf ADDRESS UPSTREAMS [LISTENER KEYS] [GLOBAL KEYS]: one proxy
# listener; UPSTREAMS is the inside of the list: "\"a\", \"b\"".
proxy_conf() {
	cat >"$CONF" <<EOC
log_level = "debug";
$4
listeners = (
  { name = "px"; address = "$1"; service = "proxy";
    upstreams = ( $2 ); $3 }
);
EOC
}

# rss_kb: the daemon's resident memory now, in KiB.
rss_kb() {
	awk '/^VmRSS:/ {print $2}' "/proc/$DAEMON_PID/status"
}

# max_rss_kb N: the most of N samples of rss_kb, a tenth of a second apart.
max_rss_kb() {
	local i r max=0

	for ((i = 0; i < $1; i++)); do
		r=$(rss_kb)
		[ "$r" -gt "$max" ] && max=$r
		sleep 0.1
	done
	echo "$max"
}

log_has() {
	grep -q -- "$1" "$LOG"
}

# start_daemon [OPTIONS]: start on $CONF, wait for the ready line.
# DAEMON_WRAP (an array) goes before the command, e.g. (prlimit ... --).
DAEMON_WRAP=()
start_daemon() {
	local cmd=("$AIO_BIN" -f "$CONF" "$@")

	if [ -n "${AIO_LOOP_THREADS:-}" ] && [ -f "$CONF" ] &&
		! grep -q '^ *loop_threads' "$CONF"; then
		sed -i "1i loop_threads = $AIO_LOOP_THREADS;" "$CONF"
	fi

	if [ "${AIO_VALGRIND:-0}" = 1 ]; then
		cmd=(valgrind --quiet --error-exitcode=99 "${cmd[@]}")
	fi
	cmd=("${DAEMON_WRAP[@]}" "${cmd[@]}")
	"${cmd[@]}" 2>"$LOG" &
	DAEMON_PID=$!
	if ! wait_until 15000 log_has " ready: "; then
		echo "daemon did not become ready; its log:" >&2
		cat "$LOG" >&2
		return 1
	fi
}

daemon_gone() {
	! kill -0 "$DAEMON_PID" 2>/dev/null
}

# wait_exit MS: wait for the daemon to exit; its status goes to
# DAEMON_STATUS.  Fails if it is still running after MS.
wait_exit() {
	wait_until "$1" daemon_gone || return 1
	DAEMON_STATUS=0
	wait "$DAEMON_PID" || DAEMON_STATUS=$?
	DAEMON_PID=
}

# stop_daemon: SIGTERM, expect a clean exit 0.
stop_daemon() {
	kill -TERM "$DAEMON_PID"
	wait_exit 20000
	[ "$DAEMON_STATUS" -eq 0 ]
}

teardown() {
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -KILL "$DAEMON_PID"
		wait "$DAEMON_PID" 2>/dev/null || true
	fi
	jobs -p | xargs -r kill 2>/dev/null || true
	# A stopped one (SIGSTOP) acts on that only once it runs again.
	jobs -p | xargs -r kill -CONT 2>/dev/null || true
	# A sanitizer or valgrind report fails the test that caused it: in
	# the daemon's log, or in the log of another daemon the test ran
	# (an upstream, one in a network namespace): every *.log here.
	local f bad=0
	for f in "$BATS_TEST_TMPDIR"/*.log; do
		if [ -f "$f" ] && grep -qE "AddressSanitizer|ThreadSanitizer|runtime error:|LeakSanitizer|^==[0-9]+== " "$f"; then
			echo "# a report in $f:" >&2
			cat "$f" >&2
			bad=1
		fi
	done
	[ "$bad" = 0 ]
}
