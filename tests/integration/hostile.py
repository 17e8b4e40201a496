#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Hostile servers and broken networks: the real wsc against tests/helpers/hostile_server.py
(resets, half-closes, silences, trickles, garbage, huge and endless messages, a server that
never reads) and against bench/peer.c for a 256 MiB stream.

Every case asserts the exit status (man/wsc.1, EXIT STATUS), the line on stderr, that
every complete message sent before the fault is on stdout in order and nothing else, and
that wsc ends within a bounded time. Memory bounds (measured on the wsc process only):
  - a server that never reads while 50 MiB of lines wait on stdin: VmHWM under 16 MiB;
  - one 256 MiB binary message streamed through an echo peer: ru_maxrss under 32 MiB.
They are skipped in a sanitizer build, whose shadow memory and quarantine they would
measure instead of wsc's.
"""

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

t.require_wsc()

sys.path.insert(0, t.HELPERS)
import hostile_server as hs  # noqa: E402

SRCDIR = os.environ.get("TOP_SRCDIR") or os.path.normpath(os.path.join(t.HERE, "..", ".."))
MIB = 1 << 20
NEVER_READ_BOUND_KIB = 16 * 1024
STREAM_BOUND_KIB = 32 * 1024


def hostile(scenario, *args):
    return t.server("hostile_server.py", scenario, *args)


def mentions(result, *words):
    err = result.err.decode("utf-8", "replace")
    return all(w in err for w in words)


def first_difference(got, want):
    n = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    return (f"lengths: got {len(got)}, want {len(want)}; first difference at byte {n}\n"
            f"got:  {got[max(0, n - 40):n + 40]!r}\nwant: {want[max(0, n - 40):n + 40]!r}")


def nothing_lost(result, want, what):
    """stdout holds exactly the complete messages sent before the fault, in order."""
    t.ok(result.out == want, f"{what}: every complete message before the fault is on stdout,"
         " in order, and nothing else", first_difference(result.out, want) + f"\n{result}")


def one_stderr_line(result, what, *words):
    t.ok(mentions(result, *words), f"{what}: stderr says {' '.join(words)}", str(result))
    t.ok(len(result.err_lines) == 1, f"{what}: one line on stderr", str(result))


def within(result, seconds, what):
    t.ok(not result.timed_out and result.elapsed < seconds,
         f"{what}: wsc ends within {seconds:g} s", str(result))


def client_close(srv, timeout=5):
    """The close frame wsc sent, as logged by the server (or None)."""
    return srv.wait_event(lambda e: e.get("event") == "close", timeout)


def vm_kib(pid):
    """VmRSS and VmHWM of a live process in KiB (None when it is gone)."""
    vals = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    vals[key] = int(value.split()[0])
    except OSError:
        return None
    return vals if len(vals) == 2 else None


# ---- the connection breaks ---------------------------------------------------------------

@t.test
def rst_mid_message():
    srv = hostile("rst-mid-message", "--messages", "6")
    r = t.run([srv.url], keep_stdin_open=True)
    what = "TCP reset in the middle of a frame"
    t.exits(r, 1, f"{what}: exit 1")
    one_stderr_line(r, what, "connection lost", "1006")
    nothing_lost(r, hs.messages_bytes(6), what)
    within(r, 3, what)


@t.test
def half_close():
    srv = hostile("half-close", "--messages", "6")
    r = t.run([srv.url], keep_stdin_open=True)
    what = "the server shuts down its write side with no close frame"
    t.exits(r, 1, f"{what}: exit 1")
    one_stderr_line(r, what, "connection lost", "1006")
    nothing_lost(r, hs.messages_bytes(6), what)
    within(r, 3, what)
    eof = srv.wait_event(lambda e: e.get("event") == "eof", 3)
    t.ok(eof is not None, f"{what}: wsc closes its side of TCP too", str(srv.events()))


@t.test
def fin_without_close_frame():
    srv = hostile("fin-no-close", "--messages", "6")
    r = t.run([srv.url], keep_stdin_open=True)
    what = "TCP close with no close frame"
    t.exits(r, 1, f"{what}: exit 1")
    one_stderr_line(r, what, "connection lost: 1006")
    nothing_lost(r, hs.messages_bytes(6), what)
    within(r, 3, what)


@t.test
def close_frame_without_tcp_close():
    srv = hostile("close-no-fin", "--messages", "6")
    r = t.run([srv.url], keep_stdin_open=True, timeout=15)
    what = "a close frame, then TCP left open"
    t.exits(r, 0, f"{what}: exit 0")
    one_stderr_line(r, what, "closed by server", "1000", "bye")
    nothing_lost(r, hs.messages_bytes(6), what)
    # The server does not hang up: wsc does, after a short wait for the TCP close.
    within(r, 5, what)
    close = client_close(srv)
    t.ok(close is not None and close.get("code") == 1000, f"{what}: wsc answers with 1000",
         str(close))
    t.ok(srv.wait_event(lambda e: e.get("event") == "eof", 3) is not None,
         f"{what}: wsc closes TCP itself", str(srv.events()))


def paced(word, n, gap):
    """raw_server actions: n text messages "WORD i", gap seconds apart."""
    actions = []
    for i in range(n):
        actions += ["--text", f"{word} {i}", "--sleep", str(gap)]
    return actions


@t.test
def close_reply_behind_a_slow_stream():
    # After our close the server goes on sending for longer than --close-timeout, a
    # message every 0.2 s, then answers: it is alive all along, nothing may be lost.
    srv = t.server("raw_server.py", "--wait-close", *paced("late", 8, 0.2), "--close", "1000")
    r = t.run(["--close-timeout", "1", srv.url], input=b"", timeout=15)
    what = "a close reply behind 1.6 s of messages (--close-timeout 1)"
    t.exits(r, 0, f"{what}: exit 0")
    t.is_(r.out, b"".join(b"late %d\n" % i for i in range(8)), f"{what}: every message printed")


@t.test
def peer_that_never_stops_after_our_close():
    # Bytes push the wait for the close reply, but only up to ten times
    # --close-timeout: a peer that never stops sending still ends.
    srv = t.server("raw_server.py", "--wait-close", *paced("more", 200, 0.05),
                   "--after", "ignore-close")
    r = t.run(["--close-timeout", "0.5", srv.url], input=b"", timeout=20)
    what = "a peer sending on after our close (--close-timeout 0.5)"
    t.exits(r, 1, f"{what}: exit 1")
    t.ok("no close reply within 5 s, the peer sending all along" in r.err.decode(),
         f"{what}: stderr says why", r.err)
    t.ok(r.out.startswith(b"more 0\nmore 1\n") and b"more 199" not in r.out,
         f"{what}: what came before the end is printed, and it ended before the peer did",
         r.out[-200:])


@t.test
def no_reply_to_our_close():
    for timeout in (1, 2):
        srv = hostile("ignore-close", "--messages", "6")
        r = t.run([srv.url, "--close-timeout", str(timeout)], input=b"", timeout=15)
        what = f"no answer to our close (--close-timeout {timeout})"
        t.exits(r, 1, f"{what}: exit 1")
        one_stderr_line(r, what, "did not answer our close", f"{timeout} s")
        nothing_lost(r, hs.messages_bytes(6), what)
        t.ok(timeout - 0.2 <= r.elapsed < timeout + 1.5,
             f"{what}: wsc waits about {timeout} s, no more", str(r))
        close = client_close(srv)
        t.ok(close is not None and close.get("code") == 1000, f"{what}: wsc sent a close 1000",
             str(close))
        srv.stop()


# ---- the opening handshake ---------------------------------------------------------------

@t.test
def stalled_handshake():
    for scenario, timeout in (("stall-handshake", "1"), ("stall-half-head", "1.5")):
        srv = hostile(scenario)
        r = t.run([srv.url, "--handshake-timeout", timeout], keep_stdin_open=True)
        what = f"{scenario} (--handshake-timeout {timeout})"
        t.exits(r, 4, f"{what}: exit 4")
        one_stderr_line(r, what, "handshake", f"{timeout} s")
        t.is_(r.out, b"", f"{what}: nothing on stdout")
        t.ok(float(timeout) - 0.2 <= r.elapsed < float(timeout) + 1.5,
             f"{what}: wsc gives up after {timeout} s", str(r))
        srv.stop()


@t.test
def sigint_during_handshake():
    for signals in (1, 2):
        srv = hostile("stall-handshake")
        proc = t.spawn([srv.url])
        what = f"{'one SIGINT' if signals == 1 else 'two SIGINTs'} during the opening handshake"
        if srv.wait_event(lambda e: e.get("event") == "request", 5) is None:
            t.ok(False, f"{what}: the server got the request", str(proc.wait(1)))
            continue
        time.sleep(0.2)
        sent = time.monotonic()
        for _ in range(signals):
            proc.proc.send_signal(signal.SIGINT)
            time.sleep(0.1)
        r = proc.wait(12)
        ended = time.monotonic() - sent
        t.exits(r, 130, f"{what}: exit 130")
        t.ok(not r.timed_out and ended < 1.5,
             f"{what}: wsc ends at once, without waiting for the handshake timeout",
             f"ended {ended:.2f} s after the signal\n{r}")
        t.ok(mentions(r, "interrupt"), f"{what}: stderr says it was interrupted", str(r))
        t.is_(r.out, b"", f"{what}: nothing on stdout")
        srv.stop()


@t.test
def sigint_with_a_client_in_handshake():
    # Listen mode: a client that connects and sends half a request holds no WebSocket
    # to close, so the first SIGINT need not wait for its handshake timeout.
    proc = t.spawn(["-l", "0"])
    what = "wsc -l: SIGINT while a client is in its opening handshake"
    port, end = None, time.monotonic() + 5
    while port is None and time.monotonic() < end and proc.proc.poll() is None:
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", proc.err)
        port = int(m.group(1)) if m else None
        time.sleep(0.02)
    if port is None:
        t.ok(False, f"{what}: wsc listens", str(proc.wait(1)))
        return
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        time.sleep(0.3)
        sent = time.monotonic()
        proc.proc.send_signal(signal.SIGINT)
        r = proc.wait(12)
        ended = time.monotonic() - sent
    t.exits(r, 0, f"{what}: exit 0")
    t.ok(not r.timed_out and ended < 1.5, f"{what}: wsc ends at once",
         f"ended {ended:.2f} s after the signal\n{r}")


# ---- slow, broken and oversized data -----------------------------------------------------

@t.test
def trickled_bytes():
    srv = hostile("trickle")
    r = t.run([srv.url], keep_stdin_open=True, timeout=40)
    what = "the 101 and every frame one byte per write"
    t.exits(r, 0, f"{what}: exit 0")
    one_stderr_line(r, what, "closed by server", "1000", "done")
    t.ok(r.out == hs.TRICKLE_OUTPUT, f"{what}: every message arrives intact and in order",
         first_difference(r.out, hs.TRICKLE_OUTPUT))
    pongs = [e for e in srv.events("frame") if e["opcode"] == 0xA]
    t.ok(len(pongs) == 1 and bytes.fromhex(pongs[0]["data"]) == b"in between",
         f"{what}: the trickled ping is answered", str(srv.events("frame")))
    close = client_close(srv)
    t.ok(close is not None and close.get("code") == 1000, f"{what}: wsc answers the close",
         str(close))


GARBAGE = [
    # what, bytes after the 101, the RFC rule
    ("an HTTP response", b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html></html>",
     "RFC 6455 5.2"),   # 'H': RSV1 without an extension
    ("zero bytes", b"\x00" * 32, "RFC 6455 5.4"),   # a continuation of nothing
    ("0xff bytes", b"\xff" * 32, "RFC 6455 5."),    # RSV bits, opcode, mask, length
]


@t.test
def garbage_after_101():
    for messages in (0, 3):
        for label, garbage, rule in GARBAGE:
            srv = hostile("garbage-after-101", "--messages", str(messages),
                          "--garbage", garbage.hex())
            r = t.run([srv.url, "--close-timeout", "1"], keep_stdin_open=True)
            what = f"{label} right after the 101" + (f" and {messages} messages"
                                                     if messages else "")
            t.exits(r, 5, f"{what}: exit 5")
            one_stderr_line(r, what, rule)
            nothing_lost(r, hs.messages_bytes(messages), what)
            within(r, 3, what)
            close = client_close(srv)
            t.ok(close is not None and close.get("code") == 1002, f"{what}: wsc closes with 1002",
                 str(close))
            srv.stop()


@t.test
def short_garbage_after_101():
    # 0xff 0xff: FIN, RSV1-3, opcode 0xF, masked, 64-bit length. The first two bytes break
    # RFC 6455 5.2 and 5.1 three times over; the 14-byte header never completes.
    srv = hostile("garbage-after-101", "--garbage", "ffff00000047617262616765")
    r = t.run([srv.url, "--close-timeout", "1"], keep_stdin_open=True, timeout=5)
    what = "12 bytes of garbage after the 101, then silence"
    t.ok(not r.timed_out and r.code == 5, f"{what}: exit 5 without waiting for more bytes",
         str(r))
    t.ok(mentions(r, "RFC 6455 5.2: reserved control opcode 0xf"),
         f"{what}: stderr names the rule the first byte breaks", str(r))


@t.test
def huge_frame_header():
    srv = hostile("huge-header", "--messages", "3")
    r = t.run([srv.url, "--close-timeout", "1"], keep_stdin_open=True)
    what = "a frame header announcing 1 GiB (default --max-message 256 MiB)"
    # man wsc: a larger message "is refused as soon as its size is known, before it is
    # whole, with close code 1009"; wsc reports it like a protocol error (exit 5).
    t.exits(r, 5, f"{what}: exit 5")
    one_stderr_line(r, what, "--max-message", "1009")
    nothing_lost(r, hs.messages_bytes(3), what)
    within(r, 3, what)
    sent = srv.wait_event(lambda e: e.get("event") == "sent", 3)
    close = client_close(srv)
    t.ok(close is not None and close.get("code") == 1009, f"{what}: wsc closes with 1009",
         str(close))
    t.ok(sent is not None and close is not None and close["t"] - sent["t"] < 0.5,
         f"{what}: refused on the header alone, at once", f"{sent}\n{close}")

    srv = hostile("huge-header", "--messages", "3", "--length", str(1 << 63))
    r = t.run([srv.url, "--close-timeout", "1", "--max-message", "0"], keep_stdin_open=True)
    what = "a frame header announcing 2^63 bytes (--max-message 0)"
    t.exits(r, 5, f"{what}: exit 5")
    one_stderr_line(r, what, "RFC 6455 5.2", "1002")
    nothing_lost(r, hs.messages_bytes(3), what)
    close = client_close(srv)
    t.ok(close is not None and close.get("code") == 1002, f"{what}: wsc closes with 1002",
         str(close))


@t.test
def endless_continuation():
    srv = hostile("endless-continuation", "--messages", "2", "--size", "1000",
                  "--count", "1000")
    r = t.run([srv.url, "--max-message", "100000"], keep_stdin_open=True)
    what = "endless 1000-byte continuation frames (--max-message 100000)"
    t.exits(r, 5, f"{what}: exit 5")
    one_stderr_line(r, what, "--max-message", "1009")
    nothing_lost(r, hs.messages_bytes(2), what)
    within(r, 3, what)
    close = client_close(srv)
    t.ok(close is not None and close.get("code") == 1009, f"{what}: wsc closes with 1009",
         str(close))
    sent = srv.wait_event(lambda e: e.get("event") == "sent", 3)
    frames = sent.get("frames", 0) if sent else 0
    # Frame 101 takes the message past 100000 bytes; the server checks for the close
    # after every frame, so a few more may be on the way.
    t.ok(sent is not None and sent.get("close_seen") and 101 <= frames <= 200,
         f"{what}: refused once the limit passes (frame 101), not at the end",
         f"server: {sent}")


# ---- a server that never reads -----------------------------------------------------------

class Feeder:
    """Writes `total` bytes of lines to a process's stdin, counting what got through."""

    def __init__(self, proc, total):
        self.proc, self.total, self.written = proc, total, 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        line = b"%07d " + b"x" * 91 + b"\n"
        try:
            while self.written < self.total:
                block = b"".join(line % (self.written // 100 + i) for i in range(10000))
                self.proc.stdin.write(block)
                self.written += len(block)
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass


class Watched:
    """wsc with a feeder on stdin, stdout and stderr collected, memory sampled."""

    def __init__(self, args, total):
        self.proc = subprocess.Popen([t.WSC] + args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=t.child_env())
        t.track(self)
        self.err = bytearray()
        self.out_len = 0
        threading.Thread(target=self._drain_err, daemon=True).start()
        threading.Thread(target=self._drain_out, daemon=True).start()
        self.feeder = Feeder(self.proc, total)
        self.hwm = self.rss = 0

    def _drain_err(self):
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):
            self.err += chunk

    def _drain_out(self):
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            self.out_len += len(chunk)

    def sample(self):
        vals = vm_kib(self.proc.pid)
        if vals:
            self.hwm = max(self.hwm, vals["VmHWM"])
            self.rss = vals["VmRSS"]

    def wait_stalled(self, quiet=1.0, limit=20.0):
        """Sample memory until stdin stops moving for `quiet` s; True if it did."""
        end = time.monotonic() + limit
        last, since = -1, time.monotonic()
        while time.monotonic() < end and self.proc.poll() is None:
            self.sample()
            if self.feeder.written != last:
                last, since = self.feeder.written, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return True
            time.sleep(0.05)
        return False

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)


