#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Integration tests for the interactive console: the real wsc in a pseudo-terminal.

Run as `/usr/bin/python3 tests/integration/interactive.py` with WSC=/path/to/wsc (make
check does this). wsc runs under Python's pty module (every byte it writes is kept and
checked) or under tmux (the screen as a person sees it: capture-pane, cursor position).
Peers: tests/helpers/raw_server.py (logs every frame and close), and `wsc -l PORT`
(strict about the protocol; its stdin sends messages when the test says so).
"""

import fcntl
import hashlib
import json
import os
import pty
import re
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import termios
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

t.require_wsc()

SGR = re.compile(rb"\x1b\[[0-9;]*m")
PROMPT = b"> "


class Term:
    """wsc in a pseudo-terminal of rows x cols; everything it writes is kept in .out."""

    def __init__(self, args, env=None, rows=24, cols=80):
        full = t.child_env({"TERM": "xterm", "LANG": "C.UTF-8"})
        full.pop("XDG_STATE_HOME", None)
        for name, value in (env or {}).items():
            if value is None:
                full.pop(name, None)
            else:
                full[name] = value
        self.args = args
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                os.execve(t.WSC, [t.WSC] + list(args), full)
            finally:
                os._exit(127)
        self.code = None
        self._out = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        t._live.append(self)

    def _read(self):
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self._out += data

    @property
    def out(self):
        with self._lock:
            return bytes(self._out)

    def send(self, data, chunk=4096, pause=0.0):
        for i in range(0, len(data), chunk):
            view = data[i:i + chunk]
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
            if pause:
                time.sleep(pause)

    def wait_for(self, needle, timeout=5, start=0):
        """Wait until needle (bytes or a predicate on the output) shows up after start."""
        end = time.monotonic() + timeout
        while True:
            out = self.out
            hit = needle(out[start:]) if callable(needle) else needle in out[start:]
            if hit or time.monotonic() >= end or self.poll() is not None:
                time.sleep(0.05)
                out = self.out
                return needle(out[start:]) if callable(needle) else needle in out[start:]
            time.sleep(0.01)

    def poll(self):
        if self.code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
        return self.code

    def wait(self, timeout=10):
        """The exit status, or None (and the process killed) after timeout."""
        end = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < end:
            time.sleep(0.02)
        if self.poll() is None:
            self.kill()
            return None
        self._reader.join(2)
        return self.code

    def modes(self):
        """The terminal's local modes as wsc left them (read through the master)."""
        return termios.tcgetattr(self.fd)[3]

    def kill(self):
        if self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
        try:
            os.close(self.fd)
        except OSError:
            pass


class Tmux:
    """wsc on a tmux screen of rows x cols, on a private tmux server."""

    def __init__(self, args, env=None, rows=24, cols=80):
        self.sock = f"wsctest-{os.getpid()}-{time.monotonic_ns()}"
        full = {"TERM": "xterm", "LANG": "C.UTF-8", "NO_COLOR": "1", "HOME": t.tmpdir()}
        full.update(env or {})
        envs = [f"{k}={v}" for k, v in full.items()]
        status = t.tmpfile("tmux-status")
        cmd = ["env", "-u", "XDG_STATE_HOME"] + envs + [t.WSC] + list(args)
        # The pane stays after wsc exits, so that the end can be read too.
        shell = " ".join(quote(a) for a in cmd) + f"; echo $? > {quote(status)}; sleep 60"
        self.status_path = status
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", str(cols), "-y", str(rows),
                  shell)
        self.tmux("set-option", "-g", "history-limit", "50000")
        # tmux 3.3 moves a screen cleared from its top-left corner into the history;
        # erasing the prompt on row 0 must not look like a stray row there.
        self.tmux("set-option", "-g", "-w", "scroll-on-clear", "off")
        t._live.append(self)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.sock] + list(args), capture_output=True,
                              timeout=10).stdout.decode("utf-8", "replace")

    def keys(self, *keys):
        self.tmux("send-keys", *keys)

    def type(self, text):
        self.tmux("send-keys", "-l", text)

    def screen(self):
        return self.tmux("capture-pane", "-p").rstrip("\n").split("\n")

    def history(self):
        return self.tmux("capture-pane", "-p", "-S", "-").rstrip("\n").split("\n")

    def cursor(self):
        x, y = self.tmux("display-message", "-p", "#{cursor_x} #{cursor_y}").split()
        return int(x), int(y)

    def wait_screen(self, predicate, timeout=5):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate(self.screen()):
                time.sleep(0.1)
                return predicate(self.screen())
            time.sleep(0.02)
        return predicate(self.screen())

    def kill(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)


def quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def raw(*args):
    return t.server("raw_server.py", *args)


