#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Echo server for wsc's integration tests, on the websockets library (10.x, legacy API).

    echo_server.py [--port N] [--no-compression] [--max-size BYTES] [--log FILE]
                   [--close-after N CODE REASON] [--send-after-close K]
                   [--subprotocols a,b,...]

Listens on 127.0.0.1 (port 0, the default, picks a free one) and prints "PORT <n>" on
stdout once it accepts connections. Every message is echoed with its type.

The close handshake is held back on purpose: websockets answers a client's close frame
from its reader task, possibly before the handler has echoed the messages that arrived
ahead of the close, so a fast client (a whole script, then a close, in one write) would
lose echoes through no fault of its own. EchoProtocol.write_close_frame waits until the
handler has echoed every message received before the close, then (with
--send-after-close K) sends K more text messages "after-close 1".."after-close K",
and only then writes the close reply.

--log FILE appends one JSON object per line: "connect" (path, request headers,
subprotocol, extensions), "message" (type, length, sha256, data when short: text as a
string, binary as hex), "ping"/"pong", "close" (the code and reason the client sent,
"raw" payload in hex) and "end" (close codes both ways).
"""

import argparse
import asyncio
import hashlib
import json
import sys

try:
    from websockets.exceptions import ConnectionClosed
    from websockets.frames import OP_CLOSE, OP_PING, OP_PONG, Close
    from websockets.legacy.protocol import State
    from websockets.legacy.server import WebSocketServerProtocol, serve, unix_serve
except ImportError as exc:  # pragma: no cover
    sys.exit(f"echo_server.py: needs python3-websockets 10.x (legacy API): {exc}")

SHORT = 256        # messages up to this many bytes are logged in full
HOLD_TIMEOUT = 60  # bound on how long a close reply waits for the handler

OPTS = None
LOG = None


def log(**event):
    if LOG is not None:
        LOG.write(json.dumps(event) + "\n")
        LOG.flush()


def describe(msg):
    """A log record for a message: type, length, sha256, and the data when short."""
    if isinstance(msg, str):
        raw = msg.encode("utf-8")
        rec = {"type": "text", "length": len(raw)}
        if len(raw) <= SHORT:
            rec["data"] = msg
    else:
        raw = bytes(msg)
        rec = {"type": "binary", "length": len(raw)}
        if len(raw) <= SHORT:
            rec["data"] = raw.hex()
    rec["sha256"] = hashlib.sha256(raw).hexdigest()
    return rec


class EchoProtocol(WebSocketServerProtocol):
    """Counts messages in and echoes out, and holds the close reply until they match."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_received = 0          # messages queued by the reader task
        self.n_handled = 0           # messages the handler has echoed (or given up on)
        self.handler_finished = False
        self.progress = asyncio.Event()

    def handled_one(self):
        self.n_handled += 1
        self.progress.set()

    async def read_message(self):
        msg = await super().read_message()
        if msg is not None:
            self.n_received += 1
            log(event="message", **describe(msg))
        return msg

    async def read_frame(self, max_size):
        frame = await super().read_frame(max_size)
        if frame.opcode == OP_CLOSE:
            rec = {"event": "close", "raw": frame.data.hex()}
            try:
                close = Close.parse(frame.data)
                rec.update(code=close.code, reason=close.reason)
            except Exception as exc:  # invalid close payload: record it all the same
                rec.update(code=None, reason=None, error=str(exc))
            log(**rec)
        elif frame.opcode in (OP_PING, OP_PONG):
            log(event="ping" if frame.opcode == OP_PING else "pong", data=frame.data.hex())
        return frame

    async def wait_until_echoed(self):
        while self.n_handled < self.n_received and not self.handler_finished:
            self.progress.clear()
            await self.progress.wait()

    async def write_close_frame(self, close, data=None):
        # Only the reply to a close the client started is held; a close we start
        # ourselves (--close-after) goes out at once.
        if self.state is State.OPEN and self.close_rcvd is not None and not OPTS.no_hold:
            try:
                await asyncio.wait_for(self.wait_until_echoed(), HOLD_TIMEOUT)
            except asyncio.TimeoutError:
                print("echo_server.py: gave up waiting for echoes", file=sys.stderr)
            for i in range(OPTS.send_after_close):
                try:
                    await self.send(f"after-close {i + 1}")
                except ConnectionClosed:
                    break
        await super().write_close_frame(close, data)


