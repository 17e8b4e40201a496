#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Integration tests for pipe mode and listen mode: the real wsc against real peers.

Run as `/usr/bin/python3 tests/integration/pipe.py` with WSC=/path/to/wsc (make check
does this). Peers: tests/helpers/echo_server.py (websockets library) and
tests/helpers/raw_server.py (scripted, misbehaving). Each test asserts the exit status,
the exact stdout bytes and, where it matters, what the peer received.
"""

import asyncio
import base64
import hashlib
import os
import re
import ssl
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

t.require_websockets()
t.require_wsc()

import websockets  # noqa: E402

sys.path.insert(0, t.HELPERS)
import wsframe  # noqa: E402


def echo(*args):
    return t.server("echo_server.py", *args)


def raw(*args):
    return t.server("raw_server.py", *args)


def lines(*msgs):
    return b"".join(m.encode() + b"\n" for m in msgs)


def messages(srv, timeout=5, count=None):
    """(type, data) of the messages the server logged, waiting for count of them."""
    if count is not None:
        srv.wait_event(lambda e: len(srv.events("message")) >= count, timeout)
    return [(e["type"], e.get("data")) for e in srv.events("message")]


def client_close(srv, timeout=5):
    """The close frame the client sent, as logged by the server (or None)."""
    return srv.wait_event(lambda e: e.get("event") == "close", timeout)


def mentions(result, *words):
    err = result.err.decode("utf-8", "replace")
    return all(w in err for w in words)


# ---- the helpers themselves ------------------------------------------------------------

@t.test
def helper_echo_server_holds_close():
    # A raw client sends 2000 messages and a close in one write: every echo must come
    # back before the server's close frame, or pipe tests would blame wsc for the loss.
    srv = echo()
    p = subprocess.run([t.PYTHON, os.path.join(t.HELPERS, "fast_client.py"),
                        str(srv.port), "2000"], capture_output=True, timeout=30)
    t.ok(p.returncode == 0, "helper: echo_server echoes every message sent ahead of a close",
         p.stdout.decode() + p.stderr.decode())


# ---- pipe mode: the basics -----------------------------------------------------------

@t.test
def two_lines():
    srv = echo()
    r = t.run([srv.url], input=b"a\nb\n")
    t.exits(r, 0, "printf 'a\\nb\\n' | wsc URL: exit 0")
    t.is_(r.out, b"a\nb\n", "printf 'a\\nb\\n' | wsc URL: stdout is a, b")
    t.is_(messages(srv, count=2), [("text", "a"), ("text", "b")],
          "server received two text messages a, b")
    close = client_close(srv)
    t.ok(close is not None and close.get("code") == 1000,
         "at EOF wsc closes with 1000", f"close event: {close}")
    t.ok(len(r.err_lines) <= 1, "at most one line on stderr", str(r))


@t.test
def last_line_without_newline():
    srv = echo()
    r = t.run([srv.url], input=b"a\nb")
    t.exits(r, 0, "input without a final newline: exit 0")
    t.is_(r.out, b"a\nb\n", "input without a final newline: the last line is sent too")


@t.test
def empty_lines_are_empty_messages():
    srv = echo()
    r = t.run([srv.url], input=b"a\n\nb\n")
    t.exits(r, 0, "empty line: exit 0")
    t.is_(r.out, b"a\n\nb\n", "an empty line is an empty message, printed as an empty line")
    t.is_(messages(srv, count=3), [("text", "a"), ("text", ""), ("text", "b")],
          "server received a, '', b")


@t.test
def no_input():
    srv = echo()
    r = t.run([srv.url], input=b"")
    t.exits(r, 0, "empty stdin: exit 0")
    t.is_(r.out, b"", "empty stdin: nothing on stdout")
    close = client_close(srv)
    t.ok(close is not None and close.get("code") == 1000, "empty stdin: closes with 1000",
         f"close event: {close}")


def varied_lines(n):
    samples = ["plain ascii", "héllo wörld", "日本語のテキスト", "emoji 🎉🚀", "tab\there",
               "quotes \"'`", "back\\slash", "{\"json\": [1, 2, 3]}", "ünïcödé ✓ ∑ π"]
    out = []
    for i in range(n):
        s = f"{i:05d} {samples[i % len(samples)]}"
        if i % 1000 == 500:
            s += " " + "x" * (125 + i % 3)       # around the 7-bit length limit
        if i % 2500 == 1234:
            s += " " + "y" * 70000               # beyond the 16-bit length limit
        out.append(s)
    return out


@t.test
def ten_thousand_lines():
    for extra in ([], ["--no-deflate"]):
        srv = echo()
        msgs = varied_lines(10000)
        data = lines(*msgs)
        r = t.run([srv.url] + extra, input=data, timeout=30)
        label = "10,000 lines" + (" (--no-deflate)" if extra else "")
        t.exits(r, 0, f"{label}: exit 0")
        t.ok(r.out == data, f"{label}: round-trip byte-exact and in order",
             first_difference(r.out, data))
        srv.wait_event(lambda e: e.get("event") == "close", 5)
        got = srv.events("message")
        t.is_(len(got), 10000, f"{label}: server received 10,000 messages")
        t.ok(all(e["type"] == "text" for e in got), f"{label}: all as text messages")


def first_difference(got, want):
    n = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    return (f"lengths: got {len(got)}, want {len(want)}; first difference at byte {n}\n"
            f"got:  {got[max(0, n - 40):n + 40]!r}\nwant: {want[max(0, n - 40):n + 40]!r}")


@t.test
def ten_mib_line():
    unit = "0123456789abcdefghijklmnopqrstuvwxyz-é-日-🎉\t"
    line = (unit * (10 * 2**20 // len(unit.encode()) + 1)).encode()[:10 * 2**20]
    line = line.decode("utf-8", "ignore").encode()  # cut at a character boundary
    srv = echo()
    r = t.run([srv.url], input=line + b"\n", timeout=60)
    t.exits(r, 0, "a 10 MiB line: exit 0")
    t.ok(r.out == line + b"\n", "a 10 MiB line round-trips byte-exact",
         first_difference(r.out, line + b"\n"))
    ev = srv.wait_event(lambda e: e.get("event") == "message", 5)
    t.ok(ev is not None and ev["length"] == len(line)
         and ev["sha256"] == hashlib.sha256(line).hexdigest(),
         "server received the 10 MiB line as one text message", f"event: {ev}")


# ---- the close handshake ---------------------------------------------------------------

@t.test
def messages_after_our_close():
    srv = echo("--send-after-close", "3")
    r = t.run([srv.url], input=b"a\n")
    t.exits(r, 0, "messages after our close (echo_server): exit 0")
    t.is_(r.out, b"a\nafter-close 1\nafter-close 2\nafter-close 3\n",
          "messages the server sends after our close are printed")

    srv = raw("--wait-close", "--text", "late 1", "--text", "late 2")
    r = t.run([srv.url], input=b"")
    t.exits(r, 0, "messages after our close (raw_server): exit 0")
    t.is_(r.out, b"late 1\nlate 2\n", "raw_server: messages after our close are printed")


@t.test
def server_closes_first():
    cases = [(1000, "", 0), (1001, "restarting", 0), (4001, "bye", 6), (1011, "oops", 6)]
    for code, reason, status in cases:
        srv = echo("--close-after", "1", str(code), reason)
        r = t.run([srv.url], input=b"hello\n", keep_stdin_open=True)
        t.exits(r, status, f"server closes with {code}: exit {status}")
        t.is_(r.out, b"hello\n", f"server closes with {code}: the echo before it is printed")
        words = [str(code)] + ([reason] if reason else [])
        t.ok(mentions(r, *words), f"server closes with {code}: stderr says {' '.join(words)}",
             str(r))
        t.ok(len(r.err_lines) == 1, f"server closes with {code}: one line on stderr", str(r))
        t.ok(client_close(srv) is not None, f"server closes with {code}: wsc answers the close",
             str(srv.events()))


@t.test
def server_closes_while_stdin_streams():
    # The close arrives while stdin is still readable: the close decides the exit
    # status, not the lines wsc can no longer send.
    lines = b"".join(b"line %06d\n" % i for i in range(200000))
    srv = echo("--close-after", "500", "4001", "enough")
    r = t.run([srv.url], input=lines, timeout=20)
    what = "server closes while 2 MB of stdin still streams in"
    t.exits(r, 6, f"{what}: exit 6")
    t.ok(mentions(r, "4001", "enough") and len(r.err_lines) == 1,
         f"{what}: one line on stderr, naming the close", str(r))
    t.is_(r.out, lines[:500 * 12], f"{what}: the 500 echoes before the close, in order")


@t.test
def connection_lost():
    srv = raw("--text", "x", "--after", "drop")
    r = t.run([srv.url], keep_stdin_open=True)
    t.ok(not r.timed_out and r.code in (1, 6),
         "TCP close without a close frame: exit 1 (or 6)", str(r))
    t.is_(r.out, b"x\n", "TCP close without a close frame: the message before it is printed")
    t.ok(mentions(r, "1006"), "TCP close without a close frame: stderr says 1006", str(r))


@t.test
def server_never_answers_close():
    srv = raw("--after", "ignore-close")
    r = t.run([srv.url], input=b"a\n", timeout=20)
    t.ok(not r.timed_out, "the server never answers our close: wsc still ends (bounded wait)",
         str(r))
    t.is_(messages(srv, count=1), [("text", "a")], "... after sending its message")
    close = client_close(srv)
    t.ok(close is not None and close.get("code") == 1000, "... and a close 1000", str(close))


@t.test
def ping_answered():
    srv = raw("--scenario", "ping", "--text", "after ping", "--sleep", "0.3", "--close", "1000")
    r = t.run([srv.url], keep_stdin_open=True)
    t.exits(r, 0, "ping: exit 0")
    t.is_(r.out, b"after ping\n", "ping: not shown on stdout")
    pongs = [e for e in srv.events("frame") if e["opcode"] == 0xA]
    t.ok(len(pongs) == 1 and bytes.fromhex(pongs[0]["data"]) == b"are you there",
         "ping: answered by a pong with the same payload", str(srv.events("frame")))


@t.test
def fragmented_message_with_ping():
    srv = raw("--scenario", "fragmented-with-ping", "--close", "1000")
    r = t.run([srv.url], keep_stdin_open=True)
    t.exits(r, 0, "fragmented message with a ping inside: exit 0")
    t.is_(r.out, b"fragmented\n", "fragmented message with a ping inside: reassembled")


@t.test
def frames_in_same_packet_as_101():
    srv = raw("--same-packet", "--text", "one", "--text", "two", "--close", "1000")
    r = t.run([srv.url], keep_stdin_open=True)
    t.exits(r, 0, "frames in the same packet as the 101: exit 0")
    t.is_(r.out, b"one\ntwo\n", "frames in the same packet as the 101 are not lost")


# ---- connecting and the opening handshake ------------------------------------------------

@t.test
def connection_refused():
    port = t.free_port()
    r = t.run([f"ws://127.0.0.1:{port}/"])
    t.exits(r, 3, "connection refused: exit 3")
    t.is_(r.out, b"", "connection refused: nothing on stdout")
    t.ok(len(r.err_lines) == 1, "connection refused: one line on stderr", str(r))


@t.test
def handshake_request():
    srv = raw("--close", "1000")
    r = t.run([srv.url + "/chat?room=1"], keep_stdin_open=True)
    t.exits(r, 0, "handshake request: exit 0")
    req = srv.wait_event(lambda e: e.get("event") == "request")
    t.ok(req is not None, "handshake request: logged by the server")
    if req is None:
        return
    headers = {k.lower(): v for k, v in req["headers"]}
    t.is_(req["request_line"], "GET /chat?room=1 HTTP/1.1", "request line has path and query")
    t.is_(headers.get("host"), f"127.0.0.1:{srv.port}", "Host names host and port")
    t.is_(headers.get("upgrade", "").lower(), "websocket", "Upgrade: websocket")
    t.ok("upgrade" in headers.get("connection", "").lower(), "Connection: Upgrade",
         str(headers))
    t.is_(headers.get("sec-websocket-version"), "13", "Sec-WebSocket-Version: 13")
    try:
        key_len = len(base64.b64decode(headers.get("sec-websocket-key", ""), validate=True))
    except ValueError:
        key_len = -1
    t.is_(key_len, 16, "Sec-WebSocket-Key is 16 random bytes in base64")


@t.test
def handshake_refused():
    cases = [
        (["--handshake", "http200"], "plain HTTP 200 page", ["200"]),
        (["--status", "HTTP/1.1 403 Forbidden", "--body", "go away"], "403", ["403"]),
        (["--status", "HTTP/1.1 404 Not Found"], "404", ["404"]),
        (["--handshake", "bad-accept"], "wrong Sec-WebSocket-Accept", []),
        (["--handshake", "no-accept"], "no Sec-WebSocket-Accept", []),
        (["--handshake", "no-upgrade"], "no Upgrade header", []),
        (["--handshake", "wrong-upgrade"], "Upgrade: h2c", []),
        (["--handshake", "no-connection"], "no Connection: Upgrade", []),
    ]
    for args, what, words in cases:
        srv = raw(*args, "--text", "must not be printed", "--close", "1000")
        r = t.run([srv.url], keep_stdin_open=True)
        t.exits(r, 4, f"{what}: exit 4")
        t.is_(r.out, b"", f"{what}: nothing on stdout")
        if words:
            t.ok(mentions(r, *words), f"{what}: stderr names the status", str(r))
        t.ok(len(r.err_lines) >= 1, f"{what}: stderr says why", str(r))


@t.test
def handshake_garbage():
    for mode in ("garbage", "truncated", "oversized"):
        srv = raw("--handshake", mode)
        r = t.run([srv.url], keep_stdin_open=True)
        t.ok(not r.timed_out and r.code in (1, 4),
             f"{mode} handshake response: exit 4 (or 1), no hang, no crash", str(r))
        t.is_(r.out, b"", f"{mode} handshake response: nothing on stdout")


# ---- protocol errors by the server -------------------------------------------------------

PROTOCOL_ERRORS = [
    # scenario, close codes the client may send, the rule broken
    ("masked", {1002}),               # 5.1 a server must not mask
    ("reserved-opcode", {1002}),      # 5.2 reserved opcode
    ("reserved-control", {1002}),
    ("rsv2", {1002}),                 # 5.2 RSV bits without an extension
    ("rsv3", {1002}),
    ("bad-utf8", {1007}),             # 8.1 text must be UTF-8
    ("bad-utf8-fragmented", {1007}),
    ("close-1byte", {1002}),          # 5.5.1 close payload of one byte
    ("close-1005", {1002}),           # 7.4.1 codes that must not be sent
    ("close-999", {1002}),
    ("close-bad-utf8", {1002, 1007}),
    ("ping-too-long", {1002}),        # 5.5 control frames <= 125 bytes
    ("fragmented-ping", {1002}),      # 5.5 control frames are not fragmented
    ("orphan-continuation", {1002}),  # 5.4
    ("text-during-fragment", {1002}),
]


@t.test
def protocol_errors():
    for scenario, codes in PROTOCOL_ERRORS:
        srv = raw("--text", "before", "--scenario", scenario, "--text", "after")
        r = t.run([srv.url, "--no-deflate"], keep_stdin_open=True)
        t.exits(r, 5, f"{scenario}: exit 5")
        t.ok(r.out.startswith(b"before\n"),
             f"{scenario}: the message before the bad frame is printed", str(r))
        t.is_(r.out, b"before\n", f"{scenario}: nothing of the bad message or later ones"
              " is printed")
        t.ok(mentions(r, "RFC 6455"), f"{scenario}: stderr names the RFC rule", str(r))
        close = client_close(srv)
        code = close.get("code") if close else None
        t.ok(code in codes, f"{scenario}: wsc closes with {'/'.join(map(str, sorted(codes)))}",
             f"client close: {close}\n{r}")


@t.test
def rsv1_without_deflate():
    srv = raw("--scenario", "rsv1")
    r = t.run([srv.url], keep_stdin_open=True)
    t.exits(r, 5, "RSV1 when permessage-deflate was not accepted: exit 5")
    close = client_close(srv)
    t.ok(close is not None and close.get("code") == 1002, "... wsc closes with 1002",
         str(close))


# ---- options -----------------------------------------------------------------------------

@t.test
def execute_option():
    srv = echo()
    r = t.run(["-x", "first", srv.url], input=b"second\n")
    t.exits(r, 0, "-x MSG: exit 0")
    t.is_(r.out, b"first\nsecond\n", "-x MSG is sent before stdin")
    t.is_(messages(srv, count=2), [("text", "first"), ("text", "second")],
          "-x: server received first, then second")

    srv = echo()
    r = t.run([srv.url, "-x", "one", "--execute", "two"], input=b"")
    t.exits(r, 0, "options after the URL: exit 0")
    t.is_(r.out, b"one\ntwo\n", "options after the URL work; -x is repeatable")


@t.test
def header_option():
    srv = echo()
    r = t.run(["-H", "X-Test: forty two", srv.url, "--header", "X-Other: 2",
               "-H", "User-Agent: custom-agent/1"], input=b"")
    t.exits(r, 0, "-H: exit 0")
    ev = srv.wait_event(lambda e: e.get("event") == "connect")
    headers = ev["headers"] if ev else []
    t.ok(["X-Test", "forty two"] in headers, "-H adds a request header", str(headers))
    t.ok(["X-Other", "2"] in headers, "--header after the URL adds one too", str(headers))
    agents = [v for k, v in headers if k.lower() == "user-agent"]
    t.is_(agents, ["custom-agent/1"], "-H User-Agent replaces the default")


@t.test
def echo_option():
    srv = raw("--text", "a", "--binary", "00ff01", "--text", "ü", "--expect", "3",
              "--close", "1000")
    r = t.run(["--echo", srv.url], keep_stdin_open=True)
    t.exits(r, 0, "--echo: exit 0")
    t.is_(messages(srv), [("text", "a"), ("binary", "00ff01"), ("text", "ü")],
          "--echo answers each message with the same type and payload")
    frames = srv.events("frame")
    t.ok(frames and all(f["masked"] for f in frames), "every client frame is masked",
         str(frames))


# Each URL error quotes the URL whole, as typed, its password masked.
URL_ERRORS = [
    (["ws://[::1"], 'unterminated IPv6 literal in URL "ws://[::1"'),
    (["foo://example.com/"],
     'unsupported scheme in URL "foo://example.com/" (use ws:// or wss://)'),
    (["ws://127.0.0.1:99999/"], 'port out of range (1-65535) in URL "ws://127.0.0.1:99999/"'),
    (["ws://"], 'missing host in URL "ws://"'),
    (["ws://h/a b"], 'space or control character in URL "ws://h/a b"'),
    (["ws://h/\x1b[2J"], 'space or control character in URL "ws://h/\\x1b[2J"'),
    (["wss://alice:hunter2@example.com:0/"],
     'port out of range (1-65535) in URL "wss://alice:***@example.com:0/"'),
    (["ws://alice:hunter2@[::1/"], 'unterminated IPv6 literal in URL "ws://alice:***@[::1/"'),
    (["--proxy", "http://bob:hunter2@proxy:http", "ws://127.0.0.1:1/"],
     '--proxy: bad port in proxy URL "http://bob:***@proxy:http"'),
    (["ws://127.0.0.1:1/", "wss://carol:hunter2@example.com/"],
     "more than one URL: 'wss://carol:***@example.com/'"),
]


@t.test
def usage_errors():
    for args, message in URL_ERRORS:
        r = t.run(args)
        t.exits(r, 2, f"malformed URL {args[-1]!r}: exit 2")
        t.is_(r.err.decode("utf-8", "replace"),
              f"wsc: {message}\nTry 'wsc --help' for more information.\n",
              f"malformed URL {args[-1]!r}: stderr word for word")
        t.ok(b"hunter2" not in r.err and r.out == b"",
             f"malformed URL {args[-1]!r}: no password shown, nothing on stdout", str(r))
    r = t.run(["--no-such-option", "ws://127.0.0.1:1/"])
    t.exits(r, 2, "unknown option: exit 2")
    r = t.run([])
    t.exits(r, 2, "no URL: exit 2")
    r = t.run(["--help"])
    t.exits(r, 0, "--help: exit 0")
    t.ok(b"--listen" in r.out or b"-l" in r.out, "--help prints the options on stdout", str(r))
    r = t.run(["--version"])
    t.exits(r, 0, "--version: exit 0")
    t.ok(b"wsc" in r.out, "--version names the program", str(r))


def pkg_config_version(module):
    """The version pkg-config knows for module, or None without pkg-config."""
    try:
        p = subprocess.run(["pkg-config", "--modversion", module], capture_output=True,
                           text=True, timeout=10)
    except OSError:
        return None
    return p.stdout.strip() if p.returncode == 0 else None


@t.test
def version_names_libraries():
    # As curl -V: the versions of the libraries in use, for bug reports.
    r = t.run(["--version"])
    t.exits(r, 0, "--version: exit 0")
    line = r.out.decode()
    m = re.fullmatch(r"wsc (\d+\.\d+\.\d+) (OpenSSL/\S+) (zlib/\S+) (libedit/\S+)"
                     r" (nghttp2/\S+)\n", line)
    if not t.ok(m, "--version: one line, wsc VERSION then NAME/VERSION per library", str(r)):
        return
    # Python's ssl and zlib modules load the same system libraries wsc runs with.
    want_ssl = "/".join(ssl.OPENSSL_VERSION.split()[:2])
    t.is_(m.group(2), want_ssl, "--version: the OpenSSL in use")
    t.is_(m.group(3), "zlib/" + zlib.ZLIB_RUNTIME_VERSION, "--version: the zlib in use")
    edit = pkg_config_version("libedit")
    if edit:
        t.is_(m.group(4), "libedit/" + edit, "--version: the libedit wsc was built with")
    else:
        t.skip("--version: the libedit wsc was built with", "no pkg-config")
    h2 = pkg_config_version("libnghttp2")
    if h2:
        t.is_(m.group(5), "nghttp2/" + h2, "--version: the nghttp2 in use")
    else:
        t.skip("--version: the nghttp2 in use", "no pkg-config")


# ---- listen mode -------------------------------------------------------------------------

def ws_session(port, send, expect, timeout=10):
    """Connect with the websockets client, send messages, receive `expect` of them, close.
    Returns (received, error)."""
    async def session():
        got = []
        async with websockets.connect(f"ws://127.0.0.1:{port}/", open_timeout=timeout,
                                      close_timeout=3) as ws:
            for m in send:
                await ws.send(m)
            while len(got) < expect:
                got.append(await ws.recv())
        return got
    try:
        return asyncio.run(asyncio.wait_for(session(), timeout)), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


def listen(*args):
    port = t.free_port()
    proc = t.spawn(["-l", str(port)] + list(args))
    if not t.wait_listening(port, 5, proc):
        res = proc.wait(1)
        raise RuntimeError(f"wsc -l {port} did not listen\n{res}")
    return port, proc


@t.test
def listen_echo():
    port, proc = listen("--echo")
    sent = ["hello", b"\x00\x01\xff", "ünïcödé 🎉", "x" * 70000]
    got, err = ws_session(port, sent, len(sent))
    t.ok(got == sent, "wsc -l PORT --echo: messages round-trip with their types",
         err or f"got {t._short(got)}\n{proc.err!r}")


@t.test
def listen_prints():
    port, proc = listen()
    got, err = ws_session(port, ["one", "two"], 0)
    t.ok(err is None, "wsc -l PORT: a websockets client connects and closes", err or "")
    t.ok(proc.wait_out(lambda out: out == b"one\ntwo\n", 5),
         "wsc -l PORT prints what the client sends", f"stdout {proc.out!r}\nstderr {proc.err!r}")


@t.test
def listen_rejects_unmasked():
    port, proc = listen()
    key = base64.b64encode(os.urandom(16)).decode()
    s, head, rest = wsframe.client_handshake(port, key=key)
    with s:
        try:
            t.ok(head.startswith("HTTP/1.1 101") and wsframe.accept_key(key) in head,
                 "listen mode: 101 with the right Sec-WebSocket-Accept", repr(head))
            s.sendall(wsframe.encode(wsframe.OP_TEXT, "unmasked"))
            buf = bytearray(rest)
            frame = None
            while frame is None:
                frame, _ = wsframe.parse(buf)
                if frame is None:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
        except OSError as exc:
            frame = None
            t.diag(f"socket error: {exc}")
    good = frame is not None and frame.opcode == wsframe.OP_CLOSE and frame.close_code() == 1002
    t.ok(good, "listen mode: an unmasked client frame gets a close 1002",
         f"frame: {frame and (frame.opcode, frame.payload)}\nstderr {proc.err!r}")
    t.ok(not frame or not frame.masked, "listen mode: the server's frames are unmasked")
    t.is_(proc.out, b"", "listen mode: the unmasked message is not printed")


@t.test
def quick_start():
    port, proc = listen("--echo")
    r = t.run([f"ws://127.0.0.1:{port}"], input=b"a\nb\n")
    t.exits(r, 0, "quick start: wsc -l PORT --echo and printf 'a\\nb\\n' | wsc URL: exit 0")
    t.is_(r.out, b"a\nb\n", "quick start: the client prints a and b")


if __name__ == "__main__":
    t.main()
