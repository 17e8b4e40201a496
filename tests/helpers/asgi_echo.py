# SPDX-License-Identifier: MIT
"""A WebSocket echo application for ASGI servers (hypercorn in the HTTP/2 tests).

Every text or binary message comes back as it came. A text message "/close CODE REASON"
is not echoed: the app closes with that code and reason instead, after everything before
it was echoed (the server side of "close codes both ways"). The app accepts the first
subprotocol offered, and answers a path of /refuse with 403 before accepting.

hypercorn answers a client's close frame itself and drops echoes still queued, so a
test that must see every echo lets the app close: it sends "/close 1000" last and waits
(-w -1). scope["http_version"] is written to the file named by ASGI_ECHO_LOG, if set, so
that a test can assert which HTTP version carried the WebSocket.
"""

import os


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "websocket":
        return
    log = os.environ.get("ASGI_ECHO_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{scope.get('http_version')} {scope.get('path')}\n")
    event = await receive()
    if event["type"] != "websocket.connect":
        return
    if scope.get("path") == "/refuse":
        await send({"type": "websocket.close", "code": 1008})
        return
    offered = scope.get("subprotocols") or []
    accept = {"type": "websocket.accept"}
    if offered:
        accept["subprotocol"] = offered[0]
    await send(accept)
    while True:
        event = await receive()
        if event["type"] == "websocket.disconnect":
            return
        text = event.get("text")
        if text is not None and text.startswith("/close"):
            parts = text.split(" ", 2)
            code = int(parts[1]) if len(parts) > 1 else 1000
            reason = parts[2] if len(parts) > 2 else ""
            await send({"type": "websocket.close", "code": code, "reason": reason})
            return
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": event.get("bytes") or b""})