def frames(srv, count=None, timeout=5, opcode=None):
    """(opcode, fin, rsv, payload) of the frames raw_server logged."""
    def get():
        return [(e["opcode"], e["fin"], e["rsv"], bytes.fromhex(e.get("data", "")))
                for e in srv.events("frame") if opcode is None or e["opcode"] == opcode]
    if count is not None:
        srv.wait_event(lambda e: len(get()) >= count, timeout)
    return get()


def messages(srv, count=None, timeout=5):
    if count is not None:
        srv.wait_event(lambda e: len(srv.events("message")) >= count, timeout)
    return [(e["type"], e.get("data")) for e in srv.events("message")]


def close_of(srv, timeout=5):
    return srv.wait_event(lambda e: e.get("event") == "close", timeout)


def connected(term, timeout=5):
    """True once the prompt is up (the console starts with the connection)."""
    return term.wait_for(PROMPT, timeout)


class Listener:
    """`wsc -l PORT` in pipe mode: lines written to it go to the client."""

    def __init__(self, *args):
        self.port = t.free_port()
        self.proc = t.spawn(["-l", str(self.port)] + list(args), keep_stdin_open=True)
        if not t.wait_listening(self.port, 5, self.proc):
            raise RuntimeError(f"wsc -l did not listen: {self.proc.err!r}")
        self.url = f"ws://127.0.0.1:{self.port}"

    def send(self, data):
        self.proc.proc.stdin.write(data)
        self.proc.proc.stdin.flush()


# ---- the typed line and the screen ------------------------------------------------------

@t.test
def accepted_line_is_not_drawn_twice():
    # The defect of libedit's readline layer: after Enter the accepted line was drawn
    # once more under itself. Here nothing but a fresh prompt may follow it.
    srv = raw()
    term = Term([srv.url])
    t.ok(connected(term), "console: the prompt appears", repr(term.out))
    mark = len(term.out)
    term.send(b"hi\r")
    t.ok(term.wait_for(b"hi\r\n> ", start=mark), "Enter: the line, a new line, a prompt",
         repr(term.out[mark:]))
    time.sleep(0.3)
    t.is_(term.out[mark:], b"hi\r\n> ", "Enter: byte for byte, nothing drawn twice")
    t.is_(messages(srv, 1), [("text", "hi")], "Enter: the line is sent")
    term.send(b"\x04")
    t.is_(term.wait(), 0, "Ctrl-D: exit 0")


@t.test
def editing_keys():
    srv = raw()
    term = Term([srv.url])
    connected(term)
    # left, left, insert; Ctrl-E end; Ctrl-A start; Ctrl-K kills to the end.
    term.send(b"abc\x1b[D\x1b[DX\x05Z\x01Y\r")
    term.send(b"junk\x01\x0bkept\r")
    term.send("héllo wörld 日本\x7f語\r".encode())
    t.is_(messages(srv, 3), [("text", "YaXbcZ"), ("text", "kept"), ("text", "héllo wörld 日語")],
          "arrows, Ctrl-A, Ctrl-E, Ctrl-K, backspace over UTF-8 edit the line")
    term.send(b"\r\r")
    time.sleep(0.3)
    t.is_(len(messages(srv)), 3, "an empty line sends nothing")
    term.send(b"\x04")
    term.wait()


@t.test
def typing_during_a_burst():
    # 3000 messages arrive while a line is half typed, its cursor moved left: every
    # message is printed once and in order, the line and cursor come back exactly.
    n = 3000
    lst = Listener()
    term = Term([lst.url], rows=30, cols=100)
    connected(term)
    term.send(b"hello world\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D")
    time.sleep(0.2)
    lst.send(b"".join(b"m%d\n" % i for i in range(1, n + 1)))
    typed = b"0123456789abcdefghij"
    for ch in typed:
        term.send(bytes([ch]))
        time.sleep(0.005)
    t.ok(term.wait_for(b"< m%d\r\n" % n, 20), "burst: the last message is printed",
         repr(term.out[-300:]))
    got = re.findall(rb"< (m\d+)\r\n", term.out)
    t.ok(got == [b"m%d" % i for i in range(1, n + 1)],
         f"burst: all {n} messages printed once, in order",
         f"{len(got)} printed; first wrong: "
         f"{next((g for i, g in enumerate(got) if g != b'm%d' % (i + 1)), None)}")
    term.send(b"X\r")
    line = "hello " + typed.decode() + "Xworld"
    lst.proc.wait_out(lambda out: line.encode() in out, 5)
    t.ok(line.encode() + b"\n" in lst.proc.out,
         "burst: the half-typed line, cursor included, survives intact",
         repr(lst.proc.out[-200:]))
    term.send(b"\x04")
    t.is_(term.wait(), 0, "burst: Ctrl-D, exit 0")


