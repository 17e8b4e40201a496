#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Integration tests for WebSockets over HTTP/2 (RFC 8441): wsc --http2 and
--http2-prior-knowledge against real HTTP/2 servers (tests/helpers/h2peers.py).

- hypercorn with our ASGI echo app (tests/helpers/asgi_echo.py), over h2c and over TLS
  with ALPN h2: the app records which HTTP version carried each WebSocket.
- Apache httpd with mod_http2 (`H2WebSockets on`) proxying over HTTP/1.1 to
  `wsc -l PORT --echo` and to echo_server.py (whose log has close codes and pings),
  over TLS (ALPN h2) and h2c; its access log says which protocol each request came by.
- Fallback: Apache vhosts without H2WebSockets, which speak HTTP/2 but do not allow
  extended CONNECT, and servers that do not speak HTTP/2 at all.

Every case asserts the exit status, the bytes on stdout and, where it matters, which
HTTP version the server saw. Certificates come from the test CA of daemons.Certs.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

t.require_wsc()

sys.path.insert(0, t.HELPERS)
import daemons  # noqa: E402
import h2peers  # noqa: E402

if subprocess.run(["openssl", "version"], capture_output=True).returncode != 0:
    t.skip_all("the openssl command is not installed")

CERTS = daemons.Certs(t.tmpdir())
HAS_APACHE = h2peers.has_apache()
HAS_HYPERCORN = h2peers.has_hypercorn()
HAS_H2 = subprocess.run([h2peers.SYSTEM_PYTHON, "-c", "import h2"],
                        capture_output=True).returncode == 0
TEXT = "hello\nwörld ✓\n" + "x" * 5000 + "\n"


def err_text(result):
    return result.err.decode("utf-8", "replace")


def says(result, name, *words):
    err = err_text(result)
    missing = [w for w in words if w not in err]
    return t.ok(not missing, f"{name}: stderr says {', '.join(repr(w) for w in words)}",
                f"missing: {missing}\n{result}")


def listen_echo(*args):
    """wsc -l 0 --echo in the background, the HTTP/1.1 backend; returns its port."""
    proc = t.spawn(["-l", "0", "--echo", "-v"] + list(args))
    end = time.monotonic() + 5
    while time.monotonic() < end:
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", proc.err)
        if m:
            return int(m.group(1)), proc
        time.sleep(0.02)
    raise RuntimeError(f"wsc -l did not say where it listens: {proc.err!r}")


def apache(extra_backends=None):
    """Apache in front of wsc -l --echo (at /) and any other backends {prefix: port}."""
    port, backend = listen_echo()
    backends = {"/": port}
    backends.update(extra_backends or {})
    web = t.track(h2peers.Apache(t.tmpdir(), CERTS, backends))
    return web, backend


def hypercorn(tls=False):
    return t.track(h2peers.Hypercorn(t.tmpdir(), CERTS if tls else None))


def need(flag, what):
    if not flag:
        t.skip(what, "not installed (Debian: apache2, python3-hypercorn, python3-h2)")
    return flag


# ---- hypercorn ---------------------------------------------------------------------------

@t.test
def hypercorn_h2c_text():
    if not need(HAS_HYPERCORN, "hypercorn h2c"):
        return
    hc = hypercorn()
    r = t.run(["--http2-prior-knowledge", "-w", "-1", "-v",
               f"ws://127.0.0.1:{hc.port}/chat?x=1"],
              input=(TEXT + "/close 1000 done\n").encode())
    t.exits(r, 0, "hypercorn h2c: exit 0 when the app closes with 1000")
    t.is_(r.out, TEXT.encode(), "hypercorn h2c: every line echoed byte for byte")
    t.is_(hc.versions(), [("2", "/chat")], "hypercorn h2c: the app saw HTTP/2")
    says(r, "hypercorn h2c -v", "> :method: CONNECT", "> :protocol: websocket",
         "> :scheme: http", "> :path: /chat?x=1", "HTTP/2 stream 1", "< :status: 200",
         "closed by server: 1000")


