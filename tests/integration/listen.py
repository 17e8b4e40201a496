#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Listen mode against real clients: wsc -l 0 serving Python websockets clients,
Node's ws (tests/helpers/ws_client.js, from tests/node/node_modules) and hostile raw
sockets. Each test asserts what the clients received and what wsc printed: message
data on stdout, connects, refusals and closes on stderr.
"""

import asyncio
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

t.require_websockets()
t.require_wsc()

import websockets  # noqa: E402
from websockets.extensions.permessage_deflate import PerMessageDeflate  # noqa: E402

sys.path.insert(0, t.HELPERS)
import wsframe  # noqa: E402

SRCDIR = os.environ.get("TOP_SRCDIR") or os.path.normpath(os.path.join(t.HERE, "..", ".."))
NODE_MODULES = os.path.join(SRCDIR, "tests", "node", "node_modules")
WS_CLIENT_JS = os.path.join(t.HELPERS, "ws_client.js")


# ---- helpers -----------------------------------------------------------------------------


def err_text(proc):
    return proc.err.decode("utf-8", "replace")



def wait_out(proc, want, timeout=5):
    """Wait until wsc's stdout is exactly want."""
    return proc.wait_out(lambda out: out == want, timeout)


def send_stdin(proc, data):
    proc.proc.stdin.write(data)
    proc.proc.stdin.flush()


def arun(coro, timeout=15):
    """Run a coroutine with a bound; returns (value, None) or (None, "error text")."""
    try:
        return asyncio.run(asyncio.wait_for(coro, timeout)), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


def connect(port, scheme="ws", **kw):
    kw.setdefault("open_timeout", 5)
    kw.setdefault("close_timeout", 3)
    return websockets.connect(f"{scheme}://127.0.0.1:{port}/", **kw)


async def echo_once(port, msg="still there?"):
    async with connect(port) as ws:
        await ws.send(msg)
        return await ws.recv()


def serves_next(port, what):
    """After something hostile, a well-behaved client is still served (needs --echo)."""
    got, err = arun(echo_once(port, "next"), 10)
    t.ok(got == "next", f"{what}: the server stays up and serves the next client", err or got)


# ---- Python websockets: messages both ways ---------------------------------------------

@t.test
def messages_both_ways():
    port, proc = t.listen()

    async def session():
        async with connect(port) as ws:
            await ws.send("from the client")
            await ws.send("ünïcödé 🎉")
            if not wait_out(proc, "from the client\nünïcödé 🎉\n".encode(), 5):
                return None
            send_stdin(proc, b"from stdin\nsecond line\n")
            got = [await ws.recv(), await ws.recv()]
            await ws.close(1000)
            return got

    got, err = arun(session())
    t.is_(proc.out, "from the client\nünïcödé 🎉\n".encode(),
          "wsc -l: a client's text messages appear on stdout, one a line", err_text(proc))
    t.is_(got, ["from stdin", "second line"], "wsc -l: stdin lines reach the client",
          err or err_text(proc))
    m = t.wait_err(proc, r"client (\d+) connected from 127\.0\.0\.1:\d+")
    t.ok(m is not None, "stderr: 'client N connected from 127.0.0.1:PORT'", err_text(proc))
    t.ok(t.wait_err(proc, r"client 1 closed: 1000 \(normal") is not None,
         "stderr: 'client 1 closed: 1000 (normal ...)'", err_text(proc))


@t.test
def binary_from_client_raw_on_stdout():
    port, proc = t.listen()
    data = bytes(range(256)) * 4

    async def session():
        async with connect(port) as ws:
            await ws.send(data)
            proc.wait_out(lambda out: len(out) >= len(data), 5)

    _, err = arun(session())
    t.ok(err is None, "a client sends a binary message", err or "")
    t.is_(proc.out, data, "in a pipe a binary message is written as raw bytes")


@t.test
def several_clients():
    port, proc = t.listen()
    n = 3

    async def session():
        conns = [await connect(port).__aenter__() for _ in range(n)]
        try:
            if len(re.findall(r"client \d+ connected", err_text(proc))) < n:
                t.wait_err(proc, r"(?s)(client \d+ connected.*){%d}" % n)
            send_stdin(proc, b"to everyone\n")
            got = [await ws.recv() for ws in conns]
            for i, ws in enumerate(conns):
                await ws.send(f"from client {i}")
            proc.wait_out(lambda out: out.count(b"\n") >= n, 5)
            return got
        finally:
            for ws in conns:
                await ws.close()

    got, err = arun(session())
    t.is_(got, ["to everyone"] * n, f"{n} clients at once: each gets the stdin line",
          err or err_text(proc))
    lines = sorted(proc.out.decode("utf-8", "replace").splitlines())
    t.is_(lines, [f"from client {i}" for i in range(n)],
          f"{n} clients at once: every client's message is on stdout")
    ids = re.findall(r"client (\d+) connected from", err_text(proc))
    t.is_(sorted(ids), [str(i) for i in range(1, n + 1)],
          "each client gets its own id in the connect line", err_text(proc))
    t.wait_err(proc, r"(?s)(client \d+ closed.*){%d}" % n)
    closed = re.findall(r"client (\d+) closed: 1000", err_text(proc))
    t.is_(sorted(closed), sorted(ids), "each client's close is reported with its id",
          err_text(proc))


