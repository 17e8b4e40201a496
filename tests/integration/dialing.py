#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""--tcp-listen's dials: each local client's connection to the URL is made without
blocking the loop, so a server that is slow to answer holds no one else.

A dial is made to hang on 127.0.0.1 with a listening socket whose accept queue is full
and never accepted (listen backlog 0, one connection queued): Linux then drops the
SYNs of further connects. Also: a refused dial, TLS (wss://) and HTTP/2 through the new
path, and a proxy's CONNECT (tests/helpers/raw_proxy.py) made without blocking too.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

t.require_wsc()

sys.path.insert(0, t.HELPERS)
import daemons  # noqa: E402
import raw_proxy  # noqa: E402

HAS_OPENSSL = subprocess.run(["openssl", "version"], capture_output=True).returncode == 0
def certs():
    return daemons.shared_certs(t.tmpdir())


def listen_echo(*args):
    """wsc -l 0 --echo -v in the background; returns (port, proc)."""
    proc = t.spawn(["-l", "0", "--echo", "-v"] + list(args))
    m = t.wait_err(proc, r"listening on 127\.0\.0\.1:(\d+)")
    if not m:
        raise RuntimeError(f"wsc -l did not say where it listens: {proc.err!r}")
    return int(m.group(1)), proc


def bridge(url, *args):
    """wsc URL --tcp-listen PORT ARGS in the background; returns (local port, proc)."""
    lport = t.free_port()
    proc = t.spawn([url, "--tcp-listen", str(lport)] + list(args))
    t.wait_listening(lport, 5, proc)
    return lport, proc


def local_client(lport):
    s = socket.create_connection(("127.0.0.1", lport))
    s.settimeout(5)
    return s


def echoed(s, data, timeout=5):
    """Sends data through a local client and reads as many bytes back."""
    s.settimeout(timeout)
    s.sendall(data)
    got = b""
    try:
        while len(got) < len(data):
            chunk = s.recv(len(data) - len(got))
            if not chunk:
                break
            got += chunk
    except socket.timeout:
        pass
    return got


def is_closed(s, timeout=5):
    """Whether the peer closed s (EOF or a reset) within timeout."""
    s.settimeout(timeout)
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def stop(proc, name):
    proc.proc.send_signal(signal.SIGINT)
    t.exits(proc.wait(5), 0, f"{name}: SIGINT exits 0")


class Gate:
    """A TCP port that lets one connection through to a backend (None: none), then
    hangs every later connect: its accept queue is filled and never accepted."""

    def __init__(self, backend_port=None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.backend_port = backend_port
        self.fillers = []
        self.passed = threading.Event()
        if backend_port is not None:
            threading.Thread(target=self._pass_one, daemon=True).start()
        t.track(self)

    def _pass_one(self):
        try:
            a, _ = self.sock.accept()
        except OSError:
            return
        b = socket.create_connection(("127.0.0.1", self.backend_port))
        self.passed.set()
        try:
            raw_proxy.relay(a, b, 30)
        except OSError:
            return
        finally:
            a.close()
            b.close()

    def fill(self):
        """Queues connections until one no longer completes: from then on the
        kernel drops every SYN to the port. Returns whether it got there."""
        for _ in range(8):
            s = socket.socket()
            s.settimeout(0.3)
            try:
                s.connect(("127.0.0.1", self.port))
            except socket.timeout:
                s.close()
                return True
            self.fillers.append(s)
        return False

    def kill(self):
        for s in self.fillers + [self.sock]:
            s.close()


def full_port():
    """A port that hangs every connect."""
    gate = Gate()
    gate.fill()
    return gate


# ---- a dial that hangs holds no one else ---------------------------------------------

@t.test
def hanging_dial_holds_no_one():
    srv = t.server("echo_server.py")
    gate = Gate(srv.port)
    lport, proc = bridge(f"ws://127.0.0.1:{gate.port}/", "--connect-timeout", "6")
    b = local_client(lport)
    t.is_(echoed(b, b"before"), b"before", "hanging dial: client B's WebSocket is open")
    t.ok(gate.passed.wait(5), "hanging dial: B went through the gate")
    t.ok(gate.fill(), "hanging dial: the gate's accept queue is full (SYNs dropped)")
    a = local_client(lport)
    # well within --connect-timeout: a loop held by A's dial would say nothing yet
    t.ok(t.wait_err(proc, r"connection 2 from 127\.0\.0\.1:\d+", timeout=1.5),
         "hanging dial: client A was accepted and its dial started", proc.err)
    rounds = []
    for i in range(3):
        rounds.append(echoed(b, b"while A dials %d" % i, timeout=1.5))
        time.sleep(0.1)
    err = proc.err.decode("utf-8", "replace")
    still_dialing = "connection 2:" not in err
    t.is_(rounds, [b"while A dials %d" % i for i in range(3)],
          "hanging dial: B's echoes keep coming while A's dial hangs")
    t.ok(still_dialing, "hanging dial: A was still dialing while B echoed", err)
    m = t.wait_err(proc, r"connection 2: (.*)", timeout=10)
    t.is_(m.group(1) if m else None, f"cannot connect to 127.0.0.1:{gate.port}: timed out",
          "hanging dial: A's dial ends after --connect-timeout, with one clear line")
    t.ok(is_closed(a), "hanging dial: A's local socket is closed")
    t.is_(echoed(b, b"after"), b"after", "hanging dial: B is untouched by A's failure")
    b.close()
    stop(proc, "hanging dial")


@t.test
def refused_dial():
    port = t.free_port()
    lport, proc = bridge(f"ws://127.0.0.1:{port}/", "-q")
    for i in (1, 2):
        s = local_client(lport)
        t.ok(is_closed(s), f"refused dial: local client {i} is closed")
        m = t.wait_err(proc, rf"connection {i}: (.*)")
        t.ok(m and m.group(1).startswith(f"cannot connect to 127.0.0.1:{port}: ") and
             "refused" in m.group(1),
             f"refused dial: client {i} gets a line even with -q", proc.err)
        s.close()
    stop(proc, "refused dial")


@t.test
def unix_listen_dial_refused():
    port = t.free_port()
    path = t.tmpfile("dial") + ".sock"
    proc = t.spawn([f"ws://127.0.0.1:{port}/", "--unix-listen", path])
    end = time.monotonic() + 5
    while not os.path.exists(path) and time.monotonic() < end:
        time.sleep(0.02)
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    t.ok(is_closed(s), "--unix-listen, refused dial: the local client is closed")
    t.ok(t.wait_err(proc, rf"connection 1: cannot connect to 127\.0\.0\.1:{port}"),
         "--unix-listen, refused dial: says so", proc.err)
    stop(proc, "--unix-listen, refused dial")


# ---- TLS and HTTP/2 over a stream that is still connecting ---------------------------

@t.test
def wss_upstream():
    if not HAS_OPENSSL:
        t.skip("--tcp-listen to wss://", "the openssl command is not installed")
        return
    c = certs()
    port, server = listen_echo("--cert", c.server, "--key", c.server_key)
    lport, proc = bridge(f"wss://localhost:{port}/", "--ca", c.ca, "--http1.1")
    socks = [local_client(lport) for _ in range(2)]
    for i, s in enumerate(socks):
        t.is_(echoed(s, b"over TLS %d" % i), b"over TLS %d" % i,
              f"--tcp-listen wss://: local client {i} echoed")
        s.close()
    stop(proc, "--tcp-listen wss://")
    lport, proc = bridge(f"wss://localhost:{port}/")
    s = local_client(lport)
    t.ok(is_closed(s), "--tcp-listen wss:// without --ca: the local client is closed")
    t.ok(t.wait_err(proc, r"connection 1 ended: .*certificate"),
         "--tcp-listen wss:// without --ca: the certificate is refused", proc.err)
    stop(proc, "--tcp-listen wss:// without --ca")
    server.stop()


@t.test
def wss_upstream_http2():
    if not HAS_OPENSSL:
        t.skip("--tcp-listen --http2 to wss://", "the openssl command is not installed")
        return
    c = certs()
    port, server = listen_echo("--http2", "--cert", c.server, "--key", c.server_key)
    lport, proc = bridge(f"wss://localhost:{port}/", "--ca", c.ca, "--http2")
    # the second client comes while the first one's connection may still be opening
    socks = [local_client(lport) for _ in range(2)]
    for i, s in enumerate(socks):
        t.is_(echoed(s, b"h2 over TLS %d" % i), b"h2 over TLS %d" % i,
              f"--tcp-listen --http2 wss://: local client {i} echoed")
        s.close()
    time.sleep(0.3)
    err = server.err.decode("utf-8", "replace")
    t.is_(len(re.findall(r"speaks HTTP/2", err)), 1,
          "--tcp-listen --http2 wss://: one HTTP/2 connection for both clients", err)
    stop(proc, "--tcp-listen --http2 wss://")
    server.stop()


@t.test
def http2_hanging_dial():
    gate = full_port()
    lport, proc = bridge(f"ws://127.0.0.1:{gate.port}/", "--http2-prior-knowledge",
                         "--connect-timeout", "3")
    a = local_client(lport)
    t.ok(t.wait_err(proc, r"connection 1 from"), "--http2 hanging dial: client 1 accepted")
    b = local_client(lport)
    t.ok(t.wait_err(proc, r"connection 2 from"),
         "--http2 hanging dial: client 2 accepted while client 1's connection is opening",
         proc.err)
    t.ok("connection 1:" not in proc.err.decode(), "--http2 hanging dial: 1 still dialing then",
         proc.err)
    each_told(proc, (a, b), f"cannot connect to 127.0.0.1:{gate.port}: timed out",
              "--http2 hanging dial (the shared connection)")
    stop(proc, "--http2 hanging dial")


def each_told(proc, socks, reason, label):
    """Local clients 1, 2, ... that waited on one dial: each gets its line
    with reason, then its socket closed."""
    for i, s in enumerate(socks, 1):
        m = t.wait_err(proc, rf"connection {i}: (.*)", timeout=8)
        t.is_(m.group(1) if m else None, reason, f"{label}: client {i} is told why")
        t.ok(is_closed(s), f"{label}: client {i}'s local socket is closed")


# ---- through a proxy --------------------------------------------------------------------

@t.test
def proxy_tunnel():
    srv = t.server("echo_server.py")
    proxy = t.server("raw_proxy.py")
    lport, proc = bridge(srv.url + "/", "--proxy", f"http://127.0.0.1:{proxy.port}", "-v")
    socks = [local_client(lport) for _ in range(2)]
    for i, s in enumerate(socks):
        t.is_(echoed(s, b"tunnelled %d" % i), b"tunnelled %d" % i,
              f"--tcp-listen --proxy: local client {i} echoed through the tunnel")
        s.close()
    t.ok(proxy.wait_event(lambda e: len(proxy.events("tunnel")) >= 2),
         "--tcp-listen --proxy: the proxy opened a tunnel for each client", proxy.events())
    err = proc.err.decode("utf-8", "replace")
    t.ok(f"> CONNECT 127.0.0.1:{srv.port} HTTP/1.1" in err and
         "< HTTP/1.1 200 Connection established" in err,
         "--tcp-listen --proxy -v: shows the CONNECT and its answer", err)
    stop(proc, "--tcp-listen --proxy")


@t.test
def proxy_silent():
    srv = t.server("echo_server.py")
    proxy = t.server("raw_proxy.py", "--answer", "silent")
    lport, proc = bridge(srv.url + "/", "--proxy", f"http://127.0.0.1:{proxy.port}",
                         "--connect-timeout", "3")
    a = local_client(lport)
    t.ok(proxy.wait_event(lambda e: e.get("event") == "request"),
         "silent proxy: client 1's CONNECT reached it")
    b = local_client(lport)
    t.ok(t.wait_err(proc, r"connection 2 from"),
         "silent proxy: client 2 accepted while client 1 waits for the proxy's answer")
    t.ok("connection 1:" not in proc.err.decode(), "silent proxy: 1 was still waiting then",
         proc.err)
    each_told(proc, (a, b), f"proxy 127.0.0.1:{proxy.port} (from --proxy): "
              "the proxy did not answer CONNECT in time", "silent proxy (after --connect-timeout)")
    stop(proc, "silent proxy")


@t.test
def proxy_refuses():
    srv = t.server("echo_server.py")
    proxy = t.server("raw_proxy.py", "--status", "HTTP/1.1 403 Forbidden")
    lport, proc = bridge(srv.url + "/", "--proxy", f"http://127.0.0.1:{proxy.port}")
    s = local_client(lport)
    t.ok(is_closed(s), "proxy refuses: the local client is closed")
    m = t.wait_err(proc, r"connection 1: (.*)")
    t.ok(m and "403" in m.group(1) and
         f"(CONNECT 127.0.0.1:{srv.port} through proxy 127.0.0.1:{proxy.port} from --proxy)"
         in m.group(1), "proxy refuses: the line names the answer, the target and the proxy",
         proc.err)
    dead = t.free_port()
    lport2, proc2 = bridge(srv.url + "/", "--proxy", f"http://127.0.0.1:{dead}")
    s2 = local_client(lport2)
    t.ok(is_closed(s2), "proxy refused: the local client is closed")
    m = t.wait_err(proc2, r"connection 1: (.*)")
    t.ok(m and m.group(1).startswith(f"proxy 127.0.0.1:{dead} (from --proxy): cannot connect"),
         "proxy refused: the line names the proxy", proc2.err)
    stop(proc, "proxy refuses")
    stop(proc2, "proxy refused")


t.main()