@t.test
def hypercorn_h2c_binary_and_codes():
    if not need(HAS_HYPERCORN, "hypercorn h2c binary"):
        return
    hc = hypercorn()
    data = os.urandom(300000)
    r = t.run(["--http2-prior-knowledge", "-b", "--chunk", "100000", "-w", "3",
               f"ws://127.0.0.1:{hc.port}/bin"], input=data, timeout=30)
    t.exits(r, 0, "hypercorn h2c -b: exit 0")
    t.ok(r.out == data, "hypercorn h2c -b: 300000 random bytes echoed byte for byte",
         f"{len(r.out)} bytes back")
    r = t.run(["--http2-prior-knowledge", "-w", "-1", f"ws://127.0.0.1:{hc.port}/"],
              input=b"one\n/close 4001 bye now\n")
    t.exits(r, 6, "hypercorn h2c: the server's close code 4001 is exit status 6")
    t.is_(r.out, b"one\n", "hypercorn h2c: what came before the close is printed")
    says(r, "close 4001", 'closed by server: 4001 (private use) "bye now"')
    r = t.run(["--http2-prior-knowledge", f"ws://127.0.0.1:{hc.port}/refuse"], input=b"")
    t.exits(r, 4, "hypercorn h2c: a refused extended CONNECT is exit status 4")
    says(r, "refused", "handshake failed: server answered 403")


@t.test
def hypercorn_h2c_deflate_and_subprotocol():
    if not need(HAS_HYPERCORN, "hypercorn deflate"):
        return
    hc = hypercorn()
    line = ("compressible " * 20000).strip() + "\n"
    r = t.run(["--http2-prior-knowledge", "-v", "-s", "chat", "-w", "-1",
               f"ws://127.0.0.1:{hc.port}/"], input=(line + "/close\n").encode(), timeout=20)
    t.exits(r, 0, "deflate over h2c: exit 0")
    t.is_(r.out, line.encode(), "deflate over h2c: a 260 KB line echoed byte for byte")
    says(r, "deflate over h2c", "> sec-websocket-extensions: permessage-deflate",
         "permessage-deflate: server_max_window_bits=15", "subprotocol: chat",
         "> sec-websocket-protocol: chat")
    r = t.run(["--http2-prior-knowledge", "-v", "--no-deflate", "-w", "-1",
               f"ws://127.0.0.1:{hc.port}/"], input=b"plain\n/close\n")
    t.is_(r.out, b"plain\n", "--no-deflate over h2c: echoed")
    t.ok("permessage-deflate" not in err_text(r), "--no-deflate over h2c: nothing offered",
         err_text(r))


@t.test
def hypercorn_tls_alpn():
    if not need(HAS_HYPERCORN, "hypercorn TLS"):
        return
    hc = hypercorn(tls=True)
    url = f"wss://localhost:{hc.port}/tls"
    r = t.run(["--http2", "--ca", CERTS.ca, "-w", "-1", url],
              input=(TEXT + "/close\n").encode())
    t.exits(r, 0, "hypercorn TLS --http2: exit 0")
    t.is_(r.out, TEXT.encode(), "hypercorn TLS --http2: echoed byte for byte")
    r = t.run(["--ca", CERTS.ca, "-w", "-1", url], input=b"old\n/close\n")
    t.exits(r, 0, "hypercorn TLS without --http2: exit 0")
    t.is_(r.out, b"old\n", "hypercorn TLS without --http2: echoed")
    r = t.run(["--http2", "--http1.1", "--ca", CERTS.ca, "-w", "-1", url],
              input=b"last\n/close\n")
    t.is_(r.out, b"last\n", "--http1.1 after --http2: echoed")
    t.is_(hc.versions(), [("2", "/tls"), ("1.1", "/tls"), ("1.1", "/tls")],
          "ALPN h2 with --http2; HTTP/1.1 by default and with a later --http1.1")


# ---- Apache httpd ------------------------------------------------------------------------

def apache_urls(web):
    return [("TLS", ["--http2", "--ca", CERTS.ca], f"wss://localhost:{web.ports['tls']}"),
            ("h2c", ["--http2-prior-knowledge"], f"ws://127.0.0.1:{web.ports['h2c']}")]