@t.test
def messages_from_clients_do_not_interleave():
    # While one client's 4 MiB message arrives over many reads, another client's short
    # messages come in: stdout must hold each message whole, on its own line.
    port, proc = t.listen("--no-deflate")
    big = "A" * (4 * 1024 * 1024)
    shorts = [f"short {i}" for i in range(50)]

    async def sender_big():
        async with connect(port, compression=None, max_size=None) as ws:
            await ws.send(big)
            proc.wait_out(lambda out: out.count(b"\n") >= 51, 0)
            await asyncio.sleep(1)

    async def sender_short():
        async with connect(port, compression=None) as ws:
            await asyncio.sleep(0.01)
            for m in shorts:
                await ws.send(m)
                await asyncio.sleep(0.001)
            await asyncio.sleep(1)

    async def both():
        await asyncio.gather(sender_big(), sender_short())

    _, err = arun(both(), 20)
    t.ok(err is None, "two clients send at once", err or "")
    proc.wait_out(lambda out: out.count(b"\n") >= 51, 5)
    lines = proc.out.split(b"\n")
    t.ok(lines[-1] == b"" and sorted(lines[:-1]) == sorted([big.encode()] +
                                                          [m.encode() for m in shorts]),
         "a long message from one client and short ones from another are not mixed on "
         "stdout", f"{len(lines)} lines: " + t._short([(ln[:12], len(ln)) for ln in lines]))
    t.is_([ln for ln in lines if not ln.startswith(b"A")], [m.encode() for m in shorts] + [b""],
          "... and one client's messages keep their order")


@t.test
def client_vanishes_mid_message():
    port, proc = t.listen("--no-deflate")
    s, head, rest = wsframe.client_handshake(port)
    with s:
        frame = wsframe.encode(wsframe.OP_TEXT, "cut " * 50, mask=True)
        s.sendall(frame[:120])
        t.wait_err(proc, r"client 1 connected")
        time.sleep(0.2)
    t.wait_err(proc, r"client 1 (disconnected|closed)")

    async def session():
        async with connect(port) as ws:
            await ws.send("whole")
    _, err = arun(session())
    proc.wait_out(lambda out: out.endswith(b"whole\n"), 5)
    t.is_(proc.out, b"whole\n", "a message cut off by a lost client is not printed, and the "
          "next client's message stands alone", err or err_text(proc))
    t.ok(t.wait_err(proc, r"client 1 disconnected") is not None,
         "stderr: 'client 1 disconnected'", err_text(proc))


@t.test
def echo_many_clients_concurrently():
    port, proc = t.listen("--echo")

    async def one(i):
        async with connect(port) as ws:
            sent = [f"client {i} message {k}" for k in range(20)] + [os.urandom(1000 + i)]
            for m in sent:
                await ws.send(m)
            got = [await ws.recv() for _ in sent]
            return got == sent

    async def all_of_them():
        return await asyncio.gather(*(one(i) for i in range(10)))

    got, err = arun(all_of_them(), 20)
    t.ok(got == [True] * 10, "--echo: 10 concurrent clients each get their own messages back",
         err or str(got))
    t.is_(proc.out, b"", "--echo: nothing on stdout")


# ---- ping/pong and close codes --------------------------------------------------------------

@t.test
def ping_pong():
    port, proc = t.listen("-P", "--ping-interval", "0.2")

    async def session():
        async with connect(port, ping_interval=None) as ws:
            waiter = await ws.ping(b"client ping")
            await asyncio.wait_for(waiter, 3)
            await asyncio.sleep(0.7)  # several keepalive pings from wsc; websockets answers
            await ws.send("alive")
            return proc.wait_out(lambda out: out == b"alive\n", 3)

    got, err = arun(session())
    t.ok(got is True, "a client's ping gets its pong from wsc -l", err or err_text(proc))
    t.ok(t.wait_err(proc, r"ping received \(11 bytes\): client ping") is not None,
         "-P: the client's ping is shown on stderr", err_text(proc))
    t.ok(t.wait_err(proc, r"pong received \(\d+ bytes\): wsc keepalive") is not None,
         "--ping-interval: wsc pings the client and sees its pong", err_text(proc))


@t.test
def client_close_code():
    port, proc = t.listen()

    async def session():
        async with connect(port) as ws:
            await ws.close(4001, "bye")
            return ws.close_code

    got, err = arun(session())
    t.is_(got, 4001, "the client closes with 4001 and wsc answers the close", err or "")
    t.ok(t.wait_err(proc, r'client 1 closed: 4001 \([^)]*\) "bye"') is not None,
         "stderr: 'client 1 closed: 4001 (...) \"bye\"'", err_text(proc))


@t.test
def server_going_away():
    port, proc = t.listen()

    async def session():
        async with connect(port) as ws:
            t.wait_err(proc, r"client 1 connected")
            proc.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed:
                pass
            return ws.close_code

    got, err = arun(session())
    t.is_(got, 1001, "SIGTERM: wsc -l closes its clients with 1001 (going away)", err or "")
    r = proc.wait(5)
    t.exits(r, 0, "SIGTERM: wsc -l exits 0 once its clients are closed")


