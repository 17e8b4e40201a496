#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""wsc under valgrind (memcheck): echo sessions in both roles, and the error paths of a
few hostile servers (tests/helpers/hostile_server.py). Each run asserts wsc's own exit
status, its stdout, and that valgrind found no invalid access, no use of uninitialised
memory and no definite leak (--error-exitcode=99; -q leaves only errors on stderr,
on lines starting with "==PID==").

Skipped when valgrind is not installed, and in a sanitizer build (ASan and valgrind do
not run together).
"""

import os
import re
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

t.require_wsc()

sys.path.insert(0, t.HELPERS)
import hostile_server as hs  # noqa: E402

VALGRIND = shutil.which("valgrind")
if not VALGRIND:
    t.skip_all("valgrind is not installed")
if t.is_sanitized():
    t.skip_all("wsc is built with AddressSanitizer")

VALGRIND_ARGS = [VALGRIND, "-q", "--error-exitcode=99", "--leak-check=full",
                 "--errors-for-leak-kinds=definite", "--track-fds=no"]
TIMEOUT = 60


def under_valgrind(args, input=b"", keep_stdin_open=False):
    return t.Proc(VALGRIND_ARGS + [t.WSC] + list(args), input, not keep_stdin_open,
                  t.child_env())


def valgrind_lines(result):
    return [line for line in result.err_lines if re.match(r"==\d+==", line)]


def clean(result, code, what):
    """wsc's exit status is its own (not valgrind's 99) and valgrind reported nothing."""
    t.exits(result, code, f"{what}: exit {code} under valgrind")
    t.ok(not valgrind_lines(result), f"{what}: valgrind finds no error and no definite leak",
         "\n".join(valgrind_lines(result)[:60]))


def listen(args, proc_factory):
    """wsc -l 0 ARGS started by proc_factory; returns (port, proc)."""
    proc = proc_factory(["-l", "0"] + list(args))
    end = time.monotonic() + 30
    while time.monotonic() < end and proc.proc.poll() is None:
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", proc.err)
        if m:
            return int(m.group(1)), proc
        time.sleep(0.05)
    raise RuntimeError(f"wsc -l 0 did not say where it listens\n{proc.wait(1)}")


LINES = [b"a", "héllo wörld ✓".encode(), b"x" * 70000, b"y" * (3 * 1024 * 1024 // 2), b""]
TEXT = b"".join(line + b"\n" for line in LINES)
BINARY = bytes(i % 253 for i in range(300000))


@t.test
def client_echo_session():
    port, _ = listen(["--echo"], lambda args: t.spawn(args))
    url = f"ws://127.0.0.1:{port}/"
    r = under_valgrind([url, "-x", "first"], TEXT).wait(TIMEOUT)
    clean(r, 0, "client: text lines through wsc -l --echo (deflate)")
    t.ok(r.out == b"first\n" + TEXT, "client: text lines: the echo is byte-exact",
         f"{len(r.out)} bytes out, {len(TEXT) + 6} expected")
    r = under_valgrind([url, "-b", "--chunk", "100000", "--no-deflate"], BINARY).wait(TIMEOUT)
    clean(r, 0, "client: binary chunks (--no-deflate)")
    t.ok(r.out == BINARY, "client: binary chunks: the echo is byte-exact",
         f"{len(r.out)} bytes out, {len(BINARY)} expected")


@t.test
def listen_echo_session():
    port, server = listen(["--echo"], lambda args: under_valgrind(args, keep_stdin_open=True))
    url = f"ws://127.0.0.1:{port}/"
    r = t.run([url], input=TEXT, timeout=TIMEOUT)
    t.exits(r, 0, "listen: a client's session with wsc -l --echo under valgrind: exit 0")
    t.ok(r.out == TEXT, "listen: the client gets every line back",
         f"{len(r.out)} bytes out, {len(TEXT)} expected\n{r.err!r}")
    server.proc.send_signal(signal.SIGINT)
    clean(server.wait(TIMEOUT), 0, "listen: wsc -l --echo stopped by SIGINT")


@t.test
def hostile_error_paths():
    cases = [
        # scenario and its options, wsc options, exit status, stdout
        (["rst-mid-message", "--messages", "4"], [], 1, hs.messages_bytes(4)),
        (["huge-header", "--messages", "2"], ["--close-timeout", "1"], 5, hs.messages_bytes(2)),
        (["endless-continuation", "--size", "1000", "--count", "1000"],
         ["--max-message", "100000"], 5, b""),
        (["garbage-after-101", "--messages", "1"], ["--close-timeout", "1"], 5,
         hs.messages_bytes(1)),
        (["stall-handshake"], ["--handshake-timeout", "1"], 4, b""),
    ]
    for server_args, args, code, out in cases:
        srv = t.server("hostile_server.py", *server_args)
        r = under_valgrind([srv.url] + args, keep_stdin_open=True).wait(TIMEOUT)
        what = f"hostile server {server_args[0]}"
        clean(r, code, what)
        t.ok(r.out == out, f"{what}: stdout holds the messages before the fault",
             f"{len(r.out)} bytes out, {len(out)} expected")
        srv.stop()


if __name__ == "__main__":
    t.main()
