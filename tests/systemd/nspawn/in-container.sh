#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs inside the container that run.sh boots, as ci-tests.service: the
# package from /ci-in under a real systemd.  Results go to
# /ci-out/results.txt, and the journal to /ci-out/journal.txt.
set -u
exec > >(tee -a /ci-out/results.txt) 2>&1

S=aio-echod.service
passed=0
failed=0
check() {
	local d=$1
	shift
	if "$@"; then
		echo "ok - $d"
		passed=$((passed + 1))
	else
		echo "not ok - $d"
		failed=$((failed + 1))
	fi
}
prop() { systemctl show -p "$2" --value "$1"; }
# wait_for COMMAND...: up to 15 s.
wait_for() {
	local i
	for i in $(seq 150); do
		"$@" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# send ADDRESS LINE: one line to a socat address; prints the answer.
send() { printf '%s\n' "$2" | socat -T3 - "$1" 2>/dev/null; }
journal_has() { journalctl -u "$S" --no-pager -q | grep -q -- "$1"; }
no_warnings() { [ -z "$(journalctl -u "$S" -p warning --no-pager -q)" ]; }
not() { ! "$@"; }
restarted() { [ "$(prop "$S" NRestarts)" -gt "$1" ]; }

echo "# $(systemctl --version | head -n 1), $(systemd-detect-virt)"

dpkg -i /ci-in/aio-echod_*.deb >/ci-out/dpkg-install.log 2>&1
check "dpkg -i" [ $? -eq 0 ]
check "the service is enabled" systemctl is-enabled --quiet "$S"
check "the service is active after install" systemctl is-active --quiet "$S"
check "the socket is not enabled" not systemctl is-enabled --quiet aio-echod.socket
check "the socket is not active" not systemctl is-active --quiet aio-echod.socket
out=$(systemd-analyze verify --man=no /lib/systemd/system/aio-echod.service \
	/lib/systemd/system/aio-echod.socket 2>&1)
check "verify on the installed units prints nothing${out:+: $out}" [ -z "$out" ]
score=$(systemd-analyze security "$S" 2>/dev/null | tail -n 1)
check "online exposure at most 1.5 (${score##*: })" \
	bash -c "systemd-analyze security --threshold=15 $S >/dev/null 2>&1"

check "echo on 127.0.0.1:7" [ "$(send TCP:127.0.0.1:7 hello)" = hello ]
check "echo on /run/aio-echod/echo.sock" \
	[ "$(send UNIX-CONNECT:/run/aio-echod/echo.sock hi)" = hi ]
# scrape PATH: an HTTP/1.0 GET of the packaged metrics listener.
scrape() {
	printf 'GET %s HTTP/1.0\r\n\r\n' "$1" | socat -T3 - TCP:127.0.0.1:9707 2>/dev/null
}
check "metrics on 127.0.0.1:9707 count the echo clients" \
	bash -c "$(declare -f scrape); scrape /metrics | grep -qx 'aio_echod_connections_accepted_total{listener=\"echo\"} 1'"
check "systemctl status shows the daemon's STATUS= ($(prop "$S" StatusText))" \
	bash -c "systemctl show -p StatusText --value $S | grep -q 'listeners on'"
pid=$(prop "$S" MainPID)
uid=$(ps -o uid= -p "$pid" | tr -d ' ')
check "runs as a dynamic user (uid $uid)" [ "$uid" -ne 0 ]
check "/run/aio-echod is 0755 and the daemon's" \
	[ "$(stat -c '%a %u' /run/aio-echod)" = "755 $uid" ]
check "ExecStartPre checked the configuration" wait_for journal_has "configuration OK"
check "no warnings in the journal" no_warnings

# Reload: a new listener, in the same process.
cp /etc/aio-echod.conf /tmp/shipped.conf
sed -i 's|^listeners = (|listeners = (\n  { name = "more"; address = "127.0.0.1:6008"; service = "echo"; },|' \
	/etc/aio-echod.conf
systemctl reload "$S"
check "systemctl reload" [ $? -eq 0 ]
check "the reload is applied: a new listener echoes" \
	wait_for bash -c "[ \"\$(printf 'r\n' | socat -T3 - TCP:127.0.0.1:6008 2>/dev/null)\" = r ]"
check "the same main pid after reload" [ "$(prop "$S" MainPID)" = "$pid" ]
check "STATUS= counts the reload" \
	bash -c "systemctl show -p StatusText --value $S | grep -q '1 reloads'"
# A broken file: refused, the daemon runs on, a warning in the journal.
echo 'listeners = (' >/etc/aio-echod.conf
systemctl reload "$S"
check "a reload with a broken file keeps the old configuration" \
	wait_for journal_has "reload failed, running the previous configuration"
check "still echoing after the refused reload" [ "$(send TCP:127.0.0.1:6008 x)" = x ]
check "journalctl -p warning shows the warning" \
	wait_for bash -c "journalctl -u $S -p warning --no-pager -q | grep -q 'reload failed'"
check "journalctl -p warning leaves out info lines" \
	not bash -c "journalctl -u $S -p warning --no-pager -q | grep -q 'listening on'"
cp /tmp/shipped.conf /etc/aio-echod.conf
systemctl restart "$S"

# Socket activation: the example socket hands 127.0.0.1:7 to the
# listener named "echo".
systemctl stop "$S"
systemctl start aio-echod.socket
check "the socket listens while the service is stopped" \
	bash -c "systemctl is-active --quiet aio-echod.socket && ! systemctl is-active --quiet $S"
check "the first client starts the service and is echoed" \
	[ "$(send TCP:127.0.0.1:7 activated)" = activated ]
check "the listener took systemd's socket" \
	wait_for journal_has "echo: listening on 127.0.0.1:7 (echo, socket from systemd)"
systemctl stop "$S" aio-echod.socket
systemctl start "$S"
pid=$(prop "$S" MainPID)

# Access logs and logrotate.  minbase has no /etc/hosts, which the proxy's
# upstream name needs.
printf '127.0.0.1 localhost\n::1 localhost\n' >/etc/hosts
cat >/etc/aio-echod.conf <<'EOC'
listeners = (
  { name = "echo"; address = "127.0.0.1:7"; service = "echo";
    access_log = "/var/log/aio-echod/echo.log"; },
  { name = "px"; address = "127.0.0.1:6007"; service = "proxy";
    upstreams = ( "localhost:7" );
    access_log = "/var/log/aio-echod/px.log"; }
);
EOC
systemctl restart "$S"
check "restart with access logs" [ $? -eq 0 ]
check "proxy to a named upstream" [ "$(send TCP:127.0.0.1:6007 px)" = px ]
check "access log written in /var/log/aio-echod" \
	wait_for grep -q ' echo 127.0.0.1:' /var/log/aio-echod/echo.log
logrotate -f /etc/logrotate.d/aio-echod
check "logrotate -f" [ $? -eq 0 ]
check "echo.log rotated to echo.log.1" [ -s /var/log/aio-echod/echo.log.1 ]
check "SIGUSR1 reopened the logs" wait_for journal_has "SIGUSR1"
send TCP:127.0.0.1:7 after >/dev/null
check "the daemon wrote a new echo.log" \
	wait_for grep -q ' echo 127.0.0.1:' /var/log/aio-echod/echo.log
check "the new echo.log is the daemon's, mode 0640" \
	[ "$(stat -c '%a %u' /var/log/aio-echod/echo.log)" = "640 $(ps -o uid= -p "$(prop "$S" MainPID)" | tr -d ' ')" ]

cp /etc/aio-echod.conf /tmp/good.conf
echo 'bogus_key = 1;' >>/etc/aio-echod.conf
# The tests above started the unit more often than StartLimitBurst=
# allows in 10 s: clear the count, or systemd refuses before -n runs.
systemctl reset-failed "$S"
systemctl restart "$S" 2>/dev/null
check "a bad configuration fails the start" [ $? -ne 0 ]
check "its file:line error is in the journal" \
	wait_for journal_has '/etc/aio-echod.conf:[0-9]*: unknown key "bogus_key"'
cp /tmp/good.conf /etc/aio-echod.conf
systemctl reset-failed "$S"
systemctl start "$S"
check "starts again once fixed" systemctl is-active --quiet "$S"

# socket_group: refused by the unit's system call filter (EPERM, logged),
# allowed by the drop-in that aio-echod.conf(5) gives.
groupadd echoers
cat >/etc/aio-echod.conf <<'EOC'
listeners = (
  { name = "local"; address = "unix:/run/aio-echod/echo.sock";
    service = "echo"; socket_mode = "0660"; socket_group = "echoers"; }
);
EOC
systemctl restart "$S" 2>/dev/null
check "socket_group fails under the plain unit" [ $? -ne 0 ]
check "with an error in the journal, not SIGSYS" \
	bash -c "journalctl -u $S --no-pager -q | grep 'listener local' | grep -q 'Operation not permitted'"
mkdir -p /etc/systemd/system/aio-echod.service.d
printf '[Service]\nSupplementaryGroups=echoers\nSystemCallFilter=@chown\n' \
	>/etc/systemd/system/aio-echod.service.d/group.conf
systemctl daemon-reload
systemctl reset-failed "$S"
systemctl restart "$S"
check "socket_group works with the drop-in" systemctl is-active --quiet "$S"
check "the socket is 0660 in group echoers" \
	[ "$(stat -c '%a %G' /run/aio-echod/echo.sock)" = "660 echoers" ]
rm -r /etc/systemd/system/aio-echod.service.d
cp /tmp/good.conf /etc/aio-echod.conf
systemctl daemon-reload
systemctl restart "$S"

systemctl reset-failed "$S"
pid=$(prop "$S" MainPID)
n=$(prop "$S" NRestarts)
kill -STOP "$pid"
check "a stopped daemon is restarted by the watchdog" wait_for restarted "$n"
check "the watchdog timeout is in the journal" wait_for journal_has "Watchdog timeout"
check "active again under a new pid" \
	bash -c "sleep 1; systemctl is-active --quiet $S && [ \"\$(systemctl show -p MainPID --value $S)\" != $pid ]"

systemctl stop "$S"
check "systemctl stop" [ $? -eq 0 ]
check "a clean stop (Result=success)" [ "$(prop "$S" Result)" = success ]
check "the UNIX socket file is gone" [ ! -e /run/aio-echod/echo.sock ]

systemctl start "$S"
dpkg --purge aio-echod >/ci-out/dpkg-purge.log 2>&1
check "dpkg --purge" [ $? -eq 0 ]
check "the unit is gone" [ "$(prop "$S" LoadState)" = not-found ]
check "nothing answers on port 7" [ -z "$(send TCP:127.0.0.1:7 x)" ]
check "the logs are gone" \
	bash -c "[ ! -e /var/log/aio-echod ] && [ ! -e /var/log/private/aio-echod ]"

journalctl -b --no-pager -o short-monotonic >/ci-out/journal.txt 2>&1
echo "$passed passed, $failed failed"
# Let tee write the last line before the unit ends and takes it along.
exec >&- 2>&-
wait
[ "$failed" -eq 0 ]
