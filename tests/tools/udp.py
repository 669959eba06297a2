#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A UDP echo client for tests/udp.bats.

  udp.py echo ADDR:PORT [--sizes 1,1400,65507] [--to A,B] [--sport P]
      Send one datagram of each size (a pattern, different per size) to
      PORT at each address of --to (default: ADDR), and check that each
      reply is byte-exact and comes from the address and port it was sent
      to.  Prints "ok N" (N replies checked) and exits 0, else a reason
      and exits 1.  --sport: send from that source port; --clients N:
      all that from N sockets in turn (N source ports).
  udp.py silent ADDR:PORT [--sport P] [--src HOST] [--broadcast]
                 [--wait-ms 500]
      Send a datagram from source port P (of HOST, default any); exit 0
      if no reply comes within --wait-ms (printing "no reply"), 1 if one
      does, 77 if P cannot be bound (a port below 1024 without the
      privilege).  --broadcast: ADDR may be a broadcast address.
  udp.py burst ADDR:PORT --count N [--size 16] [--wait-ms 1000]
      Send N datagrams from one socket (paced in groups of 50, so that
      none overflows the daemon's receive buffer), then collect
      replies until --wait-ms passes without one.  Prints "sent N
      replies M".
"""
import argparse
import errno
import socket
import sys
import time


def parse_addr(text):
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return family, host, int(port)


def pattern(size, salt):
    return bytes(((i * 7 + salt) & 0xFF) for i in range(size))


def sock_for(family, sport=0, src=""):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    if sport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((src or ("::" if family == socket.AF_INET6 else "0.0.0.0"),
                sport))
    return s


def cmd_echo(a):
    family, host, port = parse_addr(a.addr)
    targets = a.to.split(",") if a.to else [host]
    sizes = [int(x) for x in a.sizes.split(",")]
    checked = 0
    for c in range(a.clients):
        r = echo_one(a, family, port, targets, sizes, checked)
        if r < 0:
            return 1
        checked = r
    print("ok %d" % checked)
    return 0


def echo_one(a, family, port, targets, sizes, checked):
    s = sock_for(family, a.sport)
    s.settimeout(a.wait_ms / 1000)
    for t in targets:
        for n, size in enumerate(sizes):
            data = pattern(size, n + checked)
            s.sendto(data, (t, port))
            try:
                reply, src = s.recvfrom(70000)
            except socket.timeout:
                print("no reply to %d bytes sent to %s" % (size, t))
                return -1
            if reply != data:
                print("reply to %d bytes sent to %s differs (%d bytes)"
                      % (size, t, len(reply)))
                return -1
            if src[0] != t or src[1] != port:
                print("reply to %s:%d came from %s:%d" % (t, port, src[0],
                                                         src[1]))
                return -1
            checked += 1
    s.close()
    return checked


def cmd_silent(a):
    family, host, port = parse_addr(a.addr)
    try:
        s = sock_for(family, a.sport, a.src)
    except OSError as e:
        if e.errno == errno.EACCES:
            print("cannot bind port %d: %s" % (a.sport, e))
            return 77
        raise
    if a.broadcast:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.settimeout(a.wait_ms / 1000)
    s.sendto(b"loop?", (host, port))
    try:
        s.recvfrom(70000)
    except socket.timeout:
        print("no reply")
        return 0
    print("a reply came to source port %d" % s.getsockname()[1])
    return 1


def rx_queued(port):
    """Bytes waiting in the receive queues of UDP sockets on port."""
    total = 0
    for f in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = open(f).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                total += int(fields[4].split(":")[1], 16)
    return total


def wait_drained(port, deadline):
    """Until nothing waits on port's sockets, or the deadline."""
    while rx_queued(port) > 0 and time.monotonic() < deadline:
        time.sleep(0.001)


def cmd_burst(a):
    family, host, port = parse_addr(a.addr)
    s = sock_for(family)
    data = b"b" * a.size
    # In groups of 50, each once the daemon's sockets on the port have
    # taken the last (their receive queues are empty), so that a queue
    # (about 270 small datagrams by default) never overflows, however
    # slow the daemon is now: every datagram must reach it for its
    # counts to be exact.
    for i in range(a.count):
        s.sendto(data, (host, port))
        if i % 50 == 49:
            wait_drained(port, time.monotonic() + 10)
    s.settimeout(a.wait_ms / 1000)
    got = 0
    try:
        while True:
            reply, _ = s.recvfrom(70000)
            if reply == data:
                got += 1
    except socket.timeout:
        pass
    print("sent %d replies %d" % (a.count, got))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo")
    e.add_argument("addr")
    e.add_argument("--sizes", default="1,1400,65507")
    e.add_argument("--to", default="")
    e.add_argument("--sport", type=int, default=0)
    e.add_argument("--clients", type=int, default=1)
    e.add_argument("--wait-ms", type=int, default=3000)
    q = sub.add_parser("silent")
    q.add_argument("addr")
    q.add_argument("--sport", type=int, default=0)
    q.add_argument("--src", default="")
    q.add_argument("--broadcast", action="store_true")
    q.add_argument("--wait-ms", type=int, default=500)
    b = sub.add_parser("burst")
    b.add_argument("addr")
    b.add_argument("--count", type=int, required=True)
    b.add_argument("--size", type=int, default=16)
    b.add_argument("--wait-ms", type=int, default=1000)
    a = p.parse_args()
    return {"echo": cmd_echo, "silent": cmd_silent, "burst": cmd_burst}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
