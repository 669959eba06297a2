#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Clients for tests/balance.bats: which upstream each one reached.

The upstreams run tests/tools/upstream.py's "tell" mode: each sends its
own port first, so a client knows where the proxy sent it.

  balance.py seq ADDR:PORT N
      N clients one after another, each closed once it knows; prints
      the ports in order, space-separated.  A client the proxy resets
      or closes without a port prints "-".
  balance.py hold ADDR:PORT N
      N clients opened one after another and all kept open (each
      opened once the last knows its upstream); prints "PORT COUNT"
      per upstream of the clients open, sorted by port, then ".".  Then
      reads commands from stdin until it closes: "close PORT" closes
      the clients on that upstream; "open M" opens M more as before;
      each then prints the counts again.
  balance.py sources ADDR:PORT COUNT
      One client from each of 127.0.0.1 ... 127.0.0.COUNT (bound
      before connecting); prints "SRC PORT" per line.
  balance.py timed ADDR:PORT
      One client: prints "PORT MS", the time from connect() to knowing
      its upstream (or "- MS" if it was reset or closed first).
"""
import socket
import sys
import time


def parse(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def open_one(addr, src=None):
    """A client, and the upstream port it reached ("-" if none)."""
    s = socket.socket()
    s.settimeout(15)
    if src:
        s.bind((src, 0))
    got = b""
    try:
        s.connect(addr)
        while not got.endswith(b"\n"):
            data = s.recv(64)
            if not data:
                break
            got += data
    except (ConnectionResetError, socket.timeout):
        pass
    port = got.decode().strip() if got.endswith(b"\n") else "-"
    return s, port


def main():
    cmd, addr = sys.argv[1], parse(sys.argv[2])
    if cmd == "seq":
        ports = []
        for _ in range(int(sys.argv[3])):
            s, port = open_one(addr)
            s.close()
            ports.append(port)
        print(" ".join(ports))
    elif cmd == "hold":
        held = [open_one(addr) for _ in range(int(sys.argv[3]))]
        while True:
            count = {}
            for _, port in held:
                count[port] = count.get(port, 0) + 1
            for port in sorted(count):
                print(port, count[port])
            print(".", flush=True)
            line = sys.stdin.readline().split()
            if not line:
                break
            if line[0] == "close":
                for s, port in held:
                    if port == line[1]:
                        s.close()
                held = [h for h in held if h[1] != line[1]]
            elif line[0] == "open":
                held += [open_one(addr) for _ in range(int(line[1]))]
    elif cmd == "sources":
        for i in range(1, int(sys.argv[3]) + 1):
            src = "127.0.0.%d" % i
            s, port = open_one(addr, src)
            s.close()
            print(src, port)
    elif cmd == "timed":
        t0 = time.monotonic()
        s, port = open_one(addr)
        print(port, "%.1f" % ((time.monotonic() - t0) * 1000))
        s.close()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
