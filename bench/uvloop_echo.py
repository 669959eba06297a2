#!/usr/bin/env python3
"""Echo server on uvloop with a Protocol, one of the benchmark's peers.

    uvloop_echo.py HOST:PORT | unix:PATH

A callback design on libuv, as in uvloop's own echo benchmark: each
data_received() writes the bytes straight back, with no coroutine and no
stream objects.  Writes that libuv cannot finish at once are buffered by
the transport; reading pauses above its high-water mark.
"""
import asyncio
import sys

import uvloop


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def connection_lost(self, exc):
        self.transport = None


async def main(addr):
    loop = asyncio.get_running_loop()
    if addr.startswith("unix:"):
        server = await loop.create_unix_server(EchoProtocol, addr[5:])
    else:
        host, port = addr.rsplit(":", 1)
        server = await loop.create_server(EchoProtocol, host, int(port),
                                          backlog=4096)
    print("listening", addr, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.install()
    try:
        asyncio.run(main(sys.argv[1]))
    except KeyboardInterrupt:
        pass
