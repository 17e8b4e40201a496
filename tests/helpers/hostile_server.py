#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A WebSocket server that fails the way real networks and broken servers do, on raw
sockets, for wsc's integration tests (tests/integration/hostile.py).

    hostile_server.py SCENARIO [--messages N] [--log FILE] [--timeout SEC] [options]

Listens on 127.0.0.1 (a free port), prints "PORT <n>" on stdout once listening, and
serves every connection (one thread each) until killed. Unless the scenario says
otherwise, it reads the request, answers 101 with the right Sec-WebSocket-Accept, sends
the --messages N standard text messages (message(i) below; tests import this module to
know them), then does what the scenario names:

  rst-mid-message   half of one more frame, then a TCP reset (SO_LINGER 0 and close)
  half-close        shutdown(SHUT_WR) with no close frame; keep reading until EOF
  fin-no-close      close TCP with no close frame (a FIN)
  close-no-fin      a close frame 1000, then read and never close TCP until EOF
  ignore-close      read and never answer the client's close, nor close TCP, until EOF
  stall-handshake   read the request and never answer (no 101, no messages)
  stall-half-head   send half of the 101 head and never the rest
  trickle           the 101 and every frame one byte per write (TRICKLE_FRAMES below),
                    then a close 1000 the same way; answer the client's close
  never-read        a 4 KiB receive buffer; the 101 and no messages; never read again
  garbage-after-101 the 101, the messages and --garbage HEX (default: the start of an
                    HTTP 200 response) in one write; then read
  huge-header       a binary frame header announcing --length bytes (default 1 GiB)
                    and a few bytes of it; then read
  endless-continuation  a text frame without FIN and continuation frames of --size
                    bytes, forever (at most --count frames), until the client's close;
                    then answer it and close TCP

Each connection ends by itself after --timeout SEC (default 20).

