#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tests/systemd/nspawn/run.sh DEB: install DEB in a Debian 12 container
# booted by systemd-nspawn (a real systemd as the container's PID 1, so it
# works on a host whose PID 1 is not systemd) and run in-container.sh
# there: install, start, echo, reload, access logs and logrotate, a bad
# configuration, the watchdog, stop and purge.  Prints one line per check,
# "N passed, N failed" last, and exits non-zero on a failure.
#
# Needs root.  Installs systemd-container and mmdebstrap if missing.  The
# container's root file system (about 210 MB, 40 s to build) is cached in
# $AIO_NSPAWN_WORK (default ${TMPDIR:-/tmp}/aio-echod-nspawn); each boot
# writes to a tmpfs overlay, and the container has only its own loopback.
# A run takes about 35 s.  tests/run-all.sh runs it on the package it
# builds.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1" ]; then
	echo "usage: $0 path/to/aio-echod_VERSION_ARCH.deb" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
work=${AIO_NSPAWN_WORK:-${TMPDIR:-/tmp}/aio-echod-nspawn}
root=$work/rootfs-bookworm
in=$work/in
out=$work/out

need=()
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$work"
if [ ! -x "$root/lib/systemd/systemd" ]; then
	rm -rf "$root.tmp"
	# The package's dependencies are in the image: the container has no
	# network to fetch them.
	mmdebstrap --variant=minbase \
		--include=systemd,systemd-sysv,dbus,procps,socat,logrotate,libevent-core-2.1-7,libconfig9 \
		bookworm "$root.tmp" >"$work/mmdebstrap.log" 2>&1 ||
		{ tail -n 20 "$work/mmdebstrap.log"; exit 1; }
	: >"$root.tmp/etc/machine-id"	# empty: a new machine id each boot
	mv "$root.tmp" "$root"
fi

rm -rf "$in" "$out"
mkdir -p "$in" "$out"
cp "$1" "$in/"

# systemd-nspawn splits its own cgroup into supervisor/ and payload/: give
# it a sub-cgroup of ours, or it makes them at the roots of the host's
# hierarchies.  $BASHPID, not $$: the shell that moves is this one.
cg=aio-nspawn-$BASHPID
declare -A cgorig
for h in systemd unified; do
	[ -d "/sys/fs/cgroup/$h" ] || continue
	if [ "$h" = systemd ]; then key=name=systemd; else key=; fi
	p=$(awk -F: -v k="$key" '$2 == k { print $3; exit }' /proc/self/cgroup)
	cgorig[$h]=/sys/fs/cgroup/$h${p%/}
	mkdir -p "${cgorig[$h]}/$cg"
	echo "$BASHPID" >"${cgorig[$h]}/$cg/cgroup.procs"
done
cleanup_cg() {
	local h
	for h in "${!cgorig[@]}"; do
		echo "$BASHPID" >"${cgorig[$h]}/cgroup.procs"
		find "${cgorig[$h]}/$cg" -depth -type d -exec rmdir {} \; \
			2>/dev/null || true
	done
}
trap cleanup_cg EXIT

# --register=no --keep-unit: no host systemd to register with.
# --volatile=overlay: the cached image stays as built.
# The test unit's SuccessAction/FailureAction=exit make its result the
# container's exit status.
set +e
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 timeout --kill-after=15 600 \
	systemd-nspawn --quiet --boot --directory="$root" \
	--machine="aio-echod-test-$BASHPID" --register=no --keep-unit \
	--private-network --volatile=overlay --console=passive \
	--bind-ro="$here:/ci" --bind-ro="$in:/ci-in" --bind="$out:/ci-out" \
	--bind-ro="$here/ci-tests.service:/etc/systemd/system/ci-tests.service" \
	systemd.wants=ci-tests.service systemd.show_status=false \
	</dev/null >"$work/console.log" 2>&1
rc=$?
set -e
if [ -f "$out/results.txt" ]; then
	cat "$out/results.txt"
else
	tail -n 50 "$work/console.log"
	echo "0 passed, 1 failed"
	[ "$rc" -ne 0 ] || rc=1
fi
[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || echo "timed out" >&2
exit "$rc"
