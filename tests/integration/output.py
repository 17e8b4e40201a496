#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Integration tests for what wsc prints in pipe mode: --jsonl, -T, --pretty, colours,
--trace, -P and binary formats. The real wsc against tests/helpers/raw_server.py (which
sends exactly the frames a test asks for) and echo_server.py; stdout is checked byte for
byte and stderr line by line.

Run as `/usr/bin/python3 tests/integration/output.py` with WSC=/path/to/wsc.
"""

import base64
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

t.require_wsc()

SGR = re.compile(rb"\x1b\[[0-9;]*m")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
COLOR_ON = {"NO_COLOR": ""}  # set but empty: does not count (no-color.org)


def raw(*args):
    return t.server("raw_server.py", *args)


def json_lines(out):
    """Each stdout line parsed as JSON; a line that is not JSON fails the test."""
    events = []
    for line in out.split(b"\n")[:-1]:
        try:
            events.append(json.loads(line))
        except ValueError:
            events.append({"not json": line.decode("utf-8", "replace")})
    return events


# ---- --jsonl ----------------------------------------------------------------------------

@t.test
def jsonl_events():
    srv = raw("--text", "hi \"q\" \\ \x01\n", "--binary", "00ff10",
              "--scenario", "fragmented-with-ping", "--close", "4001", "bye")
    r = t.run([srv.url, "--jsonl", "-P"], keep_stdin_open=True)
    t.exits(r, 6, "--jsonl: the server's 4001 close gives exit 6")
    t.ok(r.out.endswith(b"\n") and b"\x1b" not in r.out, "--jsonl: lines, no colour", str(r))
    evs = json_lines(r.out)
    kinds = [(e.get("type"), e.get("opcode")) for e in evs]
    t.is_(kinds, [("text", 1), ("binary", 2), ("text", 1), ("ping", 9), ("close", 8)],
          "--jsonl: one object per event, a ping inside a fragmented message after it")
    if len(evs) != 5:
        return
    t.is_(evs[0]["data"], "hi \"q\" \\ \x01\n", "--jsonl: text data, JSON-escaped")
    t.is_(evs[0]["length"], len("hi \"q\" \\ \x01\n"), "--jsonl: text length in bytes")
    t.ok(b'\\u0001\\n' in r.out, "--jsonl: control characters as \\u escapes", str(r.out))
    t.is_((evs[1]["data"], evs[1]["encoding"], evs[1]["length"]),
          (base64.b64encode(b"\x00\xff\x10").decode(), "base64", 3),
          "--jsonl: binary data as base64")
    t.is_((evs[2]["data"], evs[3]["data"]), ("fragmented", "hi"),
          "--jsonl: the fragmented message whole, the ping's payload")
    t.is_((evs[4]["code"], evs[4]["reason"], evs[4]["length"]), (4001, "bye", 5),
          "--jsonl: the close with code, reason and payload length")
    t.ok(all(RFC3339.match(e["time"]) for e in evs), "--jsonl: time in RFC 3339 UTC",
         str([e["time"] for e in evs]))


@t.test
def jsonl_without_ping_pong():
    srv = raw("--scenario", "ping", "--text", "x")
    r = t.run([srv.url, "--jsonl"])
    t.exits(r, 0, "--jsonl without -P: exit 0")
    t.is_([e.get("type") for e in json_lines(r.out)], ["text", "close"],
          "--jsonl without -P: pings are not events")


@t.test
def jsonl_large_message_streams():
    srv = t.server("echo_server.py")
    line = ("αβγ\"\\" * 200000).encode()  # 1.8 MB: streamed, not held whole
    r = t.run([srv.url, "--jsonl"], input=line + b"\n", timeout=30)
    t.exits(r, 0, "--jsonl, a 1.8 MB message: exit 0")
    evs = json_lines(r.out)
    t.ok(len(evs) == 2 and evs[0].get("data") == line.decode() and evs[0]["length"] == len(line),
         "--jsonl: a message larger than 1 MiB is one valid JSON line",
         str([{k: (v if k != "data" else len(v)) for k, v in e.items()} for e in evs]))


# ---- -T, --pretty, plain text ----------------------------------------------------------

@t.test
def timestamps():
    srv = raw("--text", "a", "--text", "b c")
    r = t.run([srv.url, "-T"])
    t.exits(r, 0, "-T: exit 0")
    t.ok(re.fullmatch(rb"\d\d:\d\d:\d\d\.\d{3} a\n\d\d:\d\d:\d\d\.\d{3} b c\n", r.out),
         "-T: each message starts with HH:MM:SS.mmm and a space", str(r))


@t.test
def pretty_json():
    srv = raw("--text", '{"a":[1,2.5e3,"x"],"b":{},"c":null}', "--text", '{"a":',
              "--text", "hello", "--text", " [ ] ")
    r = t.run([srv.url, "--pretty"])
    t.exits(r, 0, "--pretty: exit 0")
    want = (b'{\n  "a": [\n    1,\n    2.5e3,\n    "x"\n  ],\n  "b": {},\n  "c": null\n}\n'
            b'{"a":\nhello\n[]\n')
    t.is_(r.out, want, "--pretty: JSON re-indented, invalid JSON and other text as is")
    srv = raw("--text", '{"k":"v","n":1,"t":true}')
    r = t.run([srv.url, "--pretty", "--color", "always"])
    t.ok(b'\x1b[34m"k"\x1b[0m' in r.out and b'\x1b[32m"v"\x1b[0m' in r.out
         and b"\x1b[36m1\x1b[0m" in r.out and b"\x1b[35mtrue\x1b[0m" in r.out,
         "--pretty --color always: keys, strings, numbers, literals coloured", str(r.out))
    t.is_(SGR.sub(b"", r.out), b'{\n  "k": "v",\n  "n": 1,\n  "t": true\n}\n',
          "--pretty --color always: the same text under the colours")


@t.test
def text_as_is_in_a_pipe():
    msg = "a\x1b[31mred\x1b[0m\x07 \u009b\tz"
    srv = raw("--text", msg)
    r = t.run([srv.url], env=COLOR_ON)
    t.exits(r, 0, "control characters in a pipe: exit 0")
    t.is_(r.out, msg.encode() + b"\n", "in a pipe, text is written as is (nothing escaped)")


@t.test
def burst_larger_than_the_output_buffer():
    # Frames that arrive together, more than stdout's buffer (64 KiB) holds: it is
    # written out as it fills, inside one read, messages whole and in order.
    msgs = [("%d " % i) + chr(ord("a") + i) * (60000 + 7919 * i) for i in range(8)]
    msgs += ["%04d " % i + "z" * (i % 150) for i in range(2000)]
    args = ["--same-packet"]
    for m in msgs:
        args += ["--text", m]
    srv = raw(*args, "--binary", "00ff" * 30000, "--text", "end", "--close", "1000")
    r = t.run([srv.url], keep_stdin_open=True, timeout=20)
    t.exits(r, 0, "a burst of 920 KB: exit 0")
    want = "".join(m + "\n" for m in msgs).encode() + b"\x00\xff" * 30000 + b"end\n"
    t.ok(r.out == want, "a burst of 920 KB: every message whole and in order",
         "got %d bytes, want %d" % (len(r.out), len(want)))


# ---- colours ----------------------------------------------------------------------------

@t.test
def colours_in_pipes():
    srv = raw("--text", "x", "--close", "1000")
    r = t.run([srv.url, "-T"], env=COLOR_ON)
    t.ok(not SGR.search(r.out) and not SGR.search(r.err),
         "no colour in pipes, even without NO_COLOR", str(r))
    srv = raw("--text", "x", "--close", "1000")
    r = t.run([srv.url, "-T", "--color", "always"], keep_stdin_open=True)
    t.ok(re.match(rb"\x1b\[2m\d\d:\d\d:\d\d\.\d{3}\x1b\[0m x\n", r.out),
         "--color always: the timestamp is coloured, even in a pipe", str(r.out))
    t.ok(b"\x1b[36mwsc: closed by server: 1000" in r.err, "--color always: notes coloured",
         str(r.err))
    srv = raw("--close", "4001", "bad")
    r = t.run([srv.url, "--color", "always"], keep_stdin_open=True)
    t.ok(b"\x1b[1;31mwsc: closed by server: 4001" in r.err, "--color always: errors in red",
         str(r.err))
    for args in (["--color", "never"], ["--no-color"]):
        srv = raw("--text", "x")
        r = t.run([srv.url, "-T"] + args, env=COLOR_ON)
        t.ok(not SGR.search(r.out + r.err), f"{' '.join(args)}: no colour", str(r))


# ---- --trace, -P, binary formats ---------------------------------------------------------

@t.test
def trace_format():
    srv = raw("--expect", "1", "--text", "hello", "--text", "x" * 40, "--close", "1000")
    r = t.run([srv.url, "--trace", "--no-deflate"], input=b"hi\n", keep_stdin_open=True)
    t.exits(r, 0, "--trace: exit 0")
    lines = r.err.decode().splitlines()
    want = [
        r"wsc: >> TEXT fin=1 rsv=000 masked len=2 68 69",
        r"wsc: << TEXT fin=1 rsv=000 unmasked len=5 68 65 6c 6c 6f",
        r"wsc: << TEXT fin=1 rsv=000 unmasked len=40( 78){24} \.\.\.",
        r"wsc: << CLOSE fin=1 rsv=000 unmasked len=2 03 e8",
        r"wsc: >> CLOSE fin=1 rsv=000 masked len=2 03 e8",
    ]
    frames = [ln for ln in lines if ln.startswith("wsc: >>") or ln.startswith("wsc: <<")]
    t.ok(len(frames) == len(want) and all(re.fullmatch(w, f) for w, f in zip(want, frames)),
         "--trace: direction, opcode, FIN, RSV, masked, length, first bytes, both ways",
         "\n".join(frames))
    srv = raw("--text", "a")
    r = t.run([srv.url, "--trace", "-T"])
    t.ok(re.search(rb"wsc: \d\d:\d\d:\d\d\.\d{3} << TEXT fin=1", r.err),
         "--trace -T: frames carry the time", str(r.err))


@t.test
def ping_pong_shown():
    srv = raw("--scenario", "ping", "--text", "after")
    r = t.run([srv.url, "-P"])
    t.exits(r, 0, "-P: exit 0")
    t.ok(b"wsc: ping received (13 bytes): are you there\n" in r.err, "-P: pings on stderr",
         str(r.err))
    t.is_(r.out, b"after\n", "-P: stdout keeps message data only")
    srv = raw("--scenario", "ping", "--text", "after")
    r = t.run([srv.url])
    t.ok(b"ping" not in r.err, "without -P pings are not shown", str(r.err))


@t.test
def binary_formats():
    data = "00ff1041424344454647484950515253545556"
    srv = raw("--binary", data)
    r = t.run([srv.url, "--binary-format", "hex"])
    t.is_(r.out, b"00000000  00 ff 10 41 42 43 44 45  46 47 48 49 50 51 52 53  |...ABCDEFGHIPQRS|\n"
                 b"00000010  54 55 56" + b" " * 42 + b"|TUV|\n",
          "--binary-format hex: offset, bytes, printable characters")
    srv = raw("--binary", data)
    r = t.run([srv.url, "--binary-format", "base64"])
    t.is_(r.out, base64.b64encode(bytes.fromhex(data)) + b"\n", "--binary-format base64")
    srv = raw("--binary", data)
    r = t.run([srv.url])
    t.is_(r.out, bytes.fromhex(data), "binary in a pipe: the raw bytes")


t.main()
