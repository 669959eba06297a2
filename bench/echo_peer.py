# SPDX-License-Identifier: BSD-2-Clause
"""The setup the Python echo peers share (asyncio_echo.py, uvloop_echo.py).

run(start_unix, start_tcp) serves the address in sys.argv[1], HOST:PORT or
unix:PATH, until the process is killed.  Inside the running loop it awaits
start_unix(PATH) or start_tcp(HOST, PORT, backlog=4096) for the server,
prints "listening ADDR" and serves forever.  Which event loop runs is the
caller's choice (uvloop_echo.py installs uvloop's first).
"""
import asyncio
import sys


async def serve(addr, start_unix, start_tcp):
    if addr.startswith("unix:"):
        server = await start_unix(addr[5:])
    else:
        host, port = addr.rsplit(":", 1)
        server = await start_tcp(host, int(port), backlog=4096)
    print("listening", addr, flush=True)
    async with server:
        await server.serve_forever()


def run(start_unix, start_tcp):
    try:
        asyncio.run(serve(sys.argv[1], start_unix, start_tcp))
    except KeyboardInterrupt:
        pass
