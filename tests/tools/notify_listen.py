#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Stand in for systemd's notification socket (sd_notify(3)).

    notify_listen.py PATH [RAW]

Binds a datagram socket at PATH with SO_PASSCRED, prints "listening",
then one line per message, its assignments space-separated, after the
sender's pid:  "pid=1234 READY=1 STATUS=2 listeners on 1 loop threads".
With RAW, also appends each message exactly as received to the file RAW,
as one JSON line: {"pid": 1234, "text": "READY=1\\nSTATUS=..."} (for
checks of where its lines break).  Runs until killed.
"""
import json
import os
import socket
import struct
import sys


def main():
    path = sys.argv[1]
    raw = open(sys.argv[2], "a") if len(sys.argv) > 2 else None
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    s.bind(path)
    print("listening", flush=True)
    creds_size = struct.calcsize("3i")
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(creds_size))
        pid = "?"
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("3i", data[:creds_size])[0]
        if raw is not None:
            raw.write(json.dumps({"pid": pid,
                                  "text": msg.decode(errors="replace")}) + "\n")
            raw.flush()
        text = msg.decode(errors="replace").strip().replace("\n", " ")
        print(f"pid={pid} {text}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
