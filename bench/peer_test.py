#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Check bench/peer.c against an independent client before trusting its numbers.

Builds the peer into a temporary directory, then drives every mode with the Python
`websockets` library (Debian's python3-websockets, hence /usr/bin/python3) and with raw
sockets for what that library cannot send (byte-by-byte frames, protocol errors, bad
handshakes, a look at the frames themselves). Only 127.0.0.1; exits 0 when all pass.

    /usr/bin/python3 bench/peer_test.py [--peer PATH]
"""
import argparse
import asyncio
import base64
import hashlib
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def content(i, size):
    """Message i of a `source` run: must match put_content() in peer.c."""
    alpha = "abcdefghijklmnopqrstuvwxyz"
    prefix = ""
    n = size
    if size >= 11:
        prefix = "%010d " % (i % 10**10)
        n = size - 11
    start = i % 26
    reps = (start + n) // 26 + 1
    return prefix + (alpha * reps)[start:start + n]


class Peer:
    def __init__(self, binary, *args):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([binary, *args], stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        line = self.proc.stdout.readline().decode()
        m = re.fullmatch(r"PORT (\d+)\n", line)
        if not m:
            raise RuntimeError("peer did not print its port: %r" % line)
        self.port = int(m.group(1))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)
        self.stderr.seek(0)
        err = self.stderr.read().decode()
        check("runtime error" not in err and "Sanitizer" not in err,
              "peer %s: no sanitizer report" % " ".join(self.proc.args[1:]))
        return err


def connect(port, **kw):
    return websockets.connect("ws://127.0.0.1:%d/" % port, compression=None,
                              max_size=None, ping_interval=None, close_timeout=5, **kw)


# ---- echo with the websockets client ----

async def echo_tests(port):
    async with connect(port) as ws:
        cases = [
            ("small text", "hello, world"),
            ("empty text", ""),
            ("small binary", bytes(range(256))),
            ("empty binary", b""),
            ("125-byte text", "x" * 125),
            ("126-byte text (16-bit length)", "y" * 126),
            ("64 KiB - 1 text", "z" * 65535),
            ("64 KiB text (64-bit length)", content(7, 65536)),
            ("64 KiB binary", os.urandom(65536)),
            ("non-ASCII text", "h\u00e9llo \u2603 \U0001F600" * 1000),
            ("3 MiB binary (larger than the peer's buffers)", os.urandom(3 << 20 | 5)),
        ]
        for name, msg in cases:
            await ws.send(msg)
            got = await ws.recv()
            check(type(got) is type(msg) and got == msg, "echo: " + name)

        frag_text = ["frag", "mented ", "", "text \u2603", "x" * 70000]
        await ws.send(frag_text)
        got = await ws.recv()
        check(got == "".join(frag_text), "echo: fragmented text (5 frames, one empty)")
        frag_bin = [os.urandom(n) for n in (1, 1000, 300000, 7)]
        await ws.send(frag_bin)
        got = await ws.recv()
        check(got == b"".join(frag_bin), "echo: fragmented binary (4 frames, 300 KB frame)")

        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 2)
        check(True, "echo: ping answered with a matching pong")

        # Pipelined: send everything first, then read everything back, in order.
        msgs = [content(i, 64) for i in range(20000)]
        sender = asyncio.ensure_future(send_all(ws, msgs))
        got = [await ws.recv() for _ in msgs]
        await sender
        check(got == msgs, "echo: 20000 pipelined 64-byte messages, complete and in order")

        msgs = [os.urandom(65536) for _ in range(64)]
        sender = asyncio.ensure_future(send_all(ws, msgs))
        got = [await ws.recv() for _ in msgs]
        await sender
        check(got == msgs, "echo: 64 pipelined 64 KiB binary messages")

        t0 = time.monotonic()
        await ws.close(1000, "bye")
        dt = time.monotonic() - t0
        check(ws.close_code == 1000, "echo: close answered with 1000 (got %s)" % ws.close_code)
        check(dt < 1.0, "echo: server closed TCP promptly after the close (%.3f s)" % dt)

    async with connect(port) as ws:
        await ws.close(4321, "custom")
        check(ws.close_code == 4321, "echo: close code echoed (4321, got %s)" % ws.close_code)


async def send_all(ws, msgs):
    for m in msgs:
        await ws.send(m)


# ---- source with the websockets client ----

async def source_test(port, count, size):
    got = []
    code = None
    async with connect(port) as ws:
        try:
            while True:
                got.append(await ws.recv())
        except websockets.ConnectionClosedOK as e:
            code = e.rcvd.code if e.rcvd else None
    expected = [content(i, size) for i in range(count)]
    check(got == expected, "source %d %d: all messages complete and in order" % (count, size))
    check(code == 1000, "source %d %d: server closed with 1000 (got %s)" % (count, size, code))


# ---- sink with the websockets client ----

async def sink_test(port):
    async with connect(port) as ws:
        for i in range(1000):
            await ws.send(content(i, 64))
        await ws.send(os.urandom(100000))
        await ws.send(["ab", "cd", "ef"])
        await ws.close()
        check(ws.close_code == 1000, "sink: close answered with 1000")
    return 1000 * 64 + 100000 + 6, 1002


# ---- raw-socket tests: what the library will not do ----

def raw_connect(port, key=None, version="13", extra=""):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    req = ("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           "Connection: keep-alive, Upgrade\r\n")
    if key:
        req += "Sec-WebSocket-Key: %s\r\n" % key
    if version:
        req += "Sec-WebSocket-Version: %s\r\n" % version
    req += extra + "\r\n"
    s.sendall(req.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            break
        head += chunk
    return s, key, head.decode(errors="replace")


def frame(opcode, payload, fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | rsv << 4 | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        h = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        h = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        h = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return h + payload
    key = os.urandom(4)
    return h + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_frame(s):
    b0, b1 = recv_exact(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(s, 8))[0]
    assert not b1 & 0x80, "server frame is masked"
    return bool(b0 & 0x80), b0 & 0x0F, recv_exact(s, n)


def expect_eof(s):
    try:
        return s.recv(1) == b""
    except OSError:
        return False


def raw_tests(port):
    s, key, head = raw_connect(port)
    accept = base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    check(head.startswith("HTTP/1.1 101 ") and ("Sec-WebSocket-Accept: " + accept) in head,
          "handshake: 101 with the right Sec-WebSocket-Accept")
    check("Sec-WebSocket-Extensions" not in head, "handshake: no extension accepted")

    # One frame delivered a byte at a time: the decoder must wait for each piece.
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = frame(0x1, b"x" * 300)
    for i in range(len(data)):
        s.send(data[i:i + 1])
        if i < 20:
            time.sleep(0.002)
    check(read_frame(s) == (True, 0x1, b"x" * 300), "raw: frame sent byte by byte echoed")

    # Fragmentation preserved frame by frame, with a ping between two fragments.
    s.sendall(frame(0x2, b"one", fin=False) + frame(0x9, b"p!") +
              frame(0x0, b"two", fin=False) + frame(0x0, b"three"))
    frames = [read_frame(s) for _ in range(4)]
    check(frames == [(False, 0x2, b"one"), (True, 0xA, b"p!"), (False, 0x0, b"two"),
                     (True, 0x0, b"three")],
          "raw: fragments echoed as sent; interleaved ping answered in place")

    # Two frames and the close in one write, the close with a reason: all answered.
    s.sendall(frame(0x1, b"a") + frame(0x1, b"b") + frame(0x8, struct.pack("!H", 1001) + b"r"))
    got = [read_frame(s) for _ in range(3)]
    check(got == [(True, 1, b"a"), (True, 1, b"b"), (True, 8, struct.pack("!H", 1001))],
          "raw: pipelined frames then close 1001 -> echoes then close 1001")
    check(expect_eof(s), "raw: server closed TCP after the close handshake")
    s.close()

    def bad(name, data, code=1002):
        s, _, head = raw_connect(port)
        s.sendall(data)
        try:
            op = None
            while op != 8:  # frames echoed before the bad one come first
                fin, op, payload = read_frame(s)
            got = struct.unpack("!H", payload[:2])[0] if op == 8 and len(payload) >= 2 else None
        except (EOFError, OSError):
            got = None
        check(got == code, "protocol error -> close %d: %s (got %s)" % (code, name, got))
        s.close()

    bad("unmasked frame", frame(0x1, b"hi", mask=False))
    bad("RSV1 without extension", frame(0x1, b"hi", rsv=4))
    bad("reserved opcode 3", frame(0x3, b""))
    bad("continuation without a message", frame(0x0, b"x"))
    bad("new message inside a fragmented one", frame(0x1, b"a", fin=False) + frame(0x1, b"b"))
    bad("fragmented ping", frame(0x9, b"", fin=False))
    bad("126-byte ping", frame(0x9, b"p" * 126))
    bad("1-byte close payload", frame(0x8, b"\x03"))
    bad("close code 1005 on the wire", frame(0x8, struct.pack("!H", 1005)))

    s, _, head = raw_connect(port, key="")
    check(head.startswith("HTTP/1.1 400"), "handshake: missing key -> 400")
    s.close()
    s, _, head = raw_connect(port, version="8")
    check(head.startswith("HTTP/1.1 426") and "Sec-WebSocket-Version: 13" in head,
          "handshake: version 8 -> 426 listing 13")
    s.close()
    s, _, head = raw_connect(port, extra="Sec-WebSocket-Extensions: permessage-deflate\r\n")
    check(head.startswith("HTTP/1.1 101") and "Extensions" not in head,
          "handshake: permessage-deflate offer declined")
    s.sendall(frame(0x8, b""))
    check(read_frame(s) == (True, 8, b""), "raw: empty close answered with an empty close")
    s.close()


# ---- raw TCP modes ----

def tcp_tests(binary):
    p = Peer(binary, "--tcp", "echo")
    try:
        data = os.urandom(5 << 20)
        s = socket.create_connection(("127.0.0.1", p.port))
        out = bytearray()
        # Write and read together so neither side's buffers fill up.
        s.setblocking(False)
        off = 0
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        while True:
            for _, ev in sel.select(5):
                if ev & selectors.EVENT_WRITE and off < len(data):
                    try:
                        off += s.send(data[off:off + 65536])
                    except BlockingIOError:
                        pass
                    if off == len(data):
                        s.shutdown(socket.SHUT_WR)
                        sel.modify(s, selectors.EVENT_READ)
                if ev & selectors.EVENT_READ:
                    try:
                        chunk = s.recv(1 << 18)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        break
                    out += chunk
            else:
                continue
            break
        s.close()
        check(bytes(out) == data, "tcp echo: 5 MiB echoed byte for byte, then EOF")
    finally:
        p.stop()

    p = Peer(binary, "--tcp", "source", "1000", "65")
    try:
        s = socket.create_connection(("127.0.0.1", p.port))
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            out += chunk
        expected = "".join(content(i, 64) + "\n" for i in range(1000)).encode()
        check(out == expected, "tcp source 1000 65: lines of 64 bytes + newline, then EOF")
    finally:
        p.stop()

    p = Peer(binary, "--tcp", "sink")
    try:
        s = socket.create_connection(("127.0.0.1", p.port))
        s.sendall(b"line\n" * 777 + b"tail")
        s.shutdown(socket.SHUT_WR)
        check(s.recv(1) == b"", "tcp sink: EOF after ours")
        s.close()
        time.sleep(0.2)
    finally:
        err = p.stop()
    check("777 lines, %d bytes" % (777 * 5 + 4) in err, "tcp sink: summary %r" % err.strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peer", help="a built peer binary (default: build bench/peer.c)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="wsc-peer-test.") as tmp:
        binary = args.peer
        if not binary:
            binary = os.path.join(tmp, "peer")
            subprocess.run(["cc", "-O2", "-std=c11", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra",
                            os.path.join(HERE, "peer.c"), "-lcrypto", "-o", binary],
                           check=True)
        p = Peer(binary, "echo")
        try:
            asyncio.run(echo_tests(p.port))
            raw_tests(p.port)
        finally:
            err = p.stop()
        print("     peer stderr (echo):", " | ".join(err.strip().splitlines()))

        for count, size in ((1000, 64), (20, 70000), (3, 0), (5, 5)):
            p = Peer(binary, "source", str(count), str(size))
            try:
                asyncio.run(source_test(p.port, count, size))
            finally:
                p.stop()

        p = Peer(binary, "sink")
        try:
            nbytes, nmsgs = asyncio.run(sink_test(p.port))
            time.sleep(0.2)
        finally:
            err = p.stop()
        check("%d messages, %d bytes" % (nmsgs, nbytes) in err, "sink: summary %r" % err.strip())

        tcp_tests(binary)
    print("%d failure(s)" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
