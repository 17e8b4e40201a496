#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""--record and --replay against real peers: Python websockets servers and clients
(tests/helpers/echo_server.py, ticker_server.py) and Node's ws (tests/helpers/ws_server.js,
ws_client.js). A recording holds every message both ways with the side that sent it, byte
for byte (checked by SHA-256), in bounded memory; a replay as a client gets the same
server messages; `wsc -l --replay` serves the recorded server messages, each only after
its question, reports differences and, with --strict, exits 7, as a missing message does.

Run as `/usr/bin/python3 tests/integration/recordings.py` with WSC=/path/to/wsc.
"""

import base64
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
t.require_websockets()

SRCDIR = os.environ.get("TOP_SRCDIR") or os.path.normpath(os.path.join(t.HERE, "..", ".."))
NODE_MODULES = os.path.join(SRCDIR, "tests", "node", "node_modules")


def node_missing():
    if not shutil.which("node"):
        return "node is not installed"
    if not os.path.isdir(os.path.join(NODE_MODULES, "ws")):
        return f"{NODE_MODULES} has no ws (./bootstrap runs npm ci there)"
    return None


def node_env():
    return t.child_env({"NODE_PATH": NODE_MODULES})


def node_server():
    p = t.Proc(["node", os.path.join(t.HELPERS, "ws_server.js")], env=node_env())
    p.wait_out(lambda out: b"\n" in out, 10)
    m = re.match(rb"PORT (\d+)", p.out)
    if not m:
        raise RuntimeError(f"ws_server.js did not print PORT: {p.out!r} {p.err!r}")
    return f"ws://127.0.0.1:{int(m.group(1))}"


def node_client(port, plan, timeout=20):
    p = subprocess.run(["node", os.path.join(t.HELPERS, "ws_client.js"),
                        f"ws://127.0.0.1:{port}/", json.dumps(plan)],
                       capture_output=True, timeout=timeout, env=node_env())
    events = []
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    return events


PY_CLIENT = """
import asyncio, json, sys, time, websockets
async def main():
    plan = json.loads(sys.argv[2])
    got, start = [], time.monotonic()
    async with websockets.connect(sys.argv[1], max_size=None) as ws:
        for step in plan:
            if "sleep" in step:
                await asyncio.sleep(step["sleep"])
            elif "text" in step:
                await ws.send(step["text"])
            elif "binary" in step:
                await ws.send(bytes.fromhex(step["binary"]))
            elif "expect" in step:
                while len(got) < step["expect"]:
                    m = await ws.recv()
                    got.append({"type": "text" if isinstance(m, str) else "binary",
                                "sha256": __import__("hashlib").sha256(
                                    m.encode() if isinstance(m, str) else m).hexdigest(),
                                "at": time.monotonic() - start})
        await ws.close()
    print(json.dumps({"got": got, "close": ws.close_code}), flush=True)
