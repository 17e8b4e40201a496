#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A real browser against listen mode: Debian's chromium, headless, loads
tests/helpers/browser_page.html, whose script opens new WebSocket('ws://127.0.0.1:PORT')
to wsc -l and exchanges text and binary messages with it. When its connection has
closed, the page sends what it saw (messages, subprotocol, extensions, close code) as
"REPORT {json}" to a second wsc -l, whose stdout the test reads. Both sides are checked:
wsc's stdout and stderr, and the page's report. With mode=stream the page is a
byte-stream client as noVNC is, through wsc -l --forward to a TCP echo: first refused
(a file:// page is cross-site), then let in with --allow-origin. Skipped when chromium
is not installed.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

sys.path.insert(0, t.HELPERS)
from tcp_echo import TcpEcho  # noqa: E402

t.require_wsc()
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    t.skip_all("chromium is not installed (bootstrap installs Debian's chromium)")

PAGE = os.path.join(t.HELPERS, "browser_page.html")
GREETING = b"hello from the browser\n" + bytes([0, 1, 2, 253, 254, 255]) + b"B" * 70000 + b"\n"



def err_text(proc):
    return proc.err.decode("utf-8", "replace")



def send_stdin(proc, data):
    proc.proc.stdin.write(data)
    proc.proc.stdin.flush()


class Browser:
    """Headless chromium on one page, in its own process group with a fresh profile;
    kill() ends the whole group."""

    def __init__(self, flags=(), **query):
        self.profile = tempfile.mkdtemp(prefix="chromium-", dir=t.tmpdir())
        url = "file://" + PAGE + "?" + urllib.parse.urlencode(query)
        self.log_path = os.path.join(self.profile, "stderr.log")
        argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", f"--user-data-dir={self.profile}", *flags, url]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, start_new_session=True,
                                         env=t.child_env())
        t.track(self)

    def kill(self):
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._signal_group(signal.SIGKILL)  # renderers and helpers may outlive the parent
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def _signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def log_tail(self, n=15):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                lines = [ln for ln in f if "dbus" not in ln]  # no bus in a container
        except OSError:
            return ""
        return "chromium:\n" + "".join(lines[-n:])


def wait_report(rep, timeout=30):
    """The page's REPORT JSON, from the report server's stdout (or None)."""
    rep.wait_out(lambda out: b"\n" in out and out.startswith(b"REPORT "), timeout)
    line = rep.out.split(b"\n", 1)[0]
    if not line.startswith(b"REPORT "):
        return None
    try:
        return json.loads(line[len(b"REPORT "):].decode("utf-8"))
    except ValueError:
        return None


@t.test
def text_both_ways():
    port, proc = t.listen("-s", "superchat", "-s", "chat")
    report_port, rep = t.listen()
    browser = Browser(port=port, report=report_port, expect=2, close=1,
                      protocols="chat,superchat")
    connected = t.wait_err(proc, r"client 1 connected", 20) is not None
    t.ok(connected, "chromium connects to wsc -l", err_text(proc) + browser.log_tail())
    if connected:
        send_stdin(proc, "line one\nünïcödé 🎉\n".encode())
    result = wait_report(rep)
    diag = f"wsc stderr:\n{err_text(proc)}\nreport: {t._short(rep.out)}\n{browser.log_tail()}"
    t.ok(result is not None, "the page reports what it saw", diag)
    result = result or {}
    t.is_(result.get("received"), [["text", "line one"], ["text", "ünïcödé 🎉"]],
          "browser: receives wsc's stdin lines as text messages", diag)
    proc.wait_out(lambda out: out.endswith("echo: ünïcödé 🎉\n".encode()), 5)
    t.ok(proc.out == GREETING + "echo: line one\necho: ünïcödé 🎉\n".encode(),
         "wsc: prints the browser's text, binary (raw), 70,000-byte and echoed messages",
         f"stdout: {t._short(proc.out)}")
    t.is_(result.get("protocol"), "superchat",
          "browser offers chat,superchat to -s superchat -s chat: superchat", diag)
    t.ok("permessage-deflate" in (result.get("extensions") or ""),
         "browser: permessage-deflate is negotiated", diag)
    close = result.get("close") or {}
    t.is_((close.get("code"), close.get("wasClean")), (4000, True),
          "browser: its close 4000 is answered with 4000 and the close is clean", diag)
    t.ok(t.wait_err(proc, r'client 1 closed: 4000 \([^)]*\) "browser done"') is not None,
         "wsc: 'client 1 closed: 4000 (...) \"browser done\"'", diag)
    t.is_(result.get("errors"), [], "browser: no error event", diag)
    browser.kill()


