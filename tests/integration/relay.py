#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`wsc -l PORT --to URL`, the relay: each client gets its own connection to the
upstream (tests/helpers/ticker_server.py, Python websockets), messages cross whole with
their type, closes cross with their codes, the request's path and query are joined to
URL's, Origin, Cookie, Authorization and the offered subprotocols are passed on and the
upstream's choice passed back; an upstream that cannot be reached or refuses means 502.
A real browser (headless chromium, as browser.py runs it) talks to the upstream through
`wsc -l --to --record`, and the recording holds both sides.

Run as `/usr/bin/python3 tests/integration/relay.py` with WSC=/path/to/wsc.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

t.require_wsc()
t.require_websockets()




CLIENT = """
import asyncio, json, os, sys, websockets
async def main():
    url, plan = sys.argv[1], json.loads(sys.stdin.read())
    out = {"got": []}
    try:
        async with websockets.connect(url, subprotocols=plan.get("protocols"), max_size=None,
                                      origin=plan.get("origin"),
                                      extra_headers=plan.get("headers", [])) as ws:
            out["protocol"] = ws.subprotocol
            for text in plan.get("send", []):
                await ws.send(text)
            for i in range(plan.get("send_big", [0, 0])[0]):
                await ws.send(os.urandom(plan["send_big"][1]))  # not compressible
            try:
                while len(out["got"]) < plan.get("expect", 0):
                    m = await asyncio.wait_for(ws.recv(), 5)
                    out["got"].append(m if isinstance(m, str) else m.hex())
                if "close" in plan:
                    await ws.close(plan["close"][0], plan["close"][1])
                else:
                    await asyncio.wait_for(ws.wait_closed(), 5)
            except websockets.ConnectionClosed:
                pass
            out["close"] = [ws.close_code, ws.close_reason]
    except websockets.InvalidStatusCode as e:
        out["status"] = e.status_code
    print(json.dumps(out), flush=True)
asyncio.run(main())
"""


