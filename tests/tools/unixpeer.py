#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""UNIX-socket peers for aio-echod's hygiene and log tests.

    unixpeer.py full PATH
    unixpeer.py named ADDR DIR NAME...

full     listen on PATH with a backlog of 0, fill the accept queue with
         non-blocking connects that are never accepted, print "full N"
         (N connects queued) and hold everything until killed
named    for each NAME (a Python string literal, so "a b\\n" works), bind a
         client socket to DIR/NAME (bound relative to DIR, so long names
         fit in sun_path), connect to the daemon at ADDR (unix:PATH),
         send a line, half-close, read the echo to EOF; print "done N"

Every wait has a deadline; nothing here sleeps to wait for the daemon.
"""
import ast
import errno
import os
import socket
import sys
import threading

TIMEOUT = 10.0


def cmd_full(path):
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(path)
    ls.listen(0)
    fillers = []
    while True:
        c = socket.socket(socket.AF_UNIX)
        c.setblocking(False)
        err = c.connect_ex(path)
        if err == errno.EAGAIN:
            c.close()
            break
        if err != 0:
            raise OSError(err, os.strerror(err))
        fillers.append(c)
        if len(fillers) > 100:
            raise AssertionError("the accept queue never filled")
    print(f"full {len(fillers)}", flush=True)
    threading.Event().wait()


def cmd_named(addr, directory, names):
    path = os.path.abspath(addr[5:])
    os.chdir(directory)
    for name in names:
        raw = ast.literal_eval(name)
        raw = raw.encode("latin-1") if isinstance(raw, str) else raw
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(TIMEOUT)
        s.bind(raw)
        s.connect(path)
        s.sendall(b"hi\n")
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            block = s.recv(4096)
            if not block:
                break
            got += block
        s.close()
        os.unlink(raw)
        if got != b"hi\n":
            raise AssertionError(f"echo of {raw!r}: got {got!r}")
    print(f"done {len(names)}", flush=True)


def main():
    try:
        if sys.argv[1] == "full":
            cmd_full(sys.argv[2])
        elif sys.argv[1] == "named":
            cmd_named(sys.argv[2], sys.argv[3], sys.argv[4:])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (AssertionError, OSError) as exc:
        print(f"{sys.argv[1]}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
