#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What an idle client costs `wsc -l --echo`, over plain TCP or TLS.

    /usr/bin/python3 bench/idle.py                          # 1,000 and 10,000 clients, ws://
    /usr/bin/python3 bench/idle.py --tls --clients 1000     # wss://, a throwaway certificate
    /usr/bin/python3 bench/idle.py --wsc /tmp/wsc.old --tls --json old.json

For every client count a fresh `wsc -l 0 --echo` is started on 127.0.0.1, and this
one process opens that many WebSocket clients to it (Python sockets, with TLS when
--tls: TLS 1.3, a P-256 certificate made for the run with the openssl program), at
most --in-flight handshakes at a time. The server's RssAnon (/proc/PID/status) is read
three times: before the first client, with every client open and idle, and again
after --rounds rounds (1) in which every client sends one 64-byte text message and
waits for its echo, once the clients are idle again (buffers taken by traffic and not
given back show there). Per client is the growth over the start divided by the clients
open. The server's CPU time (user + system, /proc/PID/stat) over the echo rounds,
divided by the echoes, is what a round trip costs it. Then every client closes with
1000 and the server is killed. Prints a Markdown table; --json keeps the figures.
Exits 1 when a client failed.

bench/load.c measures the same "idle" figure for ws:// (and round trips and
latency); this script exists for wss://, which the load tool does not speak, and
for the reading after one echo.
"""
import argparse
import json
import os
import re
import resource
import selectors
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
MESSAGE = b"m" * 64
MASK = b"\x01\x02\x03\x04"
REQUEST = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")


def masked_frame(opcode, payload):
    """A client frame (RFC 6455 5.2), masked with a fixed key: 125 bytes at most."""
    body = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + MASK + body


def rss_anon_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return -1


def cpu_seconds(pid):
    """User and system time of a process so far (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_cert(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


class Client:
    """One WebSocket client, driven by the selector: connect, TLS, upgrade, then one echo."""

    def __init__(self, port, ctx):
        self.port, self.ctx = port, ctx
        self.io = None
        self.state = "new"
        self.out = REQUEST
        self.got = b""
        self.error = None

    def connect(self):
        """Connects when its turn comes, so that no connection waits unserved long
        enough for the server's handshake timeout."""
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", self.port))
        self.io = self.ctx.wrap_socket(sock, do_handshake_on_connect=False) if self.ctx else sock
        self.state = "tls" if self.ctx else "send"

    def step(self):
        """Moves on as far as it can; returns the events to wait for, or None when idle."""
        try:
            if self.state == "new":
                self.connect()
            if self.state == "tls":
                self.io.do_handshake()
                self.state = "send"
            while self.out:
                n = self.io.send(self.out)
                self.out = self.out[n:]
            if self.state == "send":
                self.state = "head"
            if self.state == "head":
                self.read()
                if b"\r\n\r\n" not in self.got:
                    return selectors.EVENT_READ
                if not self.got.startswith(b"HTTP/1.1 101"):
                    raise RuntimeError("refused: %r" % self.got[:40])
                self.got = self.got[self.got.index(b"\r\n\r\n") + 4:]
                self.state = "open"
                return None
            if self.state == "echo":
                self.read()
                want = 2 + len(MESSAGE)
                if len(self.got) < want:
                    return selectors.EVENT_READ
                if self.got[:want] != bytes([0x81, len(MESSAGE)]) + MESSAGE:
                    raise RuntimeError("bad echo: %r" % self.got[:20])
                self.got = self.got[want:]
                self.state = "open"
                return None
            return None
        except ssl.SSLWantReadError:
            return selectors.EVENT_READ
        except (ssl.SSLWantWriteError, BlockingIOError):
            return selectors.EVENT_WRITE

    def read(self):
        """Takes in whatever has arrived."""
        while True:
            try:
                data = self.io.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError):
                return
            if not data:
                raise RuntimeError("closed by the server in state %s" % self.state)
            self.got += data

    def start_echo(self):
        self.state = "echo"
        self.out = masked_frame(0x1, MESSAGE)

    def close(self):
        if not self.io:
            return
        try:
            self.io.setblocking(True)
            self.io.settimeout(2)
            self.io.sendall(masked_frame(0x8, b"\x03\xe8"))
        except OSError:
            pass
        self.io.close()


def drive(clients, limit, deadline):
    """Runs clients to idle, at most limit of them under way at once; a client that
    fails keeps its error."""
    sel = selectors.DefaultSelector()
    waiting = list(reversed(clients))
    running = 0

    def advance(c):
        nonlocal running
        try:
            ev = c.step()
        except (OSError, RuntimeError, ssl.SSLError) as e:
            ev, c.error = None, str(e) or type(e).__name__
        if ev is None:
            try:
                sel.unregister(c.io)
            except KeyError:
                pass
            running -= 1
            return
        try:
            sel.modify(c.io, ev, c)
        except KeyError:
            sel.register(c.io, ev, c)

    while (waiting or running) and time.monotonic() < deadline:
        while waiting and running < limit:
            running += 1
            advance(waiting.pop())
        for key, _ in sel.select(timeout=1):
            advance(key.data)
    for c in clients:
        if c.state != "open" and not c.error:
            c.error = "no answer in time (state %s)" % c.state


def server_port(server, log):
    """The port that wsc says it listens on (its first line on stderr)."""
    end = time.monotonic() + 10
    while time.monotonic() < end and server.poll() is None:
        log.seek(0)
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", log.read())
        if m:
            return int(m.group(1))
        time.sleep(0.05)
    log.seek(0)
    raise RuntimeError("wsc did not say its port: %r" % log.read()[:200])


def run(args, n, tls_files):
    cmd = [args.wsc, "-l", "0", "--echo", "-q", "--max-clients", str(n)]
    if tls_files:
        cmd += ["--cert", tls_files[0], "--key", tls_files[1]]
    # stderr to a file: a pipe nobody reads could fill and stop the server
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=log)
    clients = []
    try:
        port = server_port(server, log)
        ctx = None
        if tls_files:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        time.sleep(0.2)
        start = rss_anon_kib(server.pid)
        deadline = time.monotonic() + args.timeout
        clients = [Client(port, ctx) for _ in range(n)]
        drive(clients, args.in_flight, deadline)
        time.sleep(1 + 0.0005 * n)
        idle = rss_anon_kib(server.pid)
        cpu = cpu_seconds(server.pid)
        opened = sum(not c.error for c in clients)
        for _ in range(args.rounds):
            live = [c for c in clients if not c.error]
            for c in live:
                c.start_echo()
            drive(live, n, deadline)
        cpu = cpu_seconds(server.pid) - cpu
        time.sleep(1 + 0.0005 * n)
        after = rss_anon_kib(server.pid)
        errors = [c.error for c in clients if c.error]
        for e in sorted(set(errors)):
            print("%d clients failed: %s" % (errors.count(e), e), file=sys.stderr)
        return {"clients": n, "open": opened, "failed": len(errors), "tls": bool(tls_files),
                "start_kib": start, "idle_kib": idle, "after_echo_kib": after,
                "rounds": args.rounds,
                "per_client_idle_kib": (idle - start) / opened if opened else None,
                "per_client_after_echo_kib": (after - start) / opened if opened else None,
                "server_cpu_us_per_echo": cpu * 1e6 / (opened * args.rounds) if opened else None}
    finally:
        for c in clients:
            c.close()
        server.kill()
        server.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wsc", default=os.path.join(TOP, "src", "wsc"))
    ap.add_argument("--clients", default="1000,10000", help="comma-separated counts")
    ap.add_argument("--tls", action="store_true", help="wss://: --cert and --key")
    ap.add_argument("--rounds", type=int, default=1,
                    help="echo rounds (every client one message each) before the last reading")
    ap.add_argument("--in-flight", type=int, default=200, help="handshakes at once")
    ap.add_argument("--timeout", type=float, default=300, help="seconds for one count")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    counts = [int(x) for x in args.clients.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if max(counts) + 64 > hard:
        sys.exit("%d clients need more descriptors than the limit of %d" % (max(counts), hard))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tls_files = make_cert(tmp) if args.tls else None
        for n in counts:
            results.append(run(args, n, tls_files))
    print("| transport | clients | open | start | idle | per client | after the echoes "
          "| per client | server CPU per echo |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in results:
        def per(v):
            return "%.2f KiB" % v if v is not None else "n/a"
        cpu = r["server_cpu_us_per_echo"]
        print("| %s | %d | %d | %.1f MiB | %.1f MiB | %s | %.1f MiB | %s | %s |" % (
            "wss" if r["tls"] else "ws", r["clients"], r["open"], r["start_kib"] / 1024,
            r["idle_kib"] / 1024, per(r["per_client_idle_kib"]), r["after_echo_kib"] / 1024,
            per(r["per_client_after_echo_kib"]), "%.0f us" % cpu if cpu is not None else "n/a"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