@t.test
def screen_during_a_burst():
    if not shutil.which("tmux"):
        t.skip("the screen during a burst", "tmux is not installed")
        return
    lst = Listener()
    scr = Tmux([lst.url], rows=20, cols=60)
    ok = scr.wait_screen(lambda s: s[0].startswith(">"))
    t.ok(ok, "tmux: the prompt is on the screen", "\n".join(scr.screen()))
    scr.type("hello world")
    scr.keys("Left", "Left", "Left", "Left", "Left")
    lst.send(b"".join(b"burst %d\n" % i for i in range(1, 2001)))
    for ch in "0123456789":
        scr.type(ch)
        time.sleep(0.01)
    want = "> hello 0123456789world"
    ok = scr.wait_screen(lambda s: s[-1] == want and s[-2] == "< burst 2000", 15)
    t.ok(ok, "tmux: after 2000 messages the last row is the prompt and the typed line",
         "\n".join(scr.screen()))
    t.is_(scr.cursor(), (len("> hello 0123456789"), 19),
          "tmux: the cursor is back where it was in the line")
    hist = [row for row in scr.history() if row.startswith("< burst")]
    t.is_(len(hist), 2000, "tmux: every message is on the screen or in its history")
    others = [row for row in scr.history()
              if row and not row.startswith("< burst") and row != want]
    t.is_(others, [], "tmux: no stray prompt or fragment of the line anywhere")
    # A line longer than the screen is wide: three rows, erased and redrawn whole.
    scr.keys("C-a", "C-k")
    long_line = "".join(chr(ord("a") + i % 26) for i in range(150))
    scr.type(long_line)
    scr.keys("Left", "Left", "Left")
    lst.send(b"while wrapped\n")
    rows = ["> " + long_line[:58], long_line[58:118], long_line[118:]]
    ok = scr.wait_screen(lambda s: s[-4:] == ["< while wrapped"] + rows)
    t.ok(ok, "tmux: a line wrapped over three rows is redrawn whole below a message",
         "\n".join(scr.screen()))
    t.is_(scr.cursor(), (len(long_line[118:]) - 3, 19), "tmux: the cursor in a wrapped line")
    others = [row for row in scr.history()
              if row and not row.startswith("< ") and row != want and row not in rows]
    t.is_(others, [], "tmux: no leftover rows of the wrapped line")
    scr.kill()


@t.test
def paste_a_long_line():
    srv = raw()
    term = Term([srv.url])
    connected(term)
    line = b"".join(b"%09d," % i for i in range(10000))  # 100,000 bytes
    start = time.monotonic()
    term.send(line + b"\r")
    ev = srv.wait_event(lambda e: e.get("event") == "message", 30)
    took = time.monotonic() - start
    t.ok(ev is not None and ev["length"] == len(line)
         and ev["sha256"] == hashlib.sha256(line).hexdigest(),
         "a pasted 100 KB line is sent whole, as one message", f"event: {ev}")
    t.ok(took < 20, f"the 100 KB paste takes {took:.1f} s (under 20)")
    term.send(b"\x04")
    t.is_(term.wait(), 0, "after the paste, Ctrl-D: exit 0")


@t.test
def paste_several_lines():
    srv = raw()
    term = Term([srv.url])
    connected(term)
    term.send(b"one\rtwo\r\rthree\r")
    t.is_(messages(srv, 3), [("text", "one"), ("text", "two"), ("text", "three")],
          "a pasted block is sent line by line (empty lines send nothing)")
    term.send(b"\x04")
    term.wait()


# ---- slash commands ---------------------------------------------------------------------

@t.test
def tab_completion_and_fragment():
    srv = raw()
    term = Term([srv.url])
    connected(term)
    mark = len(term.out)
    term.send(b"/fr\t")
    t.ok(term.wait_for(b"/fr\r\x1b[6Gagment ", start=mark), "Tab completes /fr to /fragment",
         repr(term.out[mark:]))
    term.send(b"3 abc\r")
    got = frames(srv, 3)
    t.is_(got, [(1, False, 0, b"a"), (0, False, 0, b"b"), (0, True, 0, b"c")],
          "/fragment 3 abc: text, continuation, continuation; FIN on the last only")
    mark = len(term.out)
    term.send(b"/p\t")
    t.ok(term.wait_for(b"/ping  /pong", start=mark), "Tab on /p lists /ping and /pong",
         repr(term.out[mark:]))
    term.send(b"\x15x\t")
    time.sleep(0.2)
    term.send(b"\x15\x04")
    t.is_(term.wait(), 0, "completion: exit 0")


@t.test
def close_with_code_and_reason():
    srv = raw()
    term = Term([srv.url])
    connected(term)
    mark = len(term.out)
    term.send(b"/close 1005\r")
    t.ok(term.wait_for(b"may not be sent", start=mark),
         "/close 1005 is refused with the reason", repr(term.out[mark:]))
    term.send(b"/close 4001 bye\r")
    ev = close_of(srv)
    t.ok(ev is not None and ev["code"] == 4001 and ev["reason"] == "bye",
         "/close 4001 bye reaches the server with that code and reason", f"{ev}")
    t.is_(len([e for e in srv.events("close")]), 1, "the refused /close sent nothing")
    t.is_(term.wait(), 0, "/close 4001 bye: exit 0 (the server echoed our code)")


