# SPDX-License-Identifier: MIT
"""Bare RFC 6455 framing for the test helpers (stdlib only, no validation beyond parsing).

Shared by the scripted servers, fast_client.py and the integration tests; deliberately
permissive so that helpers can build and record frames that break the rules.
"""

import base64
import hashlib
import json
import os
import select
import socket
import struct
import threading
import time
import zlib

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2)."""
    if isinstance(key, str):
        key = key.encode("ascii")
    return base64.b64encode(hashlib.sha1(key.strip() + GUID).digest()).decode("ascii")


def handshake_request(port, extra="", version="13", key=None, method="GET"):
    """An opening handshake's request to 127.0.0.1:port, as bytes; extra: more header
    lines, each ending in CRLF."""
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    req = (f"{method} / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n")
    if version is not None:
        req += f"Sec-WebSocket-Version: {version}\r\n"
    return (req + extra + "\r\n").encode()


def client_handshake(port, extra="", version="13", key=None, method="GET", timeout=5):
    """Sends an opening handshake on a raw socket to 127.0.0.1:port; returns (socket,
    response head as text, bytes after it)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(handshake_request(port, extra, version, key, method))
    head, rest = read_head(s)
    return s, head, rest


def deflated(payload):
    """payload as one permessage-deflate message's data (RFC 7692 7.2.1: without the
    00 00 ff ff tail)."""
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    return (z.compress(payload) + z.flush(zlib.Z_SYNC_FLUSH))[:-4]


def read_head(s):
    """An HTTP head (as text) and the bytes after it, read until the blank line, EOF or
    a socket error."""
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except OSError:
        pass
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def mask_bytes(data, mask):
    if not data:
        return b""
    n = len(data)
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")


def encode(opcode, payload=b"", fin=True, rsv=0, mask=None, length=None):
    """One frame. rsv: 3-bit value (4 = RSV1). mask: 4 bytes, True (random) or None.
    length overrides the payload length written in the header (to lie about it)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    n = len(payload) if length is None else length
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        if mask is True:
            mask = os.urandom(4)
        return head + mask + mask_bytes(payload, mask)
    return head + payload


def close_payload(code=None, reason=""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return struct.pack("!H", code) + reason


class Frame:
    __slots__ = ("fin", "rsv", "opcode", "masked", "payload")

    def __init__(self, fin, rsv, opcode, masked, payload):
        self.fin, self.rsv, self.opcode, self.masked, self.payload = (
            fin, rsv, opcode, masked, payload)

    def close_code(self):
        if self.opcode != OP_CLOSE or len(self.payload) < 2:
            return None
        return struct.unpack("!H", self.payload[:2])[0]

    def close_reason(self):
        return self.payload[2:].decode("utf-8", "replace")


def parse(buf):
    """Parse one frame from the front of buf (bytes/bytearray).
    Returns (Frame, consumed) or (None, 0) when more bytes are needed."""
    if len(buf) < 2:
        return None, 0
    b0, b1 = buf[0], buf[1]
    n = b1 & 0x7F
    pos = 2
    if n == 126:
        if len(buf) < 4:
            return None, 0
        n = struct.unpack("!H", bytes(buf[2:4]))[0]
        pos = 4
    elif n == 127:
        if len(buf) < 10:
            return None, 0
        n = struct.unpack("!Q", bytes(buf[2:10]))[0]
        pos = 10
    masked = bool(b1 & 0x80)
    if masked:
        if len(buf) < pos + 4:
            return None, 0
        mask = bytes(buf[pos:pos + 4])
        pos += 4
    if len(buf) < pos + n:
        return None, 0
    payload = bytes(buf[pos:pos + n])
    if masked:
        payload = mask_bytes(payload, mask)
    return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, masked, payload), pos + n


class Log:
    """--log FILE: one JSON object a line, safe across connection threads."""

    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8") if path else None
        self.lock = threading.Lock()

    def __call__(self, **event):
        if self.f is None:
            return
        with self.lock:
            self.f.write(json.dumps(event) + "\n")
            self.f.flush()


class Reader:
    """Socket reads bounded by a deadline, for a connection object that has
    sock, deadline, buf, eof and log; on_bytes() runs after new bytes."""

    def remaining(self):
        return max(0.0, self.deadline - time.monotonic())

    def on_bytes(self):
        pass

    def read_some(self, timeout):
        """Read what arrives within timeout; False at EOF, on error or at the deadline."""
        if self.eof:
            return False
        timeout = min(timeout, self.remaining())
        try:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                return self.remaining() > 0
            data = self.sock.recv(1 << 20)
        except OSError as exc:
            self.log(event="error", error=f"recv: {exc}")
            data = b""
        if not data:
            self.eof = True
            self.log(event="eof")
            return False
        self.buf += data
        self.on_bytes()
        return True


def serve_forever(srv, handle):
    """Accepts connections on srv until interrupted, each handled in a thread."""
    try:
        while True:
            sock, _ = srv.accept()
            threading.Thread(target=handle, args=(sock,), daemon=True).start()
    except KeyboardInterrupt:
        pass