@t.test
def apache_round_trips():
    if not need(HAS_APACHE, "Apache mod_http2"):
        return
    web, _ = apache()
    for name, opts, base in apache_urls(web):
        r = t.run(opts + [base + "/text"], input=TEXT.encode())
        t.exits(r, 0, f"Apache {name}: exit 0")
        t.is_(r.out, TEXT.encode(), f"Apache {name}: text echoed byte for byte")
        data = os.urandom(200000)
        r = t.run(opts + ["-b", "--chunk", "50000", base + "/bin"], input=data, timeout=30)
        t.exits(r, 0, f"Apache {name} -b: exit 0")
        t.ok(r.out == data, f"Apache {name} -b: 200000 random bytes echoed byte for byte",
             f"{len(r.out)} bytes back")
    got = [(p, u) for p, m, u, _ in web.requests()]
    t.is_(got, [("HTTP/2.0", "/text"), ("HTTP/2.0", "/bin")] * 2,
          "Apache saw every WebSocket come over HTTP/2", web.errors())


@t.test
def apache_ten_mebibytes():
    if not need(HAS_APACHE, "Apache 10 MiB"):
        return
    web, _ = apache()
    data = os.urandom(10 << 20)
    for name, opts, base in apache_urls(web):
        r = t.run(opts + ["-b", "--chunk", str(10 << 20), "--no-deflate", base + "/big"],
                  input=data, timeout=60)
        t.exits(r, 0, f"Apache {name}: a 10 MiB message: exit 0")
        t.ok(r.out == data, f"Apache {name}: a 10 MiB message echoed byte for byte",
             f"{len(r.out)} bytes back, sha256 {hashlib.sha256(r.out).hexdigest()[:16]}")
    r = t.run(["--http2", "--ca", CERTS.ca, "-b", "--chunk", str(10 << 20),
               f"wss://localhost:{web.ports['tls']}/big"], input=data, timeout=60)
    t.ok(r.code == 0 and r.out == data, "Apache TLS: a 10 MiB message with deflate",
         f"{r}")


@t.test
def apache_deflate_ping_and_close_codes():
    if not need(HAS_APACHE, "Apache deflate, ping, close codes"):
        return
    py = t.server("echo_server.py")
    closer = t.server("echo_server.py", "--close-after", "2", "4003", "enough")
    web, _ = apache({"/py/": py.port, "/closer/": closer.port})
    line = ("deflate me " * 10000) + "\n"
    for name, opts, base in apache_urls(web):
        r = t.run(opts + ["-v", base + "/py/deflate"], input=line.encode(), timeout=20)
        t.is_(r.out, line.encode(), f"Apache {name}: a 110 KB line with deflate")
        says(r, f"Apache {name} deflate", "permessage-deflate: server_max_window_bits")
        r = t.run(opts + ["--ping-interval", "0.2", "-P", "-w", "1", base + "/py/ping"],
                  input=b"", timeout=20)
        t.exits(r, 0, f"Apache {name}: pings over HTTP/2: exit 0")
        t.ok(b"pong" in r.out or "pong" in err_text(r), f"Apache {name}: pongs come back",
             f"{r}")
        r = t.run(opts + ["-i", base + "/py/close"], input=b"/close 4002 from client\n")
        t.exits(r, 0, f"Apache {name}: /close 4002: exit 0")
        r = t.run(opts + ["-w", "-1", base + "/closer/"], input=b"a\nb\n")
        t.exits(r, 6, f"Apache {name}: the backend's close 4003 is exit status 6")
        t.is_(r.out, b"a\nb\n", f"Apache {name}: both echoes before the close")
        says(r, f"Apache {name} close", 'closed by server: 4003 (private use) "enough"')
    pings = [e for e in py.events("ping")]
    t.ok(len(pings) >= 4, "the backend received our pings through Apache's HTTP/2",
         f"{len(pings)} pings")
    codes = [e.get("code") for e in py.events("close")]
    t.is_(codes.count(4002), 2, "the backend received our close code 4002 both times",
          f"{py.events('close')}")
    t.is_(len(py.events("connect")), 6, "six WebSockets reached the backend")


