#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Test client for aio-echod's edge: PROXY protocol headers, source
addresses, per-source limits.

Each subcommand exits 0 when what it checks holds, 1 with a reason on
stderr when it does not.  Every wait has a deadline (--timeout).

  header ADDR KIND [--split] [--data N] [--expect echo|reset] [--bind IP]
      Send a PROXY header of KIND, then N bytes of data; expect the data
      echoed byte-exact (the header was taken off the stream, not a byte
      more) or a reset.  KIND: v1, v1-tcp6, v1-unknown, v2, v2-tcp6,
      v2-local, v2-unix, v2-tlv, v1-nocrlf (108 bytes, no CRLF),
      v2-short (a length too short for its family), v2-badcmd, garbage,
      none (send nothing: wait for the daemon's cut).  --split writes
      the header one byte at a time; --delay S waits S seconds before
      the header; --src and --sport set the address the header names.
  sources ADDR N
      Connect once from each of N distinct addresses in 127.0.0.0/8
      (127.1.0.0 upwards), 500 at a time, each closed with a reset at
      once; print "connected N".
  conns ADDR N [--bind IP]
      Open N connections from IP one after another, each proven served
      by an echo or refused by a reset; hold them all; print
      "served S refused R", then close them.
"""
import argparse
import ipaddress
import os
import socket
import struct
import sys
import time

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(cmd, fam, body):
    return SIG + bytes([0x20 | cmd, fam]) + struct.pack("!H", len(body)) + body


def header(kind, src, sport):
    dst, dport = "127.0.0.1", 7
    if kind == "v1":
        return f"PROXY TCP4 {src} {dst} {sport} {dport}\r\n".encode()
    if kind == "v1-tcp6":
        return f"PROXY TCP6 {src} ::1 {sport} {dport}\r\n".encode()
    if kind == "v1-unknown":
        return b"PROXY UNKNOWN\r\n"
    if kind == "v1-nocrlf":
        return b"PROXY TCP4 " + b"1" * 97
    if kind in ("v2", "v2-tlv", "v2-short", "v2-badcmd"):
        body = (ipaddress.IPv4Address(src).packed +
                ipaddress.IPv4Address(dst).packed +
                struct.pack("!HH", sport, dport))
        if kind == "v2-tlv":
            body += bytes([0x01]) + struct.pack("!H", 2) + b"h2"
            body += bytes([0x04]) + struct.pack("!H", 3) + b"\0\0\0"
        if kind == "v2-short":
            return v2(1, 0x11, body[:8])
        return v2(2 if kind == "v2-badcmd" else 1, 0x11, body)
    if kind == "v2-tcp6":
        body = (ipaddress.IPv6Address(src).packed +
                ipaddress.IPv6Address("::1").packed +
                struct.pack("!HH", sport, dport))
        return v2(1, 0x21, body)
    if kind == "v2-local":
        return v2(0, 0x00, b"")
    if kind == "v2-unix":
        return v2(1, 0x31, src.encode().ljust(108, b"\0") +
                  b"/run/x.sock".ljust(108, b"\0"))
    if kind == "garbage":
        return b"GET / HTTP/1.0\r\n\r\n"
    if kind == "none":
        return b""
    raise SystemExit(f"unknown kind {kind}")


def connect(addr, bind, timeout):
    host, _, port = addr.rpartition(":")
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if bind:
        s.bind((bind, 0))
    s.connect((host, int(port)))
    return s


def read_all(s, n):
    got = b""
    while len(got) < n:
        b = s.recv(n - len(got))
        if not b:
            break
        got += b
    return got


def cmd_header(a):
    hdr = header(a.kind, a.src, a.sport)
    data = os.urandom(a.data)
    try:
        s = connect(a.addr, a.bind, a.timeout)
        if a.delay:
            time.sleep(a.delay)
        if a.split:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(hdr)):
                s.sendall(hdr[i:i + 1])
                time.sleep(0.002)
            s.sendall(data)
        else:
            s.sendall(hdr + data)	# one segment: header and data
        got = read_all(s, len(data)) if data else s.recv(1)
        if a.expect == "reset":
            # Without data, a reset may come as ECONNRESET on recv; a
            # clean EOF is a failure.
            if got == b"" or got is None:
                raise AssertionError("clean EOF where a reset was expected")
            raise AssertionError(f"served {len(got)} bytes where a reset "
                                 "was expected")
    except (ConnectionResetError, BrokenPipeError):
        if a.expect == "reset":
            print("reset")
            return
        raise AssertionError("reset where an echo was expected")
    if got != data:
        raise AssertionError(f"sent {len(data)} bytes after the header, "
                             f"got {len(got)} back, "
                             f"{'equal' if got == data[:len(got)] else 'different'}")
    s.shutdown(socket.SHUT_WR)
    if s.recv(1) != b"":
        raise AssertionError("bytes past the echo")
    print("echoed")


def cmd_conns(a):
    held, served, refused = [], 0, 0
    for _ in range(a.n):
        try:
            s = connect(a.addr, a.bind, a.timeout)
            s.sendall(b"p")
            if s.recv(1) != b"p":
                raise ConnectionResetError
            held.append(s)
            served += 1
        except (ConnectionResetError, BrokenPipeError):
            refused += 1
    print(f"served {served} refused {refused}", flush=True)
    for s in held:
        s.close()


def cmd_sources(a):
    host, _, port = a.addr.rpartition(":")
    done, base = 0, (127 << 24) | (1 << 16)
    linger = struct.pack("ii", 1, 0)
    while done < a.n:
        batch = []
        for i in range(done, min(done + 500, a.n)):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            s.bind((socket.inet_ntoa(struct.pack("!I", base + i)), 0))
            s.setblocking(False)
            s.connect_ex((host, int(port)))
            batch.append(s)
        for s in batch:
            s.setblocking(True)
            s.settimeout(a.timeout)
            try:
                s.getpeername()
            except OSError:
                # Not connected yet: wait for the handshake.
                s.send(b"")
            s.close()
        done += len(batch)
    print(f"connected {done}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--timeout", type=float, default=10)
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("header")
    h.add_argument("addr")
    h.add_argument("kind")
    h.add_argument("--split", action="store_true")
    h.add_argument("--delay", type=float, default=0)
    h.add_argument("--data", type=int, default=1000)
    h.add_argument("--expect", default="echo")
    h.add_argument("--bind")
    h.add_argument("--src", default="192.0.2.7")
    h.add_argument("--sport", type=int, default=4242)
    c = sub.add_parser("conns")
    c.add_argument("addr")
    c.add_argument("n", type=int)
    c.add_argument("--bind")
    c = sub.add_parser("sources")
    c.add_argument("addr")
    c.add_argument("n", type=int)
    a = p.parse_args()
    try:
        {"header": cmd_header, "conns": cmd_conns,
         "sources": cmd_sources}[a.cmd](a)
    except (AssertionError, OSError) as e:
        print(f"{a.cmd}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
