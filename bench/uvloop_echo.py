#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Echo server on uvloop with a Protocol, one of the benchmark's peers.

    uvloop_echo.py HOST:PORT | unix:PATH

A callback design on libuv, as in uvloop's own echo benchmark: each
data_received() writes the bytes straight back, with no coroutine and no
stream objects.  Writes that libuv cannot finish at once are buffered by
the transport; reading pauses above its high-water mark.  The address and
the serving are echo_peer.py's, shared with asyncio_echo.py.
"""
import asyncio
import sys

import uvloop

sys.dont_write_bytecode = True  # no bench/__pycache__ from the import below
import echo_peer  # noqa: E402


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def connection_lost(self, exc):
        self.transport = None


async def start_unix(path):
    loop = asyncio.get_running_loop()
    return await loop.create_unix_server(EchoProtocol, path)


async def start_tcp(host, port, **kw):
    loop = asyncio.get_running_loop()
    return await loop.create_server(EchoProtocol, host, port, **kw)


if __name__ == "__main__":
    uvloop.install()
    echo_peer.run(start_unix, start_tcp)