@t.test
def apache_server_speaks_first():
    # A backend that sends a message in the same write as its 101 and then waits for the
    # echo: Autobahn's client cases all start this way. The message must reach wsc
    # while nothing has come from wsc yet; held anywhere, neither side would move.
    if not need(HAS_APACHE, "Apache, the server speaks first"):
        return
    first = t.server("raw_server.py", "--same-packet", "--text", "first words",
                     "--expect", "1", "--close", "1000")
    web, _ = apache({"/first/": first.port})
    for name, opts, base in apache_urls(web):
        r = t.run(opts + ["--echo", base + "/first/"], keep_stdin_open=True, timeout=8)
        t.exits(r, 0, f"Apache {name}: the backend spoke first and closed with 1000")
    got = [e.get("data") for e in first.messages()]
    t.is_(got, ["first words"] * 2, "the backend got both echoes back through Apache")


# ---- fallback and errors -----------------------------------------------------------------

@t.test
def fallback_without_extended_connect():
    if not need(HAS_APACHE, "fallback"):
        return
    web, _ = apache()
    url = f"wss://localhost:{web.ports['tls-off']}/fallback"
    r = t.run(["--http2", "-v", "--ca", CERTS.ca, url], input=b"still works\n")
    t.exits(r, 0, "--http2, h2 without extended CONNECT: exit 0 over HTTP/1.1")
    t.is_(r.out, b"still works\n", "fallback: echoed over HTTP/1.1")
    says(r, "fallback -v", "does not allow WebSockets over it",
         "SETTINGS_ENABLE_CONNECT_PROTOCOL", "HTTP/1.1 on a new connection", "< HTTP/1.1 101")
    t.is_([(p, m, u) for p, m, u, _ in web.requests()], [("HTTP/1.1", "GET", "/fallback")],
          "fallback: Apache saw one HTTP/1.1 upgrade and no CONNECT")
    r = t.run(["--http2-prior-knowledge", f"ws://127.0.0.1:{web.ports['h2c-off']}/"],
              input=b"x\n")
    t.exits(r, 4, "--http2-prior-knowledge, no extended CONNECT: exit 4")
    says(r, "prior knowledge refused", "handshake failed: the server speaks HTTP/2 but does "
         "not allow WebSockets over it")
    t.is_(r.out, b"", "prior knowledge refused: nothing on stdout")


@t.test
def servers_without_http2():
    port, _ = listen_echo()
    r = t.run(["--http2-prior-knowledge", f"ws://127.0.0.1:{port}/"], input=b"x\n")
    t.exits(r, 4, "--http2-prior-knowledge to an HTTP/1.1 server: exit 4")
    says(r, "no HTTP/2", "handshake failed: the server does not speak HTTP/2")
    tls_port, _ = listen_echo("--cert", CERTS.server, "--key", CERTS.server_key)
    r = t.run(["--http2", "-v", "--ca", CERTS.ca, f"wss://localhost:{tls_port}/"],
              input=b"over 1.1\n")
    t.exits(r, 0, "--http2 to a TLS server without ALPN h2: exit 0")
    t.is_(r.out, b"over 1.1\n", "no ALPN h2: echoed over HTTP/1.1")
    says(r, "no ALPN h2", "the server did not choose HTTP/2 (ALPN)", "HTTP/1.1 on a new connection")
    r = t.run(["--http2", f"wss://localhost:{tls_port}/"], input=b"x\n",
              env={"SSL_CERT_FILE": os.devnull})
    t.exits(r, 3, "--http2 and a certificate not trusted: exit 3, as over HTTP/1.1")
    says(r, "--http2, untrusted", "certificate refused")
    r = t.run(["--http2", "-v", f"ws://127.0.0.1:{port}/"], input=b"plain\n")
    t.is_(r.out, b"plain\n", "--http2 with ws://: HTTP/1.1")
    says(r, "--http2 with ws://", "ws:// has no ALPN")


# ---- hostile HTTP/2 servers (tests/helpers/h2_hostile.py) ----------------------------------

def hostile(mode, *args, stdin=b"hi\n", timeout=15):
    srv = t.server("h2_hostile.py", mode)
    r = t.run(["--http2-prior-knowledge", "--close-timeout", "1"] + list(args) +
              [f"ws://127.0.0.1:{srv.port}/"], input=stdin, timeout=timeout)
    return srv, r


@t.test
def hostile_rst_stream_mid_message():
    if not need(HAS_H2, "RST_STREAM mid-message"):
        return
    _, r = hostile("rst")
    t.exits(r, 1, "RST_STREAM mid-message: exit 1")
    t.is_(r.out, b"before\n", "RST_STREAM: the message before it is printed, the cut one not")
    says(r, "RST_STREAM", "connection lost: 1006 (no close frame): HTTP/2 stream 1 reset by "
         "the server: INTERNAL_ERROR (0x2)")


