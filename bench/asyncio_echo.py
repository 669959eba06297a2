#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Echo server on Python asyncio streams, one of the benchmark's peers.

    asyncio_echo.py HOST:PORT | unix:PATH

The PEP 492 shape: one `async def handle(reader, writer)` coroutine per
connection, reading up to 16 KiB and writing it back, with drain() for
backpressure.  This is the "coroutine per connection" design in its most
common form, so it is the peer closest to aio-echod's programming model.
The address and the serving are echo_peer.py's, shared with uvloop_echo.py.
"""
import asyncio
import functools
import sys

sys.dont_write_bytecode = True  # no bench/__pycache__ from the import below
import echo_peer  # noqa: E402


async def handle(reader, writer):
    try:
        while True:
            data = await reader.read(16384)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


if __name__ == "__main__":
    echo_peer.run(functools.partial(asyncio.start_unix_server, handle),
                  functools.partial(asyncio.start_server, handle))
