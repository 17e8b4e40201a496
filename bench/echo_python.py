#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A WebSocket echo server on Python's websockets, for bench/scale.py.

    echo_python.py [--port N] [--no-deflate]

Listens on 127.0.0.1 (port 0: any), prints "PORT n" on stdout, and answers every
message with the same message until it is killed. Compression is offered by the
client and declined here unless asked for, so that it compares with the other servers
on plain framing.
"""

import argparse
import asyncio
import sys

import websockets


async def echo(ws, path=None):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    async with websockets.serve(echo, "127.0.0.1", args.port, compression=None,
                                max_size=None, backlog=4096) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
