#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Send fuzz corpus entries to a running daemon, one connection each.

    corpus_send.py proxyproto|http PORT < VERDICTS

VERDICTS are tests/fuzz/verdict.c's lines ("FILE done K", "FILE more",
"FILE invalid"; "FILE status N").  For each: connect to 127.0.0.1:PORT,
send the file, finish sending (FIN), read until the daemon closes, and
check the answer against what the parser decided:
  proxyproto (an echo listener with proxy_protocol = true):
    done K   the bytes after the header come back, then a marker sent
             after the file (so a header taken whole, with no byte after
             it, is told apart from a refusal), nothing else
    more, invalid   nothing comes back
  http (a metrics listener):
    status N   the first response's status is N (0: no response)
Prints one line per mismatch and "corpus_send: N entries, N wrong";
exits 1 if any was wrong.
"""
import socket
import sys

DEADLINE = 10.0
MARKER = b"\0after the header\n"


def exchange(port, data):
    """Send data, FIN, and return what came back before the close."""
    c = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    got = b""
    try:
        try:
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass        # reset before it read everything: a refusal
        while True:
            try:
                d = c.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            got += d
    finally:
        c.close()
    return got


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    n = wrong = 0
    for line in sys.stdin:
        fields = line.split()
        if not fields:
            continue
        path = fields[0]
        with open(path, "rb") as f:
            data = f.read()
        n += 1
        if mode == "proxyproto":
            if fields[1] == "done":
                got = exchange(port, data + MARKER)
                want = data[int(fields[2]):] + MARKER
            else:
                got = exchange(port, data)
                want = b""
            ok = got == want
            what = "%s: %d bytes back" % (" ".join(fields[1:]), len(want))
        else:
            got = exchange(port, data)
            status = int(fields[2])
            if status == 0:
                ok = got == b""
            else:
                ok = got.startswith(b"HTTP/1.1 %d " % status)
            what = "status %d" % status
        if not ok:
            wrong += 1
            print("wrong: %s: want %s, got %r" % (path, what, got[:120]))
    print("corpus_send: %d entries, %d wrong" % (n, wrong))
    return 1 if wrong or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
