#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Open N connections to ADDR, echo one byte on each, and hold them all,
idle, until killed.  Prints "holding N" once they are all open.

    idle_hold.py ADDR N
"""
import resource
import socket
import sys
import threading


def main():
    addr, n = sys.argv[1], int(sys.argv[2])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    host, _, port = addr.rpartition(":")
    held = []
    for _ in range(n):
        s = socket.create_connection((host, int(port)), timeout=30)
        s.sendall(b"x")
        if s.recv(1) != b"x":
            print("no echo", file=sys.stderr)
            return 1
        held.append(s)
    print(f"holding {n}", flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