@t.test
def ping_pong_binary_and_text_commands():
    srv = raw()
    path = t.tmpfile("payload")
    payload = bytes(range(256)) * 3
    with open(path, "wb") as f:
        f.write(payload)
    term = Term([srv.url])
    connected(term)
    mark = len(term.out)
    term.send(b"/ping hi\r")
    t.ok(term.wait_for(lambda out: re.search(rb"pong after \d+ ms", out), start=mark),
         "/ping prints the round-trip time when the pong comes", repr(term.out[mark:]))
    term.send(b"/pong x\r")
    term.send(b"/binary 01 02 ff\r")
    term.send(b"/binary @" + path.encode() + b"\r")
    term.send(b"//text\r")
    mark = len(term.out)
    term.send(b"/nosuch thing\r")
    t.ok(term.wait_for(b"unknown command /nosuch", start=mark),
         "an unknown command gets a hint", repr(term.out[mark:]))
    term.send(b"/binary zz\r")
    t.ok(term.wait_for(b"expected hex digits", start=mark), "/binary with bad hex is refused")
    msgs = messages(srv, 3)
    t.is_(msgs[:2], [("binary", "0102ff"), ("binary", None)],
          "/binary HEX and /binary @FILE send binary messages")
    evs = srv.events("message")
    t.ok(len(evs) >= 2 and evs[1]["sha256"] == hashlib.sha256(payload).hexdigest(),
         "/binary @FILE sends the file's bytes", f"{evs}")
    t.is_(msgs[2:], [("text", "/text")], "//text sends \"/text\"; the unknown command nothing")
    pongs = frames(srv, opcode=10)
    t.is_(pongs, [(10, True, 0, b"x")], "/pong x sends an unsolicited pong")
    mark = len(term.out)
    term.send(b"/help\r")
    t.ok(term.wait_for(b"/fragment N text", start=mark), "/help lists the commands")
    term.send(b"/quit\r")
    ev = close_of(srv)
    t.ok(ev is not None and ev["code"] == 1000, "/quit closes with 1000", f"{ev}")
    t.is_(term.wait(), 0, "/quit: exit 0")


@t.test
def raw_frame_breaks_a_strict_server():
    lst = Listener()
    term = Term([lst.url, "--no-deflate"])  # with permessage-deflate RSV1 means compressed
    connected(term)
    term.send(b"/raw rsv=4 hello\r")
    status = term.wait(10)
    lst.proc.wait_out(lambda out: False, 0.5)
    err = lst.proc.err.decode("utf-8", "replace")
    t.ok("RSV" in err and "1002" in err,
         "/raw rsv=4: the strict server (wsc -l) closes with 1002 and names the rule", err)
    t.ok(b"1002" in term.out, "/raw rsv=4: the client shows the 1002 close",
         repr(term.out[-300:]))
    t.is_(status, 6, "/raw rsv=4: exit 6 (the peer closed with 1002)")


# ---- signals and end of input -----------------------------------------------------------

@t.test
def ctrl_c_once_closes():
    srv = raw()
    term = Term([srv.url])
    connected(term)
    before = term.modes()
    term.send(b"half typed\x03")
    ev = close_of(srv)
    t.ok(ev is not None and ev["code"] == 1000, "Ctrl-C sends close 1000", f"{ev}")
    t.is_(term.wait(), 0, "Ctrl-C: the server answers, exit 0")
    t.ok(b"closing (interrupt again to quit at once)" in term.out, "Ctrl-C: says what it does")
    modes = term.modes()
    t.ok(modes & termios.ICANON and modes & termios.ECHO and not before & termios.ICANON,
         "the terminal gets its modes back at exit (canonical, echo)")


@t.test
def ctrl_c_twice_exits_at_once():
    srv = raw("--after", "ignore-close")
    term = Term([srv.url, "--close-timeout", "20"])
    connected(term)
    term.send(b"\x03")
    close_of(srv)
    time.sleep(0.3)
    t.ok(term.poll() is None, "Ctrl-C against a server that never answers: still waiting")
    start = time.monotonic()
    term.send(b"\x03")
    status = term.wait(5)
    t.ok(status == 130 and time.monotonic() - start < 2, "a second Ctrl-C exits at once (130)",
         f"status {status}")


