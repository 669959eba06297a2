#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tests/systemd/offline-checks.sh BUILD_DIR: check systemd/aio-echod.service
# and systemd/aio-echod.socket without a running systemd.
#
# systemd-analyze verify needs every Exec*= binary at its absolute path,
# so it runs on copies whose /usr/sbin/aio-echod is BUILD_DIR/aio-echod,
# and the .socket is verified beside its .service.  verify exits 0 on
# "Unknown key ..., ignoring", so any output at all is a failure.
# systemd-analyze security --offline=true must rate the service at 1.5 or
# better (--threshold is the exposure times 10).
#
# Prints one line per check and "N passed, N failed" last; exits 1 on a
# failure, 2 on a bad command line.
set -uo pipefail

if [ $# -ne 1 ] || [ ! -x "$1/aio-echod" ]; then
	echo "usage: $0 BUILD_DIR (with BUILD_DIR/aio-echod built)" >&2
	exit 2
fi
bin=$(cd "$1" && pwd)/aio-echod
top=$(cd "$(dirname "$0")/../.." && pwd)
THRESHOLD=15

passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check NAME OUTPUT STATUS: pass when STATUS is 0; else show OUTPUT.
check() {
	if [ "$3" -eq 0 ]; then
		echo "ok - $1"
		passed=$((passed + 1))
	else
		echo "not ok - $1"
		[ -z "$2" ] || sed 's/^/#   /' <<<"$2"
		failed=$((failed + 1))
	fi
}

# quiet COMMAND...: run it; fail when it fails or prints anything.
quiet() {
	local out st
	out=$("$@" 2>&1)
	st=$?
	[ -z "$out" ] || st=1
	printf '%s' "$out"
	return "$st"
}

if ! command -v systemd-analyze >/dev/null; then
	check "systemd-analyze is installed (package systemd)" "" 1
	echo "$passed passed, $failed failed"
	exit 1
fi

for u in aio-echod.service aio-echod.socket; do
	sed "s#/usr/sbin/aio-echod\\b#$bin#g" "$top/systemd/$u" >"$tmp/$u"
done
if grep -q "^ExecStart=$bin " "$tmp/aio-echod.service"; then st=0; else st=1; fi
check "the copies run $bin" "" "$st"

out=$(quiet systemd-analyze verify --man=no "$tmp/aio-echod.service")
check "verify aio-echod.service prints nothing" "$out" $?

out=$(quiet systemd-analyze verify --man=no "$tmp/aio-echod.service" \
	"$tmp/aio-echod.socket")
check "verify aio-echod.socket (with its service) prints nothing" "$out" $?

out=$(systemd-analyze security --offline=true --threshold=$THRESHOLD \
	"$tmp/aio-echod.service" 2>&1)
st=$?
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
check "security --offline: exposure ${score:-unknown} <= $((THRESHOLD / 10)).$((THRESHOLD % 10))" \
	"$(grep '✗' <<<"$out")" "$st"

# The unit's ExecStartPre checks /etc/aio-echod.conf with -n; the file
# the package installs there must pass it.
out=$("$bin" -n -f "$top/packaging/aio-echod.conf" 2>&1)
st=$?
[ "$out" = "configuration OK" ] || st=1
check "packaging/aio-echod.conf passes aio-echod -n" "$out" "$st"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
