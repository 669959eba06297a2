#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A slow but live reader, then a dead one, for the idle_timeout tests.

    slow_reader.py connect ADDR [options]   (a client of the daemon)
    slow_reader.py listen PORT [options]    (an upstream of the proxy)
    slow_reader.py stream ADDR [options]    (a client that only sends)

connect and listen read --chunk bytes every --every seconds for --live
seconds, then stop reading and wait, reading nothing, until the daemon
cuts the connection (a reset, or an EOF or hang-up on a UNIX socket).
They print "cut N s after the last read (M bytes read)" and exit 0; they
exit 1 if the connection ends while they still read ("cut while
reading"), or if it is not cut within --timeout.  connect first starts
sending --send bytes in a thread (an echo client), as fast as the daemon
takes them (with --half-close, it sends them first and then half-closes,
and --live 0 reads nothing at all); listen accepts one connection on 127.0.0.1:PORT (0: any
free port) and prints "listening PORT" first.  stream sends --send bytes
(default: until cut) and reads nothing, printing "cut after N bytes"
when the daemon cuts it; with --paced it sends --chunk bytes every
--every seconds for --live seconds instead, then holds the connection,
sending nothing and without a FIN, until the daemon cuts it.

--rcvbuf sets SO_RCVBUF before the connection exists.  A TCP peer's
reads show in the daemon's send queue only when its kernel reopens its
receive window, which it does once a good part of its buffer is free:
with Linux's default 128 KiB and loopback's 64 KiB segments, about every
108 KiB read (2.7 s at 4 KiB per 100 ms).  --rcvbuf 8192 (16 KiB in
effect) makes that about every 0.3 s.  Nothing here sleeps to wait for
the daemon: every wait has a deadline.
"""
import argparse
import select
import socket
import sys
import threading
import time

CUT = select.POLLHUP | select.POLLERR


def open_socket(addr, rcvbuf):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX)
        target = addr[5:]
    else:
        host, _, port = addr.rpartition(":")
        host = host.strip("[]")
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        target = (host, int(port))
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    return s, target


def cut(s):
    """Has the daemon cut s?  Looks without reading."""
    p = select.poll()
    p.register(s, select.POLLIN)
    return any(ev & CUT for _, ev in p.poll(0))


def send_all(s, n, sent):
    """Send n bytes (0: until it fails); sent[0] counts them."""
    block = b"s" * 65536
    try:
        while n == 0 or sent[0] < n:
            k = s.send(block[: 65536 if n == 0 else min(65536, n - sent[0])])
            sent[0] += k
    except OSError:
        pass


def read_slowly(s, a):
    """The live phase, then the dead one; returns the exit status."""
    s.setblocking(False)
    got = 0
    start = time.monotonic()
    last = start
    while time.monotonic() - start < a.live:
        try:
            # After a reset, recv() still returns what was buffered.
            if cut(s):
                raise ConnectionResetError("reset or hang-up")
            block = s.recv(a.chunk)
            if not block:
                raise ConnectionResetError("EOF")
            got += len(block)
            last = time.monotonic()
        except BlockingIOError:
            pass
        except OSError as exc:
            print(f"cut while reading, {time.monotonic() - start:.2f} s "
                  f"after the start ({got} bytes read): {exc}", flush=True)
            return 1
        time.sleep(a.every)
    print(f"stopped reading after {got} bytes", flush=True)
    end = last + a.timeout
    while not cut(s):
        if time.monotonic() > end:
            print(f"not cut within {a.timeout} s of the last read",
                  flush=True)
            return 1
        time.sleep(0.005)
    print(f"cut {time.monotonic() - last:.2f} s after the last read "
          f"({got} bytes read)", flush=True)
    return 0


def cmd_connect(a):
    s, target = open_socket(a.addr, a.rcvbuf)
    s.settimeout(a.timeout)
    s.connect(target)
    if a.half_close:
        s.sendall(b"s" * a.send)
        s.shutdown(socket.SHUT_WR)
    elif a.send:
        threading.Thread(target=send_all, args=(s.dup(), a.send, [0]),
                         daemon=True).start()
    return read_slowly(s, a)


def cmd_listen(a):
    ls, _ = open_socket("127.0.0.1:0", a.rcvbuf)
    ls.bind(("127.0.0.1", int(a.addr)))
    ls.listen(1)  # after SO_RCVBUF: accepted sockets inherit it
    print(f"listening {ls.getsockname()[1]}", flush=True)
    ls.settimeout(a.timeout)
    s, _ = ls.accept()
    return read_slowly(s, a)


def cmd_stream(a):
    s, target = open_socket(a.addr, a.rcvbuf)
    s.settimeout(a.timeout)
    s.connect(target)
    s.settimeout(None)
    print("streaming", flush=True)
    sent = [0]
    if not a.paced:
        send_all(s, a.send, sent)
        print(f"cut after {sent[0]} bytes", flush=True)
        return 0
    start = time.monotonic()
    try:
        while time.monotonic() - start < a.live:
            s.sendall(b"p" * a.chunk)
            sent[0] += a.chunk
            time.sleep(a.every)
    except OSError as exc:
        print(f"cut while sending, {time.monotonic() - start:.2f} s after "
              f"the start ({sent[0]} bytes sent): {exc}", flush=True)
        return 1
    print(f"holding after {sent[0]} bytes", flush=True)
    last = time.monotonic()
    while not cut(s):
        if time.monotonic() > last + a.timeout:
            print(f"not cut within {a.timeout} s", flush=True)
            return 1
        time.sleep(0.005)
    print(f"cut {time.monotonic() - last:.2f} s after the last send "
          f"({sent[0]} bytes sent)", flush=True)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("cmd", choices=("connect", "listen", "stream"))
    p.add_argument("addr", help="ADDR, or PORT for listen")
    p.add_argument("--send", type=int, default=0,
                   help="bytes to send (stream: 0 is until cut)")
    p.add_argument("--half-close", action="store_true",
                   help="connect: send, then half-close")
    p.add_argument("--paced", action="store_true",
                   help="stream: --chunk every --every for --live s")
    p.add_argument("--rcvbuf", type=int, default=0)
    p.add_argument("--chunk", type=int, default=4096)
    p.add_argument("--every", type=float, default=0.1)
    p.add_argument("--live", type=float, default=3.0,
                   help="seconds of slow reading before stopping")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds to wait for a cut after the last read")
    a = p.parse_args()
    try:
        return globals()["cmd_" + a.cmd](a)
    except OSError as exc:
        print(f"{a.cmd}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
