#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The options of scripts, expectations and recordings (--until, --count, --timeout,
-f, --record, --replay, --to): each value is checked before anything connects (exit 2
with one line naming the problem); --until, --count and --timeout against a Python
websockets server that sends a message every 200 ms (tests/helpers/ticker_server.py),
each exit status asserted (7: an expectation not met).

Run as `/usr/bin/python3 tests/integration/expectations.py` with WSC=/path/to/wsc.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

t.require_wsc()
t.require_websockets()

# No server listens here: a run that tried to connect would say so (exit 3).
URL = "ws://127.0.0.1:9/"


def usage(args, want, name):
    r = t.run(args, timeout=5)
    t.exits(r, 2, name)
    t.ok(want.encode() in r.err, f"{name}: says {want!r}", str(r))


@t.test
def bad_values():
    usage(["--until", "x(", URL], "--until: bad pattern /x(/", "a malformed REGEX")
    usage(["--until", "(((x{99}){99}){99})", URL], "expands too much",
          "a REGEX too costly to compile")
    usage(["--until", "(a)\\1", URL], "back-references", "a back-reference")
    usage(["--count", "0", URL], "--count: bad number '0'", "--count 0")
    usage(["--timeout", "-1", URL], "--timeout: bad number of seconds", "a negative --timeout")
    usage(["--replay-speed", "x", "--replay", "r.jsonl", URL], "--replay-speed: bad speed",
          "a bad --replay-speed")
    usage(["--replay", "-", URL], "name a file", "--replay from stdin")


@t.test
def combinations():
    rec = t.tmpfile("rec")
    usage(["--record", rec, "--replay", rec, URL], "--replay and --record name the same file",
          "--replay and --record: one file")
    other = os.path.join(os.path.dirname(rec), ".", os.path.basename(rec))
    usage(["--record", other, "--replay", rec, URL], "name the same file",
          "--replay and --record: one file by two names")
    usage(["-l", "0", "--until", "x"], "client role", "--until with --listen")
    usage(["-l", "0", "-f", "s"], "client role", "--script with --listen")
    usage(["--to", "ws://127.0.0.1:9/x", URL], "needs --listen", "--to without --listen")
    usage(["--strict", URL], "--strict needs --replay", "--strict without --replay")
    usage(["--record-secrets", URL], "needs --record", "--record-secrets without --record")
    usage(["-f", "s", "--replay", "r", URL], "cannot be combined", "--script with --replay")


# ---- against a Python websockets server that sends a message every 200 ms ----

def ticker(*args):
    return t.server("ticker_server.py", *args)


def client_close(srv, timeout=5):
    """The close the server saw from wsc: (code, reason), or None."""
    ev = srv.wait_event(lambda e: e.get("event") == "end", timeout)
    return (ev.get("code"), ev.get("reason")) if ev else None


@t.test
def until_matches():
    srv = ticker("--ok-at", "3")
    r = t.run(["--until", '"status":"ok"', srv.url], timeout=10)
    t.exits(r, 0, "--until: a match after 3 messages: exit 0")
    t.is_(r.out.decode().splitlines(),
          ['{"n":1,"status":"pending"}', '{"n":2,"status":"pending"}', '{"n":3,"status":"ok"}'],
          "--until: every message up to and including the match is printed")
    t.is_(client_close(srv), (1000, ""), "--until: the server sees a clean close 1000")
    t.ok(r.elapsed < 3, "--until: it stops at the match", str(r))


@t.test
def until_binary_as_hex():
    srv = t.server("echo_server.py")
    r = t.run(["--until", "^00ff10$", "-b", srv.url], input=b"\x00\xff\x10", timeout=10)
    t.exits(r, 0, "--until: a binary message is matched as lowercase hex (NUL included)")


