#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The Debian package and the systemd units.  The package tests read the
# .deb named by AIO_DEB (built by packaging/build-deb.sh; skipped when
# AIO_DEB is unset) and build nothing.  The unit checks run
# tests/systemd/offline-checks.sh on the build of AIO_BIN.

load helpers

TOP=$BATS_TEST_DIRNAME/..

setup_file() {
	if [ -n "${AIO_DEB:-}" ] && [ -f "$AIO_DEB" ]; then
		dpkg-deb -x "$AIO_DEB" "$BATS_FILE_TMPDIR/root"
		dpkg-deb -e "$AIO_DEB" "$BATS_FILE_TMPDIR/control"
		dpkg-deb -c "$AIO_DEB" | awk '{print $6}' | sed 's#^\./#/#' \
			>"$BATS_FILE_TMPDIR/contents"
	fi
}

# need_deb: skip unless AIO_DEB names a package.
need_deb() {
	[ -n "${AIO_DEB:-}" ] || skip "AIO_DEB is not set"
	[ -f "$AIO_DEB" ] || {
		echo "AIO_DEB=$AIO_DEB: no such file" >&2
		return 1
	}
	ROOT=$BATS_FILE_TMPDIR/root
	CONTROL=$BATS_FILE_TMPDIR/control
}

# lists PATH: the package has PATH.
lists() {
	grep -qx -- "$1" "$BATS_FILE_TMPDIR/contents" || {
		echo "not in the package: $1" >&2
		return 1
	}
}

@test "offline checks of the units pass (verify, security, packaged configuration)" {
	run "$TOP/tests/systemd/offline-checks.sh" "$(dirname "$AIO_BIN")"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[-1]}" =~ ^[1-9][0-9]*\ passed,\ 0\ failed$ ]]
}

@test "the package holds the daemon, configuration, units, man pages, logrotate file and alert rules" {
	need_deb
	lists /usr/sbin/aio-echod
	lists /etc/aio-echod.conf
	lists /etc/logrotate.d/aio-echod
	lists /usr/share/man/man8/aio-echod.8.gz
	lists /usr/share/man/man5/aio-echod.conf.5.gz
	lists /usr/share/doc/aio-echod/copyright
	lists /usr/share/doc/aio-echod/examples/aio-echod.rules.yml
	grep -qxE '(/usr)?/lib/systemd/system/aio-echod\.service' \
		"$BATS_FILE_TMPDIR/contents"
	grep -qxE '(/usr)?/lib/systemd/system/aio-echod\.socket' \
		"$BATS_FILE_TMPDIR/contents"
}

@test "the configuration and the logrotate file are conffiles" {
	need_deb
	grep -qx /etc/aio-echod.conf "$CONTROL/conffiles"
	grep -qx /etc/logrotate.d/aio-echod "$CONTROL/conffiles"
}

@test "the package depends on libevent, libconfig, libsystemd and procps" {
	need_deb
	run dpkg-deb -f "$AIO_DEB" Depends
	echo "$output"
	[[ "$output" == *libevent* ]]
	[[ "$output" == *libconfig* ]]
	[[ "$output" == *libsystemd* ]]
	# /bin/kill, for the unit's ExecReload=
	[[ "$output" =~ (^|[ ,])procps([ ,]|$) ]]
}

@test "the package version is the project version of CMakeLists.txt" {
	need_deb
	local want
	want=$(sed -n 's/^project(aio-echod VERSION \([0-9.]*\).*/\1/p' \
		"$TOP/CMakeLists.txt")
	run dpkg-deb -f "$AIO_DEB" Version
	[ "${output%-*}" = "$want" ]
}

@test "lintian --pedantic reports no errors, warnings or pedantic tags" {
	need_deb
	command -v lintian >/dev/null || skip "lintian is not installed"
	run lintian --pedantic --fail-on error,warning,pedantic "$AIO_DEB"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^[EWP]: ' <<<"$output")" -eq 0 ]
}

@test "the package's copyright file gives every file the BSD-2-Clause licence, in full" {
	need_deb
	local cp=$ROOT/usr/share/doc/aio-echod/copyright
	# "Files: *" and its License line, then the licence's own paragraph.
	awk '/^Files: \*$/ { f = 1; next } f && /^License:/ { print; exit }' \
		"$cp" | grep -qx 'License: BSD-2-Clause'
	# ... and the standalone paragraph with the text.
	[ "$(grep -cx 'License: BSD-2-Clause' "$cp")" -eq 2 ]
	# The text is LICENSE's, after its copyright line, word for word.
	diff <(sed -n '/^License: BSD-2-Clause$/,$p' "$cp" | tail -n +2 |
		sed -n '/^ /p' | sed 's/^ \.$//; s/^ //') \
		<(sed '1,/^Copyright/d' "$TOP/LICENSE" | sed '1{/^$/d}')
	refute grep -qi 'none-chosen\|no licence' "$cp"
}