@t.test
def binary_both_ways():
    data = b"\x00\xff\x10binary\x80\x7f\x01"
    port, proc = t.listen("-b", "--chunk", str(len(data)))
    report_port, rep = t.listen()
    browser = Browser(port=port, report=report_port, expect=1, close=1)
    connected = t.wait_err(proc, r"client 1 connected", 20) is not None
    t.ok(connected, "chromium connects to wsc -l -b", err_text(proc) + browser.log_tail())
    if connected:
        send_stdin(proc, data)
    result = wait_report(rep) or {}
    diag = f"wsc stderr:\n{err_text(proc)}\nreport: {t._short(rep.out)}\n{browser.log_tail()}"
    t.is_(result.get("received"), [["binary", data.hex()]],
          "browser: receives wsc's stdin bytes as one binary message (-b)", diag)
    proc.wait_out(lambda out: out.endswith(data[::-1]), 5)
    t.is_(proc.out, GREETING + data[::-1],
          "wsc: prints the browser's reply, the bytes reversed, raw")
    t.is_((result.get("close") or {}).get("code"), 4000, "browser: closed with 4000", diag)


@t.test
def server_closes():
    port, proc = t.listen()
    report_port, rep = t.listen()
    browser = Browser(port=port, report=report_port, expect=1, close=0)
    connected = t.wait_err(proc, r"client 1 connected", 20) is not None
    t.ok(connected, "chromium connects to wsc -l", err_text(proc) + browser.log_tail())
    if connected:
        send_stdin(proc, b"going soon\n")
        proc.wait_out(lambda out: out.endswith(b"echo: going soon\n"), 10)
        proc.proc.send_signal(signal.SIGTERM)
    r = proc.wait(10)
    t.exits(r, 0, "SIGTERM: wsc -l closes the browser's connection and exits 0")
    result = wait_report(rep) or {}
    diag = f"wsc stderr:\n{err_text(proc)}\nreport: {t._short(rep.out)}\n{browser.log_tail()}"
    t.is_(result.get("received"), [["text", "going soon"]], "browser: got the message", diag)
    t.is_(result.get("close"), {"code": 1001, "reason": "", "wasClean": True},
          "browser: wsc's close is 1001 (going away) and clean", diag)


# The Origin headless chromium sends from a file:// page: an opaque origin,
# serialized as "null" (never the page's path).
FILE_ORIGIN = "null"


@t.test
def forward_refuses_a_file_page():
    echo = t.track(TcpEcho())
    port, proc = t.listen("--forward", f"127.0.0.1:{echo.port}")
    report_port, rep = t.listen()
    browser = Browser(mode="stream", port=port, report=report_port)
    result = wait_report(rep) or {}
    diag = f"wsc stderr:\n{err_text(proc)}\nreport: {t._short(rep.out)}\n{browser.log_tail()}"
    m = t.wait_err(proc, r"client 1 refused: cross-site request from Origin (\S+)")
    t.ok(m is not None, "wsc -l --forward refuses the page from file:// (cross-site)", diag)
    t.is_(m and m.group(1), FILE_ORIGIN,
          f"chromium sends Origin: {FILE_ORIGIN} from a file:// page", diag)
    t.is_(result.get("close"), {"code": 1006, "reason": "", "wasClean": False},
          "browser: the refused WebSocket fails (1006, not clean)", diag)
    t.is_((result.get("errors"), result.get("back")), (["error event"], 0),
          "browser: an error event, no byte came back", diag)
    t.is_(echo.accepted, 0, "refused: no TCP connection to the service was made")
    browser.kill()


