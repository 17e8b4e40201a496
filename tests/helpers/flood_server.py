#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""flood_server.py: a websockets server that sends COUNT binary messages of SIZE
random bytes to each client as fast as the connection takes them, then closes
with 1000. Prints "PORT n" when listening.

    flood_server.py [--count N] [--size BYTES]
"""
import argparse
import asyncio
import os
import sys

import websockets


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, default=40)
    p.add_argument("--size", type=int, default=1 << 20)
    a = p.parse_args()

    async def handler(ws, path=None):
        for _ in range(a.count):
            await ws.send(os.urandom(a.size))
        await ws.close(1000, "flood done")

    async def run():
        async with websockets.serve(handler, "127.0.0.1", 0, max_size=None,
                                    compression=None) as srv:
            print(f"PORT {srv.sockets[0].getsockname()[1]}", flush=True)
            await asyncio.Future()

    asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