@t.test
def suspend_and_resume():
    # Ctrl-Z and fg, as a shell does them: stop, the terminal back in cooked mode,
    # continue. (A session leader in a pty ignores a typed Ctrl-Z, so SIGSTOP stands in.)
    srv = raw()
    term = Term([srv.url])
    connected(term)
    term.send(b"abc")
    term.wait_for(b"abc")
    os.kill(term.pid, signal.SIGSTOP)
    time.sleep(0.2)
    attrs = termios.tcgetattr(term.fd)
    attrs[3] |= termios.ICANON | termios.ECHO
    termios.tcsetattr(term.fd, termios.TCSANOW, attrs)
    mark = len(term.out)
    os.kill(term.pid, signal.SIGCONT)
    t.ok(term.wait_for(b"> abc", start=mark), "resumed: the prompt and the line are drawn again",
         repr(term.out[mark:]))
    t.ok(not term.modes() & (termios.ICANON | termios.ECHO),
         "resumed: the terminal is back in the editor's modes")
    term.send(b"def\r")
    t.is_(messages(srv, 1), [("text", "abcdef")], "resumed: typing goes on in the same line")
    term.send(b"\x04")
    t.is_(term.wait(), 0, "resumed: Ctrl-D, exit 0")


@t.test
def resize_then_message():
    if not shutil.which("tmux"):
        t.skip("a resize, then a message", "tmux is not installed")
        return
    lst = Listener()
    scr = Tmux([lst.url], rows=10, cols=60)
    scr.wait_screen(lambda s: s[0].startswith(">"))
    scr.type("abcdefghijklmnopqrstuvwxyz0123456789")
    scr.wait_screen(lambda s: s[0].endswith("789"))
    scr.tmux("resize-window", "-x", "30")
    time.sleep(0.3)
    lst.send(b"after resize\n")
    want = ["< after resize", "> abcdefghijklmnopqrstuvwxyz01", "23456789"]
    ok = scr.wait_screen(lambda s: [row for row in s if row] == want)
    t.ok(ok, "after a resize a message still lands above the whole line",
         "\n".join(scr.screen()))
    t.is_(scr.cursor(), (8, 2), "after a resize the cursor is at the end of the line")
    scr.kill()


@t.test
def history_search():
    if not shutil.which("tmux"):
        t.skip("Ctrl-R searches the history", "tmux is not installed")
        return
    lst = Listener()
    scr = Tmux([lst.url], rows=10, cols=60)
    scr.wait_screen(lambda s: s[0].startswith(">"))
    for line in ("hello one", "hello two", "other"):
        scr.type(line)
        scr.keys("Enter")
    lst.proc.wait_out(lambda out: out.endswith(b"other\n"), 5)
    scr.type("draft")
    scr.keys("Left", "Left", "C-r")
    scr.type("hel")
    want = ["> hello one", "> hello two", "> other", "(reverse-i-search)`hel': hello two"]
    ok = scr.wait_screen(lambda s: [row for row in s if row] == want)
    t.ok(ok, "Ctrl-R: the newest line holding the text, in readline's prompt",
         "\n".join(scr.screen()))
    t.is_(scr.cursor(), (len("(reverse-i-search)`hel': "), 3), "Ctrl-R: the cursor on the match")
    # The loop goes on during a search: a message is printed at once, above it.
    lst.send(b"during the search\n")
    want = want[:3] + ["< during the search", want[3]]
    ok = scr.wait_screen(lambda s: [row for row in s if row] == want)
    t.ok(ok, "Ctrl-R: a message arriving during the search is printed above the search row, "
         "nothing left behind", "\n".join(scr.screen()))
    scr.keys("C-r")
    want[-1] = "(reverse-i-search)`hel': hello one"
    ok = scr.wait_screen(lambda s: [row for row in s if row] == want)
    t.ok(ok, "Ctrl-R again: the next older match", "\n".join(scr.screen()))
    scr.type("z")
    want[-1] = "(failed reverse-i-search)`helz': hello one"
    ok = scr.wait_screen(lambda s: [row for row in s if row] == want)
    t.ok(ok, "Ctrl-R: text no line holds says failed and keeps the match",
         "\n".join(scr.screen()))
    scr.keys("C-g")
    want[-1] = "> draft"
    ok = scr.wait_screen(lambda s: [row for row in s if row] == want)
    t.ok(ok, "Ctrl-G: the line as it was before the search", "\n".join(scr.screen()))
    t.is_(scr.cursor(), (len("> dra"), 4), "Ctrl-G: and its cursor")
    scr.keys("C-a", "C-k", "C-r")
    scr.type("two")
    scr.keys("Enter")
    ok = lst.proc.wait_out(lambda out: out.endswith(b"other\nhello two\n"), 5)
    t.ok(ok, "Ctrl-R, Enter: the line found is sent", repr(lst.proc.out[-100:]))
    want = want[:4] + ["> hello two", ">"]
    ok = scr.wait_screen(lambda s: [row.rstrip() for row in s if row] == want)
    t.ok(ok, "Ctrl-R, Enter: it stays on the screen with the usual prompt",
         "\n".join(scr.screen()))
    scr.kill()