@t.test
def hostile_goaway():
    if not need(HAS_H2, "GOAWAY"):
        return
    _, r = hostile("goaway")
    t.exits(r, 1, "GOAWAY mid-message: exit 1")
    t.is_(r.out, b"before\n", "GOAWAY: the message before it is printed")
    says(r, "GOAWAY", "connection lost: 1006 (no close frame): HTTP/2 GOAWAY from the server: "
         "ENHANCE_YOUR_CALM (0xb)")


@t.test
def hostile_window_never_opens():
    if not need(HAS_H2, "a window that never opens"):
        return
    srv, r = hostile("window")
    t.exits(r, 1, "a send window that never opens: exit 1")
    t.ok(r.elapsed < 8, "a send window that never opens: over within the close timeout",
         f"{r.elapsed:.1f} s")
    t.is_(r.out, b"before\n", "a closed window: what came is still printed")
    says(r, "closed window", "the server did not answer our close")
    t.is_(srv.events("data"), [], "a closed window: not one DATA byte was sent")
    # Much more input than any buffer: backpressure holds stdin, memory stays bounded,
    # and a SIGTERM still ends the run within the close timeout.
    srv = t.server("h2_hostile.py", "window")
    proc = t.spawn(["--http2-prior-knowledge", "--close-timeout", "1", "-b",
                    f"ws://127.0.0.1:{srv.port}/"], input=os.urandom(64 << 20))
    time.sleep(2)
    rss = 0
    with open(f"/proc/{proc.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    t.ok(proc.proc.poll() is None and rss < 32 * 1024,
         "a closed window and 64 MiB of input: wsc waits with bounded memory",
         f"VmRSS {rss} kB, running: {proc.proc.poll() is None}")
    proc.proc.terminate()
    r = proc.wait(8)
    t.ok(not r.timed_out and r.code == 1, "a closed window: SIGTERM ends it within the close "
         "timeout", f"{r}")


@t.test
def hostile_headers_too_large():
    if not need(HAS_H2, "oversized HEADERS"):
        return
    _, r = hostile("headers")
    t.exits(r, 4, "a 40 KB answer head: exit 4")
    says(r, "oversized HEADERS", "handshake failed: the HTTP/2 header list is larger than 16 KiB")


@t.test
def hostile_data_after_end_stream():
    if not need(HAS_H2, "DATA after END_STREAM"):
        return
    _, r = hostile("after-end")
    t.exits(r, 1, "DATA after END_STREAM: exit 1")
    t.is_(r.out, b"before\n", "DATA after END_STREAM: only what came before the end")
    says(r, "DATA after END_STREAM", "connection lost: 1006 (no close frame)")


# ---- listening: wsc -l --http2 ----------------------------------------------------------

H2_CLIENT = os.path.join(t.HELPERS, "h2_ws_client.py")


def h2_client(port, streams, *args, timeout=30):
    """Our python3-h2 client: `streams` WebSockets on one HTTP/2 connection."""
    p = subprocess.run([h2peers.SYSTEM_PYTHON, H2_CLIENT, str(port), str(streams)] + list(args),
                       capture_output=True, timeout=timeout)
    try:
        return json.loads(p.stdout), p
    except ValueError:
        return {}, p


def check_three_streams(res, p, name):
    streams = res.get("streams", {})
    t.is_(res.get("settings", {}).get("8"), 1,
          f"{name}: wsc announces SETTINGS_ENABLE_CONNECT_PROTOCOL = 1", p.stderr)
    t.is_(sorted(streams), ["1", "3", "5"], f"{name}: three streams on one connection",
          p.stderr)
    for sid, st in sorted(streams.items()):
        t.is_((st.get("status"), st["messages"], st["close"], st["ended"]),
              ("200", [f"stream {st['k']}", res["blob"]], 4000 + st["k"], True),
              f"{name}: stream {sid}: 200, text and 65,000 bytes echoed, close "
              f"{4000 + st['k']} answered, END_STREAM")


