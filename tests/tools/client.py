#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Test client for aio-echod's feature tests.

Each subcommand exercises one behaviour and exits 0 when it holds, 1 (with
a reason on stderr) when it does not.  Addresses are written as the daemon
reads them: 127.0.0.1:7007, [::1]:7007, unix:/path.  Every wait has a
deadline (--timeout); nothing here sleeps to wait for the daemon.
"""
import argparse
import asyncio
import hashlib
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time


async def connect(addr):
    if addr.startswith("unix:"):
        return await asyncio.open_unix_connection(addr[5:])
    host, _, port = addr.rpartition(":")
    return await asyncio.open_connection(host.strip("[]"), int(port))


async def echo_one(addr, nbytes, chunk, pause=0.0):
    """Send nbytes of random data, half-close, expect the same bytes, then
    EOF.  With pause, wait that many seconds after each chunk, so that the
    stream lasts (while a test does something to the daemon meanwhile);
    "sending" is printed once the first chunk is out."""
    reader, writer = await connect(addr)
    data = os.urandom(nbytes)

    async def send():
        for off in range(0, len(data), chunk):
            writer.write(data[off:off + chunk])
            await writer.drain()
            if pause:
                if off == 0:
                    print("sending", flush=True)
                await asyncio.sleep(pause)
        writer.write_eof()

    async def receive():
        h, n = hashlib.sha256(), 0
        while True:
            block = await reader.read(65536)
            if not block:
                return h.hexdigest(), n
            h.update(block)
            n += len(block)

    _, (digest, n) = await asyncio.gather(send(), receive())
    writer.close()
    if n != nbytes or digest != hashlib.sha256(data).hexdigest():
        raise AssertionError(f"sent {nbytes} bytes, got {n} back, sha256 "
                             f"{'matches' if digest == hashlib.sha256(data).hexdigest() else 'differs'}")


async def cmd_echo(a):
    results = await asyncio.gather(
        *(echo_one(a.addr, a.bytes, a.chunk, a.pause)
          for _ in range(a.clients)),
        return_exceptions=True)
    bad = [r for r in results if isinstance(r, BaseException)]
    if bad:
        raise AssertionError(f"{len(bad)}/{a.clients} clients failed: {bad[0]!r}")
    print(f"{a.clients} clients x {a.bytes} bytes: byte-exact, then EOF")


async def cmd_idle(a):
    """Connect, send nothing, report when the daemon closes."""
    reader, writer = await connect(a.addr)
    t0 = time.monotonic()
    if await reader.read(1) != b"":
        raise AssertionError("got data on an idle connection")
    print(f"closed after {time.monotonic() - t0:.2f} s")


async def cmd_rejected(a):
    """Connect; the daemon must close (or reset) without echoing.  The
    reset may come before the connection is set up on this side."""
    try:
        reader, writer = await connect(a.addr)
    except ConnectionResetError:
        print("closed at once")
        return
    try:
        writer.write(b"x")
        await writer.drain()
        got = await reader.read(1)
    except (ConnectionResetError, BrokenPipeError):
        got = b""
    if got != b"":
        raise AssertionError("a client over the limit was served")
    print("closed at once")


async def cmd_hold(a):
    """Open n connections, prove each is served, then hold them until the
    daemon closes every one (exit 0) or --timeout passes (exit 1)."""
    conns = []
    for _ in range(a.n):
        reader, writer = await connect(a.addr)
        writer.write(b"p")
        await writer.drain()
        if await reader.readexactly(1) != b"p":
            raise AssertionError("no echo on a held connection")
        conns.append((reader, writer))
    print(f"holding {a.n}", flush=True)
    for reader, _ in conns:
        if await reader.read(1) != b"":
            raise AssertionError("data on a held connection")
    print(f"all {a.n} closed by the daemon", flush=True)


# --src-port: the local port of connect_sync()'s connections (TCP), so a
# test can pick the loop thread that SO_REUSEPORT hands a client to.
SRC_PORT = 0


def connect_sync(addr, timeout, rcvbuf=None):
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
    if SRC_PORT:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((target[0], SRC_PORT))
    s.settimeout(timeout)
    s.connect(target)
    return s


def cmd_stall(a):
    """Send and never read.  Our send blocks only once the daemon has
    stopped reading, which it does only while its write back to us is
    parked: then print "stalled" and hold the connection."""
    s = connect_sync(a.addr, a.timeout, rcvbuf=4096)
    s.settimeout(0.5)
    block = b"s" * 65536
    deadline = time.monotonic() + a.timeout
    try:
        while time.monotonic() < deadline:
            s.send(block)
        raise AssertionError("sends never blocked")
    except socket.timeout:
        print("stalled", flush=True)
    time.sleep(max(0.0, deadline - time.monotonic()))


def cmd_flood(a):
    """Open n connections without waiting for service and hold them for
    --timeout seconds: more than the daemon's fd limit allows."""
    socks = [connect_sync(a.addr, a.timeout) for _ in range(a.n)]
    print(f"opened {len(socks)}", flush=True)
    time.sleep(a.timeout)