asyncio.run(main())
"""


def py_client(port, plan, timeout=20):
    p = subprocess.run([t.PYTHON, "-c", PY_CLIENT, f"ws://127.0.0.1:{port}/", json.dumps(plan)],
                       capture_output=True, timeout=timeout, env=t.child_env())
    try:
        return json.loads(p.stdout.decode().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": p.stderr.decode("utf-8", "replace")[-600:]}


def part_bytes(ev):
    if ev.get("encoding") == "base64":
        return base64.b64decode(ev["data"])
    return ev["data"].encode("utf-8")


def read_recording(path):
    """The recording's events, a message written in parts ("more", then "opcode":0
    lines) joined into one event whose "bytes" are the whole payload."""
    evs, open_parts = [], {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            ev = json.loads(line)
            key = (ev.get("client"), ev.get("from"))
            if ev.get("opcode") == 0 and key in open_parts:
                first = open_parts[key]
                first["bytes"] += part_bytes(ev)
                if not ev.get("more"):
                    del open_parts[key]
                continue
            if ev["type"] in ("text", "binary"):
                ev["bytes"] = part_bytes(ev)
                if ev.get("more"):
                    open_parts[key] = ev
            evs.append(ev)
    return evs


def payload(ev):
    return ev["bytes"]


def sha(b):
    return hashlib.sha256(b).hexdigest()


def script(text):
    path = t.tmpfile("script")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path



BLOB = bytes(range(256)) * 40 + b"\x00end"
TEXT = "h\u00e9llo \U0001f389 " * 50
CONVERSATION = (f"{TEXT}\n/expect -t 5 llo\n/binary {BLOB.hex()}\n/expect -t 5 656e64$\n"
                "/ping still there\n/close 4000 done\n")


def check_recording(url, name):
    rec = t.tmpfile("rec")
    r = t.run(["-f", script(CONVERSATION), "--record", rec, url], timeout=15)
    t.exits(r, 0, f"{name}: the recorded run exits 0")
    evs = read_recording(rec)
    t.is_(evs[0].get("type"), "open", f"{name}: the first line is the opening")
    t.is_(evs[0].get("role"), "client", f"{name}: the opening says wsc was the client")
    msgs = [(e["from"], e["type"], sha(payload(e))) for e in evs[1:]
            if e["type"] in ("text", "binary")]
    want = [("client", "text", sha(TEXT.encode())), ("server", "text", sha(TEXT.encode())),
            ("client", "binary", sha(BLOB)), ("server", "binary", sha(BLOB))]
    t.is_(msgs, want, f"{name}: every message both ways, with its side, byte-exact")
    ctl = [(e["from"], e["type"]) for e in evs if e["type"] in ("ping", "pong", "close")]
    # the script closes right after its ping: the pong comes after that close
    t.is_(ctl, [("client", "ping"), ("client", "close"), ("server", "pong"),
                ("server", "close")], f"{name}: pings, pongs and closes, with their sides")
    closes = [(e["from"], e.get("code")) for e in evs if e["type"] == "close"]
    t.is_(closes, [("client", 4000), ("server", 4000)], f"{name}: the close codes")
    t.ok(all(isinstance(e.get("t"), int) and e["t"] >= 0 for e in evs),
         f"{name}: every line has its time since the opening", str(evs[:3]))
    return rec


@t.test
def record_python():
    srv = t.server("echo_server.py")
    check_recording(srv.url + "/chat?room=1", "record against Python websockets")


@t.test
def record_node():
    why = node_missing()
    if why:
        t.skip("record against Node ws", why)
        return
    check_recording(node_server(), "record against Node ws")


@t.test
def record_large_message_bounded():
    srv = t.server("echo_server.py", "--max-size", str(64 << 20))
    rec = t.tmpfile("rec")
    big = os.urandom(10 << 20).hex().encode()  # 20 MiB of text
    wsc = t.spawn(["--record", rec, srv.url], input=big + b"\n", keep_stdin_open=False)
    peak = 0
    while wsc.proc.poll() is None:
        peak = max(peak, t.peak_rss_kib(wsc))
        time.sleep(0.01)
    r = wsc.wait(60)
    t.exits(r, 0, "a 20 MiB message recorded: exit 0")
    t.is_(sha(r.out), sha(big + b"\n"), "the 20 MiB message came back whole")
    sums = {ev["from"]: sha(ev["bytes"]) for ev in read_recording(rec) if ev["type"] == "text"}
    t.is_(sums, {"client": sha(big), "server": sha(big)},
          "the recording holds the 20 MiB message both ways, byte-exact")
    if t.is_sanitized():
        t.skip("bounded memory while recording 20 MiB", "sanitizer build")
    else:
        t.ok(0 < peak < 20 * 1024, f"bounded memory: wsc's peak RSS {peak} KiB < 20 MiB",
             str(r))


# ---- replay ----

@t.test
def replay_as_client():
    srv = t.server("echo_server.py")
    rec = check_recording(srv.url, "record for the replay")
    srv2 = t.server("echo_server.py")
    r = t.run(["--replay", rec, "--replay-speed", "0", srv2.url], timeout=15)
    t.exits(r, 0, "--replay against the same server: exit 0")
    t.is_(r.out, TEXT.encode() + b"\n" + BLOB, "--replay: the same server messages")
    t.ok(b"differs" not in r.err, "--replay: no difference reported", str(r))
    t.is_([m["sha256"] for m in srv2.messages()], [sha(TEXT.encode()), sha(BLOB)],
          "--replay: the server got the recorded client messages")
    closes = [(e["code"], e["reason"]) for e in srv2.events("close")]
    t.is_(closes, [(4000, "done")], "--replay: the recorded close, code and reason")


@t.test
def replay_differences_and_missing():
    srv = t.server("echo_server.py")
    rec = t.tmpfile("rec")
    r = t.run(["-f", script("ping one\n/expect one\n"), "--record", rec, srv.url], timeout=10)
    t.exits(r, 0, "a short recording")
    tick = t.server("ticker_server.py", "--interval", "0.05")
    r = t.run(["--replay", rec, tick.url], timeout=10)
    t.ok(b"wsc: differs from recording at message 1: " in r.err,
         "--replay: a different answer is reported", str(r))
    t.exits(r, 0, "--replay without --strict: a difference alone is not a failure")
    r = t.run(["--replay", rec, "--strict", tick.url], timeout=10)
    t.exits(r, 7, "--replay --strict: a difference exits 7")
    silent = t.server("ticker_server.py", "--silent")
    r = t.run(["--replay", rec, "--timeout", "1", silent.url], timeout=10)
    t.exits(r, 7, "--replay: an awaited message that does not come: exit 7")
    t.ok(b"message 1 of the server" in r.err and b"did not come" in r.err,
         "--replay: the missing message is named", str(r))
    t.ok(r.elapsed < 2.5, f"--replay --timeout 1: over soon ({r.elapsed:.2f} s)", str(r))


def mock_recording():
    """A conversation with the echo server: two questions, each answered."""
    srv = t.server("echo_server.py")
    rec = t.tmpfile("rec")
    r = t.run(["-f", script(f"q1\n/expect q1\n/binary {BLOB.hex()}\n/expect 656e64$\n"),
               "--record", rec, srv.url], timeout=10)
    t.exits(r, 0, "the recording for the mock server")
    return rec


@t.test
def mock_server_python():
    rec = mock_recording()
    port, mock = t.listen("--replay", rec)
    res = py_client(port, [{"text": "q1"}, {"expect": 1}, {"sleep": 1.0},
                           {"binary": BLOB.hex()}, {"expect": 2}])
    got = res.get("got") or []
    t.is_([(g["type"], g["sha256"]) for g in got],
          [("text", sha(b"q1")), ("binary", sha(BLOB))],
          "wsc -l --replay: a Python client gets the recorded messages, byte-exact, in order",
          str(res))
    t.ok(len(got) == 2 and got[1]["at"] >= 1.0,
         "wsc -l --replay: the second reply comes after the second question (1 s later)",
         str(res))
    mock.stop()
    t.ok(b"differs" not in mock.err, "no difference reported", mock.err.decode())


@t.test
def mock_server_node():
    why = node_missing()
    if why:
        t.skip("wsc -l --replay serves Node ws", why)
        return
    rec = mock_recording()
    port, mock = t.listen("--replay", rec)
    evs = node_client(port, {"steps": [{"text": "q1"}, {"expect": 1}, {"sleep": 1000},
                                       {"binary": BLOB.hex()}, {"expect": 2},
                                       {"close": [1000, ""]}]})
    got = [e for e in evs if e.get("event") == "message"]
    t.is_([(g["type"], g["data"]) for g in got], [("text", "q1"), ("binary", BLOB.hex())],
          "wsc -l --replay: a Node ws client gets the recorded messages, byte-exact, in order",
          str(evs))
    t.ok(len(got) == 2 and got[1]["at"] >= 1000,
         "wsc -l --replay: no reply before its question", str(evs))
    evs = node_client(port, {"steps": [{"text": "other"}, {"expect": 1},
                                       {"binary": "00"}, {"expect": 2}, {"close": [1000, ""]}]})
    mock.stop()
    t.ok(b"client 2: differs from recording at message 1" in mock.err,
         "wsc -l --replay: a client that differs is reported", mock.err.decode())
    port, strict = t.listen("--replay", rec, "--strict", "--timeout", "2")
    node_client(port, {"steps": [{"text": "other"}, {"wait_close": True}]})
    r = strict.wait(10)
    t.exits(r, 7, "wsc -l --replay --strict: a client that differs makes the exit 7")


@t.test
def bad_recordings():
    url = "ws://127.0.0.1:9/"
    bad = t.tmpfile("bad")
    with open(bad, "w") as f:
        f.write('{"type":"open","t":0,"url":"x","role":"client"}\n{"type":"text",\n')
    r = t.run(["--replay", bad, url], timeout=5)
    t.exits(r, 2, "a recording that does not parse: exit 2")
    t.ok(b"line 2" in r.err, "... naming the line", str(r))
    rec = t.tmpfile("rec")
    with open(rec, "w") as f:
        f.write('{"type":"open","t":0,"url":"x","role":"client"}\n')
        f.write('{"type":"text","from":"client","t":1,"data":"' + "x" * 2000 + '"}\n')
    r = t.run(["--replay", rec, "--max-message", "1000", url], timeout=5)
    t.exits(r, 2, "a recorded message larger than --max-message: exit 2")
    t.ok(b"--max-message" in r.err, "... says so", str(r))


t.main()
