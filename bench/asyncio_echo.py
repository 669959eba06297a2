#!/usr/bin/env python3
"""Echo server on Python asyncio streams, one of the benchmark's peers.

    asyncio_echo.py HOST:PORT | unix:PATH

The PEP 492 shape: one `async def handle(reader, writer)` coroutine per
connection, reading up to 16 KiB and writing it back, with drain() for
backpressure.  This is the "coroutine per connection" design in its most
common form, so it is the peer closest to aio-echod's programming model.
"""
import asyncio
import sys


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


async def main(addr):
    if addr.startswith("unix:"):
        server = await asyncio.start_unix_server(handle, addr[5:])
    else:
        host, port = addr.rsplit(":", 1)
        server = await asyncio.start_server(handle, host, int(port),
                                            backlog=4096)
    print("listening", addr, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1]))
    except KeyboardInterrupt:
        pass
