#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A scripted, misbehaving WebSocket server on raw sockets, for wsc's integration tests.

    raw_server.py [--port N] [--log FILE] [handshake options] [actions...] [--after MODE]

Listens on 127.0.0.1 (port 0, the default, picks a free one), prints "PORT <n>" on
stdout once listening, and serves every connection (one thread each) until killed.

Handshake (--handshake MODE; the Sec-WebSocket-Accept is computed for real otherwise):
  ok            101 with correct Upgrade, Connection and Sec-WebSocket-Accept (default)
  bad-accept    Sec-WebSocket-Accept computed from a different key
  no-accept     no Sec-WebSocket-Accept header
  no-upgrade    no Upgrade header
  wrong-upgrade Upgrade: h2c
  no-connection Connection: keep-alive instead of Upgrade
  http200       a plain "HTTP/1.1 200 OK" HTML page, then close
  garbage       bytes that are not HTTP, then close
  truncated     half a 101 head, then close
  oversized     a 101 head with 1 MiB of headers
  silent        read the request, never answer
  --status LINE replaces the status line (e.g. "HTTP/1.1 403 Forbidden"); a non-101
                status ends the connection after the head (and --body)
  --header "Name: value" (repeatable) adds a response header; --body TEXT a body
Answers chosen by the request, checked first (each ends the connection after the head):
  --redirect PATH STATUS LOCATION (repeatable) a request for PATH (path and query, as
                sent) gets STATUS with "Location: LOCATION"
  --versions LIST  the Sec-WebSocket-Version values spoken (e.g. "8" or "7, 6"); a
                request with another version gets 426 listing them (RFC 6455 4.4)
--bind ADDR listens on another address than 127.0.0.1 (e.g. ::1).

Actions after the handshake, run in command-line order:
  --text MSG        unmasked text frame          --binary HEX   unmasked binary frame
  --frame HEX       raw bytes, sent as given     --close [CODE [REASON...]] close frame
  --scenario NAME   a named bad frame (see SCENARIOS below)
  --expect N        wait until N data messages in total came from the client
  --wait-close      wait until the client's close frame arrives
  --sleep SEC       pause
  --same-packet     send the leading frame actions in the same write as the 101
Then --after MODE:
  reply         (default) answer pings; answer the client's close with the same code,
                then close TCP (after our own close: wait for the reply, close TCP)
  drop          close TCP without a close frame
  ignore-close  keep reading but never send a close frame; wait for the client's TCP close
The whole connection is bounded by --timeout SEC (default 20).

