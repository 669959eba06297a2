#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Stop one thread of a process, and only that one, for a while.

    stall_thread.py PID NAME SECONDS

Finds the thread of PID whose name (/proc/PID/task/TID/comm) is NAME,
stops it with ptrace (PTRACE_SEIZE, then PTRACE_INTERRUPT: unlike
SIGSTOP, which stops every thread of a process, this stops the one),
prints "stalled TID", keeps it stopped for SECONDS, then lets it go and
prints "released".  For tests of what the other threads do meanwhile.
"""
import ctypes
import os
import sys
import time

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207


def main():
    pid, name, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    tid = None
    for t in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{t}/comm") as f:
            if f.read().strip() == name:
                tid = int(t)
    if tid is None:
        print(f"no thread named {name}", file=sys.stderr)
        return 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                            ctypes.c_void_p]
    if libc.ptrace(PTRACE_SEIZE, tid, None, None) != 0 or \
            libc.ptrace(PTRACE_INTERRUPT, tid, None, None) != 0:
        print(f"ptrace: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 1
    os.waitpid(tid, os.__dict__.get("__WALL", 0x40000000))
    print(f"stalled {tid}", flush=True)
    time.sleep(seconds)
    libc.ptrace(PTRACE_DETACH, tid, None, None)
    print("released", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
