#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A scripted HTTP CONNECT proxy on raw sockets, for wsc's integration tests.

    raw_proxy.py [--port N] [--log FILE] [--auth USER:PASS] [--status LINE]
                 [--answer MODE] [--timeout SEC]

Listens on 127.0.0.1 (port 0, the default, picks a free one), prints "PORT <n>" on
stdout once listening, and serves every connection (one thread each) until killed.

Each client's request head is read and logged; then, in this order:
  --auth USER:PASS  without "Proxy-Authorization: Basic base64(USER:PASS)" the answer
                    is 407 with Proxy-Authenticate: Basic realm="wsc-test"
  --status LINE     answer with this status line (e.g. "HTTP/1.1 403 Forbidden"), close
  --answer MODE     garbage (not HTTP), truncated (half a head, then close),
                    oversized (a 200 head with 1 MiB of headers), silent (never answer)
otherwise the proxy connects to the CONNECT target, answers
"HTTP/1.1 200 Connection established" and relays bytes both ways until one side closes.

--log FILE appends JSON lines: "request" (request_line, headers), "tunnel" (target),
"error".
"""

import argparse
import base64
import select
import socket
import sys

from wsframe import Log, serve_forever

MAX_HEAD = 65536




def read_head(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > MAX_HEAD:
            return None
        chunk = sock.recv(4096)
        if not chunk:
            return None
        buf += chunk
    head = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    headers = [[n.strip(), v.strip()] for n, _, v in (line.partition(":") for line in lines[1:])]
    return lines[0], headers


def relay(a, b, timeout):
    """Copy bytes both ways until either side closes or nothing moves for timeout."""
    socks = [a, b]
    while True:
        ready, _, _ = select.select(socks, [], [], timeout)
        if not ready:
            return
        for s in ready:
            data = s.recv(65536)
            if not data:
                return
            (b if s is a else a).sendall(data)


def serve(sock, opts, log):
    req = read_head(sock)
    if req is None:
        log(event="error", error="no complete request head")
        return
    line, headers = req
    log(event="request", request_line=line, headers=headers)
    given = {n.lower(): v for n, v in headers}
    if opts.auth:
        want = "Basic " + base64.b64encode(opts.auth.encode()).decode()
        if given.get("proxy-authorization") != want:
            sock.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic realm=\"wsc-test\"\r\n"
                         b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            return
    if opts.status:
        sock.sendall(opts.status.encode("latin-1") + b"\r\nContent-Length: 0\r\n"
                     b"Connection: close\r\n\r\n")
        return
    if opts.answer == "garbage":
        sock.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        return
    if opts.answer == "truncated":
        sock.sendall(b"HTTP/1.1 200 Conn")
        return
    if opts.answer == "oversized":
        pad = b"x" * 1000
        sock.sendall(b"HTTP/1.1 200 Connection established\r\n"
                     + b"".join(b"X-Padding-%d: %s\r\n" % (i, pad) for i in range(1024))
                     + b"\r\n")
        return
    if opts.answer == "silent":
        select.select([sock], [], [], opts.timeout)
        return
    parts = line.split()
    if len(parts) < 2 or parts[0] != "CONNECT":
        sock.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
        return
    host, _, port = parts[1].rpartition(":")
    try:
        upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
    except (OSError, ValueError) as exc:
        log(event="error", error=f"connect {parts[1]}: {exc}")
        sock.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        return
    log(event="tunnel", target=parts[1])
    with upstream:
        sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        relay(sock, upstream, opts.timeout)


def main():
    p = argparse.ArgumentParser(description="scripted CONNECT proxy for wsc tests")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log", metavar="FILE")
    p.add_argument("--auth", metavar="USER:PASS")
    p.add_argument("--status", metavar="LINE")
    p.add_argument("--answer", choices=("garbage", "truncated", "oversized", "silent"))
    p.add_argument("--timeout", type=float, default=20.0)
    opts = p.parse_args()
    log = Log(opts.log)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", opts.port))
    srv.listen(16)
    print(f"PORT {srv.getsockname()[1]}", flush=True)

    def run(sock):
        try:
            sock.settimeout(opts.timeout)
            serve(sock, opts, log)
        except Exception as exc:  # keep serving; leave a trace for the test
            log(event="error", error=f"{type(exc).__name__}: {exc}")
        finally:
            sock.close()

    serve_forever(srv, run)


if __name__ == "__main__":
    sys.exit(main())