@t.test
def forward_binary_stream():
    echo = t.track(TcpEcho())
    port, proc = t.listen("--forward", f"127.0.0.1:{echo.port}", "--allow-origin", FILE_ORIGIN)
    report_port, rep = t.listen()
    browser = Browser(mode="stream", port=port, report=report_port)
    result = wait_report(rep) or {}
    diag = f"wsc stderr:\n{err_text(proc)}\nreport: {t._short(rep.out)}\n{browser.log_tail()}"
    t.ok(t.wait_err(proc, r"client 1 connected") is not None,
         f"--allow-origin {FILE_ORIGIN} lets the file:// page in", diag)
    sent = result.get("sent") or 0
    t.ok(sent > 400000, "browser: sent its binary messages (12, 1 byte to 100,000)", diag)
    t.is_((result.get("back"), result.get("same")), (sent, True),
          "browser: every byte came back from the TCP echo, the same bytes in order", diag)
    t.is_(result.get("textMessages"), 0, "browser: only binary messages came back", diag)
    t.is_((result.get("errors"), (result.get("close") or {}).get("code"),
           (result.get("close") or {}).get("wasClean")), ([], 1000, True),
          "browser: its close 1000 is answered, clean, no error", diag)
    t.ok(t.wait_err(proc, r"client 1 closed: 1000") is not None,
         "wsc: 'client 1 closed: 1000'", diag)
    end = time.monotonic() + 5
    while not echo.counts and time.monotonic() < end:
        time.sleep(0.02)
    t.is_(echo.counts, [sent], "the TCP service got every byte, then the end of its connection")
    browser.kill()
    proc.proc.send_signal(signal.SIGINT)
    t.exits(proc.wait(10), 0, "wsc -l --forward: SIGINT, exit 0")


@t.test
def wss_to_listen_http2():
    # wsc -l --http2 over TLS offers h2 by ALPN beside http/1.1. Chromium opens a
    # WebSocket over HTTP/2 only on an HTTP/2 connection it already has to that origin
    # (RFC 8441 lets a client choose); a file:// page has none, so it is expected to
    # come over HTTP/1.1. Either passes; which one it was is asserted from wsc's -v log.
    sys.path.insert(0, t.HELPERS)
    import daemons
    certs = daemons.Certs(t.tmpdir())
    port, proc = t.listen("--http2", "--cert", certs.server, "--key", certs.server_key, "--echo",
                        "-v")
    report_port, rep = t.listen()
    browser = Browser(flags=["--ignore-certificate-errors"], mode="stream",
                      url=f"wss://localhost:{port}/", report=report_port)
    result = wait_report(rep) or {}
    diag = f"wsc stderr:\n{err_text(proc)}\nreport: {t._short(rep.out)}\n{browser.log_tail()}"
    sent = result.get("sent") or 0
    t.is_((result.get("back"), result.get("same")), (sent, True),
          "browser over wss:// to wsc -l --http2: every byte echoed, in order", diag)
    t.is_((result.get("close") or {}).get("code"), 1000, "browser: closed 1000", diag)
    err = err_text(proc)
    protocol = ("HTTP/2" if re.search(r"client \d+ connected from .*\(HTTP/2 stream", err)
                else "HTTP/1.1" if "< GET / HTTP/1.1" in err else None)
    t.diag(f"chromium opened its WebSocket to wsc -l --http2 over {protocol}")
    t.ok(protocol in ("HTTP/2", "HTTP/1.1"),
         f"wsc's log says which protocol chromium chose: {protocol}", diag)
    browser.kill()
    proc.stop()


if __name__ == "__main__":
    t.main()