@t.test
def until_closed_first():
    srv = ticker("--count", "3", "--then-close", "1000")
    r = t.run(["--until", '"status":"ok"', srv.url], timeout=10)
    t.exits(r, 7, "--until: the server closes before a match: exit 7")
    t.ok(b'no message matched /"status":"ok"/' in r.err and b"before the connection ended"
         in r.err and b"3 received" in r.err and b'last: {"n":3,"status":"pending"}' in r.err,
         "--until: the reason names the pattern, the count and the last message", str(r))
    t.is_(len(r.err_lines), 1, "--until: one line on stderr", str(r))


@t.test
def silent_server_timeout():
    srv = ticker("--silent")
    r = t.run(["--until", "x", "--timeout", "1", srv.url], timeout=10)
    t.exits(r, 7, "--timeout 1, a silent server: exit 7")
    t.ok(r.elapsed < 2, f"--timeout 1: over within 2 s ({r.elapsed:.2f} s)", str(r))
    t.ok(b"no message matched /x/ in " in r.err and b"none received" in r.err,
         "--timeout: the reason says none was received", str(r))
    t.is_(client_close(srv), (1000, ""), "--timeout: wsc closes with 1000")


@t.test
def count():
    srv = ticker()
    r = t.run(["--count", "2", srv.url], timeout=10)
    t.exits(r, 0, "--count 2: exit 0 after two messages")
    t.is_(len(r.out.splitlines()), 2, "--count 2: two messages printed", str(r))
    t.is_(client_close(srv), (1000, ""), "--count: the server sees a clean close 1000")
    srv = ticker("--count", "1", "--then-close", "1000")
    r = t.run(["--count", "2", srv.url], timeout=10)
    t.exits(r, 7, "--count 2, the server closes after one: exit 7")
    t.ok(b"1 of 2 messages received" in r.err, "--count: the reason says 1 of 2", str(r))
    srv = ticker()
    r = t.run(["--until", "never", "--count", "3", srv.url], timeout=10)
    t.exits(r, 7, "--until with --count 3: no match in the first 3 messages: exit 7")
    t.ok(b"no message matched /never/ in the first 3 messages" in r.err, "... says so", str(r))


@t.test
def timeout_alone():
    srv = ticker("--silent")
    r = t.run(["--timeout", "1", srv.url], timeout=10, keep_stdin_open=True)
    t.exits(r, 0, "--timeout without an expectation: exit 0 when it passes")
    t.ok(0.9 < r.elapsed < 2, f"--timeout 1 ends the run after 1 s ({r.elapsed:.2f} s)", str(r))
    t.is_(client_close(srv), (1000, ""), "--timeout: the close is 1000")
    r = t.run(["--timeout", "1", "ws://10.255.255.1:9/"], timeout=10)
    t.ok(not r.timed_out and r.code != 0 and r.elapsed < 2,
         f"--timeout bounds connecting too ({r.elapsed:.2f} s, exit {r.code})", str(r))


@t.test
def listen_timeout():
    wsc = t.spawn(["-l", "0", "--timeout", "1.5"])
    end = time.monotonic() + 5
    port = None
    while time.monotonic() < end and port is None:
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", wsc.err)
        port = int(m.group(1)) if m else None
        time.sleep(0.02)
    node = t.Proc([t.PYTHON, "-c", CLIENT, f"ws://127.0.0.1:{port}/"])
    r = wsc.wait(10)
    t.exits(r, 0, "-l --timeout: the server ends when it passes, exit 0")
    c = node.wait(5)
    t.ok(b"close 1001" in c.out, "-l --timeout: the client is closed with 1001", str(c))


CLIENT = """
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        try:
            await ws.recv()
        except websockets.ConnectionClosed:
            pass
        print("close", ws.close_code, flush=True)
asyncio.run(main())
"""


@t.test
def help_lists_them():
    r = t.run(["--help"])
    t.exits(r, 0, "--help")
    for name in ("--until REGEX", "--count N", "--timeout SEC", "-f, --script FILE",
                 "--record FILE", "--record-secrets", "--replay FILE", "--replay-speed X",
                 "--replay-client ID", "--strict", "--to URL", "7 an expectation not met"):
        t.ok(name.encode() in r.out, f"--help lists {name}", str(r.out[-300:]))


t.main()
