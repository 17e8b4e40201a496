#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""permessage-deflate (RFC 7692) against the websockets library with each of
its parameter settings, and against scripted servers that send a deflate
bomb, a corrupt stream or a malformed negotiation."""
import os
import zlib

import wsctest as t

SETTINGS = [
    "",
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_no_context_takeover,client_no_context_takeover",
    "server_max_window_bits=9",
    "server_max_window_bits=10,client_max_window_bits=11",
    "client_max_window_bits=8",
    "server_max_window_bits=15,client_max_window_bits=15",
]


def lines():
    # repetitive text compresses; some long, some short, some non-ASCII
    out = [f"message {i}: " + "the quick brown fox " * (i % 40) + "é" * (i % 3)
           for i in range(300)]
    out.append("x" * 300000)
    return ("\n".join(out) + "\n").encode()


@t.test
def each_parameter_setting():
    data = lines()
    for setting in SETTINGS:
        args = ("--deflate", setting) if setting else ()
        srv = t.server("echo_server.py", *args)
        r = t.run(["-v", srv.url], input=data, timeout=20)
        name = setting or "defaults"
        t.exits(r, 0, f"deflate {name}: exit 0")
        t.ok(r.out == data, f"deflate {name}: every line comes back byte-exact",
             f"{len(r.out)} of {len(data)} bytes")
        t.ok(b"permessage-deflate:" in r.err, f"deflate {name}: -v shows the parameters",
             r.err.decode(errors="replace")[-400:])
        srv.stop()


@t.test
def binary_and_fragmented():
    srv = t.server("echo_server.py")
    blob = os.urandom(100000) + b"\0" * 300000
    r = t.run(["-b", "--chunk", str(len(blob)), srv.url], input=blob, timeout=20)
    t.exits(r, 0, "deflate binary: exit 0")
    t.ok(r.out == blob, "deflate binary: 400 kB round-trip byte-exact")
    big = (b"y" * (3 * 1024 * 1024)) + b"\n"  # a line over 1 MiB leaves as fragments
    r = t.run([srv.url], input=big, timeout=20)
    t.exits(r, 0, "deflate fragmented: exit 0")
    t.ok(r.out == big, "deflate fragmented: a 3 MiB line sent in fragments comes back")


@t.test
def trace_shows_sizes():
    srv = t.server("echo_server.py")
    r = t.run(["--trace", srv.url], input=b"a" * 1000 + b"\n")
    t.ok(b">> message: 1000 bytes," in r.err and b"<< message: 1000 bytes," in r.err,
         "--trace shows compressed and plain sizes both ways", r.err.decode(errors="replace"))


def deflate_frame(payload, fin=True):
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = z.compress(payload) + z.flush(zlib.Z_SYNC_FLUSH)
    if data.endswith(b"\x00\x00\xff\xff"):
        data = data[:-4]
    head = bytes([(0x80 if fin else 0) | 0x40 | 0x2])
    n = len(data)
    head += bytes([n]) if n < 126 else bytes([126]) + n.to_bytes(2, "big") if n < 65536 \
        else bytes([127]) + n.to_bytes(8, "big")
    return (head + data).hex()


EXT = "Sec-WebSocket-Extensions: permessage-deflate"


@t.test
def deflate_bomb():
    # 64 MiB of zeros in about 64 kB: refused at --max-message, never inflated whole
    bomb = deflate_frame(b"\0" * (64 * 1024 * 1024))
    srv = t.server("raw_server.py", "--header", EXT, "--frame", bomb)
    r = t.run(["--max-message", "1000000", srv.url], keep_stdin_open=True, timeout=20)
    t.exits(r, 5, "deflate bomb: exit 5")
    t.ok(b"1009" in r.err and b"--max-message" in r.err, "deflate bomb: closed with 1009",
         r.err.decode(errors="replace"))
    t.is_(r.out, b"", "deflate bomb: nothing printed")


@t.test
def corrupt_stream():
    srv = t.server("raw_server.py", "--header", EXT, "--text", "before",
                   "--frame", "c105ffffffffff")
    r = t.run([srv.url], keep_stdin_open=True)
    t.exits(r, 5, "corrupt deflate stream: exit 5")
    t.ok(b"RFC 7692" in r.err and b"1007" in r.err, "corrupt deflate stream: 1007, RFC 7692",
         r.err.decode(errors="replace"))
    t.is_(r.out, b"before\n", "corrupt deflate stream: what came before is printed")


@t.test
def malformed_negotiation():
    cases = [
        ("permessage-deflate; foo=1", "unknown parameter"),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover",
         "appears twice"),
        ("permessage-deflate; server_max_window_bits=7", "window"),
        ("permessage-deflate; server_max_window_bits=16", "window"),
        ("permessage-deflate; client_no_context_takeover=1", "value"),
        ("permessage-deflate, permessage-deflate", "second extension"),
        ("x-webkit-deflate-frame", "x-webkit-deflate-frame"),
    ]
    for value, word in cases:
        srv = t.server("raw_server.py", "--header", "Sec-WebSocket-Extensions: " + value,
                       "--text", "never")
        r = t.run([srv.url], keep_stdin_open=True)
        t.exits(r, 4, f"extension answer {value!r}: exit 4")
        err = r.err.decode(errors="replace")
        t.ok("handshake failed" in err and word in err,
             f"extension answer {value!r}: a handshake error naming {word!r}", err)
        srv.stop()


t.require_websockets()
t.require_wsc()
t.main()
