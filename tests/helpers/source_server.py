#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""source_server.py: a websockets server that sends COUNT text messages
("1", "2", ...) to each client, then waits for the client to close.

    source_server.py [--count N] [--delay SEC] [--then-close CODE] --log FILE

Prints "PORT n" when listening. The log gets one JSON line per event:
{"event": "connect"}, {"event": "sent", "count": N}, {"event": "message", ...}
for what the client sends, and {"event": "close", "code": C, "reason": R}."""
import argparse
import asyncio
import json
import sys

import websockets


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--delay", type=float, default=0.0, help="seconds before sending")
    p.add_argument("--then-close", type=int, default=0, help="close with this code after")
    p.add_argument("--log", required=True)
    a = p.parse_args()
    log = open(a.log, "a", buffering=1)

    def note(**ev):
        log.write(json.dumps(ev) + "\n")

    async def handler(ws, path=None):
        note(event="connect")
        try:
            if a.delay:
                await asyncio.sleep(a.delay)
            for i in range(1, a.count + 1):
                await ws.send(str(i))
            note(event="sent", count=a.count)
            if a.then_close:
                await ws.close(a.then_close, "done")
            async for msg in ws:
                note(event="message", type="text" if isinstance(msg, str) else "binary",
                     length=len(msg), data=msg if isinstance(msg, str) else msg.hex())
        except websockets.ConnectionClosed:
            pass
        note(event="close", code=ws.close_code, reason=ws.close_reason)

    async def run():
        async with websockets.serve(handler, "127.0.0.1", 0, ping_interval=None,
                                    max_size=None) as srv:
            port = srv.sockets[0].getsockname()[1]
            print(f"PORT {port}", flush=True)
            await asyncio.Future()

    asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
