#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Has the daemon accepted the clients of a loopback TCP listener?

    accepted.py PORT N

Exits 0 when at least N connections to 127.0.0.1:PORT are open on the
daemon's side (established, or in CLOSE_WAIT once the client has
half-closed) and the listening socket's accept queue is empty (so the
daemon has taken every one of them with accept(2)), 1 otherwise.  Reads
/proc/net/tcp, so it needs no ss(8).  Poll it with wait_until.
"""
import sys

LISTEN, OPEN = "0A", ("01", "08")  # 08: CLOSE_WAIT


def main():
    port, want = int(sys.argv[1]), int(sys.argv[2])
    opened, backlog, listening = 0, 0, False
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, state = fields[1], fields[3]
            if int(local.split(":")[1], 16) != port:
                continue
            if state == LISTEN:
                listening = True
                backlog += int(fields[4].split(":")[1], 16)
            elif state in OPEN:
                opened += 1
    return 0 if listening and backlog == 0 and opened >= want else 1


if __name__ == "__main__":
    sys.exit(main())
