#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The README's test command: install what is missing (Debian 12, as root),
# build three times (warnings as errors; ASan+UBSan; TSan), and on each
# build run CTest, then bats.  The normal build runs every feature test
# with loop_threads = 1, then the threaded ones again with 2 ($threaded
# below); the ASan build all of them with 2 (where the loop threads share
# the most), then the metrics, edge, peers, udp, balance and health tests
# again with 1 (their issues ask for both builds at both counts); the
# TSan build all of them with 2, then the thread-heavy ones
# ($tsan_threaded) with 4.  A repeat pass (AIO_REPEAT_PASS=1) skips the
# tests that would run the same in it (once_per_build in
# tests/helpers.bash), and bats files run two at a time (run_bats), so
# that the whole run stays under 25 minutes on 2 cores.  Between the
# first two builds it builds the .deb, checks it, and runs it under a
# real systemd booted in a container; at the end, a fourth build (clang,
# libFuzzer) runs each fuzz target for 30 s (tests/fuzz).  The last line
# is "N passed, N failed" over all of it, and the exit status is
# non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
# Debian's python3 (installed below) ahead of a version manager's shim,
# which costs 0.4 s of CPU a start (tests/helpers.bash does the same).
export PATH="/usr/bin:$PATH"

PACKAGES="build-essential cmake pkg-config libevent-dev libconfig-dev libsystemd-dev
	bats netcat-openbsd python3 valgrind iproute2 util-linux systemd
	debhelper dpkg-dev lintian groff-base fakeroot systemd-container
	mmdebstrap socat prometheus curl haproxy nginx libnginx-mod-stream
	redis-server clang libclang-rt-14-dev linux-perf"

passed=0
failed=0

# log TEXT: a step, with the minutes and seconds since the start.
log() {
	printf '== %s (at %d:%02d)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60))
}

# install_missing PACKAGE...: tests/install-deps.sh, shared with
# bench/run-all.sh; it reports through log.
. tests/install-deps.sh