@t.test
def keys_waiting_for_a_second_key():
    # Esc and Ctrl-V wait for another key; messages go on being printed meanwhile.
    lst = Listener()
    term = Term([lst.url])
    connected(term)
    term.send(b"ab\x1b")
    time.sleep(0.2)
    mark = len(term.out)
    lst.send(b"after esc\n")
    t.ok(term.wait_for(b"< after esc\r\n", 3, mark),
         "a lone Esc: a message arriving then is printed before any other key",
         repr(term.out[mark:]))
    term.send(b"\x1bb\x1b[C\x1b[CX\r")  # Esc b: a word back; then two arrows right
    t.ok(lst.proc.wait_out(lambda out: out.endswith(b"abX\n"), 5),
         "a lone Esc given up is dropped; Esc b and the arrows still work",
         repr(lst.proc.out[-50:]))
    term.send(b"x\x16")
    time.sleep(0.2)
    mark = len(term.out)
    lst.send(b"after ctrl-v\n")
    t.ok(term.wait_for(b"< after ctrl-v\r\n", 3, mark),
         "Ctrl-V: a message arriving then is printed before any other key",
         repr(term.out[mark:]))
    term.send(b"\ty\r")
    t.ok(lst.proc.wait_out(lambda out: out.endswith(b"x\ty\n"), 5),
         "Ctrl-V Tab: a tab goes into the line", repr(lst.proc.out[-50:]))
    term.send(b"\x16")
    time.sleep(1.5)
    t.is_(term.poll(), None, "Ctrl-V on an empty line, then a pause: not taken for Ctrl-D")
    term.send(b"\x04\x1b[D")
    time.sleep(0.3)
    t.is_(term.poll(), None, "Ctrl-V Ctrl-D, then Left: the line holding ^D is no end of input")
    term.send(b"\r")
    t.ok(lst.proc.wait_out(lambda out: out.endswith(b"\n\x04\n"), 5),
         "Ctrl-V Ctrl-D: a Ctrl-D goes into the line", repr(lst.proc.out[-50:]))
    term.send(b"ab\x16\r\x1b[D")
    time.sleep(0.3)
    term.send(b"c\r")
    t.ok(lst.proc.wait_out(lambda out: out.endswith(b"\n\x04\nacb\n"), 5),
         "Ctrl-V Enter puts no newline in the line, nor sends it", repr(lst.proc.out[-50:]))
    # Half a character typed: the loop goes on until the rest comes.
    term.send("dé漢".encode()[:-1])
    time.sleep(0.2)
    mark = len(term.out)
    lst.send(b"half a character\n")
    t.ok(term.wait_for(b"< half a character\r\n", 3, mark),
         "half a UTF-8 character typed: a message arriving then is printed at once",
         repr(term.out[mark:]))
    term.send("dé漢".encode()[-1:] + b"\r")
    t.ok(lst.proc.wait_out(lambda out: out.endswith("dé漢\n".encode()), 5),
         "... and the character, completed, is in the line", repr(lst.proc.out[-50:]))
    term.send(b"\x04")
    t.is_(term.wait(), 0, "then Ctrl-D on the empty line: exit 0")


@t.test
def rows_counted_as_libedit_draws_them():
    # erase() must go up exactly the rows libedit drew: a wide character that does not
    # fit at a row's end goes whole to the next row, a tab stops at the row's end.
    if not shutil.which("tmux"):
        t.skip("rows counted as libedit draws them", "tmux is not installed")
        return
    lst = Listener()
    scr = Tmux([lst.url], rows=12, cols=60)
    scr.wait_screen(lambda s: s[0].startswith(">"))
    wide = "a" + "漢" * 17 + "字b"
    scr.type(wide)
    scr.keys("Enter")
    lst.proc.wait_out(lambda out: out.endswith((wide + "\n").encode()), 5)
    scr.keys("C-r")
    scr.type("字")
    lst.send(b"during a wrapped search\n")
    want = ["> " + wide, "< during a wrapped search",
            "(reverse-i-search)`字': a" + "漢" * 17, "字b"]
    ok = scr.wait_screen(lambda s: [row.rstrip() for row in s if row.strip()] == want)
    t.ok(ok, "a wide character pushed to the next row: the search row is redrawn, not left "
         "behind", "\n".join(scr.screen()))
    scr.keys("C-g")
    scr.type("x" * 56)
    scr.keys("C-v", "Tab")
    scr.type("y" * 56)
    lst.send(b"after a tab at the row's end\n")
    want = want[:2] + ["< after a tab at the row's end", "> " + "x" * 56, "y" * 56]
    ok = scr.wait_screen(lambda s: [row.rstrip() for row in s if row.strip()] == want)
    t.ok(ok, "a tab at a row's end: the rows above stay", "\n".join(scr.screen()))
    scr.kill()