--log FILE appends JSON lines: "request" (request_line, headers), "frame" (fin, rsv,
opcode, masked, length, data hex when short), "message" (type, length, sha256, data
when short: text as string, binary as hex), "close" (code, reason, length), "eof",
"error", "end".
"""

import argparse
import hashlib
import http.client
import socket
import sys
import time

import wsframe
from wsframe import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Log, encode, serve_forever

SHORT = 256
MAX_HEAD = 65536

SCENARIOS = {
    # RFC 6455 5.1: a server must not mask frames it sends.
    "masked": encode(OP_TEXT, "masked", mask=b"\x01\x02\x03\x04"),
    # RFC 6455 5.2: opcodes 3-7 and B-F are reserved.
    "reserved-opcode": encode(0x3, "x"),
    "reserved-control": encode(0xB, "x"),
    # RFC 6455 5.2: RSV bits must be 0 unless an extension defines them.
    "rsv1": encode(OP_TEXT, "rsv1", rsv=4),
    "rsv2": encode(OP_TEXT, "rsv2", rsv=2),
    "rsv3": encode(OP_TEXT, "rsv3", rsv=1),
    # RFC 6455 8.1: text must be valid UTF-8 (close 1007).
    "bad-utf8": encode(OP_TEXT, b"ok \xc3\x28 bad"),
    "bad-utf8-fragmented": (encode(OP_TEXT, b"caf\xc3", fin=False)
                            + encode(OP_CONT, b"\x28", fin=True)),
    # RFC 6455 5.5.1: a close payload is empty or holds a 2-byte code.
    "close-1byte": encode(OP_CLOSE, b"\x03"),
    # RFC 6455 7.4.1: 1005 and 1006 must not be sent; codes < 1000 are not used.
    "close-1005": encode(OP_CLOSE, wsframe.close_payload(1005)),
    "close-999": encode(OP_CLOSE, wsframe.close_payload(999)),
    "close-bad-utf8": encode(OP_CLOSE, b"\x03\xe8\xff\xfe"),
    # RFC 6455 5.5: control frames have <= 125 bytes and are not fragmented.
    "ping-too-long": encode(OP_PING, b"p" * 126),
    "fragmented-ping": encode(OP_PING, b"p", fin=False),
    # RFC 6455 5.4: a continuation needs a message to continue, a new message needs none.
    "orphan-continuation": encode(OP_CONT, "x"),
    "text-during-fragment": encode(OP_TEXT, "a", fin=False) + encode(OP_TEXT, "b"),
    # Not errors: a fragmented message with a ping in the middle, and a ping.
    "fragmented-with-ping": (encode(OP_TEXT, "frag", fin=False) + encode(OP_PING, "hi")
                             + encode(OP_CONT, "mented", fin=True)),
    "ping": encode(OP_PING, "are you there"),
}

HANDSHAKES = ("ok", "bad-accept", "no-accept", "no-upgrade", "wrong-upgrade",
              "no-connection", "http200", "garbage", "truncated", "oversized", "silent")




def describe(opcode, payload):
    rec = {"type": "text" if opcode == OP_TEXT else "binary", "length": len(payload),
           "sha256": hashlib.sha256(payload).hexdigest()}
    if len(payload) <= SHORT:
        if opcode == OP_TEXT:
            try:
                rec["data"] = payload.decode("utf-8")
            except UnicodeDecodeError:
                rec["data_hex"] = payload.hex()
                rec["invalid_utf8"] = True
        else:
            rec["data"] = payload.hex()
    return rec


class Conn(wsframe.Reader):
    def __init__(self, sock, opts, log):
        self.sock = sock
        self.opts = opts
        self.log = log
        self.deadline = time.monotonic() + opts.timeout
        self.buf = bytearray()
        self.eof = False
        self.close_rcvd = None
        self.close_sent = False
        self.write_closed = False
        self.n_messages = 0
        self.fragments = None   # (opcode, [payloads]) of a message in progress

    # ---- input ----
    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD or not self.read_some(1.0):
                return None
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append([name.strip(), value.strip()])
        self.log(event="request", request_line=lines[0], headers=headers)
        return lines[0], headers

    def process_frames(self):
        while True:
            frame, used = wsframe.parse(self.buf)
            if frame is None:
                return
            del self.buf[:used]
            self.on_frame(frame)

    def on_frame(self, f):
        rec = {"event": "frame", "fin": f.fin, "rsv": f.rsv, "opcode": f.opcode,
               "masked": f.masked, "length": len(f.payload)}
        if len(f.payload) <= SHORT:
            rec["data"] = f.payload.hex()
        self.log(**rec)
        if f.opcode == OP_CLOSE:
            if self.close_rcvd is None:
                self.close_rcvd = f
            self.log(event="close", code=f.close_code(), reason=f.close_reason(),
                     length=len(f.payload))
        elif f.opcode == OP_PING:
            if not self.close_sent and self.opts.after != "ignore-close":
                self.send(encode(OP_PONG, f.payload))
        elif f.opcode in (OP_TEXT, OP_BINARY):
            if f.fin:
                self.message(f.opcode, f.payload)
            else:
                self.fragments = (f.opcode, [f.payload])
        elif f.opcode == OP_CONT and self.fragments is not None:
            self.fragments[1].append(f.payload)
            if f.fin:
                opcode, parts = self.fragments
                self.fragments = None
                self.message(opcode, b"".join(parts))

    def message(self, opcode, payload):
        self.n_messages += 1
        self.log(event="message", **describe(opcode, payload))

    def wait_until(self, predicate):
        while True:
            self.process_frames()
            if predicate():
                return True
            if not self.read_some(0.5):
                self.process_frames()
                return predicate()

    # ---- output ----
    def send(self, data):
        if self.write_closed:
            return False
        try:
            self.sock.sendall(data)
            return True
        except OSError as exc:
            self.log(event="error", error=f"send: {exc}")
            return False

    def finish(self):
        """Half-close, then wait (bounded) for the client's EOF, then close."""
        self.write_closed = True
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        end = time.monotonic() + min(3.0, self.remaining())
        while not self.eof and time.monotonic() < end:
            self.read_some(0.2)
        self.process_frames()  # still logged, never answered
        self.sock.close()

    # ---- handshake ----
    def response(self, headers):
        opts = self.opts
        key = ""
        for name, value in headers:
            if name.lower() == "sec-websocket-key":
                key = value
        mode = opts.handshake
        if mode == "http200":
            body = b"<html><body><h1>It works!</h1></body></html>\n"
            return (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                    + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        if mode == "garbage":
            return b"\x16\x03\x01\x00\xa5\x01\x00\x00 this is not HTTP \xff\xfe\r\n\r\n"
        status = opts.status or "HTTP/1.1 101 Switching Protocols"
        lines = [status]
        if mode != "no-upgrade":
            lines.append("Upgrade: h2c" if mode == "wrong-upgrade" else "Upgrade: websocket")
        lines.append("Connection: keep-alive" if mode == "no-connection"
                     else "Connection: Upgrade")
        if mode == "bad-accept":
            lines.append("Sec-WebSocket-Accept: " + wsframe.accept_key(key + "x"))
        elif mode != "no-accept":
            lines.append("Sec-WebSocket-Accept: " + wsframe.accept_key(key))
        lines.extend(opts.header)
        body = opts.body.encode() if opts.body else b""
        if body:
            lines.append(f"Content-Length: {len(body)}")
        if mode == "oversized":
            pad = "x" * 1000
            lines.extend(f"X-Padding-{i}: {pad}" for i in range(1024))
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if mode == "truncated":
            return head[:len(head) // 2]
        return head + body

    def answer_by_request(self, request_line, headers):
        """The head for --redirect or --versions, or None to go on with the script."""
        parts = request_line.split()
        target = parts[1] if len(parts) > 1 else ""
        for path, status, location in self.opts.redirect:
            if target == path:
                reason = http.client.responses.get(int(status), "Redirect")
                return (f"HTTP/1.1 {status} {reason}\r\nLocation: {location}\r\n"
                        "Content-Length: 0\r\nConnection: close\r\n\r\n").encode("latin-1")
        if self.opts.versions:
            spoken = [v.strip() for v in self.opts.versions.split(",")]
            asked = [v for n, v in headers if n.lower() == "sec-websocket-version"]
            if not asked or asked[0] not in spoken:
                return ("HTTP/1.1 426 Upgrade Required\r\n"
                        f"Sec-WebSocket-Version: {', '.join(spoken)}\r\n"
                        "Content-Length: 0\r\nConnection: close\r\n\r\n").encode("latin-1")
        return None

    def is_upgrade(self):
        if self.opts.handshake in ("http200", "garbage", "truncated", "silent"):
            return False
        status = (self.opts.status or "HTTP/1.1 101").split()
        return len(status) > 1 and status[1] == "101"

    # ---- the script ----
    def run(self):
        opts = self.opts
        req = self.read_head()
        if req is None:
            self.log(event="error", error="no complete request head")
            self.sock.close()
            return
        special = self.answer_by_request(*req)
        if special is not None:
            self.send(special)
            self.finish()
            return
        if opts.handshake == "silent":
            self.wait_until(lambda: False)
            self.sock.close()
            return
        head = self.response(req[1])
        actions = list(opts.actions)
        if opts.same_packet:
            while actions and actions[0][0] in ("send", "close"):
                head += self.frame_bytes(actions.pop(0))
        if not self.send(head) or not self.is_upgrade():
            self.finish()
            return
        for action in actions:
            if not self.do(action):
                break
        self.after()

    def frame_bytes(self, action):
        kind, value = action
        if kind == "close":
            self.close_sent = True
        return value

    def do(self, action):
        kind, value = action
        if kind in ("send", "close"):
            return self.send(self.frame_bytes(action))
        if kind == "expect":
            return self.wait_until(lambda: self.n_messages >= value)
        if kind == "wait-close":
            return self.wait_until(lambda: self.close_rcvd is not None)
        if kind == "sleep":
            end = time.monotonic() + value
            while time.monotonic() < end and not self.eof:
                self.read_some(end - time.monotonic())
                self.process_frames()
            return True
        raise ValueError(kind)

    def after(self):
        mode = self.opts.after
        if mode == "drop":
            self.process_frames()
            self.finish()
        elif mode == "ignore-close":
            self.wait_until(lambda: False)
            self.sock.close()
        else:
            self.wait_until(lambda: self.close_rcvd is not None)
            if self.close_rcvd is not None and not self.close_sent:
                self.close_sent = True
                self.send(encode(OP_CLOSE, self.close_rcvd.payload[:2]))
            self.finish()
        self.log(event="end")


class ActionAppend(argparse.Action):
    """Keep every action option in one list, in command-line order."""

    def __call__(self, parser, namespace, values, option_string=None):
        actions = getattr(namespace, "actions", None) or []
        name = option_string.lstrip("-")
        if name == "text":
            actions.append(("send", encode(OP_TEXT, values)))
        elif name == "binary":
            actions.append(("send", encode(OP_BINARY, bytes.fromhex(values))))
        elif name == "frame":
            actions.append(("send", bytes.fromhex(values)))
        elif name == "scenario":
            if values not in SCENARIOS:
                parser.error(f"unknown scenario {values}; known: {', '.join(SCENARIOS)}")
            actions.append(("send", SCENARIOS[values]))
        elif name == "close":
            code = int(values[0]) if values else None
            reason = " ".join(values[1:])
            actions.append(("close", encode(OP_CLOSE, wsframe.close_payload(code, reason))))
        elif name == "expect":
            actions.append(("expect", int(values)))
        elif name == "wait-close":
            actions.append(("wait-close", None))
        elif name == "sleep":
            actions.append(("sleep", float(values)))
        setattr(namespace, "actions", actions)


def parse_args(argv):
    p = argparse.ArgumentParser(description="scripted raw WebSocket server for wsc tests",
                                epilog="scenarios: " + ", ".join(SCENARIOS))
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log", metavar="FILE")
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--handshake", choices=HANDSHAKES, default="ok")
    p.add_argument("--status", metavar="LINE")
    p.add_argument("--header", action="append", default=[], metavar="'Name: value'")
    p.add_argument("--body", metavar="TEXT")
    p.add_argument("--redirect", nargs=3, action="append", default=[],
                   metavar=("PATH", "STATUS", "LOCATION"))
    p.add_argument("--versions", metavar="LIST")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--same-packet", action="store_true")
    p.add_argument("--after", choices=("reply", "drop", "ignore-close"), default="reply")
    for name in ("--text", "--binary", "--frame", "--scenario", "--expect", "--sleep"):
        p.add_argument(name, action=ActionAppend, dest="actions")
    p.add_argument("--close", action=ActionAppend, dest="actions", nargs="*")
    p.add_argument("--wait-close", action=ActionAppend, dest="actions", nargs=0)
    opts = p.parse_args(argv)
    if opts.actions is None:
        opts.actions = []
    return opts


def main():
    opts = parse_args(sys.argv[1:])
    log = Log(opts.log)
    family = socket.AF_INET6 if ":" in opts.bind else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((opts.bind, opts.port))
    srv.listen(16)
    print(f"PORT {srv.getsockname()[1]}", flush=True)

    def serve(sock):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(opts.timeout)  # bounds sendall to a client that stopped reading
            Conn(sock, opts, log).run()
        except Exception as exc:  # keep serving; leave a trace for the test
            log(event="error", error=f"{type(exc).__name__}: {exc}")
            sock.close()

    serve_forever(srv, serve)


if __name__ == "__main__":
    main()
