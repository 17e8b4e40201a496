#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""-f/--script FILE against servers of ours: tests/helpers/echo_server.py (Python
websockets; its log shows every message, ping and close as the server saw it) and
tests/helpers/ticker_server.py (a message every 200 ms). Each exit status is asserted:
0 when the script ran to its end, 7 when an /expect was not met, 2 when the script does
not parse (with its file name and line number, before anything connects).

Run as `/usr/bin/python3 tests/integration/scripts.py` with WSC=/path/to/wsc.
"""

import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

t.require_wsc()
t.require_websockets()


def script(text):
    path = t.tmpfile("script")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def end_of(srv):
    return srv.wait_event(lambda e: e.get("event") == "end", 5)


@t.test
def commands_as_the_server_sees_them():
    srv = t.server("echo_server.py")
    path = script("# a comment, then a blank line\n\n"
                  "hello\n"
                  "/expect -t 3 ^hello$\n"
                  "/ping are you there\n"
                  "/fragment 3 abcdefgh\n"
                  "/binary 00ff10\n"
                  "/expect ^abcdefgh$\n"
                  "/expect 00ff10\n"
                  "/sleep 0.3\n"
                  "/close 4000 done\n")
    start = time.monotonic()
    r = t.run(["-f", path, srv.url], timeout=10)
    t.exits(r, 0, "a script that runs to its /close: exit 0")
    t.ok(r.elapsed >= 0.3, f"/sleep 0.3 waits ({r.elapsed:.2f} s)", str(r))
    msgs = [(m["type"], m.get("data")) for m in srv.messages()]
    t.is_(msgs, [("text", "hello"), ("text", "abcdefgh"), ("binary", "00ff10")],
          "server: the messages in order, /fragment as one message")
    pings = [e["data"] for e in srv.events("ping")]
    t.is_(pings, [b"are you there".hex()], "server: the /ping")
    closes = [(e["code"], e["reason"]) for e in srv.events("close")]
    t.is_(closes, [(4000, "done")], "server: /close 4000 done")
    t.is_(r.out, b"hello\nabcdefgh\n\x00\xff\x10", "received messages print as in pipe mode")
    t.ok(b"pong after" in r.err, "/ping: the pong is noted", str(r))
    del start


@t.test
def end_of_script_closes():
    srv = t.server("echo_server.py")
    r = t.run(["-f", script("one\n/expect one\n"), srv.url], timeout=10)
    t.exits(r, 0, "the end of the script: exit 0")
    ev = end_of(srv)
    t.ok(ev is not None and ev.get("close_rcvd", {}).get("code") == 1000,
         "the end of the script closes with 1000", str(ev))
    srv = t.server("echo_server.py")
    r = t.run(["-w", "0.5", "-f", script("one\n"), srv.url], timeout=10)
    t.exits(r, 0, "-w 0.5 after the script: exit 0")
    t.ok(r.elapsed >= 0.5, f"-w 0.5: waits before closing ({r.elapsed:.2f} s)", str(r))


@t.test
def from_stdin():
    srv = t.server("echo_server.py")
    r = t.run(["-f", "-", srv.url], input=b"from stdin\n/expect stdin\n", timeout=10)
    t.exits(r, 0, "-f -: the script from stdin")
    t.is_(r.out, b"from stdin\n", "-f -: its message went and came back")


@t.test
def expect_fails():
    srv = t.server("echo_server.py")
    path = script("first\n/expect -t 0.5 ^nothing like this$\nnever sent\n")
    r = t.run(["-f", path, srv.url], timeout=10)
    t.exits(r, 7, "/expect not met: exit 7")
    t.ok(r.elapsed < 3, f"/expect -t 0.5 gives up after 0.5 s ({r.elapsed:.2f} s)", str(r))
    err = r.err.decode()
    t.ok(f"{path}:2: no message matched /^nothing like this$/ in 0.5" in err
         and "last: first" in err,
         "stderr names the file, line, pattern, wait and last message", str(r))
    t.is_([m.get("data") for m in srv.messages()], ["first"], "the lines after it are not sent")
    ev = end_of(srv)
    t.ok(ev is not None and ev.get("close_rcvd", {}).get("code") == 1000,
         "the connection is closed with 1000", str(ev))


@t.test
def expect_waits_for_later_messages():
    srv = t.server("ticker_server.py", "--ok-at", "4")
    r = t.run(["-f", script('/expect "n":2\n/expect -t 3 "status":"ok"\n'), srv.url],
              timeout=10)
    t.exits(r, 0, "/expect: each pattern waits for the messages after the last match")
    t.is_(len(r.out.splitlines()), 4, "four messages were printed by then", str(r))
    srv = t.server("ticker_server.py", "--count", "2", "--then-close", "1000")
    r = t.run(["-f", script("/expect -t 5 never\n"), srv.url], timeout=10)
    t.exits(r, 7, "/expect: the server closes first: exit 7")
    t.ok(b"before the connection ended" in r.err, "... and says the connection ended", str(r))


@t.test
def parse_errors():
    url = "ws://127.0.0.1:9/"  # nothing listens: a run that connected would say so
    for text, line, what in (("ok\n/close\nafter\n", 3, "nothing may follow /close"),
                             ("a\n\n/nosuchcommand\n", 3, "nosuchcommand"),
                             ("/expect x(\n", 1, "bad pattern"),
                             ("/sleep soon\n", 1, "/sleep"),
                             ("/to 1 hi\n", 1, "/to")):
        path = script(text)
        r = t.run(["-f", path, url], timeout=5)
        t.exits(r, 2, f"script error ({what}): exit 2")
        t.ok(f"{path}:{line}:".encode() in r.err and what.encode() in r.err,
             f"script error ({what}): names {os.path.basename(path)}:{line}", str(r))
    r = t.run(["-f", "/nonexistent/script", url], timeout=5)
    t.exits(r, 2, "a script that cannot be read: exit 2")
    t.ok(b"/nonexistent/script" in r.err, "... naming the file", str(r))


@t.test
def binary_file_command():
    srv = t.server("echo_server.py")
    data = os.urandom(3000)
    blob = t.tmpfile("blob")
    with open(blob, "wb") as f:
        f.write(data)
    r = t.run(["-f", script(f"/binary @{blob}\n/expect .\n"), srv.url], timeout=10)
    t.exits(r, 0, "/binary @FILE in a script: exit 0")
    msgs = srv.messages()
    t.ok(len(msgs) == 1 and msgs[0]["sha256"] == hashlib.sha256(data).hexdigest(),
         "/binary @FILE: the file's bytes, exactly", str(msgs))


t.main()
