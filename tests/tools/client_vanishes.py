#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""An echo client vanishes: TCP gives up on it, and the daemon must log
a reset with the kernel's error, not an idle timeout it never had.

    unshare -n client_vanishes.py DAEMON DIR write|read

Runs in a private network namespace of its own (unshare -n), as
peer_vanishes.py does, so that it may bring up lo, shorten TCP's retries
(net.ipv4.tcp_retries2 = 3: the kernel gives up after about 3 s) and
blackhole one loopback address without touching the host.  The daemon
echoes on 127.0.0.1 with idle_timeout = 0, so only TCP's own timeout can
end the connection.  The client, on 127.0.0.3, reads nothing, and its
window fills: with "write" it sends until the daemon stops reading (its
echo write is parked), with "read" it sends 256 KiB, which the daemon's
send buffer takes whole (it waits to read).  Then that address is
blackholed, and the daemon's window probes go unanswered: its write, or
its read, fails with ETIMEDOUT.  Prints "closed after N s" and exits 0,
or exits 1.
"""
import re
import socket
import subprocess
import sys
import time


def daemon_rx_queue(client_port):
    """Bytes the daemon has not read yet on its socket to the client."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local = int(fields[1].split(":")[1], 16)
            remote = int(fields[2].split(":")[1], 16)
            if (local, remote) == (7100, client_port):
                return int(fields[4].split(":")[1], 16)
    raise AssertionError("the daemon's socket is gone")


def main():
    daemon, tmp, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with open("/proc/sys/net/ipv4/tcp_retries2", "w") as f:
        f.write("3")
    conf, log = f"{tmp}/cvanish.conf", f"{tmp}/cvanish.log"
    with open(conf, "w") as f:
        f.write('log_level = "debug";\nlisteners = ( { name = "echo"; '
                'address = "127.0.0.1:7100"; service = "echo"; '
                'idle_timeout = 0; } );\n')
    d = subprocess.Popen([daemon, "-f", conf], stderr=open(log, "w"))
    try:
        end = time.monotonic() + 15
        while " ready: " not in open(log).read():
            if time.monotonic() > end:
                raise AssertionError("daemon not ready")
            time.sleep(0.02)
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.bind(("127.0.0.3", 0))
        c.settimeout(10)
        c.connect(("127.0.0.1", 7100))
        if mode == "read":
            c.sendall(b"s" * 262144)
            end = time.monotonic() + 10
            while daemon_rx_queue(c.getsockname()[1]) != 0:
                if time.monotonic() > end:
                    raise AssertionError("the daemon did not read it all")
                time.sleep(0.05)
        else:
            c.settimeout(0.5)
            try:  # until the daemon stops reading: its echo is stuck
                while True:
                    c.send(b"s" * 65536)
            except socket.timeout:
                pass
        subprocess.run(["ip", "route", "add", "blackhole", "127.0.0.3/32",
                        "table", "local"], check=True)
        t0 = time.monotonic()
        end = t0 + 30
        text = ""
        while "closed (" not in text:
            if time.monotonic() > end:
                raise AssertionError("the daemon never closed the "
                                     "connection")
            time.sleep(0.05)
            text = open(log).read()
        closed = (r"echo 127\.0\.0\.3:\d+: closed \(reset: Connection timed "
                  r"out\)")
        if mode == "read":  # all echoed: it waited to read
            closed += r" after \d+ ms, 262144 bytes in, 262144 bytes out"
        if not re.search(closed, text):
            raise AssertionError("closed, but not as 'closed (reset: "
                                 "Connection timed out)'")
        print(f"closed after {time.monotonic() - t0:.1f} s")
    except (AssertionError, OSError) as exc:
        print(f"client_vanishes: {exc}", file=sys.stderr)
        sys.stderr.write(open(log).read())
        return 1
    finally:
        d.terminate()
        d.wait()
    # The stop after SIGTERM is clean (a sanitizer's report in the log
    # fails the test in its teardown, which reads every *.log in DIR).
    if d.returncode != 0:
        print(f"client_vanishes: daemon exit {d.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