# ---- subprotocols and compression --------------------------------------------------------

@t.test
def subprotocol_choice():
    port, proc = t.listen("-s", "b", "-s", "a", "--echo")
    cases = [(["a", "b"], "b", "the server's order wins: -s b -s a, client offers a,b: b"),
             (["a"], "a", "client offers only a: a"),
             (["c"], None, "client offers c, not accepted: no subprotocol"),
             (None, None, "client offers none: no subprotocol")]
    for offer, want, name in cases:
        async def session():
            async with connect(port, subprotocols=offer) as ws:
                await ws.send("x")
                await ws.recv()
                return ws.subprotocol

        got, err = arun(session())
        t.is_(got, want, name, err or "")


def deflate_of(ws):
    return [e for e in ws.extensions if isinstance(e, PerMessageDeflate)]


@t.test
def compression():
    port, proc = t.listen("--echo")
    big_text = "".join(f"line {i}: the quick brown fox\n" for i in range(40000))  # ~1.2 MB
    msgs = ["s", "", "small", big_text, os.urandom(300000), b"\x00" * 500000, "done"]

    async def session():
        async with connect(port, compression="deflate", max_size=None) as ws:
            for m in msgs:
                await ws.send(m)
            got = [await ws.recv() for _ in msgs]
            return got, deflate_of(ws)

    res, err = arun(session(), 30)
    got, pmd = res or (None, None)
    t.ok(pmd, "a client offering permessage-deflate gets it", err or "")
    t.ok(got == msgs, "permessage-deflate: small, empty, 1.2 MB text and 800 KB binary "
         "messages round-trip", err or f"got {t._short(got)}")

    async def plain():
        async with connect(port, compression=None, max_size=None) as ws:
            await ws.send(big_text)
            return await ws.recv() == big_text, ws.extensions

    res, err = arun(plain(), 30)
    t.ok(res is not None and res[0] and res[1] == [],
         "a client that offers no compression gets none and is served", err or str(res))

    port2, _ = t.listen("--echo", "--no-deflate")

    async def refused():
        async with connect(port2, compression="deflate", max_size=None) as ws:
            await ws.send("z" * 10000)
            return await ws.recv() == "z" * 10000, ws.extensions

    res, err = arun(refused(), 30)
    t.ok(res is not None and res[0] and res[1] == [],
         "--no-deflate: the offer is declined and the client served", err or str(res))


# ---- limits --------------------------------------------------------------------------------

@t.test
def max_clients():
    port, proc = t.listen("--max-clients", "1", "--echo")

    async def session():
        async with connect(port) as first:
            await first.send("one")
            await first.recv()
            try:
                async with connect(port):
                    status = 101
            except websockets.InvalidStatusCode as exc:
                status = exc.status_code
            await first.send("still one")
            still = await first.recv()
        return status, still

    res, err = arun(session())
    status, still = res or (None, None)
    t.is_(status, 503, "--max-clients 1: a second client gets 503", err or err_text(proc))
    t.is_(still, "still one", "--max-clients 1: the first client is served on")
    t.ok(t.wait_err(proc, r"client 2 refused: too many clients") is not None,
         "stderr says why the second client was refused", err_text(proc))
    serves_next(port, "--max-clients 1, after the first client left")


def nofile_limits(pid):
    """(soft, hard) RLIMIT_NOFILE of a running process, from /proc/PID/limits."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return soft, hard
    return None


@t.test
def descriptor_limit_raised():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard < 200:
        t.skip("the soft limit of open files is raised", f"hard limit {hard}")
        return
    # wsc inherits a low soft limit from this process, and must raise it.
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    try:
        port, proc = t.listen("--echo")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    t.is_(nofile_limits(proc.proc.pid), (str(hard), str(hard)),
          "wsc -l raises its soft limit of open files to the hard limit")
    serves_next(port, "after raising the limit")
    n = hard - 16
    port, proc = t.listen("--max-clients", str(n), "--echo")
    serves_next(port, f"--max-clients {n} (the hard limit less 16) is accepted")
    r = t.run(["-l", "0", "--max-clients", str(n + 1)])
    t.exits(r, 2, f"--max-clients {n + 1}: exit 2")
    t.ok(b"raise the hard limit" in r.err and str(hard).encode() in r.err,
         f"--max-clients {n + 1}: stderr names the limit", r.err.decode(errors="replace"))


# ---- a close behind a large echo (Autobahn 9.2.4) -------------------------------------

def read_until_eof(s, timeout=20):
    """Every byte until the server's TCP close; (bytes, 'eof' | 'reset' | 'timeout')."""
    buf = bytearray()
    s.settimeout(timeout)
    try:
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                return bytes(buf), "eof"
            buf += chunk
    except ConnectionResetError:
        return bytes(buf), "reset"
    except socket.timeout:
        return bytes(buf), "timeout"


