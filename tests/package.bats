#!/usr/bin/env bats
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

# A loopback port in 31000-31999 that was free a moment ago.
free_port_31k() {
	python3 -c '
import random, socket
for p in random.sample(range(31000, 32000), 1000):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()'
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

@test "lintian reports no errors" {
	need_deb
	command -v lintian >/dev/null || skip "lintian is not installed"
	run lintian "$AIO_DEB"
	echo "$output"
	[ "$(grep -c '^E: ' <<<"$output")" -eq 0 ]
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
	port=$(free_port_31k)
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
