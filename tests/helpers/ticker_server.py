#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""ticker_server.py: a websockets server that sends each client a text message every
INTERVAL seconds: {"n":1,"status":"pending"}, ... with "status":"ok" from message OK_AT
on; it answers a text message "echo X" with "X".

    ticker_server.py [--interval SEC] [--count N] [--ok-at K] [--then-close CODE]
                     [--silent] [--subprotocols a,b] [--refuse STATUS]
                     [--read-delay SEC] --log FILE

--count N stops after N messages (0: no end); --then-close CODE then closes with CODE;
--silent sends nothing; --subprotocols are those it accepts; --refuse answers every
handshake with that HTTP status; --read-delay reads nothing from a client for SEC
seconds (its messages wait in the socket). Prints "PORT n" when listening. The log gets one JSON line per
event: {"event":"connect","path":P,"headers":[[name,value],...],"subprotocol":S}, {"event":"message","data":D} for what the client
sends (messages over 256 bytes as {"event":"message","length":N}), and {"event":"end","code":C,"reason":R} with the close the client sent (code null
when there was none)."""
import argparse
import asyncio
import http
import json

import websockets


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--ok-at", type=int, default=0)
    p.add_argument("--then-close", type=int, default=0)
    p.add_argument("--silent", action="store_true")
    p.add_argument("--subprotocols", default="")
    p.add_argument("--refuse", type=int, default=0)
    p.add_argument("--read-delay", type=float, default=0.0)
    p.add_argument("--log", required=True)
    a = p.parse_args()
    log = open(a.log, "a", buffering=1)

    def note(**ev):
        log.write(json.dumps(ev) + "\n")

    async def tick(ws):
        n = 0
        while not a.silent and (a.count == 0 or n < a.count):
            await asyncio.sleep(a.interval)
            n += 1
            status = "ok" if a.ok_at and n >= a.ok_at else "pending"
            await ws.send(json.dumps({"n": n, "status": status}, separators=(",", ":")))
        if a.then_close:
            await ws.close(a.then_close, "bye")

    async def handler(ws, path=None):
        note(event="connect", path=ws.path, subprotocol=ws.subprotocol,
             headers=[[k, v] for k, v in ws.request_headers.raw_items()])
        ticker = asyncio.ensure_future(tick(ws))
        try:
            if a.read_delay:
                await asyncio.sleep(a.read_delay)
            async for msg in ws:
                if len(msg) > 256:
                    note(event="message", length=len(msg))
                else:
                    note(event="message", data=msg if isinstance(msg, str) else msg.hex())
                if isinstance(msg, str) and msg.startswith("echo "):
                    await ws.send(msg[5:])
        except websockets.ConnectionClosed:
            pass
        finally:
            ticker.cancel()
            await ws.wait_closed()
            rcvd = ws.close_rcvd
            note(event="end", code=rcvd.code if rcvd else None, reason=rcvd.reason if rcvd else None)

    async def refuse(path, headers):
        if a.refuse:
            return http.HTTPStatus(a.refuse), [], b"refused\n"
        return None

    async def run():
        protos = [p for p in a.subprotocols.split(",") if p] or None
        async with websockets.serve(handler, "127.0.0.1", 0, compression=None, max_size=None,
                                    subprotocols=protos, process_request=refuse) as srv:
            port = srv.sockets[0].getsockname()[1]
            print(f"PORT {port}", flush=True)
            await asyncio.Future()

    asyncio.run(run())


if __name__ == "__main__":
    main()