@t.test
def ctrl_d_closes_like_eof():
    srv = raw()
    term = Term([srv.url])
    connected(term)
    term.send(b"\x04")
    ev = close_of(srv)
    t.ok(ev is not None and ev["code"] == 1000, "Ctrl-D on an empty line sends close 1000")
    t.is_(term.wait(), 0, "Ctrl-D: exit 0")
    t.ok(b"closed: 1000" in term.out, "Ctrl-D: the close is reported", repr(term.out))


# ---- history ----------------------------------------------------------------------------

@t.test
def history_survives_a_restart():
    state = os.path.join(t.tmpdir(), "state")
    env = {"XDG_STATE_HOME": state}
    srv = raw()
    term = Term([srv.url], env)
    connected(term)
    term.send(b"first\rsecond\r")
    messages(srv, 2)
    term.send(b"\x04")
    term.wait()
    path = os.path.join(state, "wsc", "history")
    t.ok(os.path.exists(path), "history: written to $XDG_STATE_HOME/wsc/history")
    t.ok(os.path.exists(path) and stat.S_IMODE(os.stat(path).st_mode) == 0o600,
         "history: the file is readable by its owner only")
    srv = raw()
    term = Term([srv.url], env)
    connected(term)
    term.send(b"\x1b[A\r")          # up: "second"
    term.send(b"\x1b[A\x1b[A\r")    # up, up: "first"
    t.is_(messages(srv, 2), [("text", "second"), ("text", "first")],
          "history: after a restart, Up brings back earlier lines")
    term.send(b"\x04")
    term.wait()

    home = os.path.join(t.tmpdir(), "home2")
    os.makedirs(home)
    srv = raw()
    term = Term([srv.url], {"HOME": home})
    connected(term)
    term.send(b"kept\r\x04")
    term.wait()
    t.ok(os.path.exists(os.path.join(home, ".local", "state", "wsc", "history")),
         "history: without XDG_STATE_HOME, under ~/.local/state/wsc/")

    long_line = b"y" * 5000
    srv = raw()
    term = Term([srv.url], env)
    connected(term)
    term.send(long_line + b"\r")
    messages(srv, 1, 10)
    term.send(b"\x04")
    term.wait()
    with open(path, "rb") as f:
        saved = f.read()
    t.ok(b"yyyyyyyyyy" not in saved and b"first" in saved,
         "history: lines over 4 KiB are not kept (the file stays small)")


# ---- what is shown ----------------------------------------------------------------------

@t.test
def colours_on_a_terminal():
    for env, args, want, name in [
        ({"NO_COLOR": None}, [], True, "by default on a terminal"),
        ({"NO_COLOR": "1"}, [], False, "NO_COLOR"),
        ({"NO_COLOR": None}, ["--color", "never"], False, "--color never"),
        ({"NO_COLOR": None}, ["--no-color"], False, "--no-color"),
        ({"NO_COLOR": "1"}, ["--color", "always"], True, "--color always over NO_COLOR"),
        ({"NO_COLOR": None, "TERM": "dumb"}, [], False, "TERM=dumb"),
    ]:
        srv = raw("--text", "coloured?", "--sleep", "0.5")
        term = Term([srv.url] + args, env)
        term.wait_for(b"coloured?")
        term.send(b"\x04")
        term.wait()
        has = bool(SGR.search(term.out))
        t.ok(has == want, f"colours {'present' if want else 'absent'}: {name}",
             repr(term.out[:300]))
        if want and name.startswith("by default"):
            t.ok(b"\x1b[1;32m<\x1b[0m coloured?" in term.out,
                 "the direction marker of a received message is coloured, the text is not",
                 repr(term.out[:300]))


@t.test
def control_characters_escaped():
    # A title change, a screen clear, and a C1 CSI (U+009B) split across two frames.
    srv = raw("--text", "a\x1b]0;pwned\x07b\x1b[2J",
              "--frame", "010378" + "63c2", "--frame", "80039b3331",
              "--text", "tab\tkept", "--sleep", "0.5")
    term = Term([srv.url])
    t.ok(term.wait_for(b"tab\tkept"), "escaped text: messages shown", repr(term.out))
    out = term.out
    t.ok(b"< a\\x1b]0;pwned\\x07b\\x1b[2J\r\n" in out,
         "a text message with escape sequences is shown escaped", repr(out))
    t.ok(b"< xc\\x9b31\r\n" in out,
         "a C1 control split across two frames is escaped too", repr(out))
    t.ok(b"\x1b]0" not in out and b"\x1b[2J" not in out and b"\xc2\x9b" not in out,
         "nothing of them reaches the terminal raw")
    term.send(b"\x04")
    term.wait()