def echo_then_close(data):
    """(the echo's payload, the close code after it, anything more) from raw bytes."""
    f, used = wsframe.parse(data)
    if not f:
        return None, None, data
    g, used2 = wsframe.parse(data[used:])
    return f.payload, g.close_code() if g and g.opcode == wsframe.OP_CLOSE else None, \
        data[used + used2:] if g else data[used:]


@t.test
def large_message_and_close_together():
    """RFC 6455 5.5.1 and 7.1.1: a 4 MiB message and a close sent in one write. The echo
    comes first, then the close reply, then the server's TCP close, every time."""
    port, proc = t.listen("--echo")
    payload = os.urandom(4 << 20)
    both = (wsframe.encode(wsframe.OP_BINARY, payload, mask=True) +
            wsframe.encode(wsframe.OP_CLOSE, wsframe.close_payload(1000), mask=True))
    results = []
    for _ in range(20):
        s, head, rest = wsframe.client_handshake(port)
        with s:
            s.sendall(both)
            data, end = read_until_eof(s)
        echo, code, more = echo_then_close(rest + data)
        results.append((echo == payload, code, len(more), end))
    bad = [r for r in results if r != (True, 1000, 0, "eof")]
    t.ok(not bad, "4 MiB and a close together, 20 times: the whole echo, a close 1000, then "
         "the server's FIN", f"(echo ok, close code, extra bytes, end): {bad[:3]}")


@t.test
def close_reply_after_echo():
    """As Autobahn 9.2.4 does it: the message, its whole echo, then the close, whose
    reply must come at once (the client's close timeout is short)."""
    port, proc = t.listen("--echo")
    payload = os.urandom(4 << 20)
    frame = wsframe.encode(wsframe.OP_BINARY, payload, mask=True)
    close = wsframe.encode(wsframe.OP_CLOSE, wsframe.close_payload(1000), mask=True)
    worst, bad = 0.0, []
    for i in range(10):
        s, head, rest = wsframe.client_handshake(port)
        with s:
            s.sendall(frame)
            buf = bytearray(rest)
            s.settimeout(20)
            while wsframe.parse(buf)[0] is None:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                buf += chunk
            f, used = wsframe.parse(buf)
            t0 = time.monotonic()
            s.sendall(close)
            data, end = read_until_eof(s)
            worst = max(worst, time.monotonic() - t0)
            g, _ = wsframe.parse(bytes(buf[used:]) + data)
            ok = (f is not None and f.payload == payload and g is not None and
                  g.close_code() == 1000 and end == "eof")
            if not ok:
                bad.append(i)
    t.ok(not bad, "4 MiB echoed, then a close: answered with a close 1000 and a FIN, 10 times",
         f"failed: {bad}; slowest answer {worst:.3f} s")


@t.test
def close_reply_behind_a_slow_reader():
    """The close reply waits behind an 8 MiB echo that a client reads only after 2.5 s.
    The server must not give up on it: the time it waits for the client's TCP close
    (2 s) begins when its output is written, not when the close arrives."""
    port, proc = t.listen("--echo")
    payload = os.urandom(8 << 20)
    frame = wsframe.encode(wsframe.OP_BINARY, payload, mask=True)
    close = wsframe.encode(wsframe.OP_CLOSE, wsframe.close_payload(1000), mask=True)
    s, head, rest = wsframe.client_handshake(port)
    with s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        # all but the message's last bytes first, then those and the close in one
        # segment: the server reads the end of the message and the close together
        s.sendall(frame[:-100])
        time.sleep(0.3)
        s.sendall(frame[-100:] + close)
        time.sleep(2.5)
        data, end = read_until_eof(s)
    echo, code, more = echo_then_close(rest + data)
    t.ok(echo == payload and code == 1000 and end == "eof",
         "a client that reads its 8 MiB echo 2.5 s late still gets all of it and the close "
         "reply", f"got {len(rest + data)} bytes, close {code}, end {end}")


# ---- wss:// ------------------------------------------------------------------------------

def self_signed_cert():
    """A throwaway certificate for 127.0.0.1, made with the openssl CLI."""
    cert, key = t.tmpfile("cert") + ".pem", t.tmpfile("key") + ".pem"
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       capture_output=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError(f"openssl req failed: {p.stderr.decode()}")
    return cert, key