def cmd_halfclose(a):
    """Send --bytes, half-close, print everything received until EOF."""
    s = connect_sync(a.addr, a.timeout)
    data = os.urandom(a.bytes)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        block = s.recv(65536)
        if not block:
            break
        got += block
    print(got.decode(errors="replace"), end="")


def cmd_fetch(a):
    """Read the upstream's test pattern until EOF, without half-closing
    first; check every byte and the count."""
    s = connect_sync(a.addr, a.timeout)
    n = 0
    while True:
        block = s.recv(65536)
        if not block:
            break
        for i, b in enumerate(block):
            if b != (n + i) % 251:
                raise AssertionError(f"byte {n + i} is wrong")
        n += len(block)
    if n != a.bytes:
        raise AssertionError(f"got {n} bytes, expected {a.bytes}")
    print(f"{n} bytes of pattern, then EOF")


def cmd_expect_reset(a):
    """Send a little; the connection must end in a reset, not a FIN.
    The reset may come before connect() has returned: Python's connect
    with a timeout reads SO_ERROR after the handshake, and finds it."""
    try:
        s = connect_sync(a.addr, a.timeout)
        s.sendall(b"x")
        while s.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError):
        print("reset")
        return
    raise AssertionError("clean EOF where a reset was expected")


def cmd_sleep(a):
    """Connect and never read or write, for --timeout seconds."""
    s = connect_sync(a.addr, a.timeout, rcvbuf=4096)
    print("connected", flush=True)
    time.sleep(a.timeout)
    s.close()


def cmd_reset(a):
    """Send a little, then reset the connection (RST, not FIN)."""
    s = connect_sync(a.addr, a.timeout)
    s.sendall(b"bye")
    s.recv(3)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print("reset sent")


def read_to_end(s, progress=False):
    """Read until EOF or a reset: (bytes, "eof" or "reset").  With
    progress, print "receiving" once the first bytes are in."""
    n = 0
    try:
        while True:
            block = s.recv(1 << 20)
            if not block:
                return n, "eof"
            if progress and n == 0:
                print("receiving", flush=True)
            n += len(block)
    except ConnectionResetError:
        return n, "reset"


def cmd_whole_or_reset(a):
    """Half-close at once (unless --one-way), then read to the end.  The
    stream must be whole (--bytes, then EOF) or end in a reset: a short
    stream that ends in a clean EOF is a lie."""
    s = connect_sync(a.addr, a.timeout)
    if not a.one_way:
        s.shutdown(socket.SHUT_WR)
    n, end = read_to_end(s, progress=True)
    if end == "eof" and n != a.bytes:
        raise AssertionError(f"clean EOF after {n} of {a.bytes} bytes")
    print(f"{n} bytes, then {end}")


def cmd_upload(a):
    """Wait for the server's EOF, then send --chunks blocks of 64 KiB, one
    every 100 ms, then half-close and read to the end."""
    s = connect_sync(a.addr, a.timeout)
    n, end = read_to_end(s)
    print(f"server ended ({end}) after {n} bytes", flush=True)
    sent = 0
    try:
        for _ in range(a.chunks):
            s.sendall(b"u" * 65536)
            sent += 65536
            time.sleep(0.1)
        s.shutdown(socket.SHUT_WR)
        read_to_end(s)
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(f"sent {sent}")