@t.test
def binary_hex_dump_and_json_on_a_terminal():
    srv = raw("--binary", "00016869ff", "--text", '{"a":[1,true],"b":"x"}', "--sleep", "0.5")
    term = Term([srv.url, "--pretty", "-T"])
    term.wait_for(b'"x"')
    out = SGR.sub(b"", term.out)
    t.ok(re.search(rb"\d\d:\d\d:\d\d\.\d{3} < 00000000  00 01 68 69 ff +\|\.\.hi\.\|\r\n",
                   out), "a binary message is a hex dump, with -T its time first", repr(out))
    t.ok(b'< {\r\n  "a": [\r\n    1,\r\n    true\r\n  ],\r\n  "b": "x"\r\n}\r\n' in out,
         "--pretty: JSON text is re-indented on a terminal", repr(out))
    term.send(b"\x04")
    term.wait()


# ---- -i without a terminal --------------------------------------------------------------

@t.test
def interactive_in_a_pipe():
    srv = raw()
    r = t.run(["-i", srv.url], input=b"/fragment 2 ab\n//x\nplain\r\n/close 4002 done\n")
    t.exits(r, 0, "-i with a pipe: slash commands run, exit 0")
    t.is_(frames(srv, 2)[:2], [(1, False, 0, b"a"), (0, True, 0, b"b")],
          "-i with a pipe: /fragment 2 ab")
    t.is_(messages(srv, 3), [("text", "ab"), ("text", "/x"), ("text", "plain")],
          "-i with a pipe: lines (CRLF too) are messages")
    ev = close_of(srv)
    t.ok(ev is not None and ev["code"] == 4002, "-i with a pipe: /close 4002", f"{ev}")


# ---- shell completion -------------------------------------------------------------------

def help_options():
    r = subprocess.run([t.WSC, "--help"], capture_output=True, timeout=10)
    return sorted(set(re.findall(r"--[a-z0-9][a-z0-9-]*", r.stdout.decode())))


@t.test
def completion_scripts():
    top = os.environ.get("TOP_SRCDIR") or os.path.join(t.HERE, "..", "..")
    bash_path = os.path.join(top, "completions", "wsc.bash")
    zsh_path = os.path.join(top, "completions", "_wsc")
    opts = help_options()
    with open(bash_path) as f:
        bash_text = f.read()
    with open(zsh_path) as f:
        zsh_text = f.read()
    t.is_([o for o in opts if not re.search(re.escape(o) + r"\b", bash_text)], [],
          "bash completion knows every option of --help")
    t.is_([o for o in opts if not re.search(re.escape(o) + r"\b", zsh_text)], [],
          "zsh completion knows every option of --help")

    def complete(*words):
        script = (f"source {quote(bash_path)}; COMP_WORDS=({' '.join(quote(w) for w in words)});"
                  f" COMP_CWORD={len(words) - 1}; _wsc; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
        p = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, timeout=10)
        return p.stdout.decode().split()

    t.is_(complete("wsc", "--pre"), ["--pretty"], "bash: --pre completes to --pretty")
    t.is_(complete("wsc", "--color", ""), ["auto", "always", "never"],
          "bash: --color offers auto, always, never")
    t.is_(complete("wsc", "--color", "=", "al"), ["always"], "bash: --color=al completes")
    t.is_(complete("wsc", "--binary-format", "b"), ["base64"], "bash: --binary-format b")
    if shutil.which("zsh"):
        p = subprocess.run(["zsh", "-n", zsh_path], capture_output=True)
        t.ok(p.returncode == 0, "zsh completion parses", p.stderr.decode())


@t.test
def expect_and_sleep_at_the_console():
    try:
        import websockets  # noqa: F401  (ticker_server.py is built on it)
    except ImportError:
        t.skip("/expect and /sleep at the console", "python3-websockets is not installed")
        return
    srv = t.server("ticker_server.py", "--ok-at", "3", "--interval", "0.2")
    term = Term([srv.url])
    t.ok(connected(term), "console: the prompt appears", repr(term.out))
    mark = len(term.out)
    term.send(b'/expect -t 5 "status":"ok"\r')
    t.ok(term.wait_for(b'wsc: matched /"status":"ok"/', timeout=5, start=mark),
         "/expect at the console: says when a message matched", repr(term.out[mark:]))
    mark = len(term.out)
    term.send(b"/expect -t 0.5 never\r")
    t.ok(term.wait_for(b"wsc: no message matched /never/ in 0.5", timeout=5, start=mark),
         "/expect at the console: says when none matched, and goes on", repr(term.out[mark:]))
    mark = len(term.out)
    term.send(b"/sleep 1\r")
    time.sleep(0.1)
    term.send(b"echo late\r")
    time.sleep(0.5)
    early = [e["data"] for e in srv.events("message")]
    late = srv.wait_event(lambda e: e.get("data") == "echo late", 3)
    t.ok(early == [] and late is not None,
         "/sleep 1 at the console: the next line goes after the pause", str(early))
    term.send(b"/quit\r")
    t.is_(term.wait(), 0, "/quit: exit 0")


t.main()
