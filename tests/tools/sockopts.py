#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Print the TCP options of a running daemon's own sockets.

    sockopts.py PID LISTEN_PORT UPSTREAM_PORT

Takes a copy of each of PID's TCP sockets (pidfd_getfd(2): root, or
ptrace rights over PID) and prints, for the accepted clients (local port
LISTEN_PORT) and the upstream connections (peer port UPSTREAM_PORT):

    client nodelay N keepalive N idle S intvl S cnt N
    upstream ...

Exit status 1 if no socket of either kind is found.
"""
import ctypes
import os
import socket
import sys

SYS_pidfd_getfd = 438
libc = ctypes.CDLL(None, use_errno=True)


def getfd(pidfd, fd):
    r = libc.syscall(SYS_pidfd_getfd, pidfd, fd, 0)
    if r < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return r


def opts(s):
    g = s.getsockopt
    return (f"nodelay {g(socket.IPPROTO_TCP, socket.TCP_NODELAY)} "
            f"keepalive {g(socket.SOL_SOCKET, socket.SO_KEEPALIVE)} "
            f"idle {g(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)} "
            f"intvl {g(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)} "
            f"cnt {g(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)}")


def main():
    pid, lport, uport = (int(x) for x in sys.argv[1:4])
    pidfd = os.pidfd_open(pid)
    seen = set()
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                continue
            fd = getfd(pidfd, int(name))
        except OSError:
            continue
        s = socket.socket(fileno=fd)
        try:
            if s.type != socket.SOCK_STREAM or s.family not in (
                    socket.AF_INET, socket.AF_INET6):
                continue
            local = s.getsockname()[1]
            try:
                peer = s.getpeername()[1]
            except OSError:
                continue		# a listening socket
            if local == lport:
                print("client " + opts(s))
                seen.add("client")
            elif peer == uport:
                print("upstream " + opts(s))
                seen.add("upstream")
        finally:
            s.close()
    sys.exit(0 if seen == {"client", "upstream"} else 1)


if __name__ == "__main__":
    main()