@t.test
def never_reading_server():
    total = 50 * MIB
    sanitized = t.is_sanitized()
    for signals in (1, 2):
        srv = hostile("never-read", "--timeout", "60")
        w = Watched([srv.url], total)
        what = "a server that never reads, 50 MiB of lines on stdin"
        stalled = w.wait_stalled()
        t.ok(stalled and w.feeder.written < total,
             f"{what}: wsc stops reading stdin when its writes block",
             f"stdin accepted {w.feeder.written} of {total} bytes; stalled: {stalled}")
        if sanitized:
            t.skip(f"{what}: memory stays bounded", "sanitizer build")
        else:
            t.ok(0 < w.hwm < NEVER_READ_BOUND_KIB,
                 f"{what}: peak RSS under {NEVER_READ_BOUND_KIB // 1024} MiB",
                 f"VmHWM {w.hwm} KiB, VmRSS {w.rss} KiB")
        sent = time.monotonic()
        for _ in range(signals):
            w.proc.send_signal(signal.SIGINT)
            time.sleep(0.2)
        try:
            code = w.proc.wait(12)
        except subprocess.TimeoutExpired:
            code = None
            w.kill()
        ended = time.monotonic() - sent
        err = bytes(w.err).decode("utf-8", "replace")
        if signals == 1:
            # The close frame waits behind the blocked data: --close-timeout (5 s) ends it.
            t.ok(code == 1 and ended < 7, f"{what}: one SIGINT ends wsc within the close "
                 "timeout, exit 1", f"exit {code} after {ended:.2f} s\nstderr: {err}")
            t.ok("did not answer our close" in err, f"{what}: stderr says the close went"
                 " unanswered", err)
        else:
            t.ok(code == 130 and ended < 1.5, f"{what}: a second SIGINT exits at once with 130",
                 f"exit {code} after {ended:.2f} s\nstderr: {err}")
        t.is_(w.out_len, 0, f"{what}: nothing on stdout")
        srv.stop()


