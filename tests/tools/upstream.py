#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Upstream servers for the proxy's feature tests, on loopback.

    upstream.py MODE PORT [N]

Listens on 127.0.0.1:PORT (0: any free port), prints "listening PORT",
and serves each connection in a thread until killed:

  echo     send back every byte, half-close after the client's EOF;
           print "ended eof" or "ended reset" for each connection
  source   send N bytes of the test pattern (byte i is i % 251), then
           half-close, then read until the client's EOF
  reply    read until EOF, then answer "got N bytes" and close
  flood    send N bytes of the pattern as fast as the client takes them,
           printing "sent TOTAL" every 0.2 s while it sends
  hold     accept, then never read or write
  reset    read one chunk, then reset the connection (RST)
  full     never accept, and fill the accept queue first, so that new
           connections hang in SYN-SENT (a connect-timeout target)
  drip     read until the client's EOF, then send N blocks of 64 KiB,
           one every 100 ms, then close (a FIN)
  driphold as drip, but then hold without a FIN
  sendhold send N bytes of the pattern, then hold without a FIN
  sink     half-close at once, then read until EOF or a reset and print
           "got N eof" or "got N reset"
  stream   read until the client's EOF, print all it sent as
           "stream HEX" (a PROXY header, then the client's bytes), then
           half-close
  tell     send "PORT\n" (its own port: which upstream the client got),
           then read until the client's EOF or reset, then close
"""
import socket
import struct
import sys
import threading
import time


def pattern(n, offset=0):
    return bytes((offset + i) % 251 for i in range(n))


CHUNK = pattern(251 * 256)  # a whole number of periods: reusable
BLOCK = pattern(65536)  # drip's 64 KiB


SAY_LOCK = threading.Lock()


def say(line):
    """Print LINE whole: print() from several connection threads at once
    writes the text and its newline separately, so lines could merge."""
    with SAY_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def send_pattern(conn, n):
    sent = 0
    while sent < n:
        block = CHUNK[: min(len(CHUNK), n - sent)]
        conn.sendall(block)
        sent += len(block)


def serve(mode, conn, n):
    try:
        if mode == "stream":
            conn.settimeout(10)
            got = b""
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                got += data
            say("stream " + got.hex())
            conn.shutdown(socket.SHUT_WR)
        elif mode == "tell":
            conn.sendall(b"%d\n" % conn.getsockname()[1])
            try:
                while conn.recv(65536):
                    pass
            except ConnectionResetError:
                pass
        elif mode == "echo":
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        say("ended eof")
                        conn.shutdown(socket.SHUT_WR)
                        break
                    conn.sendall(data)
            except ConnectionResetError:
                say("ended reset")
        elif mode == "source":
            send_pattern(conn, n)
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        elif mode == "reply":
            total = 0
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                total += len(data)
            conn.sendall(f"got {total} bytes\n".encode())
        elif mode == "flood":
            sent = [0]
            done = threading.Event()

            def report():
                while not done.wait(0.2):
                    say(f"sent {sent[0]}")
            threading.Thread(target=report, daemon=True).start()
            while sent[0] < n:
                block = CHUNK[: min(len(CHUNK), n - sent[0])]
                conn.sendall(block)
                sent[0] += len(block)
            done.set()
        elif mode == "hold":
            threading.Event().wait()
        elif mode in ("drip", "driphold"):
            while conn.recv(65536):
                pass
            for _ in range(n):
                conn.sendall(BLOCK)
                time.sleep(0.1)
            if mode == "driphold":
                threading.Event().wait()
        elif mode == "sendhold":
            send_pattern(conn, n)
            threading.Event().wait()
        elif mode == "sink":
            total = 0
            try:
                # A connection reset before this thread ran: shutdown()
                # fails (ENOTCONN), and that is a reset too.
                try:
                    conn.shutdown(socket.SHUT_WR)
                except OSError:
                    raise ConnectionResetError
                while True:
                    data = conn.recv(65536)
                    if not data:
                        say(f"got {total} eof")
                        break
                    total += len(data)
            except ConnectionResetError:
                say(f"got {total} reset")
        elif mode == "reset":
            conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
    except OSError:
        pass
    finally:
        conn.close()


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    if mode == "full":
        ls.listen(0)
        port = ls.getsockname()[1]
        fillers = []
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        time.sleep(0.2)  # let the first handshakes fill the queue
        say(f"listening {port}")
        threading.Event().wait()
    ls.listen(512)
    say(f"listening {ls.getsockname()[1]}")
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(mode, conn, n), daemon=True).start()


if __name__ == "__main__":
    main()
