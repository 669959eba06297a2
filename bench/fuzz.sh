#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/fuzz.sh [TARGET...]: the long fuzzing run, from a fresh checkout
# on Debian 12 as root.  Builds the libFuzzer targets with clang
# (build-fuzz/), runs each (or each TARGET) for RUNS executions or
# SECONDS_MAX, whichever ends first
# (tests/fuzz/run.sh), merges the inputs that found new coverage into
# tests/fuzz/corpus/, and writes bench/results/FUZZ.md: executions,
# coverage (libFuzzer's edges "cov" and features "ft") and the result
# per target, with the commit and date of its run (a run of some targets
# replaces their rows and keeps the others').  CI runs the same targets for 30 s each; this is the run
# the goal is measured on: 10 million executions per target with no
# crash, sanitizer report, leak or timeout.
#
# Settings (environment):
#   RUNS=10000000   executions per target
#   SECONDS_MAX=3600  time limit per target
#   FUZZ_JOBS=2     targets at once (default: one per CPU)
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10000000}
SECONDS_MAX=${SECONDS_MAX:-3600}
out=bench/results/FUZZ.md

log() {
	echo "== $*"
}
. tests/install-deps.sh
install_missing build-essential cmake pkg-config libevent-dev \
	libconfig-dev libsystemd-dev clang libclang-rt-14-dev || exit 1

log "build the fuzz targets in build-fuzz (clang)"
CC=clang cmake -S . -B build-fuzz -DAIO_FUZZ=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build build-fuzz --target fuzz -j"$(nproc)" >/dev/null || exit 1

rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
start=$(date +%s)
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src tests/fuzz || echo '+changes')
tests/fuzz/run.sh -n "$RUNS" -t "$SECONDS_MAX" -m -r "$rows" build-fuzz "$@"
status=$?
wall=$(($(date +%s) - start))

# This run's rows, then the rows of the targets it did not run.
table=$(sed "s/\$/ $commit, $(date -u +%Y-%m-%d), ${wall} s wall |/" "$rows"
	if [ -f "$out" ]; then
		grep '^| [a-z_]* | [0-9]' "$out" | while read -r row; do
			t=$(awk '{print $2}' <<<"$row")
			grep -q "^| $t |" "$rows" || echo "$row"
		done
	fi)
{
	echo "# Fuzzing: bench/fuzz.sh"
	echo
	echo "Each target ran for $RUNS executions or $SECONDS_MAX s, from its committed corpus"
	echo "with its dictionary, under ASan and UBSan ($(clang --version | head -n 1), $(nproc) CPUs,"
	echo "FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)} targets at once).  cov: edges covered, ft: libFuzzer's"
	echo "features, corpus: inputs kept at the end of the run (before the merge into"
	echo "tests/fuzz/corpus).  \"run\" is the commit, the date and the wall time of the"
	echo "bench/fuzz.sh run that gave the row."
	echo
	echo "| target | executions | cov | ft | corpus | result | run |"
	echo "| --- | --- | --- | --- | --- | --- | --- |"
	echo "$table"
	echo
	echo "A result is ok only with no crash, sanitizer report, failed property, leak"
	echo "or input slower than 10 s.  The config target checks leaks on every"
	echo "input it kept, after the run, rather than after every input (see"
	echo "tests/fuzz/run.sh)."
} >"$out"
cat "$out"
exit $status