# ---- memory: one 256 MiB message through an echo peer -------------------------------------

def build(name, *libs):
    """bench/NAME.c compiled into the test's temporary directory, or None."""
    exe = os.path.join(t.tmpdir(), name)
    cc = os.environ.get("CC_FOR_TESTS", "cc")
    try:
        p = subprocess.run([cc, "-O2", "-std=c11", "-D_DEFAULT_SOURCE",
                            os.path.join(SRCDIR, "bench", name + ".c"), "-o", exe] + list(libs),
                           capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        t.diag(f"cannot build bench/{name}.c: {exc}")
        return None
    if p.returncode != 0:
        t.diag(f"cannot build bench/{name}.c:\n{p.stderr.decode(errors='replace')}")
        return None
    return exe


@t.test
def stream_256_mib():
    what = "one 256 MiB binary message through a streaming echo peer"
    peer, measure = build("peer", "-lcrypto"), build("measure")
    if not peer or not measure:
        t.skip(what, "bench/peer.c or bench/measure.c does not build here")
        return
    total = 256 * MIB
    srv = t.track(subprocess.Popen([peer, "-n", "1", "--idle", "60", "echo"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
    port = int(srv.stdout.readline().split()[1])
    result_file = t.tmpfile("measure")
    # measure forks wsc: a child of this Python would inherit its peak RSS (bench/README.md).
    proc = t.track(subprocess.Popen(
        [measure, result_file, "120", t.WSC, "-b", "--chunk", str(total), "--max-message", "0",
         f"ws://127.0.0.1:{port}/"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=t.child_env()))
    sent = hashlib.sha256()

    def feed():
        block = bytearray(os.urandom(MIB))
        try:
            for i in range(total // MIB):
                block[:8] = i.to_bytes(8, "big")
                sent.update(block)
                proc.stdin.write(block)
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    err = bytearray()
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    threading.Thread(target=lambda: err.extend(proc.stderr.read()), daemon=True).start()
    got, n = hashlib.sha256(), 0
    for chunk in iter(lambda: proc.stdout.read1(MIB), b""):
        got.update(chunk)
        n += len(chunk)
    proc.wait(130)
    feeder.join(10)
    with open(result_file) as f:
        fields = f.read().split()
    wall, maxrss, status, timed_out = float(fields[0]), int(fields[3]), int(fields[4]), fields[5]
    detail = (f"exit {status}, timed out {timed_out}, {wall:.2f} s, maxrss {maxrss} KiB, "
              f"{n} bytes out\nstderr: {err.decode(errors='replace')}")
    t.ok(status == 0 and timed_out == "0", f"{what}: exit 0", detail)
    t.ok(n == total and got.digest() == sent.digest(),
         f"{what}: the echo on stdout is byte-exact (sha256)", detail)
    if t.is_sanitized():
        t.skip(f"{what}: peak RSS bounded", "sanitizer build")
    else:
        t.ok(0 < maxrss < STREAM_BOUND_KIB,
             f"{what}: wsc's peak RSS under {STREAM_BOUND_KIB // 1024} MiB", detail)


if __name__ == "__main__":
    t.main()