# licence_missing TOP: the project's own sources, scripts and units (by
# name: C, assembly, Python, shell, bats, CMake, systemd units, gnuplot,
# YAML, fuzz dictionaries and suppressions, man pages; and every file
# that starts with "#!") under src, tests, bench, systemd, packaging,
# man, conf and .ci, and the top CMakeLists.txt, that lack
# the SPDX line in their first 3 lines.  Data are left out: the fuzz
# corpora, bench/results, and the Debian metadata files (control,
# changelog, copyright, ...), whose formats have no room for it.
licence_missing() {
	local f top=$1
	(cd "$top" && find src tests bench systemd packaging man conf .ci \
		CMakeLists.txt -type f \
		! -path '*/corpus/*' ! -path 'bench/results/*' \
		! -path '*/__pycache__/*' -print) |
	while read -r f; do
		case $f in
		*.c | *.h | *.S | *.py | *.sh | *.bash | *.bats | *.cmake | \
			*/CMakeLists.txt | CMakeLists.txt | *.service | \
			*.socket | *.gp | *.yml | *.dict | *.supp | \
			man/*.[1-9]) ;;
		*) head -c 2 "$top/$f" | grep -q '^#!' || continue ;;
		esac
		head -n 3 "$top/$f" |
			grep -q 'SPDX-License-Identifier: BSD-2-Clause' ||
			echo "$f"
	done
}

@test "every source, script and unit file says SPDX-License-Identifier: BSD-2-Clause" {
	once_per_build
	grep -q '^BSD 2-Clause License$' "$TOP/LICENSE"
	grep -q '^Copyright (c) 2026 aio-echod contributors$' "$TOP/LICENSE"
	run licence_missing "$TOP"
	echo "without the line: $output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# The check sees a file that lacks it, and a script by its "#!".
	local probe=$BATS_TEST_TMPDIR/tree
	mkdir -p "$probe"/{src,tests/fuzz/corpus/x,bench,systemd,packaging,man,conf,.ci}
	touch "$probe/CMakeLists.txt"
	printf '/* no licence line */\n' >"$probe/src/a.c"
	printf '#!/bin/sh\n' >"$probe/packaging/hook"
	printf '#!/bin/sh\n# SPDX-License-Identifier: BSD-2-Clause\n' \
		>"$probe/bench/b"
	printf 'data\n' >"$probe/tests/fuzz/corpus/x/c.c"
	run licence_missing "$probe"
	[ "$(sort <<<"$output" | tr '\n' ' ')" = "CMakeLists.txt packaging/hook src/a.c " ]
}

@test "the packaged daemon passes -n on the packaged /etc/aio-echod.conf" {
	need_deb
	run "$ROOT/usr/sbin/aio-echod" -n -f "$ROOT/etc/aio-echod.conf"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "configuration OK" ]
}

@test "the configuration's commented examples (a proxy, the edge) pass -n once uncommented" {
	need_deb
	awk '
	/^  # \{$/ { inb = 1; if (nb++) print "  ," }
	inb { sub(/^  # /, "  "); print; if ($0 ~ /^  \}$/) inb = 0; next }
	/name = "echo-unix"/ { u = 1 }
	u && /^  \}$/ { print "  },"; u = 0; next }
	{ print }' "$ROOT/etc/aio-echod.conf" >"$CONF"
	grep -q 'service = "proxy"' "$CONF"
	grep -q 'proxy_protocol = true' "$CONF"
	run "$ROOT/usr/sbin/aio-echod" -n -f "$CONF"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "the configuration echoes on 127.0.0.1:7 as \"echo\"" {
	need_deb
	grep -q 'name = "echo";' "$ROOT/etc/aio-echod.conf"
	grep -q 'address = "127.0.0.1:7";' "$ROOT/etc/aio-echod.conf"
}

@test "the configuration serves metrics on 127.0.0.1:9707 only" {
	need_deb
	grep -A 3 'name = "metrics";' "$ROOT/etc/aio-echod.conf" |
		grep -q 'address = "127.0.0.1:9707";'
	[ "$(grep -c 'service = "metrics";' "$ROOT/etc/aio-echod.conf")" -eq 1 ]
}

@test "the packaged daemon serves echo on loopback and stops cleanly" {
	need_deb
	local port
	port=$(free_port)
	echo_conf "127.0.0.1:$port"
	AIO_BIN=$ROOT/usr/sbin/aio-echod start_daemon
	run "${CLIENT[@]}" echo "127.0.0.1:$port" --bytes 65536
	echo "$output"
	[ "$status" -eq 0 ]
	stop_daemon
}

@test "the units in the package are those of systemd/" {
	need_deb
	local d
	d=$(dirname "$(find "$ROOT" -name aio-echod.service)")
	cmp "$d/aio-echod.service" "$TOP/systemd/aio-echod.service"
	cmp "$d/aio-echod.socket" "$TOP/systemd/aio-echod.socket"
}

@test "the service is enabled and started on install; the socket is neither" {
	need_deb
	grep -q "enable 'aio-echod.service'" "$CONTROL/postinst"
	grep -q "deb-systemd-invoke .*'aio-echod.service'" "$CONTROL/postinst"
	# The socket's lines only keep an administrator's own choice.
	grep -q "debian-installed 'aio-echod.socket'" "$CONTROL/postinst"
	[ "$(grep -c "deb-systemd-invoke .*aio-echod.socket" "$CONTROL/postinst")" -eq 0 ]
	# ...and removal stops it, in case it was started by hand.
	grep -q "deb-systemd-invoke stop aio-echod.socket" "$CONTROL/prerm"
}

@test "logrotate signals the daemon with SIGUSR1 and does not copytruncate" {
	need_deb
	local f=$ROOT/etc/logrotate.d/aio-echod
	grep -q '^/var/log/aio-echod/\*\.log ' "$f"
	grep -q 'systemctl kill .*-s USR1 aio-echod.service' "$f"
	[ "$(grep -v '^ *#' "$f" | grep -c copytruncate)" -eq 0 ]
}

@test "the man pages format without warnings" {
	need_deb
	local page out
	for page in "$ROOT"/usr/share/man/man8/aio-echod.8.gz \
		"$ROOT"/usr/share/man/man5/aio-echod.conf.5.gz; do
		out=$(zcat "$page" | groff -ww -z -mandoc 2>&1)
		echo "$page: $out"
		[ -z "$out" ]
	done
}