--log FILE appends JSON lines, each with "t" (seconds since the connection was
accepted): "request" (request_line, headers), "frame" (fin, rsv, opcode, masked,
length, data hex when short), "close" (code, reason), "sent" (what, frames: counts of
what the scenario sent), "eof" (the client closed TCP), "error", "end".
"""

import argparse
import socket
import struct
import sys
import time

import wsframe
from wsframe import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, Log, encode, serve_forever

SHORT = 256
GIB = 1 << 30

SCENARIOS = ("rst-mid-message", "half-close", "fin-no-close", "close-no-fin", "ignore-close",
             "stall-handshake", "stall-half-head", "trickle", "never-read",
             "garbage-after-101", "huge-header", "endless-continuation")


def message(i):
    """The i-th standard text message: sizes cross the 7-bit and 16-bit length forms."""
    text = f"message {i} héllo ✓"
    if i % 4 == 1:
        text += " " + "x" * 200            # 16-bit length
    elif i % 4 == 3:
        text += " " + "y" * 70000          # 64-bit length
    return text


def messages_bytes(n):
    """What wsc prints in a pipe for the first n standard messages."""
    return b"".join(message(i).encode() + b"\n" for i in range(n))


# Frames the trickle scenario sends one byte per write, and what wsc prints for them.
TRICKLE_FRAMES = [
    encode(OP_TEXT, "hello"),
    encode(OP_BINARY, bytes(range(256))),
    encode(OP_TEXT, "frag", fin=False), encode(OP_PING, "in between"),
    encode(OP_CONT, "men", fin=False), encode(OP_CONT, "ted", fin=True),
    encode(OP_TEXT, "z" * 300),
    encode(OP_BINARY, bytes(i % 251 for i in range(70000))),
    encode(OP_TEXT, "last ✓"),
]
TRICKLE_OUTPUT = (b"hello\n" + bytes(range(256)) + b"fragmented\n" + b"z" * 300 + b"\n"
                  + bytes(i % 251 for i in range(70000)) + "last ✓\n".encode())




class Conn(wsframe.Reader):
    def __init__(self, sock, opts, log):
        self.sock = sock
        self.opts = opts
        self.started = time.monotonic()
        self.deadline = self.started + opts.timeout
        self._log = log
        self.buf = bytearray()
        self.is_open = False    # the request head is read: what follows is frames
        self.eof = False
        self.close_rcvd = None

    def log(self, **event):
        self._log(t=round(time.monotonic() - self.started, 3), **event)

    # ---- input ----
    def on_bytes(self):
        self.process_frames()

    def read_until(self, predicate):
        while not predicate():
            if not self.read_some(0.5):
                break
        return predicate()

    def read_to_end(self):
        """Read (and log frames) until the client closes TCP or the deadline."""
        self.read_until(lambda: False)

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 65536 or not self.read_some(1.0):
                return None
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        self.is_open = self.opts.scenario not in ("stall-handshake", "stall-half-head")
        lines = head.decode("latin-1").split("\r\n")
        headers = [[n.strip(), v.strip()] for n, _, v in (x.partition(":") for x in lines[1:])]
        self.log(event="request", request_line=lines[0], headers=headers)
        return headers

    def process_frames(self):
        if not self.is_open:
            return
        while True:
            frame, used = wsframe.parse(self.buf)
            if frame is None:
                return
            del self.buf[:used]
            rec = {"fin": frame.fin, "rsv": frame.rsv, "opcode": frame.opcode,
                   "masked": frame.masked, "length": len(frame.payload)}
            if len(frame.payload) <= SHORT:
                rec["data"] = frame.payload.hex()
            self.log(event="frame", **rec)
            if frame.opcode == OP_CLOSE:
                if self.close_rcvd is None:
                    self.close_rcvd = frame
                self.log(event="close", code=frame.close_code(), reason=frame.close_reason())

    # ---- output ----
    def send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except OSError as exc:
            self.log(event="error", error=f"send: {exc}")
            return False

    def trickle(self, data, pause=0.002):
        """One byte per write, with a pause after each of the first 300 (every head and
        header) and then after every 1000th."""
        for i in range(len(data)):
            if not self.send(data[i:i + 1]):
                return False
            if i < 300 or i % 1000 == 0:
                time.sleep(pause)
        return True

    def response_head(self, headers):
        key = next((v for n, v in headers if n.lower() == "sec-websocket-key"), "")
        return ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {wsframe.accept_key(key)}\r\n\r\n").encode("latin-1")

    def send_messages(self):
        for i in range(self.opts.messages):
            if not self.send(encode(OP_TEXT, message(i))):
                return False
        return True

    # ---- the scenarios ----
    def run(self):
        opts = self.opts
        if opts.scenario == "never-read":
            # A small window: the client's writes block after a few hundred KiB.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        headers = self.read_head()
        if headers is None:
            self.log(event="error", error="no complete request head")
            return
        head = self.response_head(headers)
        name = opts.scenario.replace("-", "_").replace("101", "hundred_one")
        getattr(self, "do_" + name)(head)

    def do_stall_handshake(self, head):
        self.read_to_end()

    def do_stall_half_head(self, head):
        self.send(head[:len(head) // 2])
        self.read_to_end()

    def do_rst_mid_message(self, head):
        self.send(head)
        self.send_messages()
        frame = encode(OP_TEXT, "never complete " + "z" * 1000)
        self.send(frame[:len(frame) // 2])
        self.log(event="sent", what="half a frame, then RST")
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # closed by serve(): with linger 0 the close sends a RST

    def do_half_close(self, head):
        self.send(head)
        self.send_messages()
        self.sock.shutdown(socket.SHUT_WR)
        self.log(event="sent", what="FIN (write side shut down)")
        self.read_to_end()

    def do_fin_no_close(self, head):
        self.send(head)
        self.send_messages()
        self.log(event="sent", what="FIN")

    def do_close_no_fin(self, head):
        self.send(head)
        self.send_messages()
        self.send(encode(OP_CLOSE, wsframe.close_payload(1000, "bye")))
        self.log(event="sent", what="close 1000")
        self.read_to_end()

    def do_ignore_close(self, head):
        self.send(head)
        self.send_messages()
        self.read_to_end()

    def do_trickle(self, head):
        if not self.trickle(head):
            return
        for f in TRICKLE_FRAMES:
            if not self.trickle(f):
                return
        self.trickle(encode(OP_CLOSE, wsframe.close_payload(1000, "done")))
        self.log(event="sent", what="close 1000")
        self.read_until(lambda: self.close_rcvd is not None)
        self.sock.shutdown(socket.SHUT_WR)
        self.read_to_end()

    def do_never_read(self, head):
        self.send(head)
        self.log(event="sent", what="101; reading no more")
        end = self.deadline
        while time.monotonic() < end:
            time.sleep(0.1)

    def do_garbage_after_hundred_one(self, head):
        frames = b"".join(encode(OP_TEXT, message(i)) for i in range(self.opts.messages))
        self.send(head + frames + bytes.fromhex(self.opts.garbage))
        self.log(event="sent", what="101, messages and garbage")
        self.read_to_end()

    def do_huge_header(self, head):
        self.send(head)
        self.send_messages()
        n = self.opts.length
        frame = bytes([0x80 | OP_BINARY, 127]) + struct.pack("!Q", n) + b"\x00" * 16
        self.send(frame)
        self.log(event="sent", what=f"header of a {n}-byte frame")
        self.read_to_end()

    def do_endless_continuation(self, head):
        self.send(head)
        self.send_messages()
        piece = b"c" * self.opts.size
        sent = 0
        while sent < self.opts.count and self.close_rcvd is None and not self.eof:
            if not self.send(encode(OP_TEXT if sent == 0 else OP_CONT, piece, fin=False)):
                break
            sent += 1
            self.read_some(0.001)   # notice the client's close as soon as it comes
        self.log(event="sent", what="continuation frames", frames=sent,
                 close_seen=self.close_rcvd is not None)
        if self.close_rcvd is not None:
            self.send(encode(OP_CLOSE, self.close_rcvd.payload[:2]))
            self.sock.shutdown(socket.SHUT_WR)
        self.read_to_end()


def parse_args(argv):
    p = argparse.ArgumentParser(description="hostile WebSocket server for wsc tests")
    p.add_argument("scenario", choices=SCENARIOS)
    p.add_argument("--log", metavar="FILE")
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--messages", type=int, default=0, metavar="N")
    p.add_argument("--garbage", metavar="HEX",
                   default=b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>".hex())
    p.add_argument("--length", type=int, default=GIB)
    p.add_argument("--size", type=int, default=1000)
    p.add_argument("--count", type=int, default=100000)
    return p.parse_args(argv)


def main():
    opts = parse_args(sys.argv[1:])
    log = Log(opts.log)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if opts.scenario == "never-read":
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # inherited by accept
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    print(f"PORT {srv.getsockname()[1]}", flush=True)

    def serve(sock):
        conn = None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(opts.timeout)  # bounds sendall to a client that stopped reading
            conn = Conn(sock, opts, log)
            conn.run()
        except Exception as exc:  # keep serving; leave a trace for the test
            log(event="error", error=f"{type(exc).__name__}: {exc}")
        finally:
            if conn is not None:
                conn.log(event="end")
            sock.close()

    serve_forever(srv, serve)


if __name__ == "__main__":
    main()
