#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A proxied upstream vanishes mid-response: TCP gives up on it, and the
client must see a reset, never a clean EOF that makes the partial reply
look whole.

    unshare -n peer_vanishes.py DAEMON DIR

Runs in a private network namespace of its own (unshare -n), so that it
may bring up lo, shorten TCP's retries (net.ipv4.tcp_retries2 = 3: the
kernel gives up after about 3 s) and blackhole one loopback address
without touching the host.  The daemon proxies 127.0.0.1 to an upstream
on 127.0.0.3 with idle_timeout = 0, so only TCP's own timeout can end
the connection.  Prints "reset after N s" and exits 0, or exits 1.
"""
import re
import socket
import subprocess
import sys
import threading
import time


def main():
    daemon, tmp = sys.argv[1], sys.argv[2]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with open("/proc/sys/net/ipv4/tcp_retries2", "w") as f:
        f.write("3")
    ls = socket.socket()
    ls.bind(("127.0.0.3", 0))
    ls.listen(5)

    def upstream():
        conn, _ = ls.accept()
        conn.recv(100)
        conn.sendall(b"part 1 of a longer reply;")
        threading.Event().wait()
    threading.Thread(target=upstream, daemon=True).start()

    conf, log = f"{tmp}/vanish.conf", f"{tmp}/vanish.log"
    with open(conf, "w") as f:
        f.write('log_level = "debug";\nlisteners = ( { name = "px"; '
                'address = "127.0.0.1:7100"; service = "proxy"; '
                f'upstreams = ( "127.0.0.3:{ls.getsockname()[1]}" ); '
                'idle_timeout = 0; } );\n')
    d = subprocess.Popen([daemon, "-f", conf], stderr=open(log, "w"))
    try:
        end = time.monotonic() + 15
        while " ready: " not in open(log).read():
            if time.monotonic() > end:
                raise AssertionError("daemon not ready")
            time.sleep(0.02)
        c = socket.create_connection(("127.0.0.1", 7100), timeout=30)
        c.sendall(b"request 1")
        c.recv(100)
        subprocess.run(["ip", "route", "add", "blackhole", "127.0.0.3/32",
                        "table", "local"], check=True)
        c.sendall(b"request 2")  # the proxy's copy is never acknowledged
        t0 = time.monotonic()
        try:
            got = c.recv(100)
        except ConnectionResetError:
            print(f"reset after {time.monotonic() - t0:.1f} s")
        else:
            raise AssertionError(f"clean end ({got!r}) where the upstream "
                                 "vanished: a cut reply looks whole")
        end = time.monotonic() + 5
        while not re.search(r"px 127\.0\.0\.1:\d+: closed \(reset: "
                            r"Connection timed out\)", open(log).read()):
            if time.monotonic() > end:
                raise AssertionError("no 'closed (reset: Connection timed "
                                     "out)' in the daemon's log")
            time.sleep(0.02)
    except (AssertionError, OSError) as exc:
        print(f"peer_vanishes: {exc}", file=sys.stderr)
        sys.stderr.write(open(log).read())
        return 1
    finally:
        d.terminate()
        d.wait()
    # The stop after SIGTERM is clean (a sanitizer's report in the log
    # fails the test in its teardown, which reads every *.log in DIR).
    if d.returncode != 0:
        print(f"peer_vanishes: daemon exit {d.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
