# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# tests/install-deps.sh: sourced by tests/run-all.sh and bench/run-all.sh
# (each with its own package list), on Debian 12, as root.
#
# install_missing PACKAGE...: apt-get install those of PACKAGE that dpkg
# does not have, and say which in one line through the caller's
# log MESSAGE.  The status is apt-get's (0 when nothing was missing).
install_missing() {
	local p made_policy= rc=0 missing=()

	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# The packages' own services must not start: they would take ports
	# and CPU during the run.  policy-rc.d (101: action forbidden) is
	# Debian's switch for that, removed again right after.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	apt-get update -qq &&
		apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
		rc=$?
	[ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
	return "$rc"
}