# run_build NAME DIR CMAKE-ARGS...: build, then run CTest on it.  Returns
# non-zero if the build failed (counted as one failure).
run_build() {
	local name=$1 dir=$2 log p f t
	shift 2

	log "$name: build in $dir"
	mkdir -p "$dir"
	if ! cmake -S . -B "$dir" "$@" >"$dir/cmake.log" 2>&1 ||
		! cmake --build "$dir" -j"$(nproc)" 2>&1 | tail -n 30; then
		cat "$dir/cmake.log"
		echo "== $name: build FAILED"
		failed=$((failed + 1))
		return 1
	fi
	if [ "${PIPESTATUS[0]:-0}" != 0 ] || [ ! -x "$dir/aio-echod" ]; then
		echo "== $name: build FAILED"
		failed=$((failed + 1))
		return 1
	fi

	log "$name: ctest"
	log=$(ctest --test-dir "$dir" -j"$(nproc)" --output-on-failure 2>&1)
	echo "$log"
	if [[ "$log" =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
		f=${BASH_REMATCH[1]}
		t=${BASH_REMATCH[2]}
		passed=$((passed + t - f))
		failed=$((failed + f))
	else
		echo "== $name: ctest printed no summary"
		failed=$((failed + 1))
	fi
}

# run_bats NAME DIR THREADS REPEAT FILE...: the feature tests in FILE...
# on DIR's daemon with loop_threads = THREADS; REPEAT=1 for a build's
# repeat pass.  Two files run at a time (most of a test's time is spent
# waiting on deadlines, not on a core), each a bats of its own taking the
# next file when it ends, the slowest files first ($slow_first); they
# share a port registry so that no two tests ever pick the same port
# (free_port in tests/helpers.bash).  The files in $alone measure time
# against a pinned core and run after them, one at a time.  The logs
# are printed and counted in FILE... order.
run_bats() {
	local name=$1 dir=$2 threads=$3 repeat=$4 what= f out ports
	local -a side=() solo=()

	shift 4
	[ "$repeat" = 0 ] || what=" (repeat pass)"
	log "$name: bats, loop_threads = $threads$what"
	for f in "${slow_first[@]}" "$@"; do
		in_list "$f" "$@" && ! in_list "$f" "${side[@]}" "${solo[@]}" ||
			continue
		if in_list "$f" "${alone[@]}"; then
			solo+=("$f")
		else
			side+=("$f")
		fi
	done
	out=$(mktemp -d)
	ports=$(mktemp -d)
	export AIO_BIN="$PWD/$dir/aio-echod" AIO_LOOP_THREADS=$threads \
		AIO_REPEAT_PASS=$repeat AIO_PORT_REGISTRY=$ports BATS_LOGS=$out
	printf '%s\0' "${side[@]}" | xargs -0 -r -n 1 -P 2 bash -c \
		'bats --tap --timing "$1" >"$BATS_LOGS/${1##*/}.tap" 2>&1; exit 0' _
	for f in "${solo[@]}"; do
		bats --tap --timing "$f" >"$out/${f##*/}.tap" 2>&1
	done
	unset AIO_BIN AIO_LOOP_THREADS AIO_REPEAT_PASS AIO_PORT_REGISTRY BATS_LOGS
	for f in "$@"; do
		echo "# $f"
		[ -s "$out/${f##*/}.tap" ] || echo "== $name: no log from $f"
		count_tap "$name" "$(cat "$out/${f##*/}.tap" 2>/dev/null)"
	done
	rm -rf "$out" "$ports"
}

# in_list WORD LIST...: WORD is one of LIST.
in_list() {
	local w=$1 x

	shift
	for x; do
		[ "$x" != "$w" ] || return 0
	done
	return 1
}

# count_tap NAME LOG: print a bats TAP log and add up its results.  A
# skipped test is neither passed nor failed.
count_tap() {
	local p f s plan

	echo "$2"
	p=$(grep -c '^ok ' <<<"$2")
	s=$(grep -c '^ok .* # skip' <<<"$2")
	f=$(grep -c '^not ok ' <<<"$2")
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' <<<"$2" | head -n 1)
	if [ "$((p + f))" -eq 0 ]; then
		echo "== $1: bats ran no test"
		f=1
	elif [ -n "$plan" ] && [ "$((p + f))" -lt "$plan" ]; then
		# bats died midway: what it never ran did not pass.
		echo "== $1: $((plan - p - f)) of $plan tests never ran"
		f=$((plan - p))
	fi
	[ "$s" -eq 0 ] || echo "== $1: $s skipped"
	passed=$((passed + p - s))
	failed=$((failed + f))
}

# count_summary NAME LOG: add up LOG's last line, "N passed, N failed"
# (the container test's, the fuzz runner's); no such line is a failure.
count_summary() {
	if [[ "$2" =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed[[:space:]]*$ ]]; then
		passed=$((passed + BASH_REMATCH[1]))
		failed=$((failed + BASH_REMATCH[2]))
	else
		echo "== $1: no \"N passed, N failed\" summary"
		failed=$((failed + 1))
	fi
}

# run_fuzz: build the libFuzzer targets with clang (tests/fuzz) and run
# each for 30 s from its corpus (tests/fuzz/run.sh); a target that
# crashes, fails a property, leaks or times out is one failure, and its
# input is printed as hex.
run_fuzz() {
	local out

	log "fuzz: build in build-fuzz (clang)"
	if ! CC=clang cmake -S . -B build-fuzz -DAIO_FUZZ=ON -DAIO_WERROR=ON \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >build-fuzz.log 2>&1 ||
		! cmake --build build-fuzz --target fuzz -j"$(nproc)" \
			>>build-fuzz.log 2>&1; then
		tail -n 40 build-fuzz.log
		echo "== fuzz: build FAILED"
		failed=$((failed + 1))
		return
	fi
	# All four at once: 30 s of wall time each, in 30 s.
	log "fuzz: every target for 30 s, all at once"
	out=$(FUZZ_JOBS=4 tests/fuzz/run.sh -t 30 build-fuzz 2>&1)
	echo "$out"
	count_summary fuzz "$out"
}

# run_package: build the .deb from this tree, check it (tests/package.bats
# with the normal build's daemon), then install and run it under a real
# systemd in a container (tests/systemd/nspawn/run.sh).
run_package() {
	local deb out

	log "package: build the .deb in build-deb"
	if ! packaging/build-deb.sh build-deb; then
		echo "== package: build FAILED"
		failed=$((failed + 1))
		return
	fi
	deb=$(ls "$PWD"/build-deb/aio-echod_*_amd64.deb)
	log "package: bats tests/package.bats on $deb"
	count_tap package "$(AIO_BIN="$PWD/build/aio-echod" AIO_DEB="$deb" \
		bats --tap tests/package.bats 2>&1)"
	log "package: under systemd in a container"
	out=$(tests/systemd/nspawn/run.sh "$deb" 2>&1)
	echo "$out"
	count_summary package "$out"
}

install_missing $PACKAGES || { echo "0 passed, 1 failed"; exit 1; }

# The normal build's repeat pass with 2 loop threads: the files whose
# issues asked for both builds at both counts.  Every file runs with 2
# threads in the ASan build; the others took 270 s more here (reload 58,
# proxy 47, echo 42, stop 21, signals 15, sockact 13, notify 13, ...:
# bats --timing, 2 cores), which the 25 minutes have no room for.
# run_bats starts the slowest files first (bats --timing, normal build,
# seconds: proxy 73, metrics 49, echo 46, reload 44, threads 36, ...), so
# that the two at a time end together; fairness.bats times a client
# against a pinned core and runs alone.
slow_first=(tests/proxy.bats tests/metrics.bats tests/reload.bats
	tests/echo.bats tests/threads.bats tests/progress.bats tests/notify.bats
	tests/edge.bats tests/balance.bats tests/stop.bats)
alone=(tests/fairness.bats)

# The TSan build's second pass, with 4 loop threads.  threads.bats and
# stress.bats set their own loop_threads (stress: 4) and run in the
# first pass only.
tsan_threaded=(tests/reload.bats tests/stop.bats tests/notify.bats
	tests/pool.bats tests/fairness.bats tests/proxy.bats tests/splice.bats
	tests/metrics.bats tests/balance.bats tests/health.bats)

threaded=(tests/metrics.bats tests/edge.bats tests/peers.bats
	tests/udp.bats tests/balance.bats tests/health.bats)

if run_build "normal (-Werror)" build -DAIO_WERROR=ON; then
	run_bats "normal (-Werror)" build 1 0 tests/*.bats
	run_bats "normal (-Werror)" build 2 1 "${threaded[@]}"
fi
run_package
export ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if run_build "ASan+UBSan" build-asan -DAIO_WERROR=ON -DAIO_SANITIZE=ON \
	-DCMAKE_BUILD_TYPE=Debug; then
	run_bats "ASan+UBSan" build-asan 2 0 tests/*.bats
	run_bats "ASan+UBSan" build-asan 1 1 tests/metrics.bats \
		tests/edge.bats tests/peers.bats tests/udp.bats \
		tests/balance.bats tests/health.bats
fi
# The ThreadSanitizer build: every file with 2 loop threads, then the
# files where threads meet most ($tsan_threaded: reloads, the stop, the
# pool, the proxy's upstreams, scrapes, health checks) again with 4.  Any TSan report fails the test (halt_on_error, and the
# teardown greps the daemon's log for it).
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
if run_build "TSan" build-tsan -DAIO_WERROR=ON -DAIO_TSAN=ON; then
	run_bats "TSan" build-tsan 2 0 tests/*.bats
	run_bats "TSan" build-tsan 4 1 "${tsan_threaded[@]}"
fi
run_fuzz

log "done"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