async def handler(ws):
    log(event="connect", path=ws.path,
        headers=[[k, v] for k, v in ws.request_headers.raw_items()],
        subprotocol=ws.subprotocol,
        extensions=[type(e).__name__ for e in ws.extensions])
    try:
        if OPTS.close_after is not None and OPTS.close_after[0] == 0:
            await ws.close(OPTS.close_after[1], OPTS.close_after[2])
            return
        async for msg in ws:
            try:
                await ws.send(msg)
            finally:
                ws.handled_one()
            if OPTS.close_after is not None and ws.n_handled == OPTS.close_after[0]:
                await ws.close(OPTS.close_after[1], OPTS.close_after[2])
                break
    except ConnectionClosed:
        pass
    finally:
        ws.handler_finished = True
        ws.progress.set()
        await ws.wait_closed()
        log(event="end",
            close_rcvd=None if ws.close_rcvd is None
            else {"code": ws.close_rcvd.code, "reason": ws.close_rcvd.reason},
            close_sent=None if ws.close_sent is None
            else {"code": ws.close_sent.code, "reason": ws.close_sent.reason},
            rcvd_then_sent=ws.close_rcvd_then_sent)


def parse_args(argv):
    p = argparse.ArgumentParser(description="websockets echo server for wsc tests")
    p.add_argument("port", nargs="?", type=int, default=None)
    p.add_argument("--port", dest="port_opt", type=int, default=None)
    p.add_argument("--no-compression", action="store_true")
    p.add_argument("--max-size", type=int, default=2**28,
                   help="largest incoming message (default 256 MiB; 0 = no limit)")
    p.add_argument("--log", metavar="FILE")
    p.add_argument("--close-after", nargs=3, metavar=("N", "CODE", "REASON"))
    p.add_argument("--send-after-close", type=int, default=0, metavar="K")
    p.add_argument("--subprotocols", default="", help="comma-separated list")
    p.add_argument("--deflate", metavar="PARAMS", default="",
                   help="permessage-deflate settings, e.g. "
                        "server_no_context_takeover,server_max_window_bits=10")
    p.add_argument("--unix", metavar="PATH", help="listen on a Unix socket (prints PORT 0)")
    p.add_argument("--no-hold", action="store_true",
                   help="answer a close at once, as plain websockets does (shows the trap)")
    opts = p.parse_args(argv)
    if opts.port_opt is not None:
        opts.port = opts.port_opt
    if opts.port is None:
        opts.port = 0
    if opts.close_after is not None:
        n, code, reason = opts.close_after
        opts.close_after = (int(n), int(code), reason)
    return opts


def extensions():
    """--deflate: websockets' permessage-deflate factory with these settings."""
    if not OPTS.deflate or OPTS.no_compression:
        return None
    from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
    kw = {}
    for item in OPTS.deflate.split(","):
        name, _, value = item.partition("=")
        kw[name] = int(value) if value else True
    return [ServerPerMessageDeflateFactory(**kw)]


async def main():
    if OPTS.unix:
        await unix_serve(
            handler, OPTS.unix, create_protocol=EchoProtocol, ping_interval=None,
            compression=None if OPTS.no_compression else "deflate")
        print("PORT 0", flush=True)
        await asyncio.Future()
    server = await serve(
        handler, "127.0.0.1", OPTS.port,
        create_protocol=EchoProtocol,
        compression=None if OPTS.no_compression else "deflate",
        extensions=extensions(),
        max_size=OPTS.max_size or None,
        max_queue=None,
        ping_interval=None,
        subprotocols=[s for s in OPTS.subprotocols.split(",") if s] or None,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    OPTS = parse_args(sys.argv[1:])
    if OPTS.log:
        LOG = open(OPTS.log, "a", encoding="utf-8")
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
