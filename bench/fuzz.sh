#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/fuzz.sh: the long fuzzing run, from a fresh checkout on Debian 12
# as root.  Builds the libFuzzer targets with clang (build-fuzz/), runs
# each for RUNS executions or SECONDS, whichever ends first
# (tests/fuzz/run.sh), merges the inputs that found new coverage into
# tests/fuzz/corpus/, and writes bench/results/FUZZ.md: executions,
# coverage (libFuzzer's edges "cov" and features "ft") and the result
# per target.  CI runs the same targets for 30 s each; this is the run
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
tests/fuzz/run.sh -n "$RUNS" -t "$SECONDS_MAX" -m -r "$rows" build-fuzz
status=$?
wall=$(($(date +%s) - start))

{
	echo "# Fuzzing: bench/fuzz.sh"
	echo
	echo "Commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src tests/fuzz || echo ' (with local changes)'), $(date -u +%Y-%m-%d), $(clang --version | head -n 1), $(nproc) CPUs, FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)}."
	echo "Each target ran for $RUNS executions or $SECONDS_MAX s, from its committed corpus"
	echo "with its dictionary, under ASan and UBSan; $wall s wall in all."
	echo "cov: edges covered, ft: libFuzzer's features, corpus: inputs kept at the"
	echo "end of the run (before the merge into tests/fuzz/corpus)."
	echo
	echo "| target | executions | cov | ft | corpus | result |"
	echo "| --- | --- | --- | --- | --- | --- |"
	cat "$rows"
	echo
	echo "A result is ok only with no crash, sanitizer report, failed property, leak"
	echo "or input slower than 10 s.  The config target checks leaks on every"
	echo "input it kept, after the run, rather than after every input (see"
	echo "tests/fuzz/run.sh)."
} >"$out"
cat "$out"
exit $status