@t.test
def listen_h2c_streams_and_http11_on_one_port():
    if not need(HAS_H2, "-l --http2: python3-h2 client"):
        return
    port, proc = listen_echo("--http2")
    res, p = h2_client(port, 3)
    check_three_streams(res, p, "-l --http2, h2c")
    r = t.run([f"ws://127.0.0.1:{port}/"], input=b"over HTTP/1.1\n")
    t.exits(r, 0, "-l --http2: an HTTP/1.1 client on the same port: exit 0")
    t.is_(r.out, b"over HTTP/1.1\n", "-l --http2: HTTP/1.1 on the same port is echoed")
    r = t.run(["--http2-prior-knowledge", "-v", f"ws://127.0.0.1:{port}/"], input=TEXT.encode())
    t.exits(r, 0, "wsc --http2-prior-knowledge against wsc -l --http2: exit 0")
    t.is_(r.out, TEXT.encode(), "wsc to wsc over h2c: echoed byte for byte")
    says(r, "wsc to wsc over h2c", "HTTP/2 stream 1", ":status: 200")
    t.ok(re.search(rb"client \d+ connected from 127\.0\.0\.1:\d+ \(HTTP/2 stream 1\)",
                   proc.err), "-l --http2: says which HTTP/2 stream a client is", proc.err)
    proc.stop()


@t.test
def listen_h2_ends_streams_a_peer_leaves_open():
    # A proxy in front (nghttpx does this) may never end its side of a tunnel. wsc
    # leaves the newest 16 finished streams to it and releases older ones: were they
    # all kept, past 100 (SETTINGS_MAX_CONCURRENT_STREAMS) no new stream could open.
    if not need(HAS_H2, "-l --http2: streams a peer leaves open"):
        return
    port, proc = listen_echo("--http2", "--max-clients", "200")
    res, p = h2_client(port, 110, "--one-by-one", timeout=120)
    streams = res.get("streams", {})
    t.is_(len(streams), 110, "110 WebSockets one after another on one connection",
          p.stderr[-2000:])
    done = [s for s in streams.values()
            if s.get("status") == "200" and s.get("close") == 4000 + s["k"]
            and len(s.get("messages", [])) == 2]
    t.is_(len(done), 110, "each echoed both messages and answered its close")
    t.ok(all(s.get("ended") for s in streams.values()), "wsc ended each stream (END_STREAM)")
    resets = [s.get("reset") for s in streams.values() if "reset" in s]
    t.ok(len(resets) >= 110 - 16 - 4 and set(resets) == {0},
         "wsc released the client's side of all but the newest (RST_STREAM NO_ERROR)",
         f"{len(resets)} resets, codes {sorted(set(resets))}")
    proc.stop()


@t.test
def listen_h2_over_tls():
    if not need(HAS_H2, "-l --http2 --cert: python3-h2 client"):
        return
    port, proc = listen_echo("--http2", "--cert", CERTS.server, "--key", CERTS.server_key)
    res, p = h2_client(port, 3, "--tls", CERTS.ca)
    check_three_streams(res, p, "-l --http2 --cert, ALPN h2")
    r = t.run(["--http2", "--ca", CERTS.ca, "-v", f"wss://localhost:{port}/"],
              input=TEXT.encode())
    t.exits(r, 0, "wsc --http2 against wsc -l --http2 --cert: exit 0")
    t.is_(r.out, TEXT.encode(), "wsc to wsc over h2 (TLS): echoed byte for byte")
    says(r, "wsc to wsc over TLS", "HTTP/2 stream 1")
    r = t.run(["--ca", CERTS.ca, f"wss://localhost:{port}/"], input=b"tls 1.1\n")
    t.is_(r.out, b"tls 1.1\n", "-l --http2 --cert: HTTP/1.1 over TLS still served")
    proc.stop()


@t.test
def listen_h2_refusals():
    if not need(HAS_H2, "-l --http2 refusals: python3-h2 client"):
        return
    port, proc = listen_echo("--http2", "--max-clients", "2")
    res, p = h2_client(port, 3)
    statuses = sorted(st.get("status") for st in res.get("streams", {}).values())
    t.is_(statuses, ["200", "200", "503"], "-l --http2 --max-clients 2: the third stream gets 503",
          p.stderr)
    proc.stop()
    lport = t.free_port()
    exe = t.spawn(["-l", str(lport), "--http2", "--exec", "cat"])
    t.wait_listening(lport, 5, exe)
    res, p = h2_client(lport, 1, "--origin", "http://evil.example")
    t.is_([st.get("status") for st in res.get("streams", {}).values()], ["403"],
          "-l --http2 --exec: a cross-site Origin gets 403 over HTTP/2 too", p.stderr)
    exe.stop()


