#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""permessage-deflate (RFC 7692) against the websockets library with each of
its parameter settings, and against scripted servers that send a deflate
bomb, a corrupt stream or a malformed negotiation."""
import hashlib
import os
import sys
import time

import wsctest as t

sys.path.insert(0, t.HELPERS)
import wsframe  # noqa: E402

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
    data = wsframe.deflated(payload)
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


def deflating_client(port):
    """A raw client that offers permessage-deflate and checks it was taken."""
    s, head, _ = wsframe.client_handshake(port, EXT + "\r\n", timeout=None)
    return s, "permessage-deflate" in head


def bomb_frame(payload):
    """payload deflated into one masked binary frame, client to server."""
    return wsframe.encode(wsframe.OP_BINARY, wsframe.deflated(payload), rsv=4, mask=True)


def peak_while(proc, seconds):
    peak, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        peak = max(peak, t.rss_anon_kib(proc.proc.pid))
        time.sleep(0.05)
    return peak


@t.test
def deflate_bomb_to_a_process_that_does_not_read():
    # 200 MiB of zeros in 200 kB, to a process that never reads: the engine
    # inflates a slice at a time and stops when the process's pipe is full,
    # instead of inflating the whole read into memory first.
    port, proc = t.listen("-b", "--exec", "sleep 30")
    s, took = deflating_client(port)
    t.ok(took, "the listener takes permessage-deflate")
    s.sendall(bomb_frame(b"\0" * (200 << 20)))
    peak = peak_while(proc, 2)
    t.ok(proc.proc.poll() is None, "a deflate bomb to a process that does not read: wsc goes on")
    if t.is_sanitized():
        t.skip("a deflate bomb to a process that does not read: bounded memory", "sanitizer build")
    else:
        t.ok(0 < peak < 24 * 1024,
             f"a deflate bomb to a process that does not read: wsc's RssAnon {peak} KiB < 24 MiB")
    s.close()
    proc.stop()


@t.test
def compressed_message_to_a_slow_process_arrives_whole():
    # 24 MiB in one compressed frame to a process that starts reading a
    # second late: what waits for it is held, then arrives whole and in order.
    data = b"".join(b"%08d the quick brown fox jumps\n" % i for i in range(24 << 20 >> 5))
    port, proc = t.listen("-b", "--exec", f"sh -c 'sleep 1; head -c {len(data)} | sha256sum'")
    s, took = deflating_client(port)
    s.sendall(bomb_frame(data))
    peak = peak_while(proc, 1.5)
    s.settimeout(20)
    got = b""
    try:  # the answer, then the close that follows the process's exit
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    t.ok(hashlib.sha256(data).hexdigest().encode() in got,
         "24 MiB compressed to a slow process: its sha256 comes back (every byte, in order)",
         got[:200].decode(errors="replace"))
    if not t.is_sanitized():
        t.ok(0 < peak < 24 * 1024, f"while it waits, wsc's RssAnon {peak} KiB < 24 MiB")
    s.close()
    proc.stop()


t.require_websockets()
t.require_wsc()
t.main()