def client(port, path, plan):
    p = subprocess.run([t.PYTHON, "-c", CLIENT, f"ws://127.0.0.1:{port}{path}"],
                       input=json.dumps(plan).encode(), capture_output=True, timeout=20,
                       env=t.child_env())
    try:
        return json.loads(p.stdout.decode().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": p.stderr.decode("utf-8", "replace")[-800:]}


def header(ev, name):
    return [v for k, v in (ev or {}).get("headers", []) if k.lower() == name.lower()]


@t.test
def relays_both_ways():
    up = t.server("ticker_server.py", "--count", "2", "--interval", "0.3",
                  "--subprotocols", "superchat,chat")
    port, relay = t.listen("--to", up.url + "/base/?a=1")
    res = client(port, "/sub?b=2", {
        "protocols": ["chat", "superchat"], "origin": "http://example.test",
        "headers": [["Cookie", "id=42"], ["Authorization", "Bearer xyz"]],
        "send": ["echo hi", "plain"], "expect": 3, "close": [4005, "bye"]})
    connect = up.wait_event(lambda e: e.get("event") == "connect")
    t.is_((connect or {}).get("path"), "/base/sub?a=1&b=2",
          "the upstream path: --to's path without its slash, then the request's; queries "
          "joined with &")
    t.is_([header(connect, n) for n in ("Origin", "Cookie", "Authorization")],
          [["http://example.test"], ["id=42"], ["Bearer xyz"]],
          "Origin, Cookie and Authorization are passed on")
    t.is_(header(connect, "Sec-WebSocket-Protocol"), ["chat, superchat"],
          "the offered subprotocols are passed on")
    t.is_(res.get("protocol"), (connect or {}).get("subprotocol"),
          "the upstream's choice of subprotocol is passed back", str(res))
    t.is_(sorted(res.get("got", [])),
          sorted(["hi", '{"n":1,"status":"pending"}', '{"n":2,"status":"pending"}']),
          "the client gets the upstream's answer and its messages", str(res))
    msgs = [e["data"] for e in up.events("message")]
    t.is_(msgs, ["echo hi", "plain"], "the upstream gets the client's messages in order")
    end = up.wait_event(lambda e: e.get("event") == "end")
    t.is_(((end or {}).get("code"), (end or {}).get("reason")), (4005, "bye"),
          "the client's close 4005 reaches the upstream with its reason")
    relay.stop()


@t.test
def upstream_closes():
    up = t.server("ticker_server.py", "--count", "1", "--interval", "0.1",
                  "--then-close", "4001")
    port, relay = t.listen("--to", up.url)
    res = client(port, "/", {"expect": 1})
    t.is_(res.get("got"), ['{"n":1,"status":"pending"}'], "the upstream's message arrives",
          str(res))
    t.is_(res.get("close"), [4001, "bye"], "the upstream's close 4001 reaches the client",
          str(res))
    relay.stop()


@t.test
def binary_and_large():
    up = t.server("echo_server.py", "--max-size", str(8 << 20))
    port, relay = t.listen("--to", up.url)
    big = "x" * (3 << 20)
    res = client(port, "/", {"send": [big], "expect": 1, "close": [1000, ""]})
    t.ok(res.get("got") == [big], "a 3 MiB message crosses both ways whole",
         str(res)[:300])
    relay.stop()


@t.test
def slow_client_backpressure():
    # The reverse of the above: the upstream floods, the client reads nothing for 2 s;
    # the relay stops reading the upstream rather than holding what the client does
    # not take.
    sys.path.insert(0, t.HELPERS)
    import wsframe
    n, size = 40, 1 << 20
    up = t.server("flood_server.py", "--count", str(n), "--size", str(size), log=False)
    port, relay = t.listen("--to", up.url)
    s, head, rest = wsframe.client_handshake(port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    peak, end = 0, time.monotonic() + 2
    while time.monotonic() < end:
        peak = max(peak, t.peak_rss_kib(relay))
        time.sleep(0.02)
    buf, total, code = bytearray(rest), 0, None
    s.settimeout(10)
    while code is None:
        frame, used = wsframe.parse(buf)
        if frame is None:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
            peak = max(peak, t.peak_rss_kib(relay))
            continue
        del buf[:used]
        if frame.opcode == wsframe.OP_CLOSE:
            code = frame.close_code()
            s.sendall(wsframe.encode(wsframe.OP_CLOSE, wsframe.close_payload(1000), mask=True))
        elif frame.opcode in (wsframe.OP_BINARY, wsframe.OP_CONT):
            total += len(frame.payload)
    s.close()
    t.is_((total, code), (n * size, 1000),
          "a slow client gets all 40 MiB from a flooding upstream, then its close 1000")
    if t.is_sanitized():
        t.skip("a slow client stops reads from the upstream (bounded memory)", "sanitizer build")
    else:
        t.ok(0 < peak < 24 * 1024,
             f"a slow client stops the relay's reads from the upstream: peak RSS {peak} KiB "
             "< 24 MiB while 40 MiB went through")
    relay.stop()


@t.test
def slow_upstream_backpressure():
    up = t.server("ticker_server.py", "--silent", "--read-delay", "2")
    port, relay = t.listen("--to", up.url)
    n, size = 40, 1 << 20
    box = {}
    import threading
    th = threading.Thread(target=lambda: box.update(
        res=client(port, "/", {"send_big": [n, size], "close": [1000, ""]})))
    th.start()
    peak = 0
    while th.is_alive():
        peak = max(peak, t.peak_rss_kib(relay))
        time.sleep(0.02)
    got = up.wait_event(lambda e: len(up.events("message")) >= n, 10)
    lengths = [e.get("length") for e in up.events("message")]
    t.is_(lengths, [size] * n, "a slow upstream gets all 40 MiB in the end, in order")
    t.ok(got is not None, "a slow upstream: every message relayed", str(box))
    if t.is_sanitized():
        t.skip("a slow upstream stops reads from the client (bounded memory)", "sanitizer build")
    else:
        t.ok(0 < peak < 24 * 1024,
             f"a slow upstream stops reads from the client: relay peak RSS {peak} KiB < 24 MiB "
             "while 40 MiB went through", str(box))
    relay.stop()


@t.test
def upstream_refused():
    port, relay = t.listen("--to", f"ws://127.0.0.1:{t.free_port()}/")
    res = client(port, "/", {})
    t.is_(res.get("status"), 502, "an upstream that cannot be reached: the client gets 502",
          str(res))
    r = t.run([f"ws://127.0.0.1:{port}/"], timeout=10)
    t.exits(r, 4, "wsc as the client: 502 is a refused handshake (4)")
    t.ok(b"502" in r.err, "... naming 502", str(r))
    t.ok(re.search(rb"client \d+ refused: upstream: cannot connect", relay.err) is not None,
         "the relay says why", relay.err.decode())
    relay.stop()
    up = t.server("ticker_server.py", "--refuse", "403")
    port, relay = t.listen("--to", up.url)
    res = client(port, "/", {})
    t.is_(res.get("status"), 502, "an upstream that refuses the handshake: 502", str(res))
    t.ok(b"403" in relay.err, "the relay names the upstream's answer", relay.err.decode())
    relay.stop()


@t.test
def trace_shows_both_legs():
    up = t.server("ticker_server.py", "--silent")
    port, relay = t.listen("--to", up.url, "--trace")
    client(port, "/", {"send": ["echo traced"], "expect": 1, "close": [1000, ""]})
    relay.stop()
    err = relay.err.decode()
    legs = [bool(re.search(pat, err, re.M)) for pat in (
        r"^wsc: << TEXT .* masked len=13",     # from the client (compressed)
        r"^wsc: >> TEXT fin=1 .* masked len=11",  # to the upstream, one frame
        r"^wsc: << TEXT .* unmasked len=6",    # the upstream's answer
        r"^wsc: >> TEXT fin=1 .* unmasked len=6")]  # to the client, one frame
    t.is_(legs, [True] * 4, "--trace: the message and its answer show on both legs",
          err[-1500:])


# ---- a real browser through the relay ----

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def browser_run(up_args, page, *wsc_args):
    sys.path.insert(0, t.HERE)
    import browser  # noqa: E402  (its Browser class and wait_report)
    up = t.server("ticker_server.py", *up_args)
    port, relay = t.listen("--to", up.url, *wsc_args)
    report_port, rep = t.listen()
    b = browser.Browser(port=port, report=report_port, **page)
    result = browser.wait_report(rep) or {}
    diag = f"relay stderr:\n{relay.err.decode()}\nreport: {rep.out[:300]!r}\n{b.log_tail()}"
    return up, relay, result, diag, b


@t.test
def chromium_through_the_relay():
    if not CHROMIUM:
        t.skip("chromium through wsc -l --to", "chromium is not installed")
        return
    rec = t.tmpfile("rec")
    up, relay, result, diag, b = browser_run(
        ["--count", "2", "--interval", "0.2", "--subprotocols", "superchat"],
        {"expect": 2, "close": 1, "protocols": "chat,superchat"}, "--record", rec)
    ticks = ['{"n":1,"status":"pending"}', '{"n":2,"status":"pending"}']
    t.is_(result.get("received"), [["text", x] for x in ticks],
          "browser: the upstream's messages arrive intact", diag)
    t.is_(result.get("protocol"), "superchat", "browser: the upstream's subprotocol", diag)
    end = up.wait_event(lambda e: e.get("event") == "end")
    msgs = [e.get("data", e.get("length")) for e in up.events("message")]
    want = ["hello from the browser", "000102fdfeff", 70000] + ["echo: " + x for x in ticks]
    t.is_(msgs, want, "upstream: the page's text, binary and 70,000-byte messages, intact")
    t.is_(((end or {}).get("code"), (end or {}).get("reason")), (4000, "browser done"),
          "upstream: the page's close 4000 arrives with its reason")
    t.is_((result.get("close") or {}).get("code"), 4000, "browser: its close is answered",
          diag)
    b.kill()
    relay.stop()
    sides = []
    with open(rec, encoding="utf-8") as f:
        for line in f:
            ev = json.loads(line)
            if ev["type"] in ("text", "binary", "close") and ev.get("opcode") != 0:
                sides.append((ev["from"], ev["type"]))
    t.is_(sorted(set(sides)), [("client", "binary"), ("client", "close"), ("client", "text"),
                                ("server", "close"), ("server", "text")],
          "--record: the recording holds both sides of the conversation")
    t.is_(sum(1 for s in sides if s == ("client", "text")), 4,
          "--record: the page's four text messages", str(sides))


@t.test
def chromium_upstream_closes():
    if not CHROMIUM:
        t.skip("chromium: the upstream's close code", "chromium is not installed")
        return
    up, relay, result, diag, b = browser_run(
        ["--count", "1", "--interval", "0.2", "--then-close", "4001"], {"expect": 1, "close": 0})
    t.is_((result.get("close") or {}).get("code"), 4001,
          "browser: the upstream's close 4001 reaches the page", diag)
    b.kill()
    relay.stop()


t.main()
