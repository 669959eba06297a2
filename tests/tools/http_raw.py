#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Raw-socket HTTP clients for the metrics service's tests
(tests/metrics.bats): exact bytes, hostile clients, timings.

    http_raw.py [--timeout S] COMMAND ADDR ...

ADDR is written as the daemon reads it: 127.0.0.1:PORT, unix:/path.
DATA arguments are Python bytes literals without the b'': escapes such
as \\r\\n and \\x16 work.

  raw ADDR DATA [--fill N] [--shut] [--head]
        Send DATA in one write (with --fill, N bytes "a" are put after
        DATA's first "|"), half-close if --shut, then read until EOF and
        print what came, response by response (see report()), then
        "== eof after T s" (T from the last byte sent) or "== reset
        after T s".  --head: the answers are to HEAD requests (no body).
  requests ADDR DATA... [--then eof|open]
        On one connection: send each DATA, read its one response (by
        Content-Length) and print it; then, with --then eof, wait for
        EOF ("== eof after T s", T from the last response, and any
        bytes that came before it), or with --then open, check that the
        connection is still open 0.5 s later ("== open").
  slow ADDR N HEAD
        N clients at once that each send HEAD one byte a second (one
        process, selectors); print "connected N" once each has sent its
        first byte, then wait until the daemon has closed them all and
        print "closed N: STATUS/END=K ..." (STATUS the answer's, or
        "none"; END eof or reset; e.g. "408/eof=200") and "cut after
        MIN..MAX s" (from each client's connect).

Exit status 0 if the exchange went as described, 1 (reason on stderr)
if it did not: a timeout, or a reset where none may be.
"""
import argparse
import ast
import selectors
import socket
import sys
import time

TIMEOUT = 10.0


def connect(addr):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX)
        target = addr[5:]
    else:
        host, _, port = addr.rpartition(":")
        host = host.strip("[]")
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        target = (host, int(port))
    s.settimeout(TIMEOUT)
    s.connect(target)
    return s


def data_of(text):
    return ast.literal_eval("b'" + text.replace("'", "\\'") + "'")


def split_response(buf, head_only):
    """(status line, header lines, body, rest) of the response at the
    start of buf, or None if it is not whole yet."""
    end = buf.find(b"\r\n\r\n")
    if end == -1:
        return None
    lines = buf[:end].decode("latin-1").split("\r\n")
    length = 0
    for h in lines[1:]:
        name, _, value = h.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    start = end + 4
    if head_only:
        length = 0
    if len(buf) < start + length:
        return None
    return lines[0], lines[1:], buf[start:start + length], \
        buf[start + length:]


def report(buf, head_only):
    """Print each whole response in buf: its status line, its headers
    (indented), "  body N bytes: FIRST LINE"; then "trailing N bytes:
    ..." for what is not a whole response."""
    while buf:
        r = split_response(buf, head_only)
        if r is None or not r[0].startswith("HTTP/"):
            print(f"trailing {len(buf)} bytes: {buf[:60]!r}")
            return
        status, headers, body, buf = r
        print(status)
        for h in headers:
            print("  " + h)
        first = body.split(b"\n", 1)[0].decode("latin-1")
        print(f"  body {len(body)} bytes: {first}")


def read_to_end(s, deadline):
    """(bytes, "eof" | "reset" | "timeout")."""
    got = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return got, "timeout"
        s.settimeout(left)
        try:
            block = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return got, "reset"
        except socket.timeout:
            return got, "timeout"
        if not block:
            return got, "eof"
        got += block


def cmd_raw(a):
    data = data_of(a.data)
    if a.fill:
        first, _, second = data.partition(b"|")
        data = first + b"a" * a.fill + second
    s = connect(a.addr)
    try:
        s.sendall(data)
        if a.shut:
            s.shutdown(socket.SHUT_WR)
    except (ConnectionResetError, BrokenPipeError) as e:
        got, how = read_to_end(s, time.monotonic() + 1)
        report(got, a.head)
        raise AssertionError(f"reset while sending: {e}") from e
    t0 = time.monotonic()
    got, how = read_to_end(s, t0 + TIMEOUT)
    report(got, a.head)
    print(f"== {how} after {time.monotonic() - t0:.3f} s")
    if how != "eof":
        raise AssertionError(f"{how} where an EOF was due")


def read_response(s, deadline):
    buf = b""
    while True:
        r = split_response(buf, False)
        if r is not None:
            if r[3]:
                raise AssertionError(f"bytes after the response: {r[3]!r}")
            return buf
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no whole response, got {buf!r}")
        s.settimeout(left)
        block = s.recv(65536)
        if not block:
            raise AssertionError(f"EOF after {buf!r}")
        buf += block


def cmd_requests(a):
    s = connect(a.addr)
    deadline = time.monotonic() + TIMEOUT
    for d in a.data:
        s.sendall(data_of(d))
        report(read_response(s, deadline), False)
    t0 = time.monotonic()
    if a.then == "eof":
        got, how = read_to_end(s, t0 + TIMEOUT)
        report(got, False)
        print(f"== {how} after {time.monotonic() - t0:.3f} s")
        if how != "eof":
            raise AssertionError(f"{how} where an EOF was due")
    elif a.then == "open":
        got, how = read_to_end(s, t0 + 0.5)
        if how != "timeout" or got:
            raise AssertionError(f"{how} after {got!r}: the connection "
                                 "was to stay open")
        print("== open")


class Slow:
    """One client that sends its head a byte a second."""

    def __init__(self, addr, head):
        self.s = connect(addr)
        self.s.setblocking(False)
        self.head, self.sent, self.got = head, 0, b""
        self.began = time.monotonic()
        self.next = self.began
        self.end = None     # "eof" or "reset", and when

    def tick(self, now):
        if self.end is None and self.sent < len(self.head) and \
                now >= self.next:
            try:
                self.sent += self.s.send(self.head[self.sent:self.sent + 1])
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                pass
            self.next += 1.0

    def readable(self, now):
        try:
            block = self.s.recv(65536)
        except BlockingIOError:
            return
        except ConnectionResetError:
            block, how = None, "reset"
        else:
            how = "eof"
        if block:
            self.got += block
            return
        self.end = (how, now - self.began)


def cmd_slow(a):
    head = data_of(a.head)
    clients = [Slow(a.addr, head) for _ in range(a.n)]
    sel = selectors.DefaultSelector()
    for c in clients:
        sel.register(c.s, selectors.EVENT_READ, c)
        c.tick(time.monotonic())
    print(f"connected {a.n}", flush=True)
    deadline = time.monotonic() + TIMEOUT
    live = set(clients)
    while live:
        now = time.monotonic()
        if now > deadline:
            raise AssertionError(f"{len(live)} clients still open")
        for key, _ in sel.select(min(0.2, max(0.0, deadline - now))):
            c = key.data
            c.readable(time.monotonic())
            if c.end is not None:
                sel.unregister(c.s)
                c.s.close()
                live.discard(c)
        now = time.monotonic()
        for c in live:
            c.tick(now)
    tally = {}
    for c in clients:
        status = c.got.split(b"\r\n", 1)[0].decode("latin-1")
        code = status.split(" ")[1] if status.startswith("HTTP/") and \
            " " in status else "none"
        key = f"{code}/{c.end[0]}"
        tally[key] = tally.get(key, 0) + 1
    times = [c.end[1] for c in clients]
    print(f"closed {a.n}: " + " ".join(f"{k}={v}"
                                      for k, v in sorted(tally.items())))
    print(f"cut after {min(times):.2f}..{max(times):.2f} s")


def main():
    global TIMEOUT
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--timeout", type=float, default=10.0)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("raw")
    r.add_argument("addr")
    r.add_argument("data")
    r.add_argument("--fill", type=int, default=0)
    r.add_argument("--shut", action="store_true")
    r.add_argument("--head", action="store_true")
    q = sub.add_parser("requests")
    q.add_argument("addr")
    q.add_argument("data", nargs="+")
    q.add_argument("--then", choices=("eof", "open"))
    s = sub.add_parser("slow")
    s.add_argument("addr")
    s.add_argument("n", type=int)
    s.add_argument("head")
    a = p.parse_args()
    TIMEOUT = a.timeout
    try:
        globals()["cmd_" + a.cmd](a)
    except (AssertionError, OSError) as e:
        print(f"http_raw.py {a.cmd}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
