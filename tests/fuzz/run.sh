#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Run the libFuzzer targets of a -DAIO_FUZZ=ON build from their corpora.
#
#   tests/fuzz/run.sh [-t SECONDS] [-n RUNS] [-m] [-r REPORT] BUILD-DIR [TARGET...]
#
# Each target (all of tests/fuzz/CMakeLists.txt's by default) runs for
# SECONDS (default 30) or RUNS executions, whichever ends first, from a
# copy of tests/fuzz/corpus/TARGET with its dictionary, as many at once
# as there are CPUs (FUZZ_JOBS=N: N).  Any crash, sanitizer report, failed property,
# leak or input slower than 10 s fails the target: its input is printed
# as hex.  -m merges the inputs that found new coverage into the
# committed corpus (bench/fuzz.sh).  -r appends a Markdown table row per
# target to REPORT.  Prints one line per target, then
# "fuzz: N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
here=$PWD/tests/fuzz
seconds=30 runs=0 merge=0 report=

while getopts t:n:mr: opt; do
	case $opt in
	t) seconds=$OPTARG ;;
	n) runs=$OPTARG ;;
	m) merge=1 ;;
	r) report=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-t S] [-n RUNS] [-m] [-r REPORT] BUILD-DIR [TARGET...]" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] ||
	read -ra targets <<<"$(sed -n 's/^set(AIO_FUZZ_TARGETS \(.*\))$/\1/p' "$here/CMakeLists.txt")"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LSAN_OPTIONS=suppressions=$here/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1

# fuzz_one TARGET: run it; its log in $work/TARGET.log, its exit status
# in .rc, the inputs that failed in $work/TARGET/crash/.
fuzz_one() {
	local t=$1 bin=$build/tests/fuzz/fuzz_$1 leaks=1 rc

	mkdir -p "$work/$t/corpus" "$work/$t/crash"
	if ! cp "$here/corpus/$t/"* "$work/$t/corpus/" 2>"$work/$t.log"; then
		echo "no corpus in $here/corpus/$t" >>"$work/$t.log"
		echo 1 >"$work/$t.rc"
		return
	fi
	# The whole-configuration target checks leaks on the inputs it kept,
	# after the run, not after every input: libconfig's own leaks
	# (lsan.supp) would make LeakSanitizer scan the heap after most
	# inputs, 30 times slower.  The check at exit is off too, or it
	# would blame an empty input for whatever is left then.
	#
	# Its allocations: libconfig's scanner allocates and clears a 16 KiB
	# buffer for every parse.  With ASan's default 256 MiB quarantine
	# each one is a fresh page (and fault), and its malloc fill writes
	# each again: a 16 MiB quarantine and no fill run it 4 times faster
	# (1,600 against 6,700 inputs a second).  A use after free is
	# still caught while the freed block is in the 16 MiB.
	local asan=detect_leaks=1
	if [ "$t" = config ]; then
		leaks=0
		asan=detect_leaks=0:quarantine_size_mb=16:max_malloc_fill_size=0
	fi
	ASAN_OPTIONS=$asan "$bin" -max_total_time="$seconds" \
		-runs="$runs" -timeout=10 -detect_leaks=$leaks \
		-print_final_stats=1 -dict="$here/$t.dict" \
		-artifact_prefix="$work/$t/crash/" "$work/$t/corpus" \
		>>"$work/$t.log" 2>&1
	rc=$?
	if [ $rc = 0 ] && [ $leaks = 0 ]; then
		echo "== every input kept, again with leak checks" >>"$work/$t.log"
		"$bin" -runs=0 -detect_leaks=1 \
			-artifact_prefix="$work/$t/crash/" "$work/$t/corpus" \
			>>"$work/$t.log" 2>&1
		rc=$?
	fi
	echo $rc >"$work/$t.rc"
}

[ "$runs" != 0 ] || runs=-1
jobs_max=${FUZZ_JOBS:-$(nproc)}
[ "$jobs_max" -ge 1 ] 2>/dev/null || jobs_max=1
for t in "${targets[@]}"; do
	if [ ! -x "$build/tests/fuzz/fuzz_$t" ]; then
		echo "no $build/tests/fuzz/fuzz_$t" >"$work/$t.log"
		echo 1 >"$work/$t.rc"
		continue
	fi
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
		wait -n
	done
	fuzz_one "$t" &
done
wait

passed=0 failed=0
for t in "${targets[@]}"; do
	rc=$(cat "$work/$t.rc" 2>/dev/null || echo 1)
	n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" 2>/dev/null | head -n 1)
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$work/$t.log" 2>/dev/null | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/\1 \2 \3/p' <<<"$done_line")
	read -r edges features units <<<"${cov:-? ? ?}"
	if [ "$rc" = 0 ]; then
		result=ok
		# A run cut by the time limit before RUNS says so.
		if [ "$runs" -gt 0 ] && [ "${n:-0}" -lt "$runs" ]; then
			result="ok, but stopped by the time limit before $runs"
		fi
		passed=$((passed + 1))
		echo "fuzz $t: $result, ${n:-?} runs, cov $edges, ft $features, corpus $units inputs"
	else
		result=FAILED
		failed=$((failed + 1))
		echo "fuzz $t: FAILED (exit $rc), after ${n:-?} runs"
		grep -E -A40 'ERROR:|property failed|runtime error:|Test unit written|deadly signal|ALARM: working|^no ' \
			"$work/$t.log" | head -n 80
		for f in "$work/$t/crash/"*; do
			[ -f "$f" ] || continue
			size=$(stat -c %s "$f")
			if [ "$size" = 0 ]; then
				echo "fuzz $t: the input is empty: what failed is not tied to one input (a leak found at exit?)"
				continue
			fi
			echo "fuzz $t: the input, $size bytes, as hex$([ "$size" -le 4096 ] || echo ' (its first 4096)'):"
			od -An -tx1 -v -N 4096 "$f"
		done
	fi
	if [ -n "$report" ]; then
		echo "| $t | ${n:-?} | $edges | $features | $units | $result |" >>"$report"
	fi
	if [ "$merge" = 1 ] && [ "$rc" = 0 ]; then
		"$build/tests/fuzz/fuzz_$t" -merge=1 -detect_leaks=0 \
			"$here/corpus/$t" "$work/$t/corpus" >"$work/$t.merge.log" 2>&1 ||
			echo "fuzz $t: merge failed (see nothing kept)"
		echo "fuzz $t: corpus now $(ls "$here/corpus/$t" | wc -l) inputs"
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