def tcp_socket(local, remote):
    """(state, tx_queue, rx_queue) of the loopback TCP socket bound to
    local port and connected to remote port, from /proc/net/tcp; None if
    there is none.  State 1 is ESTABLISHED."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            lport = int(fields[1].split(":")[1], 16)
            rport = int(fields[2].split(":")[1], 16)
            if (lport, rport) == (local, remote):
                tx, rx = fields[4].split(":")
                return int(fields[3], 16), int(tx, 16), int(rx, 16)
    return None


def tcp_queues(local, remote):
    """(tx_queue, rx_queue) of that socket; it must exist."""
    sk = tcp_socket(local, remote)
    if sk is None:
        raise AssertionError("daemon socket not in /proc/net/tcp")
    return sk[1], sk[2]


def cmd_stall_reset(a):
    """Make the daemon's echo write park with nothing unread on its side
    (else the kernel would reset at close anyway), then read to the end:
    once the daemon cuts the pending echo, the connection must end in a
    reset.  Sends 16 KiB at a time, each once the daemon has read the
    last, until one is not wholly queued back: the write has parked."""
    s = connect_sync(a.addr, a.timeout, rcvbuf=4096)
    me, daemon = s.getsockname()[1], s.getpeername()[1]
    chunk = b"s" * 16384
    tx_before = 0
    for i in range(4096):
        s.sendall(chunk)
        end = time.monotonic() + 2
        while tcp_queues(daemon, me)[1] != 0:
            if time.monotonic() > end:
                raise AssertionError("the daemon stopped reading")
            time.sleep(0.005)
        # The first chunks fill our receive window: only then does the
        # daemon's send queue take each whole echo, until it is full.
        end = time.monotonic() + 0.05
        while (tx := tcp_queues(daemon, me)[0]) - tx_before < len(chunk):
            if time.monotonic() > end:
                break
            time.sleep(0.001)
        if i >= 2 and tx - tx_before < len(chunk):
            break  # the echo of this chunk is parked
        tx_before = tx
    else:
        raise AssertionError("the daemon's writes never parked")
    print("echo parked", flush=True)
    # Read nothing (that would let the echo finish) until the daemon has
    # closed its side.
    end = time.monotonic() + a.timeout
    while (sk := tcp_socket(daemon, me)) is not None and sk[0] == 1:
        if time.monotonic() > end:
            raise AssertionError("the daemon never cut the connection")
        time.sleep(0.02)
    s.settimeout(a.timeout)
    n, end = read_to_end(s)
    if end != "reset":
        raise AssertionError(f"clean EOF after {n} echoed bytes, with "
                             "echoes still pending")
    print(f"{n} bytes, then reset")


def cmd_fairness(a):
    """Stream at full speed on one connection for --seconds: a forked
    writer (pinned to --writer-cpu, if given) and a forked reader (pinned
    to --reader-cpu), each with big buffers, so that the daemon's reads
    always find data and its writes always find room.  Meanwhile time 20
    one-byte round trips on a second connection, 100 ms apart.  Prints "streaming",
    then "max rtt N ms", then "stream done"."""
    hog = connect_sync(a.addr, a.timeout)
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    stop = time.monotonic() + a.seconds

    def child(cpu, body):
        pid = os.fork()
        if pid == 0:
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})
            try:
                body()
            except OSError:
                pass
            os._exit(0)
        return pid

    def write():
        block = b"w" * (1 << 20)
        while time.monotonic() < stop:
            hog.sendall(block)
        hog.shutdown(socket.SHUT_WR)

    def read():
        buf = bytearray(4 << 20)
        while hog.recv_into(buf):
            pass
    pids = [child(a.writer_cpu, write), child(a.reader_cpu, read)]
    print("streaming", flush=True)
    time.sleep(0.5)  # let the stream reach full speed
    probe = connect_sync(a.addr, a.timeout)
    rtts = []
    for _ in range(20):
        time.sleep(0.1)  # spread the probes over the stream
        t0 = time.monotonic()
        probe.sendall(b"p")
        if probe.recv(1) != b"p":
            raise AssertionError("probe: no echo")
        rtts.append((time.monotonic() - t0) * 1000)
    print(f"max rtt {max(rtts):.1f} ms (p50 {sorted(rtts)[10]:.1f})",
          flush=True)
    for pid in pids:
        os.waitpid(pid, 0)
    print("stream done", flush=True)


def cmd_pingpong(a):
    """--clients connections, each sending --messages messages of --size
    bytes, one at a time, waiting for each whole echo before the next."""
    sel = selectors.DefaultSelector()
    msg = b"m" * a.size
    left = {}
    for _ in range(a.clients):
        s = connect_sync(a.addr, a.timeout)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        left[s] = [a.messages, 0]
        s.send(msg)
    deadline = time.monotonic() + a.timeout
    done = 0
    while left:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {done} messages echoed in time")
        for key, _ in sel.select(1.0):
            s = key.fileobj
            st = left[s]
            got = s.recv(65536)
            if not got:
                raise AssertionError("EOF in the middle of a message")
            st[1] += len(got)
            if st[1] < a.size:
                continue
            st[1] = 0
            st[0] -= 1
            done += 1
            if st[0] == 0:
                sel.unregister(s)
                s.close()
                del left[s]
            else:
                s.send(msg)
    print(f"{done} messages")


def cmd_urgent(a):
    """Send --prefix bytes, "hello", an urgent (MSG_OOB) "X" and "world"
    (then a FIN, with --fin) while the daemon is stopped (SIGSTOP), so
    that all of it arrives in one edge and the daemon's first read or
    splice stops short at the urgent mark.  Every byte must come back, in
    order (then the EOF, with --fin)."""
    prefix = bytes(i % 251 for i in range(a.prefix))
    want = prefix + b"helloXworld"
    s = connect_sync(a.addr, a.timeout)
    s.settimeout(a.timeout)
    os.kill(a.pid, signal.SIGSTOP)
    try:
        s.sendall(prefix + b"hello")
        s.send(b"X", socket.MSG_OOB)
        s.sendall(b"world")
        if a.fin:
            s.shutdown(socket.SHUT_WR)
        time.sleep(0.1)  # let the segments land while it cannot read
    finally:
        os.kill(a.pid, signal.SIGCONT)
    got = b""
    while len(got) < len(want) or a.fin:
        block = s.recv(65536)
        if not block:
            break
        got += block
    if got != want:
        raise AssertionError(f"got {len(got)} bytes back, ending "
                             f"{got[-16:]!r}, of {len(want)}")
    print(f"{len(got)} bytes back" + (", then EOF" if a.fin else ""))


def cmd_stall_then_reset(a):
    """Send until our sends block (the daemon has stopped reading, its
    relay parked under backpressure), then reset the connection."""
    s = connect_sync(a.addr, a.timeout)
    s.settimeout(0.5)
    block = b"s" * 65536
    try:
        while True:
            s.send(block)
    except socket.timeout:
        pass
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print("reset sent")


def cmd_stall_download(a):
    """Take a download without reading (a small receive buffer), say
    "stalled", and read nothing more until SIGUSR1; then read to the end
    and say how it ended: the daemon may cut the stream meanwhile, with
    bytes still on their way, and a cut must end in a reset."""
    got = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: got.set())
    s = connect_sync(a.addr, a.timeout, rcvbuf=4096)
    print("stalled", flush=True)
    if not got.wait(a.timeout):
        raise AssertionError("no SIGUSR1")
    s.settimeout(a.timeout)
    n, end = read_to_end(s)
    print(f"{n} bytes, then {end}")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--timeout", type=float, default=30.0,
                   help="deadline for the whole command, seconds")
    p.add_argument("--src-port", type=int, default=0,
                   help="local TCP port (reset, stall)")
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo")
    e.add_argument("addr")
    e.add_argument("--bytes", type=int, default=1024)
    e.add_argument("--clients", type=int, default=1)
    e.add_argument("--chunk", type=int, default=65536)
    e.add_argument("--pause", type=float, default=0.0,
                   help="seconds to wait after each chunk")
    for name in ("idle", "rejected", "stall", "reset", "expect_reset", "sleep"):
        sub.add_parser(name.replace("_", "-")).add_argument("addr")
    for name in ("halfclose", "fetch"):
        x = sub.add_parser(name)
        x.add_argument("addr")
        x.add_argument("--bytes", type=int, default=1000)
    f = sub.add_parser("flood")
    f.add_argument("addr")
    f.add_argument("n", type=int)
    h = sub.add_parser("hold")
    h.add_argument("addr")
    h.add_argument("n", type=int)
    w = sub.add_parser("whole-or-reset")
    w.add_argument("addr")
    w.add_argument("--bytes", type=int, required=True)
    w.add_argument("--one-way", action="store_true")
    u = sub.add_parser("upload")
    u.add_argument("addr")
    u.add_argument("--chunks", type=int, default=20)
    sub.add_parser("stall-reset").add_argument("addr")
    fa = sub.add_parser("fairness")
    fa.add_argument("addr")
    fa.add_argument("--seconds", type=float, default=5.0)
    fa.add_argument("--writer-cpu", type=int)
    fa.add_argument("--reader-cpu", type=int)
    pp = sub.add_parser("pingpong")
    pp.add_argument("addr")
    pp.add_argument("--clients", type=int, default=100)
    pp.add_argument("--messages", type=int, default=100)
    pp.add_argument("--size", type=int, default=64)
    ug = sub.add_parser("urgent")
    ug.add_argument("addr")
    ug.add_argument("pid", type=int)
    ug.add_argument("--prefix", type=int, default=0,
                    help="bytes to send before the urgent byte")
    ug.add_argument("--fin", action="store_true",
                    help="half-close after, and expect the EOF back")
    sub.add_parser("stall-then-reset").add_argument("addr")
    sub.add_parser("stall-download").add_argument("addr")
    a = p.parse_args()
    a.cmd = a.cmd.replace("-", "_")
    global SRC_PORT
    SRC_PORT = a.src_port

    try:
        if a.cmd in ("reset", "stall", "flood", "halfclose", "fetch",
                     "expect_reset", "sleep", "whole_or_reset", "upload",
                     "stall_reset", "fairness", "pingpong", "urgent",
                     "stall_then_reset", "stall_download"):
            globals()["cmd_" + a.cmd](a)
            return 0
        coro = globals()["cmd_" + a.cmd](a)
        asyncio.run(asyncio.wait_for(coro, a.timeout))
    except asyncio.TimeoutError:
        print(f"{a.cmd}: no result within {a.timeout} s", file=sys.stderr)
        return 1
    except (AssertionError, OSError) as exc:
        print(f"{a.cmd}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