@t.test
def wss_listen():
    if not shutil.which("openssl"):
        t.skip("wss listening", "the openssl command is not installed")
        return
    cert, key = self_signed_cert()
    port, proc = t.listen("--cert", cert, "--key", key)
    ctx = ssl.create_default_context(cafile=cert)

    async def session():
        async with connect(port, "wss", ssl=ctx) as ws:
            await ws.send("over TLS")
            proc.wait_out(lambda out: out == b"over TLS\n", 5)
            send_stdin(proc, b"back over TLS\n")
            got = await ws.recv()
            await ws.close(4005, "tls bye")
            return got

    got, err = arun(session())
    t.is_(got, "back over TLS", "wss: a client trusting the certificate exchanges messages",
          err or err_text(proc))
    t.is_(proc.out, b"over TLS\n", "wss: the client's message is on stdout")
    t.ok(t.wait_err(proc, r'client 1 closed: 4005 \([^)]*\) "tls bye"') is not None,
         "wss: the close code is reported", err_text(proc))

    async def untrusted():
        async with connect(port, "wss", ssl=ssl.create_default_context()):
            return "connected"

    got, err = arun(untrusted())
    t.ok(got is None and "CERTIFICATE_VERIFY_FAILED" in (err or ""),
         "wss: a client that does not trust the certificate refuses it", err or got)
    t.ok(t.wait_err(proc, r"client 2 from 127\.0\.0\.1:\d+ did not complete the handshake: "
                  r".*(TLS|SSL|certificate|alert)") is not None,
         "stderr: 'client 2 from ... did not complete the handshake' names the TLS failure",
         err_text(proc))

    async def echo_tls():
        async with connect(port, "wss", ssl=ctx) as ws:
            await ws.send("after the failed client")
            proc.wait_out(lambda out: out.endswith(b"after the failed client\n"), 5)
            return proc.out.endswith(b"after the failed client\n")

    got, err = arun(echo_tls())
    t.ok(got is True, "wss: the server serves the next client after a failed TLS handshake",
         err or err_text(proc))

    async def plain_to_tls():
        async with connect(port):
            return "connected"

    got, err = arun(plain_to_tls())
    t.ok(got is None, "wss: a plain ws:// client is not served", err or got)
    got, err = arun(echo_tls())
    t.ok(got is True, "wss: ... and the next TLS client is", err or err_text(proc))


# ---- interactive: a terminal ---------------------------------------------------------------

