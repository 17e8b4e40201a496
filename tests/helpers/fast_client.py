#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A deliberately fast raw WebSocket client, to check echo_server.py itself.

    fast_client.py PORT [N]

Does the handshake, then sends N masked text frames ("msg 1".."msg N") followed by a
close frame (1000) in a single write, and reads until the server's close and EOF.
Prints one JSON object: {"echoes": [...], "after_close": [...], "close_code": ...,
"close_reason": ..., "order_ok": bool}. Exit status 0 when all N echoes came back in
order before the server's close frame, 1 otherwise.
"""

import base64
import json
import os
import sys

import wsframe


def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    key = base64.b64encode(os.urandom(16)).decode()
    sock, head, rest = wsframe.client_handshake(port, key=key, timeout=10)
    if " 101 " not in head.split("\r\n")[0] or wsframe.accept_key(key) not in head:
        sys.exit("fast_client: bad handshake response: %r" % head)
    buf = bytearray(rest)

    burst = b"".join(wsframe.encode(wsframe.OP_TEXT, f"msg {i + 1}", mask=True)
                     for i in range(n))
    burst += wsframe.encode(wsframe.OP_CLOSE, wsframe.close_payload(1000, "done"), mask=True)
    sock.sendall(burst)

    texts, close = [], None
    while True:
        frame, used = wsframe.parse(buf)
        if frame is None:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
            continue
        del buf[:used]
        if frame.opcode == wsframe.OP_CLOSE:
            close = frame
        elif frame.opcode == wsframe.OP_TEXT:
            if close is not None:
                texts.append(("late", frame.payload.decode()))
            else:
                texts.append(("echo", frame.payload.decode()))
    sock.close()
    echoes = [t for kind, t in texts if kind == "echo"]
    expected = [f"msg {i + 1}" for i in range(n)]
    result = {
        "echoes": len(echoes),
        "order_ok": echoes[:n] == expected,
        "after_close_frame": [t for kind, t in texts if kind == "late"],
        "extra": echoes[n:],
        "close_code": close.close_code() if close else None,
        "close_reason": close.close_reason() if close else None,
    }
    print(json.dumps(result))
    sys.exit(0 if result["order_ok"] and len(echoes) >= n and close else 1)


if __name__ == "__main__":
    main()
