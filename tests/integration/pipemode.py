#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Pipe mode in full: binary and NUL-delimited input, --one, --wait, --echo,
keepalive pings and a reader of stdout that goes away."""
import hashlib
import os
import signal
import subprocess
import time

import wsctest as t


@t.test
def binary_chunks():
    srv = t.server("echo_server.py", "--no-compression")
    data = os.urandom(200000)
    r = t.run(["-b", "--chunk", "65536", "--no-deflate", srv.url], input=data, timeout=20)
    t.exits(r, 0, "-b: exit 0")
    t.ok(r.out == data, "-b: the echoed bytes equal stdin",
         f"got {len(r.out)} bytes, sent {len(data)}")
    sizes = [m["length"] for m in srv.messages()]
    types = {m["type"] for m in srv.messages()}
    t.is_(sizes, [65536, 65536, 65536, 200000 - 3 * 65536], "-b --chunk: message boundaries")
    t.is_(types, {"binary"}, "-b: every message is binary")


@t.test
def binary_large_fragmented():
    # A message larger than 1 MiB leaves as fragments while stdin streams in.
    srv = t.server("echo_server.py", "--no-compression")
    data = os.urandom(3 * 1024 * 1024 + 17)
    r = t.run(["-b", "--chunk", str(len(data)), srv.url], input=data, timeout=30)
    t.exits(r, 0, "-b one 3 MiB message: exit 0")
    t.ok(hashlib.sha256(r.out).digest() == hashlib.sha256(data).digest(),
         "-b one 3 MiB message: the echo's sha256 equals the input's")
    t.is_([m["length"] for m in srv.messages()], [len(data)], "-b: one message of 3 MiB")


@t.test
def null_records():
    srv = t.server("echo_server.py")
    r = t.run(["-0", srv.url], input=b"a\nb\0c d\0last")
    t.exits(r, 0, "-0: exit 0")
    t.is_([m.get("data") for m in srv.messages()], ["a\nb", "c d", "last"],
          "-0: NUL-terminated records, the last without its NUL")


@t.test
def one_message():
    srv = t.server("source_server.py", "--count", "5", "--delay", "0.2")
    r = t.run(["-1", srv.url], input=b"first\nsecond\n")
    t.exits(r, 0, "-1: exit 0")
    t.is_(r.out, b"1\n", "-1: prints the first message received only")
    sent = srv.wait_event(lambda e: e["event"] == "close")
    got = [m["data"] for m in srv.messages()]
    t.is_(got, ["first"], "-1: sends at most one message")
    t.ok(sent and sent["code"] == 1000, "-1: closes with 1000", f"close event: {sent}")


@t.test
def wait_seconds():
    srv = t.server("source_server.py", "--count", "3", "--delay", "0.5")
    r = t.run(["-w", "2", srv.url], input=b"")
    t.exits(r, 0, "-w 2: exit 0")
    t.is_(r.out, b"1\n2\n3\n", "-w 2: messages arriving after stdin ended are printed")
    r = t.run([srv.url], input=b"")
    t.is_(r.out, b"", "without -w: wsc closes at once at the end of stdin")


@t.test
def wait_until_server_closes():
    srv = t.server("source_server.py", "--count", "4", "--delay", "0.3", "--then-close", "1000")
    r = t.run(["-w", "-1", srv.url], input=b"", timeout=10)
    t.exits(r, 0, "-w -1: exit 0 when the server closes with 1000")
    t.is_(r.out, b"1\n2\n3\n4\n", "-w -1: everything until the server's close")
    t.ok(b"closed by server: 1000" in r.err, "-w -1: stderr says the server closed",
         r.err.decode(errors="replace"))


@t.test
def echo_client():
    srv = t.server("raw_server.py", "--text", "one", "--binary", "00ff", "--expect", "2",
                   "--close", "1000")
    r = t.run(["--echo", srv.url], timeout=10)
    t.exits(r, 0, "--echo: exit 0")
    t.is_(r.out, b"", "--echo prints nothing on stdout")


@t.test
def keepalive_answered():
    srv = t.server("source_server.py", "--count", "1", "--delay", "1.2", "--then-close", "1000")
    r = t.run(["--ping-interval", "0.2", "--ping-timeout", "0.5", "-w", "-1", srv.url],
              timeout=10)
    t.exits(r, 0, "--ping-interval against a live server: exit 0")
    t.is_(r.out, b"1\n", "--ping-interval: the connection stays up past the timeout")


@t.test
def keepalive_unanswered():
    srv = t.server("raw_server.py", "--sleep", "5", "--after", "ignore-close")
    start = time.monotonic()
    r = t.run(["--ping-interval", "0.2", "--ping-timeout", "0.4", "--close-timeout", "0.5",
               "-w", "-1", srv.url], timeout=10)
    t.exits(r, 1, "--ping-timeout: exit 1 when pongs stop")
    t.ok(b"no pong within 0.4 s" in r.err, "--ping-timeout: stderr says why",
         r.err.decode(errors="replace"))
    t.ok(time.monotonic() - start < 4, "--ping-timeout: wsc ends within the bounds")


@t.test
def stdout_reader_leaves():
    # `wsc URL | head -n 1`: the closed pipe ends wsc cleanly with a close 1001.
    srv = t.server("source_server.py", "--count", "5000")
    proc = subprocess.Popen(f"'{t.WSC}' -w -1 {srv.url} < /dev/null | head -n 1",
                            shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=t.child_env())
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        t.ok(False, "SIGPIPE: wsc | head -n 1 ends", "timed out")
        return
    t.is_(out, b"1\n", "SIGPIPE: head gets the first message")
    closed = srv.wait_event(lambda e: e["event"] == "close", timeout=5)
    t.ok(closed and closed["code"] == 1001, "SIGPIPE: wsc closes with 1001 (going away)",
         f"close event: {closed}; stderr: {err!r}")
    t.ok(b"wsc:" not in err, "SIGPIPE: no error message", err.decode(errors="replace"))


@t.test
def invalid_utf8_input():
    srv = t.server("echo_server.py")
    r = t.run([srv.url], input=b"good\nbad \xff line\nnever\n")
    t.exits(r, 1, "invalid UTF-8 on stdin: exit 1")
    t.ok(b"not valid UTF-8" in r.err and b"-b" in r.err,
         "invalid UTF-8 on stdin: the error suggests -b", r.err.decode(errors="replace"))
    t.is_([m.get("data") for m in srv.messages()], ["good"], "nothing after the bad line is sent")


@t.test
def invalid_utf8_deep_in_the_input():
    # ASCII lines, lines with a two-byte character among them, then a bad one in the
    # middle of a read: its record number is right, every line before it went out.
    lines = [("%04d " % i + ("\u00e9" if i % 7 == 0 else "a") * (i % 90)).encode()
             for i in range(3000)]
    lines.insert(2500, b"bad \xc3\x28 here")
    srv = t.server("echo_server.py")
    r = t.run([srv.url], input=b"\n".join(lines) + b"\n", timeout=20)
    t.exits(r, 1, "invalid UTF-8 after 2,500 lines: exit 1")
    t.ok(b"input record 2501 is not valid UTF-8" in r.err,
         "invalid UTF-8 after 2,500 lines: the error names record 2501",
         r.err.decode(errors="replace"))
    got = [m.get("data") for m in srv.messages()]
    t.ok(got == [line.decode() for line in lines[:2500]],
         "invalid UTF-8 after 2,500 lines: the 2,500 lines before it went out, in order",
         "got %d messages" % len(got))


@t.test
def interrupt_closes():
    srv = t.server("source_server.py", "--count", "1")
    proc = t.spawn([srv.url])
    proc.wait_out(lambda out: out == b"1\n", 5)
    proc.proc.send_signal(signal.SIGINT)
    r = proc.wait(10)
    t.exits(r, 0, "SIGINT: a clean close, exit 0")
    closed = srv.wait_event(lambda e: e["event"] == "close", timeout=5)
    t.ok(closed and closed["code"] == 1000, "SIGINT: the server gets close 1000",
         f"close event: {closed}")


@t.test
def interrupt_while_stdin_streams():
    # The signal and readable stdin come out of the same poll: the close wins, and
    # the lines still unread are not an error.
    lines = b"".join(b"line %07d %s\n" % (i, b"x" * 1010) for i in range(50000))
    srv = t.server("echo_server.py")
    # The server echoes what is queued ahead of the close before answering it.
    proc = t.spawn(["--close-timeout", "60", srv.url], lines)
    proc.wait_out(lambda out: len(out) > 100000, 10)
    proc.proc.send_signal(signal.SIGINT)
    r = proc.wait(60)
    what = "SIGINT while 50 MB of lines stream in"
    t.exits(r, 0, f"{what}: a clean close, exit 0")
    t.ok(r.err_lines == ["wsc: closing (interrupt again to quit at once)",
                         "wsc: closed: 1000 (normal closure)"],
         f"{what}: stderr says it is closing, then closed", str(r))
    t.ok(r.out.endswith(b"\n") and lines.startswith(r.out),
         f"{what}: stdout holds whole echoes, in order, up to the close", f"{len(r.out)} bytes")
    closed = srv.wait_event(lambda e: e["event"] == "close", timeout=5)
    t.ok(closed and closed["code"] == 1000, f"{what}: the server gets close 1000",
         f"close event: {closed}")


def listen(port):
    srv = t.spawn(["-l", str(port), "--echo"])
    t.wait_listening(port, proc=srv)
    return srv


@t.test
def reconnect_after_a_lost_connection():
    port = t.free_port()
    srv = listen(port)
    client = t.spawn(["--reconnect=5", "-w", "-1", f"ws://127.0.0.1:{port}"])
    client.proc.stdin.write(b"before\n")
    client.proc.stdin.flush()
    t.ok(client.wait_out(lambda o: o == b"before\n", 5), "--reconnect: first connection works")
    srv.kill()  # the server dies: no close frame
    time.sleep(0.3)
    client.proc.stdin.write(b"while down\n")  # typed while reconnecting: queued
    client.proc.stdin.flush()
    srv = listen(port)
    t.ok(client.wait_out(lambda o: o == b"before\nwhile down\n", 10),
         "--reconnect: a line typed while reconnecting is sent on the new connection",
         repr(client.out))
    client.proc.stdin.close()
    srv.kill()
    r = client.wait(15)
    t.ok(b"connection lost: 1006" in r.err and b"reconnecting in" in r.err,
         "--reconnect: stderr says the connection was lost and wsc reconnects",
         r.err.decode(errors="replace"))


@t.test
def reconnect_gives_up():
    port = t.free_port()
    srv = listen(port)
    client = t.spawn(["--reconnect=2", "-w", "-1", f"ws://127.0.0.1:{port}"])
    time.sleep(0.5)
    srv.kill()
    r = client.wait(15)
    t.exits(r, 3, "--reconnect=2: exit 3 once the tries are used up")
    t.is_(r.err.decode(errors="replace").count("reconnecting in"), 2,
          "--reconnect=2: two tries, with backoff", r.err.decode(errors="replace"))


@t.test
def no_reconnect_after_a_normal_close():
    srv = t.server("source_server.py", "--count", "1", "--then-close", "1000")
    r = t.run(["--reconnect", "-w", "-1", srv.url], timeout=10)
    t.exits(r, 0, "--reconnect: a normal close by the server ends wsc")
    t.ok(b"reconnecting" not in r.err, "--reconnect: no reconnection after a normal close")


t.require_websockets()
t.require_wsc()
t.main()