class PtyWsc:
    """wsc with stdin, stdout and stderr on a pseudo-terminal (interactive mode)."""

    def __init__(self, args):
        import pty
        self.master, slave = pty.openpty()
        env = t.child_env({"TERM": "xterm"})
        self.proc = subprocess.Popen([t.WSC] + list(args), stdin=slave, stdout=slave,
                                     stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.buf = bytearray()
        t.track(self)

    def pump(self, seconds=0.0):
        end = time.monotonic() + seconds
        while True:
            ready, _, _ = select.select([self.master], [], [], max(0.0, end - time.monotonic()))
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                self.buf += chunk
            elif time.monotonic() >= end:
                return

    def text(self):
        return self.buf.decode("utf-8", "replace")

    def type(self, line):
        os.write(self.master, line.encode() + b"\r")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.close(self.master)
        except OSError:
            pass


@t.test
def interactive_listen():
    term = PtyWsc(["-l", "0"])
    end = time.monotonic() + 5
    while not re.search(r"listening on 127\.0\.0\.1:\d+", term.text()) and \
            time.monotonic() < end:
        term.pump(0.05)
    port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", term.text()).group(1))

    async def pumped(coro):
        # The terminal is read while the clients wait, so that wsc never blocks on it.
        task = asyncio.ensure_future(coro)
        while not task.done():
            await asyncio.sleep(0.02)
            term.pump()
        return task.result()

    async def session():
        c1, c2 = await connect(port), await connect(port)
        await c2.send("hi from two")
        end = time.monotonic() + 5
        while "[2] < hi from two" not in term.text() and time.monotonic() < end:
            await asyncio.sleep(0.05)
        term.type("/to 1 only for one")
        first1 = await asyncio.wait_for(c1.recv(), 5)
        term.type("everyone")
        first2 = await asyncio.wait_for(c2.recv(), 5)
        second1 = await asyncio.wait_for(c1.recv(), 5)
        term.type("/to 2 /ping are you there")
        pong_seen = False
        end = time.monotonic() + 5
        while not pong_seen and time.monotonic() < end:
            await asyncio.sleep(0.05)
            pong_seen = "pong after" in term.text()
        term.type("/to 1 /close 4005 just one")
        try:
            await asyncio.wait_for(c1.recv(), 5)
        except websockets.ConnectionClosed:
            pass
        only1 = (c1.close_code, c1.close_reason, c2.open, pong_seen)
        term.type("/close 4003 done")
        codes = []
        for c in (c2,):
            try:
                await asyncio.wait_for(c.recv(), 5)
            except websockets.ConnectionClosed:
                pass
            codes.append((c.close_code, c.close_reason))
        return first1, first2, second1, codes, only1

    res, err = arun(pumped(session()), 20)
    term.pump(0.3)
    first1, first2, second1, codes, only1 = res or (None,) * 5
    screen = term.text()
    t.ok("[2] < hi from two" in screen, "terminal: a client's message is shown as '[2] < text'",
         err or screen)
    t.is_((first1, first2, second1), ("only for one", "everyone", "everyone"),
          "terminal: /to 1 text reaches client 1 only; a plain line reaches both",
          err or screen)
    t.is_(only1, (4005, "just one", True, True),
          "terminal: /to 2 /ping pings client 2; /to 1 /close 4005 closes client 1 alone",
          err or screen)
    t.is_(codes, [(4003, "done")],
          "terminal: /close 4003 done closes every client left with 4003 \"done\"", err or screen)
    t.ok(re.search(r"client 2 closed by us: 4003", screen) is not None,
         "terminal: the closes are reported", screen)
    t.ok(re.search(r"> everyone\r\n(.*\r\n)*?wsc: sent to clients 1, 2\r\n", screen),
         "terminal: a line sent to every client stays as '> line', then says which", screen)
    t.ok("> /to 1 only for one\r\n" in screen and "wsc: sent to client 1\r\n" in screen,
         "terminal: /to 1 says 'sent to client 1'", screen)


@t.test
def interactive_listen_no_client():
    term = PtyWsc(["-l", "0"])
    end = time.monotonic() + 5
    while not re.search(r"listening on 127\.0\.0\.1:\d+", term.text()) and \
            time.monotonic() < end:
        term.pump(0.05)
    term.pump(0.2)
    t.ok(term.text().endswith("> "), "terminal, listening: the prompt is shown",
         repr(term.text()))
    term.type("nobody hears this")
    end = time.monotonic() + 5
    while "no client: not sent" not in term.text() and time.monotonic() < end:
        term.pump(0.05)
    t.ok("> nobody hears this\r\n" in term.text(), "terminal, no client: the typed line shows",
         repr(term.text()))
    t.ok("wsc: no client: not sent" in term.text(), "terminal, no client: says it was not sent",
         repr(term.text()))
    term.type("/to 7 hello")
    end = time.monotonic() + 5
    while "no client 7: not sent" not in term.text() and time.monotonic() < end:
        term.pump(0.05)
    t.ok("wsc: no client 7: not sent" in term.text(), "terminal: /to an unknown client says so",
         repr(term.text()))


# ---- Node's ws ---------------------------------------------------------------------------

def node_client(port, plan, timeout=20):
    """Runs ws_client.js; returns (list of events, CompletedProcess)."""
    env = t.child_env({"NODE_PATH": NODE_MODULES})
    p = subprocess.run(["node", WS_CLIENT_JS, f"ws://127.0.0.1:{port}/"],
                       input=json.dumps(plan).encode(), capture_output=True, timeout=timeout,
                       env=env)
    events = []
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    return events, p


def node_missing():
    if not shutil.which("node"):
        return "node is not installed"
    if not os.path.isdir(os.path.join(NODE_MODULES, "ws")):
        return f"{NODE_MODULES} has no ws (./bootstrap runs npm ci there)"
    return None


def node_skip(n, what):
    why = node_missing()
    if why:
        for i in range(n):
            t.skip(what, why)
    return why is not None


def evs(events, kind):
    return [e for e in events if e.get("event") == kind]


@t.test
def node_echo():
    if node_skip(5, "Node ws client against wsc -l --echo"):
        return
    port, proc = t.listen("--echo")
    big = "".join(f"{i} abcdefghij\n" for i in range(20000))
    plan = {"deflate": True, "timeout": 15000, "steps": [
        {"text": "hello from node"}, {"binary": "00ff10ee"}, {"ping": "node ping"},
        {"text": big}, {"binary": ""}, {"expect": 4}, {"close": [1000, "done"]}]}
    events, p = node_client(port, plan)
    diag = f"{p.stdout.decode()[:2000]}\n{p.stderr.decode()}\n{err_text(proc)}"
    opened = evs(events, "open")
    t.ok(opened and "permessage-deflate" in opened[0]["extensions"],
         "node ws: permessage-deflate is negotiated", diag)
    got = [(e["type"], e["data"]) for e in evs(events, "message")]
    t.ok(got == [("text", "hello from node"), ("binary", "00ff10ee"), ("text", big),
                 ("binary", "")],
         "node ws: text, binary, 240 KB text and empty binary round-trip with --echo", diag)
    t.is_([e["data"] for e in evs(events, "pong")], ["node ping"],
          "node ws: a ping gets its pong", diag)
    t.is_([e["code"] for e in evs(events, "close")], [1000], "node ws: closed with 1000", diag)
    t.is_(p.returncode, 0, "node ws client: exit 0", diag)


@t.test
def node_both_ways():
    if node_skip(6, "Node ws client against wsc -l"):
        return
    port, proc = t.listen("-s", "b", "-s", "a")
    # The client waits for two messages, which come from wsc's stdin once it is in.
    plan = {"protocols": ["a", "b"], "timeout": 15000, "steps": [
        {"text": "node says hi"}, {"binary": "414243"}, {"expect": 2},
        {"close": [4002, "node bye"]}]}
    env = t.child_env({"NODE_PATH": NODE_MODULES})
    node = subprocess.Popen(["node", WS_CLIENT_JS, f"ws://127.0.0.1:{port}/", json.dumps(plan)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        if wait_out(proc, b"node says hi\nABC", 10):
            send_stdin(proc, b"from wsc\nsecond\n")
        out, errout = node.communicate(timeout=20)
    finally:
        if node.poll() is None:
            node.kill()
            node.wait(5)
    events = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    diag = f"{out.decode()}\n{errout.decode()}\n{err_text(proc)}"
    t.is_(proc.out, b"node says hi\nABC", "node ws: its text and binary messages are on stdout",
          diag)
    t.is_([e["data"] for e in evs(events, "message")], ["from wsc", "second"],
          "node ws: receives the stdin lines", diag)
    opened = evs(events, "open")
    t.is_(opened[0]["protocol"] if opened else None, "b",
          "node ws: offers a,b to -s b -s a and gets b", diag)
    t.is_([e["code"] for e in evs(events, "close")], [4002],
          "node ws: its close 4002 is answered", diag)
    t.ok(t.wait_err(proc, r'client 1 closed: 4002 \([^)]*\) "node bye"') is not None,
         "stderr: 'client 1 closed: 4002 (...) \"node bye\"'", diag)
    t.is_(node.returncode, 0, "node ws client: exit 0", diag)


# ---- hostile clients ----------------------------------------------------------------------

def read_to_eof(s, timeout=5):
    """Everything until the server closes; None if it did not close in time."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk
    except socket.timeout:
        return None
    except ConnectionResetError:
        return data


def status_of(head):
    parts = head.split(" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def header(head, name):
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def read_frame(s, rest=b"", timeout=5):
    s.settimeout(timeout)
    buf = bytearray(rest)
    try:
        while True:
            frame, _ = wsframe.parse(buf)
            if frame is not None:
                return frame
            chunk = s.recv(4096)
            if not chunk:
                return None
            buf += chunk
    except OSError:
        return None


@t.test
def hostile_unmasked_frames():
    port, proc = t.listen("--echo")
    s, head, rest = wsframe.client_handshake(port)
    with s:
        t.is_(status_of(head), 101, "hostile: a good handshake gets 101", head)
        s.sendall(wsframe.encode(wsframe.OP_TEXT, "not masked"))
        frame = read_frame(s, rest)
        t.ok(frame is not None and frame.opcode == wsframe.OP_CLOSE and
             frame.close_code() == 1002,
             "hostile: an unmasked client frame is answered with close 1002",
             f"{frame and (frame.opcode, frame.payload)}\n{err_text(proc)}")
        t.ok(read_to_eof(s) is not None, "hostile: ... and the connection is closed")
    t.ok(t.wait_err(proc, r"client 1 broke the protocol: .*closed with 1002") is not None,
         "stderr: 'client 1 broke the protocol: ...; closed with 1002'", err_text(proc))
    serves_next(port, "after unmasked frames")


@t.test
def hostile_bad_requests():
    port, proc = t.listen("--echo")
    cases = [
        ("a key that is not base64 of 16 bytes", dict(key="c2hvcnQ="), 400),
        ("a key of 24 characters that is not base64", dict(key="!!!!!!!!!!!!!!!!!!!!!!=="),
         400),
        ("no key", dict(key=""), 400),
        ("version 7", dict(version="7"), 426),
        ("no version", dict(version=None), 426),
        ("POST", dict(method="POST"), 405),
    ]
    for what, kw, want in cases:
        s, head, rest = wsframe.client_handshake(port, **kw)
        with s:
            t.is_(status_of(head), want, f"hostile: {what}: {want}", head)
            if want == 426:
                t.is_(header(head, "Sec-WebSocket-Version"), "13, 8",
                      f"hostile: {what}: the 426 lists 'Sec-WebSocket-Version: 13, 8'", head)
            t.ok(read_to_eof(s) is not None, f"hostile: {what}: the server hangs up")
        serves_next(port, f"after {what}")
    s, head, rest = wsframe.client_handshake(port, version="8")
    with s:
        t.is_(status_of(head), 101, "version 8 is accepted", head)
    t.ok(t.wait_err(proc, r"client \d+ refused: .*Sec-WebSocket-Version") is not None,
         "stderr says why a client was refused", err_text(proc))


@t.test
def hostile_oversized_head():
    port, proc = t.listen("--echo")
    filler = "".join(f"X-Filler-{i}: {'a' * 100}\r\n" for i in range(200))  # ~22 KB
    s, head, rest = wsframe.client_handshake(port, extra=filler)
    with s:
        t.is_(status_of(head), 431, "hostile: a request head over 16 KiB gets 431", head)
        t.ok(read_to_eof(s) is not None, "hostile: ... and the server hangs up")
    serves_next(port, "after an oversized head")
    # A head just under the limit is fine.
    filler = "".join(f"X-Filler-{i}: {'a' * 350}\r\n" for i in range(40))  # ~14.5 KB
    s, head, rest = wsframe.client_handshake(port, extra=filler)
    with s:
        t.is_(status_of(head), 101, "a request head of 14.5 KB is served", head)
    # Many small header fields are a head too large as well (RFC 6585 5).
    filler = "".join(f"X-Many-{i}: {i}\r\n" for i in range(100))
    s, head, rest = wsframe.client_handshake(port, extra=filler)
    with s:
        t.is_(status_of(head), 431, "hostile: 100 header fields get 431", head)
    serves_next(port, "after too many header fields")


@t.test
def hostile_endless_head():
    # Header lines sent without end, faster than any timeout: refused once over 16 KiB.
    port, proc = t.listen("--echo")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
        answered = b""
        try:
            for i in range(1000):
                s.sendall(f"X-More-{i}: {'b' * 200}\r\n".encode())
        except OSError:
            pass
        answered = read_to_eof(s) or b""
        t.ok(answered.startswith(b"HTTP/1.1 431"),
             "hostile: an endless request head is cut off with 431", repr(answered[:200]))
    serves_next(port, "after an endless head")


@t.test
def hostile_slow_handshake():
    port, proc = t.listen("--echo", "-v", "--handshake-timeout", "0.5")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        start = time.monotonic()
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        got = read_to_eof(s, 5)
        elapsed = time.monotonic() - start
    t.ok(got is not None and 0.3 <= elapsed < 3,
         "hostile: a handshake unfinished after --handshake-timeout 0.5 is closed",
         f"closed: {got is not None} after {elapsed:.2f} s\n{err_text(proc)}")
    t.ok(t.wait_err(proc, r"client 1 from 127\.0\.0\.1:\d+ did not complete the handshake: "
                  r"no handshake request within 0\.5 s") is not None,
         "stderr: 'client 1 from ... did not complete the handshake: no handshake request "
         "within 0.5 s'", err_text(proc))
    serves_next(port, "after a slow handshake")


@t.test
def hostile_silent_client():
    port, proc = t.listen("--echo", "--handshake-timeout", "1")
    silent = socket.create_connection(("127.0.0.1", port), timeout=5)
    with silent:
        start = time.monotonic()
        # While the silent client waits, others are served.
        serves_next(port, "while a silent client is connected")
        got = read_to_eof(silent, 5)
        elapsed = time.monotonic() - start
    t.ok(got is not None and 0.7 <= elapsed < 4,
         "hostile: a client that sends nothing is closed after --handshake-timeout 1",
         f"closed: {got is not None} after {elapsed:.2f} s\n{err_text(proc)}")
    serves_next(port, "after a silent client")


@t.test
def hostile_silent_clients_and_max_clients():
    # Silent connections count against --max-clients until the handshake timeout
    # frees their places.
    port, proc = t.listen("--echo", "--max-clients", "2", "--handshake-timeout", "1")
    socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    try:
        time.sleep(0.2)
        got, err = arun(echo_once(port, "third"), 5)
        t.ok(got is None and "503" in (err or ""),
             "hostile: two silent clients fill --max-clients 2: the third gets 503", err or got)
        for s in socks:
            read_to_eof(s, 5)
    finally:
        for s in socks:
            s.close()
    serves_next(port, "once the silent clients timed out")


@t.test
def hostile_garbage():
    port, proc = t.listen("--echo")
    for what, data in [("binary garbage", os.urandom(64) + b"\r\n\r\n"),
                       ("an HTTP response", b"HTTP/1.1 200 OK\r\n\r\n"),
                       ("a request line without version", b"GET /\r\n\r\n")]:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(data)
            head, _ = wsframe.read_head(s)
            t.is_(status_of(head), 400, f"hostile: {what}: 400", head)
        serves_next(port, f"after {what}")


@t.test
def hostile_disconnects():
    # Clients that vanish at each step: during the head, right after the 101, mid-frame.
    port, proc = t.listen("--echo", "-v")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHo")
    s, head, rest = wsframe.client_handshake(port)
    s.close()
    s, head, rest = wsframe.client_handshake(port)
    s.sendall(wsframe.encode(wsframe.OP_TEXT, "x" * 1000, mask=True)[:300])
    s.close()
    serves_next(port, "after clients that vanish mid-head, after the 101 and mid-frame")
    t.ok(proc.proc.poll() is None, "wsc -l is still running")
    t.ok(t.wait_err(proc, r"client 1 from \S+ did not complete the handshake: connection closed")
         is not None, "stderr: a client gone mid-head is reported", err_text(proc))
    t.ok(t.wait_err(proc, r"(?s)client 2 disconnected.*client 3 disconnected") is not None,
         "stderr: clients gone after the 101 are reported as disconnected", err_text(proc))


@t.test
def idle_clients_cost_little_memory():
    # An idle client costs its connection's state and nothing more: no buffer
    # for the request, the 101 or the echo once it is sent, and no room for a
    # client's handshake (bench/RESULTS.md: 1.6 KiB each; 11.9 KiB before).
    n = 400
    port, proc = t.listen("--echo", "-q", "--max-clients", str(n))
    time.sleep(0.2)
    start = t.rss_anon_kib(proc.proc.pid)
    socks, opened, echoed = [], 0, 0
    try:
        for _ in range(n):
            s, head, rest = wsframe.client_handshake(port)
            socks.append((s, rest))
            opened += status_of(head) == 101
        for s, _ in socks:
            s.sendall(wsframe.encode(wsframe.OP_TEXT, b"m" * 64, mask=True))
        for s, rest in socks:
            frame = read_frame(s, rest)
            echoed += frame is not None and frame.payload == b"m" * 64
        time.sleep(1.5)  # a turn without output passes: the buffers go back
        per_client = (t.rss_anon_kib(proc.proc.pid) - start) / n
    finally:
        for s, _ in socks:
            s.close()
    t.is_((opened, echoed), (n, n), f"{n} clients open and each has its echo")
    if t.is_sanitized():
        t.skip("an idle client costs wsc -l --echo less than 4 KiB", "sanitizer build")
    else:
        t.ok(0 < per_client < 4, "an idle client costs wsc -l --echo less than 4 KiB",
             f"{per_client:.2f} KiB each")


if __name__ == "__main__":
    t.main()