@t.test
def nghttpx_front():
    # nghttpx (Debian nghttp2-proxy) in front of wsc -l --echo: RFC 8441 on its
    # frontend, HTTP/1.1 Upgrade to the backend. It forwards what a backend sends with
    # its 101 at once, where Apache's mod_http2 waits for its next poll.
    nghttpx = shutil.which("nghttpx") or ("/usr/sbin/nghttpx"
                                          if os.access("/usr/sbin/nghttpx", os.X_OK) else None)
    if not nghttpx:
        t.skip("nghttpx as the HTTP/2 front", "nghttpx is not installed (nghttp2-proxy)")
        return
    port, backend = listen_echo()
    front = t.free_port()
    proc = subprocess.Popen([nghttpx, f"--frontend=127.0.0.1,{front};no-tls",
                             f"--backend=127.0.0.1,{port}", "--workers=1", "--no-ocsp",
                             "--conf=/dev/null", "--log-level=WARN"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    t.track(proc)
    t.wait_listening(front, 10)
    r = t.run(["--http2-prior-knowledge", "-v", f"ws://127.0.0.1:{front}/"],
              input=TEXT.encode())
    t.exits(r, 0, "nghttpx front: exit 0")
    t.is_(r.out, TEXT.encode(), "nghttpx front: echoed byte for byte over HTTP/2")
    says(r, "nghttpx front", "HTTP/2 stream 1", "via: 1.1 nghttpx")
    proc.terminate()
    backend.stop()


@t.test
def relay_over_http2():
    # -l --http2 --to: streams of one HTTP/2 connection, each relayed to its own
    # HTTP/1.1 connection upstream; the 200 waits for the upstream's 101.
    if not need(HAS_H2, "-l --http2 --to: python3-h2 client"):
        return
    srv = t.server("echo_server.py")
    lport = t.free_port()
    relay = t.spawn(["-l", str(lport), "--http2", "--to", srv.url])
    t.wait_listening(lport, 5, relay)
    res, p = h2_client(lport, 2)
    streams = res.get("streams", {})
    t.is_(sorted((st.get("status"), st["messages"][:1], st["close"]) for st in streams.values()),
          [("200", ["stream 0"], 4000), ("200", ["stream 1"], 4001)],
          "-l --http2 --to: two streams relayed upstream, echoed, closes relayed", p.stderr)
    t.is_(len(srv.events("close")), 2, "-l --http2 --to: the upstream saw two closes")
    relay.stop()


@t.test
def tcp_listen_streams_share_one_connection():
    import socket
    port, server = listen_echo("--http2")
    lport = t.free_port()
    bridge = t.spawn(["--http2-prior-knowledge", f"ws://127.0.0.1:{port}/", "--tcp-listen",
                      str(lport)])
    t.wait_listening(lport, 5, bridge)
    socks = [socket.create_connection(("127.0.0.1", lport)) for _ in range(3)]
    for i, s in enumerate(socks):
        s.sendall(b"local client %d" % i)
    got = []
    for s in socks:
        s.settimeout(5)
        data = b""
        while len(data) < 14:
            data += s.recv(100)
        got.append(data)
        s.close()
    t.is_(got, [b"local client %d" % i for i in range(3)],
          "--tcp-listen --http2-prior-knowledge: each local client echoed")
    time.sleep(0.3)
    err = server.err.decode()
    t.is_(len(re.findall(r"speaks HTTP/2", err)), 1,
          "--tcp-listen over HTTP/2: one HTTP/2 connection for all local clients", err)
    t.is_(sorted(re.findall(r"\(HTTP/2 stream (\d+)\)", err)), ["1", "3", "5"],
          "--tcp-listen over HTTP/2: each local client is a stream of it", err)
    bridge.proc.send_signal(2)
    t.exits(bridge.wait(5), 0, "--tcp-listen over HTTP/2: SIGINT exits 0")
    server.stop()


t.main()
