#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/run.sh [BUILD_DIR]: the coroutine benchmarks, median of 7 runs
# each, pinned to one CPU, as a table with each backend's ratio to
# ucontext (the peer measured in the same run).  Targets: at most 6 ns
# per raw switch (asm, a bare loop of switches) and at most 100 ns per
# create+run+finish from a warm pool.  "api" is a
# switch through coro_resume/coro_yield; bench/switch.c says why it is
# about twice the raw one.
set -euo pipefail
build=${1:-build}
printf '%-10s %10s %14s %8s %16s %8s\n' backend "raw ns/sw" "api ns/switch" ratio "ns/lifecycle" ratio
base_sw= base_life=
for b in ucontext asm; do
	bin=$build/bench/bench_switch_$b
	[ -x "$bin" ] || continue
	# ucontext is ~40x slower: give it fewer rounds.
	scale=1
	[ "$b" = ucontext ] && scale=20
	read -r name raw sw life < <(taskset -c 0 "$bin" "$scale" 2>/dev/null || "$bin" "$scale")
	[ -z "$base_sw" ] && base_sw=$sw base_life=$life
	printf '%-10s %10s %14s %8s %16s %8s\n' "$name" "$raw" "$sw" \
		"$(awk -v a="$sw" -v b="$base_sw" 'BEGIN {printf "%.3f", a / b}')" \
		"$life" \
		"$(awk -v a="$life" -v b="$base_life" 'BEGIN {printf "%.3f", a / b}')"
done
