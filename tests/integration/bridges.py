#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Bridges: a WebSocket joined to a process (--exec), to a TCP or Unix service
(--forward), and local TCP clients joined to WebSockets (--tcp-listen).

The --exec environment is checked against websocketd itself, running the same
script for the same request. Every end-of-life path asserts the close code, the
exit status and that no byte was lost; no process is left behind.
"""

import asyncio
import hashlib
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import wsctest as t

t.require_wsc()
t.require_websockets()
import websockets  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatusCode  # noqa: E402

WEBSOCKETD = shutil.which("websocketd")
sys.path.insert(0, t.HELPERS)
import wsframe  # noqa: E402




def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def converse(url, send=(), expect=0, close=True, **kw):
    """Connects, sends each message, reads `expect` messages, closes. Returns
    (messages, close code, close reason)."""
    got = []
    async with websockets.connect(url, max_size=None, **kw) as ws:
        for m in send:
            await ws.send(m)
        try:
            for _ in range(expect):
                got.append(await ws.recv())
            if close:
                await ws.close()
            else:
                await ws.wait_closed()
        except ConnectionClosed:
            pass
        return got, ws.close_code, ws.close_reason


def children_of(pid):
    """The processes whose parent is pid, with their state letter."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append((int(d), fields[0]))
        except (OSError, IndexError, ValueError):
            pass
    return out


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def script(name, body):
    path = t.tmpfile(name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


ENV_SCRIPT = "env | LC_ALL=C sort\necho ---\nexec cat\n"


def env_of(lines):
    env = {}
    for line in lines:
        if line == "---":
            break
        k, _, v = line.partition("=")
        env[k] = v
    return env


async def env_session(url, origin):
    async with websockets.connect(url, origin=origin,
                                  extra_headers={"Cookie": "a=b; c=d", "X-Custom": "v w"},
                                  user_agent_header="bridge-test/1") as ws:
        lines = []
        while not lines or lines[-1] != "---":
            lines.append(await asyncio.wait_for(ws.recv(), 5))
        await ws.send("after env")
        echoed = await asyncio.wait_for(ws.recv(), 5)
        await ws.close()
        return lines, echoed


# ---- --exec ---------------------------------------------------------------------------

@t.test
def exec_environment_as_websocketd():
    if not WEBSOCKETD:
        t.skip("--exec environment equals websocketd's", "websocketd is not installed")
        return
    path = script("env.sh", ENV_SCRIPT)
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent",
            "LANG": "C.UTF-8", "SECRET_TOKEN": "do-not-leak"}
    port_w, wsc = t.listen("--exec", path, env=base)
    port_d = t.free_port()
    wsd = subprocess.Popen([WEBSOCKETD, f"--port={port_d}", "--address=127.0.0.1", path],
                           env=base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t.track(wsd)
    t.wait_listening(port_d, 10)
    query = "/some/path/x?q=1&r=two%20words"
    got_w, echo_w = run(env_session(f"ws://127.0.0.1:{port_w}{query}",
                                    f"http://127.0.0.1:{port_w}"))
    got_d, echo_d = run(env_session(f"ws://127.0.0.1:{port_d}{query}",
                                    f"http://127.0.0.1:{port_d}"))
    ew, ed = env_of(got_w), env_of(got_d)
    t.is_((echo_w, echo_d), ("after env", "after env"), "--exec and websocketd: stdin echoed")
    # What differs by design: the software, the ports, the per-connection key and ids.
    differ = {"SERVER_SOFTWARE", "REMOTE_PORT", "SERVER_PORT", "UNIQUE_ID", "GATEWAY_INTERFACE",
              "HTTP_SEC_WEBSOCKET_KEY", "HTTP_HOST", "HTTP_ORIGIN", "WSC_CLIENT_ID",
              "HOME", "LANG"}
    names_w = set(ew) - differ
    names_d = set(ed) - differ
    t.is_(sorted(names_w ^ names_d), [], "--exec: the same variable names as websocketd's",
          f"wsc only: {sorted(names_w - names_d)}; websocketd only: {sorted(names_d - names_w)}")
    same = {k: (ew.get(k), ed.get(k)) for k in names_w & names_d if ew.get(k) != ed.get(k)}
    t.is_(same, {}, "--exec: the same values as websocketd's for the same request")
    t.is_((ew.get("SERVER_PORT"), ed.get("SERVER_PORT")), (str(port_w), str(port_d)),
          "--exec: SERVER_PORT is the listening port, as websocketd's")
    t.is_(ew.get("HTTP_HOST"), f"127.0.0.1:{port_w}", "--exec: HTTP_HOST")
    t.is_((ew.get("QUERY_STRING"), ew.get("PATH_INFO"), ew.get("REQUEST_URI")),
          ("q=1&r=two%20words", "/some/path/x", query), "--exec: query, path and URI")
    t.is_((ew.get("HTTP_COOKIE"), ew.get("HTTP_X_CUSTOM"), ew.get("HTTP_USER_AGENT")),
          ("a=b; c=d", "v w", "bridge-test/1"), "--exec: request headers as HTTP_*")
    t.ok("SECRET_TOKEN" not in ew and "SECRET_TOKEN" not in ed,
         "--exec: wsc's own environment does not pass (as websocketd)")
    t.is_((ew.get("HOME"), ew.get("LANG"), ew.get("WSC_CLIENT_ID")),
          ("/nonexistent", "C.UTF-8", "1"), "--exec: HOME, LANG and WSC_CLIENT_ID passed")
    t.ok("HTTPS" not in ew, "--exec: no HTTPS over plain ws://")
    wsc.stop()


@t.test
def exec_passenv():
    path = script("env2.sh", ENV_SCRIPT)
    env = dict(os.environ, KEEP_ME="yes", DROP_ME="no")
    port, proc = t.listen("--exec", path, "--passenv", "KEEP_ME", env=env)
    got, _ = run(env_session(f"ws://127.0.0.1:{port}/", None))
    e = env_of(got)
    t.is_((e.get("KEEP_ME"), e.get("DROP_ME")), ("yes", None), "--passenv passes only its name")
    proc.stop()


@t.test
def exec_lines_both_ways():
    port, proc = t.listen("--exec", "while read l; do echo \"got: $l\"; echo \"err $l\" >&2; done")
    got, code, _ = run(converse(f"ws://127.0.0.1:{port}/", ["one", "two", "three ü"], expect=3))
    t.is_(got, ["got: one", "got: two", "got: three ü"], "--exec: a line per message both ways")
    t.is_(code, 1000, "--exec: the client's close is answered with 1000")
    t.ok(t.wait_err(proc, r"\[1\] err three ü"), "--exec: the process's stderr, prefixed [1]",
         proc.err.decode(errors="replace"))
    proc.stop()


@t.test
def exec_client_closes_first_nothing_lost():
    out = t.tmpfile("stdin-copy")
    port, proc = t.listen("--exec", f"cat > {out}; echo done >&2")
    lines = [f"line {i} " + "x" * (i % 700) for i in range(5000)]
    _, code, _ = run(converse(f"ws://127.0.0.1:{port}/", lines))
    t.is_(code, 1000, "client closes first: its close is answered with 1000")
    t.ok(t.wait_err(proc, r"\[1\] done"), "client closes first: the process sees its stdin end",
         proc.err)
    with open(out) as f:
        t.ok(f.read() == "".join(line + "\n" for line in lines),
             "client closes first: every line reached the process before its stdin closed")
    proc.stop()


@t.test
def exec_process_per_client():
    port, proc = t.listen("--exec", "echo $$; cat", "--max-clients", "30")

    async def many():
        async def one(i):
            async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
                pid = await ws.recv()
                await ws.send(f"client {i}")
                back = await ws.recv()
                await ws.close()
                return pid, back
        return await asyncio.gather(*(one(i) for i in range(20)))

    results = run(many(), 60)
    pids = {p for p, _ in results}
    t.is_(len(pids), 20, "--exec: 20 clients at once, 20 processes")
    t.is_(sorted(b for _, b in results), sorted(f"client {i}" for i in range(20)),
          "--exec: each client talks to its own process")
    time.sleep(0.5)
    t.is_([c for c in children_of(proc.proc.pid)], [], "--exec: every process reaped (no zombie)")
    proc.stop()


@t.test
def exec_exit_status_closes():
    port, proc = t.listen("--exec", "echo bye; exit 0")
    got, code, _ = run(converse(f"ws://127.0.0.1:{port}/", expect=1, close=False))
    t.is_((got, code), (["bye"], 1000), "--exec: status 0 closes with 1000 after its output")
    port2, proc2 = t.listen("--exec", "printf 'partial'; exit 3")
    got, code, reason = run(converse(f"ws://127.0.0.1:{port2}/", expect=1, close=False))
    t.is_((got, code, reason), (["partial"], 1011, "process exited with status 3"),
          "--exec: status 3 closes with 1011 naming it; a last line without newline is sent")
    proc.stop()
    proc2.stop()


@t.test
def exec_killed_by_a_signal():
    port, proc = t.listen("--exec", "echo hi; kill -9 $$")
    got, code, reason = run(converse(f"ws://127.0.0.1:{port}/", expect=1, close=False))
    t.is_((got, code, reason), (["hi"], 1011, "process killed by signal 9 (Killed)"),
          "--exec killed by SIGKILL: its output, then 1011 naming the signal")
    t.ok(t.wait_err(proc, r"client 1: process killed by signal 9 \(Killed\)\n"),
         "--exec killed by SIGKILL: one line says so", proc.err)
    t.is_(children_of(proc.proc.pid), [], "--exec killed by SIGKILL: reaped")
    proc.stop()
    srv = t.server("echo_server.py")
    r = t.run([srv.url, "--exec", "kill -9 $$"], timeout=15)
    t.exits(r, 1, "client --exec killed by SIGKILL: exit 1")
    t.is_([x for x in r.err_lines if "signal" in x], ["wsc: process killed by signal 9 (Killed)"],
          "client --exec killed by SIGKILL: one line names the signal", str(r))


@t.test
def exec_stdout_closed_while_it_runs():
    # A process that closes its stdout and goes on reading: the connection
    # stays open while it runs, what the client sends still reaches it, and
    # its exit closes with 1000.
    out = t.tmpfile("after-stdout")
    port, proc = t.listen("--exec", f"echo hi; exec >&-; read a; echo \"$a\" > {out}; sleep 1")

    async def go():
        async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
            first = await asyncio.wait_for(ws.recv(), 5)
            start = time.monotonic()
            await ws.send("still heard")
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except ConnectionClosed:
                pass
            return first, ws.close_code, time.monotonic() - start

    first, code, took = run(go())
    t.is_((first, code), ("hi", 1000), "--exec with stdout closed: open until it exits, then 1000")
    t.ok(took >= 0.8, "--exec with stdout closed: its end of output does not close the connection",
         f"closed after {took:.2f} s")
    t.is_(open(out).read(), "still heard\n", "--exec with stdout closed: messages still reach it")
    proc.stop()


@t.test
def exec_invalid_utf8_and_long_lines():
    port, proc = t.listen("--exec", "printf 'ok\\n\\377\\376bad\\n'; head -c 300000 /dev/zero | "
                        "tr '\\0' x; echo; sleep 5", "--chunk", "65536")
    got, _, _ = run(converse(f"ws://127.0.0.1:{port}/", expect=3))
    t.is_(got[:2], ["ok", b"\xff\xfebad"], "--exec: a line that is not UTF-8 is a binary message")
    t.is_(got[2], "x" * 300000, "--exec: a line longer than --chunk is one message")
    proc.stop()


@t.test
def exec_binary_raw_bytes():
    port, proc = t.listen("-b", "--exec", "cat")
    blob = os.urandom(3 * 1024 * 1024)

    async def go():
        async with websockets.connect(f"ws://127.0.0.1:{port}/", max_size=None) as ws:
            for i in range(0, len(blob), 100000):
                await ws.send(blob[i:i + 100000])
            back = b""
            while len(back) < len(blob):
                m = await ws.recv()
                t.ok(isinstance(m, bytes), "-b --exec: binary messages") if not back else None
                back += m
            await ws.close()
            return back

    back = run(go(), 60)
    t.ok(hashlib.sha256(back).digest() == hashlib.sha256(blob).digest(),
         "-b --exec cat: 3 MiB byte-exact both ways")
    proc.stop()


@t.test
def exec_ignores_sigterm():
    marker = t.tmpfile("pid")
    port, proc = t.listen("--exec", f"trap '' TERM; echo $$ > {marker}; echo up; "
                        "while :; do sleep 0.1; done", "--close-timeout", "1")
    start = time.monotonic()
    got, code, _ = run(converse(f"ws://127.0.0.1:{port}/", expect=1))
    t.is_((got, code), (["up"], 1000), "a process ignoring SIGTERM: the client's close is answered")
    pid = int(open(marker).read())
    end = time.monotonic() + 8
    while pid_alive(pid) and time.monotonic() < end:
        time.sleep(0.05)
    took = time.monotonic() - start
    t.ok(not pid_alive(pid), "a process ignoring SIGTERM is killed (SIGKILL after SIGTERM)",
         f"still alive after {took:.1f} s")
    t.ok(took >= 1.5, "SIGKILL comes only after SIGTERM had --close-timeout", f"{took:.2f} s")
    t.is_(children_of(proc.proc.pid), [], "no zombie left")
    proc.stop()


@t.test
def exec_flood_bounded_memory():
    port, proc = t.listen("--exec", "yes flood-flood-flood-flood")
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(wsframe.handshake_request(port))
    s.recv(4096)  # the 101; then the client never reads
    time.sleep(3)
    first = t.rss_anon_kib(proc.proc.pid)
    time.sleep(2)
    second = t.rss_anon_kib(proc.proc.pid)
    if t.is_sanitized():
        t.skip("a process flooding a client that never reads: bounded memory", "sanitizer build")
    else:
        t.ok(0 < second < 16 * 1024 and second - first < 1024,
             "a process flooding a client that never reads: wsc's memory stays bounded",
             f"RssAnon {first} KiB, then {second} KiB")
    s.close()
    proc.stop()
    t.is_(children_of(proc.proc.pid), [], "the flooding process is gone")


class LateReader:
    """A TCP service that reads nothing until told to, then counts every byte to EOF."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.go, self.done, self.count = threading.Event(), threading.Event(), 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        c, _ = self.sock.accept()
        self.go.wait(30)
        c.settimeout(30)
        while True:
            chunk = c.recv(1 << 16)
            if not chunk:
                break
            self.count += len(chunk)
        self.done.set()


def flood_end_that_waits(what, args, release, received):
    """Floods a bridge whose end reads nothing yet: one message of 200 MiB of zeros
    deflated into about 200 kB, then 16 MiB in 64 KiB messages. wsc's memory must
    stay bounded while the end waits and once it reads (a read of deflated bytes
    could bring a thousand times as much), and the end must get every byte."""
    port, proc = t.listen(*args)
    rss0, peak0 = t.rss_anon_kib(proc.proc.pid), t.status_kib(proc.proc.pid, "VmHWM")
    block, zeros = os.urandom(64 << 10), 200 << 20
    # the request and the deflated message in one send: they wait together
    # in the socket's buffer, for one read to take most of them
    request = wsframe.handshake_request(port, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
    frames = [request + wsframe.encode(wsframe.OP_BINARY, wsframe.deflated(bytes(zeros)), rsv=4,
                                       mask=True)]
    frames += [wsframe.encode(wsframe.OP_BINARY, block, mask=True)] * 256
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    sender = threading.Thread(target=lambda: [s.sendall(f) for f in frames], daemon=True)
    sender.start()
    head, _ = wsframe.read_head(s)
    t.ok("permessage-deflate" in head, f"{what}: deflate negotiated", head)
    time.sleep(2)
    waiting = t.rss_anon_kib(proc.proc.pid)
    release()
    sender.join(60)
    s.sendall(wsframe.encode(wsframe.OP_CLOSE, wsframe.close_payload(1000), mask=True))
    got = received()
    peak = t.status_kib(proc.proc.pid, "VmHWM")
    # Bounded: the end's queue (128 KiB), a read and what one slice of deflated
    # bytes inflates to (half a MiB), not what a whole read does (up to 256 MiB;
    # about 5 MiB while the end waits and 20 MiB once it reads, as measured
    # before the slices).
    if t.is_sanitized():
        t.skip(f"{what}: wsc's memory stays bounded", "sanitizer build")
    else:
        t.ok(rss0 > 0 and waiting - rss0 < 3 * 1024 and peak - peak0 < 8 * 1024,
             f"{what}: wsc's memory stays bounded",
             f"RssAnon {rss0} KiB at start, {waiting} KiB while the end waits; "
             f"VmHWM {peak0} KiB at start, {peak} KiB in all")
    t.is_(got, len(block) * 256 + zeros, f"{what}: then every byte reaches it")
    s.close()
    proc.stop()


@t.test
def flood_into_ends_that_never_read():
    svc = LateReader()
    flood_end_that_waits("--forward, a flood into a service that does not read yet",
                         ["--forward", f"127.0.0.1:{svc.port}"], svc.go.set,
                         lambda: svc.count if svc.done.wait(60) else None)
    gate, out = t.tmpfile("gate"), t.tmpfile("count")
    os.unlink(gate)

    def counted():
        end = time.monotonic() + 60
        while time.monotonic() < end:
            with open(out) as f:
                text = f.read()
            if text.endswith("\n"):
                return int(text)
            time.sleep(0.05)
        return None
    flood_end_that_waits("-b --exec, a flood into a process that does not read yet",
                         ["-b", "--exec", f"while [ ! -e {gate} ]; do sleep 0.05; done; "
                          f"wc -c > {out}.tmp; mv {out}.tmp {out}"],
                         lambda: open(gate, "w").close(), counted)


@t.test
def exec_sigint_ends_everything():
    marker = t.tmpfile("pid2")
    port, proc = t.listen("--exec", f"echo $$ > {marker}; exec cat")

    async def go():
        async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send("x")
            t.is_(await ws.recv(), "x", "SIGINT case: connected and echoing")
            proc.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except ConnectionClosed:
                pass
            return ws.close_code

    code = run(go())
    t.is_(code, 1001, "SIGINT: the client gets 1001 (going away)")
    r = proc.wait(10)
    t.exits(r, 0, "SIGINT: wsc -l --exec exits 0")
    pid = int(open(marker).read())
    t.ok(not pid_alive(pid), "SIGINT: the process is gone")


@t.test
def exec_sigint_while_processes_start():
    # SIGINT right after a burst of clients, while their processes are still
    # starting on the spawn thread: wsc ends at once, and of the processes
    # none is left running, started or not.
    made = os.path.join(t.tmpdir(), "started")
    os.mkdir(made)
    nap = f"1000.{os.getpid()}"  # names this test's processes among any others
    port, proc = t.listen("--exec", f"sh -c 'mktemp -p {made} >/dev/null; exec sleep {nap}'",
                          "--max-clients", "60")
    hello = wsframe.handshake_request(port)
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
    for s in socks:
        s.sendall(hello)
    socks[-1].settimeout(10)
    t.ok(socks[-1].recv(4096).startswith(b"HTTP/1.1 101"), "a burst of 40: the last is answered")
    started = {pid for pid, _ in children_of(proc.proc.pid)}
    proc.proc.send_signal(signal.SIGINT)
    r = proc.wait(15)
    t.exits(r, 0, "SIGINT while processes start: exit 0")
    time.sleep(0.2)
    sleepers = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if f.read() == f"sleep\0{nap}\0".encode() and not is_gone(int(d)):
                        sleepers.append(int(d))
            except OSError:
                pass
    t.is_(sleepers, [], "no process of the burst is left running "
          f"({len(os.listdir(made))} had started, {len(started)} seen before SIGINT)")
    for s in socks:
        s.close()


@t.test
def exec_client_role():
    srv = t.server("echo_server.py")
    out = t.tmpfile("client-out")
    r = t.run([srv.url, "--exec", f"echo one; echo two; read a; read b; echo \"$a $b\" > {out}"],
              timeout=15)
    t.exits(r, 0, "client --exec: exit 0 when the process ends with status 0")
    t.is_(open(out).read(), "one two\n", "client --exec: its lines out, the replies in")
    t.is_([m["data"] for m in srv.messages()], ["one", "two"], "client --exec: server got both")
    r = t.run([srv.url, "--exec", "exit 4"], timeout=15)
    t.exits(r, 1, "client --exec: a process exiting 4 makes wsc exit 1")
    t.ok(b"process exited with status 4" in r.err, "client --exec: says the status", r.err)


def parent_of_reader(msg):
    """The parent pid in a line of /proc/self/stat."""
    return int(msg.rsplit(")", 1)[1].split()[1])


@t.test
def exec_plain_command_without_a_shell():
    port, proc = t.listen("--exec", "cat /proc/self/stat")
    got, code, _ = run(converse(f"ws://127.0.0.1:{port}/", expect=1, close=False))
    t.is_(code, 1000, "--exec without shell syntax: runs and ends with 1000")
    t.is_(parent_of_reader(got[0]), proc.proc.pid,
          "--exec without shell syntax: the program is wsc's own child (no /bin/sh between)")
    port2, proc2 = t.listen("--exec", "cat /proc/self/stat; true")
    got, _, _ = run(converse(f"ws://127.0.0.1:{port2}/", expect=1, close=False))
    t.ok(parent_of_reader(got[0]) != proc2.proc.pid,
         "--exec with shell syntax: /bin/sh -c runs it", got)
    proc.stop()
    proc2.stop()


@t.test
def exec_burst_of_clients_that_leave_at_once():
    # Handshake and close in one write, 20 clients at once: most are gone
    # before their process has started; each process
    # still runs once, and is reaped.
    made = os.path.join(t.tmpdir(), "burst")
    os.mkdir(made)
    port, proc = t.listen("--exec", f"mktemp -p {made}", "--max-clients", "30")
    hello = wsframe.handshake_request(port) + b"\x88\x82\x00\x00\x00\x00\x03\xe8"
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    for s in socks:
        s.sendall(hello)
    answers = []
    for s in socks:
        s.settimeout(10)
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except OSError:
            pass
        answers.append(got)
        s.close()
    t.is_(sum(a.startswith(b"HTTP/1.1 101") for a in answers), 20,
          "a burst of 20 clients: every handshake answered")
    end = time.monotonic() + 10
    while len(os.listdir(made)) < 20 and time.monotonic() < end:
        time.sleep(0.05)
    t.is_(len(os.listdir(made)), 20, "a burst of clients gone at once: every process ran once")
    time.sleep(0.5)
    t.is_(children_of(proc.proc.pid), [], "a burst of clients gone at once: every process reaped")
    t.ok(proc.proc.poll() is None, "a burst of clients gone at once: wsc keeps listening")
    proc.stop()


@t.test
def exec_words_and_quoting():
    cases = [
        ("  /usr/bin/printf   %s.   a  b  ", "a.b.", "plain words: split at blanks"),
        ("printf '%s|' 'a  b' c", "a  b|c|", "quotes: the shell's words"),
        ("/usr/bin/printf %s: $WSC_CLIENT_ID", "1:", "$: the shell expands it"),
        ("/usr/bin/printf %s \\x", "x", "a backslash: the shell's quoting"),
        ("echo a  b", "a b", "echo: the shell's builtin"),
        ("X=1 /usr/bin/env", None, "an assignment: the shell's"),
    ]
    for cmd, want, name in cases:
        port, proc = t.listen("--exec", cmd)
        got, code, _ = run(converse(f"ws://127.0.0.1:{port}/", expect=50, close=False))
        if want is None:
            t.ok("X=1" in got and code == 1000, f"--exec {cmd!r}: {name}", got)
        else:
            t.is_((got[:1], code), ([want], 1000), f"--exec {cmd!r}: {name}")
        proc.stop()


@t.test
def exec_not_found():
    port, proc = t.listen("--exec", "no-such-program-wsc")
    _, code, reason = run(converse(f"ws://127.0.0.1:{port}/", close=False))
    t.is_((code, reason), (1011, "process exited with status 127"),
          "--exec of a program not found: 1011, status 127 (as sh says)")
    t.ok(t.wait_err(proc, r"\[1\] .*no-such-program-wsc: .*not found\n"),
         "--exec of a program not found: the shell's one line, prefixed [1]", proc.err)
    lines = [x for x in proc.err.decode().splitlines() if "no-such-program-wsc" in x]
    t.is_(len(lines), 1, "--exec of a program not found: one line says so", lines)
    proc.stop()
    srv = t.server("echo_server.py")
    r = t.run([srv.url, "--exec", "no-such-program-wsc"], timeout=15)
    t.exits(r, 1, "client --exec of a program not found: exit 1")
    t.ok(b"process exited with status 127" in r.err, "client --exec not found: status 127", r.err)
    lines = [x for x in r.err_lines if "no-such-program-wsc" in x]
    t.ok(len(lines) == 1 and "not found" in lines[0],
         "client --exec of a program not found: the shell's one line", r.err)


@t.test
def exec_not_executable_and_no_shebang():
    plain = t.tmpfile("not-executable")
    with open(plain, "w") as f:
        f.write("echo never\n")
    port, proc = t.listen("--exec", plain)
    _, code, reason = run(converse(f"ws://127.0.0.1:{port}/", close=False))
    t.is_((code, reason), (1011, "process exited with status 126"),
          "--exec of a file without x: 1011, status 126 (as sh says)")
    t.ok(t.wait_err(proc, r"\[1\] .*not-executable.*: Permission denied"),
         "--exec of a file without x: the shell's line", proc.err)
    proc.stop()
    bare = t.tmpfile("no-shebang")
    with open(bare, "w") as f:
        f.write("echo \"run by sh: $((1 + 2))\"\n")
    os.chmod(bare, 0o755)
    port, proc = t.listen("--exec", bare)
    got, code, _ = run(converse(f"ws://127.0.0.1:{port}/", expect=1, close=False))
    t.is_((got, code), (["run by sh: 3"], 1000), "--exec of a script without #!: sh runs it")
    proc.stop()


def soft_fd_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return line.split()[3:5]
    return None


def is_gone(pid):
    """pid has exited: no such process, or a zombie waiting for its reaper."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@t.test
def exec_processes_end_when_wsc_is_killed():
    # SIGKILL gives wsc no time to end its processes, and sleep does not end
    # at the end of its input: each gets SIGTERM from the kernel instead (its
    # parent-death signal), a program wsc runs itself or one sh execs.
    port, proc = t.listen("--exec", "sleep 1000")
    port2, proc2 = t.listen("--exec", "exec sleep 1000")
    socks, pids = [], []
    for p, pr in ((port, proc), (port2, proc2)):
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", p))
            s.sendall(wsframe.handshake_request(p))
            socks.append(s)
        end = time.monotonic() + 10
        while len(children_of(pr.proc.pid)) < 3 and time.monotonic() < end:
            time.sleep(0.05)
        pids += [pid for pid, _ in children_of(pr.proc.pid)]
    t.is_(len(pids), 6, "three clients each on two listeners: a process each")
    proc.proc.kill()
    proc2.proc.kill()
    proc.wait(5)
    proc2.wait(5)
    end = time.monotonic() + 10
    while not all(is_gone(pid) for pid in pids) and time.monotonic() < end:
        time.sleep(0.05)
    t.is_([pid for pid in pids if not is_gone(pid)], [],
          "wsc killed with SIGKILL: none of its processes outlives it")
    for s in socks:
        s.close()


@t.test
def exec_pipeline_ends_with_its_connection():
    # sh runs a pipeline whose programs never read the client's input: at
    # the connection's end SIGTERM goes to the process's group, so none of
    # them is left running.
    port, proc = t.listen("--exec", "sleep 1000 | cat", "--close-timeout", "0.3")
    hello = wsframe.handshake_request(port)
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(hello)
    group = []
    end = time.monotonic() + 10
    while len(group) < 3 and time.monotonic() < end:
        shells = [pid for pid, _ in children_of(proc.proc.pid)]
        group = shells + [pid for sh in shells for pid, _ in children_of(sh)]
        time.sleep(0.05)
    t.is_(len(group), 3, "--exec 'sleep 1000 | cat': sh and its two programs")
    s.sendall(b"\x88\x82\x00\x00\x00\x00\x03\xe8")  # close 1000
    end = time.monotonic() + 10
    while not all(is_gone(pid) for pid in group) and time.monotonic() < end:
        time.sleep(0.05)
    t.is_([pid for pid in group if not is_gone(pid)], [],
          "the connection's end: SIGTERM to the group, none of the pipeline is left")
    t.is_(children_of(proc.proc.pid), [], "and sh is reaped")
    s.close()
    proc.stop()


@t.test
def exec_child_gets_the_starting_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = 256
    if hard != resource.RLIM_INFINITY and hard <= low:
        t.skip("--exec: the child gets wsc's starting fd limit", f"hard limit {hard}")
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        shell = subprocess.run(["/bin/sh", "-c", "ulimit -n"], capture_output=True,
                               text=True).stdout.strip()
        port, proc = t.listen("--exec", "ulimit -n")
        port2, proc2 = t.listen("--exec", "cat /proc/self/limits")
        srv = t.server("echo_server.py")
        r = t.run([srv.url, "--exec", "ulimit -n"], timeout=15)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    got, _, _ = run(converse(f"ws://127.0.0.1:{port}/", expect=1, close=False))
    t.is_((shell, got), (str(low), [str(low)]),
          "--exec 'ulimit -n': the soft limit wsc started with, as the shell's own")
    hard_s = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
    t.is_(soft_fd_limit(proc.proc.pid), [hard_s, hard_s],
          "wsc itself keeps the raised limit after starting a process")
    got, _, _ = run(converse(f"ws://127.0.0.1:{port2}/", expect=50, close=False))
    limits = [m.split()[3:5] for m in got if m.startswith("Max open files")]
    t.is_(limits, [[str(low), hard_s]], "--exec without a shell: the starting soft limit too")
    t.exits(r, 0, "client --exec 'ulimit -n': exit 0")
    t.is_([m["data"] for m in srv.messages()], [str(low)],
          "client --exec: the process gets the starting soft limit")
    proc.stop()
    proc2.stop()


# ---- option errors ---------------------------------------------------------------------

U = "ws://127.0.0.1:9/"
BRIDGE_OPTION_ERRORS = [
    (["-l", "0", "--exec", "cat", "--forward", "127.0.0.1:9"],
     "--exec cannot be combined with --forward"),
    ([U, "--exec", "cat", "--tcp-listen", "9999"], "--exec cannot be combined with --tcp-listen"),
    ([U, "--tcp-listen", "9999", "--unix-listen", "/tmp/x.sock"],
     "--unix-listen cannot be combined with --tcp-listen"),
    ([U, "--unix-listen", "/tmp/x.sock", "--tcp-listen", "9999"],
     "--tcp-listen cannot be combined with --unix-listen"),
    (["-l", "0", "--exec", "cat", "--to", U], "--exec cannot be combined with --to"),
    (["-l", "0", "--forward", "127.0.0.1:9", "--replay", "r.jsonl"],
     "--forward cannot be combined with --replay"),
    ([U, "--exec", "cat", "-f", "s"], "--exec cannot be combined with --script"),
    ([U, "--echo", "-f", "s"], "--echo cannot be combined with --script"),
    ([U, "--tcp-listen", "9999", "--replay", "r.jsonl"],
     "--tcp-listen cannot be combined with --replay"),
    (["--tcp-listen", "9999"], "--tcp-listen joins local clients to a URL: no URL given"),
    (["--unix-listen", "/tmp/x.sock"], "--unix-listen joins local clients to a URL: no URL given"),
    (["-l", "0", "--tcp-listen", "9999"], "--tcp-listen is for the client role"),
    ([U, "--forward", "127.0.0.1:9"], "--forward is for listen mode"),
    ([U, "--tcp-listen", "9999", "--one"], "--tcp-listen cannot be combined with --one"),
    (["-l", "0", "--exec", ""], "--exec: empty command"),
    ([U, "--exec", " \t "], "--exec: empty command"),
    (["-l", "0", "--exec"], "option '--exec' needs an argument"),
    (["-l", "0", "--forward"], "option '--forward' needs an argument"),
    (["-l", "0", "--forward", "host"], "--forward: expected HOST:PORT or unix:PATH, got 'host'"),
    (["-l", "0", "--forward", "host:99999"], "--forward: expected HOST:PORT"),
    (["-l", "0", "--forward", "unix:"], "--forward: bad socket path"),
    ([U, "--tcp-listen", "70000"], "--tcp-listen: expected [ADDR:]PORT, got '70000'"),
    ([U, "--tcp-listen", "x"], "--tcp-listen: expected [ADDR:]PORT, got 'x'"),
    ([U, "--unix-listen", ""], "--unix-listen: bad socket path ''"),
    (["-l", "0", "--exec", "cat", "--max-clients", "0"], "--max-clients: bad number '0'"),
    (["-l", "0", "--exec", "cat", "--max-clients", "x"], "--max-clients: bad number 'x'"),
    (["-l", "70000", "--exec", "cat"], "--listen: bad port '70000'"),
    ([U, "--passenv", "HOME"], "--passenv goes with --exec"),
    (["-l", "0", "--exec", "cat", "--passenv", "A=B"], "--passenv: bad variable name 'A=B'"),
    (["-l", "0", "--allow-origin", "x"], "--allow-origin goes with -l and --exec or --forward"),
]


@t.test
def bridge_option_errors():
    # Each bad combination or value: exit 2 at once, one line naming the
    # option (and the pointer to --help), nothing started or listened on.
    for args, want in BRIDGE_OPTION_ERRORS:
        r = t.run(args, timeout=5)
        name = " ".join(repr(a) if not a or " " in a else a for a in args)
        t.exits(r, 2, f"wsc {name}: exit 2")
        t.ok(len(r.err_lines) == 2 and r.err_lines[0].startswith("wsc: " + want) and
             r.err_lines[1] == "Try 'wsc --help' for more information." and not r.out,
             f"wsc {name}: one line says {want!r}, then the pointer to --help", str(r))


# ---- refusals -------------------------------------------------------------------------

def status_of(url, **kw):
    async def go():
        try:
            async with websockets.connect(url, **kw) as ws:
                await ws.close()
                return 101, {}
        except InvalidStatusCode as e:
            return e.status_code, dict(e.headers)
    return run(go())


@t.test
def cross_site_origin_refused():
    marker = t.tmpfile("started") + ".touched"
    port, proc = t.listen("--exec", f"touch {marker}; cat")
    url = f"ws://127.0.0.1:{port}/"
    t.is_(status_of(url, origin="http://evil.example")[0], 403, "cross-site Origin: 403")
    time.sleep(0.3)
    t.ok(not os.path.exists(marker), "cross-site Origin: no process started")
    t.ok(t.wait_err(proc, r"refused: cross-site request from Origin http://evil\.example"),
         "cross-site Origin: said on stderr", proc.err)
    t.is_(status_of(url, origin=f"http://127.0.0.1:{port}")[0], 101, "same-site Origin: 101")
    t.is_(status_of(url)[0], 101, "no Origin (not a browser): 101")
    port2, proc2 = t.listen("--forward", "127.0.0.1:9", "--allow-origin", "http://evil.example")
    t.is_(status_of(f"ws://127.0.0.1:{port2}/", origin="http://evil.example")[0], 101,
          "--allow-origin lets that Origin in")
    t.is_(status_of(f"ws://127.0.0.1:{port2}/", origin="http://other.example")[0], 403,
          "--allow-origin: another Origin is still refused")
    port3, proc3 = t.listen("--exec", "cat", "--allow-origin", "*")
    t.is_(status_of(f"ws://127.0.0.1:{port3}/", origin="null")[0], 101, "--allow-origin '*'")
    for p in (proc, proc2, proc3):
        p.stop()


@t.test
def basic_auth_required():
    port, proc = t.listen("--exec", "cat", "--auth", "alice:s3cret")
    url = f"ws://127.0.0.1:{port}/"
    code, headers = status_of(url)
    t.is_(code, 401, "--auth: no credentials, 401")
    www = {k.lower(): v for k, v in headers.items()}.get("www-authenticate", "")
    t.ok(www.startswith("Basic realm="), "--auth: 401 with WWW-Authenticate: Basic", headers)
    t.is_(status_of(f"ws://alice:wrong@127.0.0.1:{port}/")[0], 401, "--auth: wrong password, 401")
    t.is_(status_of(f"ws://alice:s3cret@127.0.0.1:{port}/")[0], 101, "--auth: right, 101")
    proc.stop()


@t.test
def max_clients_bounds_processes():
    port, proc = t.listen("--exec", "cat", "--max-clients", "2")

    async def go():
        a = await websockets.connect(f"ws://127.0.0.1:{port}/")
        b = await websockets.connect(f"ws://127.0.0.1:{port}/")
        try:
            await websockets.connect(f"ws://127.0.0.1:{port}/")
            third = 101
        except InvalidStatusCode as e:
            third = e.status_code
        await a.close()
        await b.close()
        return third

    t.is_(run(go()), 503, "--max-clients 2: the third client gets 503")
    proc.stop()


# ---- --forward ------------------------------------------------------------------------

class TcpService:
    """A TCP (or Unix) service of ours: echo, or send a greeting then FIN."""

    def __init__(self, mode="echo", unix=None, greeting=b""):
        self.mode, self.greeting = mode, greeting
        if unix:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.bind(unix)
        else:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = None if unix else self.sock.getsockname()[1]
        self.received = []
        self.eof_seen = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c):
        data = b""
        if self.mode == "greet":
            c.sendall(self.greeting)
            c.shutdown(socket.SHUT_WR)
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
            if self.mode == "echo":
                c.sendall(chunk)
        self.received.append(data)
        self.eof_seen.set()
        c.close()


@t.test
def forward_binary_round_trip():
    svc = TcpService()
    port, proc = t.listen("--forward", f"127.0.0.1:{svc.port}")
    blob = os.urandom(5 * 1024 * 1024)

    async def go():
        async with websockets.connect(f"ws://127.0.0.1:{port}/", max_size=None) as ws:
            await ws.send("text goes on as bytes\n")
            for i in range(0, len(blob), 65536):
                await ws.send(blob[i:i + 65536])
            want = len(blob) + len("text goes on as bytes\n")
            back, kinds = b"", set()
            while len(back) < want:
                m = await ws.recv()
                kinds.add(type(m))
                back += m
            await ws.close()
            return back, kinds

    back, kinds = run(go(), 60)
    t.ok(back == b"text goes on as bytes\n" + blob, "--forward: 5 MiB byte-exact both ways")
    t.is_(kinds, {bytes}, "--forward: binary messages toward the client")
    t.ok(svc.eof_seen.wait(5), "--forward: the client's close ends the TCP connection (EOF)")
    proc.stop()


@t.test
def forward_service_closes_first():
    svc = TcpService("greet", greeting=b"hello from tcp\n" * 1000)
    port, proc = t.listen("--forward", f"127.0.0.1:{svc.port}")

    async def go():
        async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
            data = b""
            try:
                while True:
                    data += await asyncio.wait_for(ws.recv(), 5)
            except ConnectionClosed:
                pass
            return data, ws.close_code

    data, code = run(go())
    t.is_((len(data), code), (15000, 1000), "--forward: the service's FIN is a close 1000, "
          "after all its bytes")
    proc.stop()


@t.test
def forward_refused():
    port, proc = t.listen("--forward", f"127.0.0.1:{t.free_port()}")
    _, code, reason = run(converse(f"ws://127.0.0.1:{port}/", close=False))
    t.is_(code, 1011, "--forward to a closed port: close 1011")
    t.ok("Connection refused" in reason, "--forward refused: the reason says so", reason)
    proc.stop()


@t.test
def forward_hostile_services():
    port, proc = t.listen("--forward", "no-such-host.invalid:80")
    _, code, reason = run(converse(f"ws://127.0.0.1:{port}/", close=False))
    t.ok(code == 1011 and reason.startswith("forward: cannot resolve no-such-host.invalid"),
         "--forward to a name that does not resolve: 1011 saying so", (code, reason))
    t.ok(t.wait_err(proc, r"client 1: forward: cannot resolve no-such-host\.invalid"),
         "--forward to a name that does not resolve: one line on stderr", proc.err)
    proc.stop()

    def serve(behaviour):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)

        def loop():
            while True:
                c, _ = srv.accept()
                threading.Thread(target=behaviour, args=(c,), daemon=True).start()
        threading.Thread(target=loop, daemon=True).start()
        return srv.getsockname()[1]

    def reset(c):
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    port, proc = t.listen("--forward", f"127.0.0.1:{serve(reset)}")
    _, code, reason = run(converse(f"ws://127.0.0.1:{port}/", close=False))
    # the reset comes once connected ("connection to ... lost: ...") or, on a
    # slow machine, while wsc still checks its connect ("forward: cannot
    # connect to ...: ...")
    t.ok(code == 1011 and reason.endswith(": Connection reset by peer") and
         ("lost" in reason or "cannot connect" in reason),
         "--forward to a service that resets at once: 1011 with the reason", (code, reason))
    proc.stop()

    late = {"error": None, "sent": 0}

    def sends_late(c):
        time.sleep(0.5)  # the client has gone by now
        try:
            for _ in range(200):
                c.sendall(b"late\n")
                late["sent"] += 1
                time.sleep(0.01)
        except OSError as e:
            late["error"] = e
    port, proc = t.listen("--forward", f"127.0.0.1:{serve(sends_late)}")
    fds = len(os.listdir(f"/proc/{proc.proc.pid}/fd"))
    _, code, _ = run(converse(f"ws://127.0.0.1:{port}/", [b"x"]))
    t.is_(code, 1000, "--forward, a service that sends after the client left: close answered")
    end = time.monotonic() + 5
    while late["error"] is None and time.monotonic() < end:
        time.sleep(0.05)
    t.ok(isinstance(late["error"], (BrokenPipeError, ConnectionResetError)),
         "--forward: a service that sends after the client left finds its connection closed",
         late)
    t.is_(len(os.listdir(f"/proc/{proc.proc.pid}/fd")), fds,
          "--forward: nothing is left open after the client and its service are gone")
    t.ok(proc.proc.poll() is None, "--forward: wsc goes on serving")
    proc.stop()


@t.test
def forward_unix_socket():
    path = t.tmpfile("svc") + ".sock"
    svc = TcpService(unix=path)
    port, proc = t.listen("--forward", f"unix:{path}")
    got, code, _ = run(converse(f"ws://127.0.0.1:{port}/", [b"\x00\x01unix"], expect=1))
    t.is_((got, code), ([b"\x00\x01unix"], 1000), "--forward unix:PATH round-trip")
    proc.stop()


# ---- --tcp-listen ---------------------------------------------------------------------

@t.test
def tcp_listen_round_trip():
    srv = t.server("echo_server.py")
    lport = t.free_port()
    proc = t.spawn([srv.url, "--tcp-listen", str(lport)])
    t.wait_listening(lport, 5, proc)
    socks = [socket.create_connection(("127.0.0.1", lport)) for _ in range(3)]
    for i, s in enumerate(socks):
        s.sendall(f"via tcp {i}".encode())
    for i, s in enumerate(socks):
        s.settimeout(5)
        t.is_(s.recv(100), f"via tcp {i}".encode(), f"--tcp-listen: connection {i} echoed")
        s.shutdown(socket.SHUT_WR)
        t.is_(s.recv(100), b"", f"--tcp-listen: connection {i} closed after its FIN")
        s.close()
    time.sleep(0.3)
    msgs = srv.messages()
    t.is_(sorted(m["data"] for m in msgs), [f"via tcp {i}".encode().hex() for i in range(3)],
          "--tcp-listen: one WebSocket per local connection")
    t.is_({m["type"] for m in msgs}, {"binary"}, "--tcp-listen: binary messages")
    proc.proc.send_signal(signal.SIGINT)
    t.exits(proc.wait(5), 0, "--tcp-listen: SIGINT exits 0")


@t.test
def tcp_listen_port_in_use_and_reset_clients():
    srv = t.server("echo_server.py")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    r = t.run([srv.url, "--tcp-listen", str(busy.getsockname()[1])])
    t.exits(r, 3, "--tcp-listen on a port in use: exit 3")
    t.ok(len(r.err_lines) == 1 and "Address already in use" in r.err_lines[0],
         "--tcp-listen on a port in use: one line says why", str(r))
    busy.close()
    lport = t.free_port()
    proc = t.spawn([srv.url, "--tcp-listen", str(lport)])
    t.wait_listening(lport, 5, proc)
    s = socket.create_connection(("127.0.0.1", lport))
    s.sendall(os.urandom(1 << 20))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # a reset in the middle of the stream
    t.ok(t.wait_err(proc, r"connection 1 closed: 1011 \(internal error\) \"connection to "
                          r"127\.0\.0\.1:\d+ lost: (Connection reset by peer|Broken pipe)\""),
         "--tcp-listen, a local client that resets: its WebSocket closes with 1011 and why",
         proc.err)
    s = socket.create_connection(("127.0.0.1", lport))
    s.settimeout(5)
    s.sendall(b"next one")
    t.is_(s.recv(100), b"next one", "--tcp-listen, after a reset: the next client is served")
    s.close()
    proc.proc.send_signal(signal.SIGINT)
    t.exits(proc.wait(5), 0, "--tcp-listen, after a reset: SIGINT exits 0")


@t.test
def unix_listen_round_trip():
    srv = t.server("echo_server.py")
    path = t.tmpfile("local") + ".sock"
    proc = t.spawn([srv.url, "--unix-listen", path])
    end = time.monotonic() + 5
    while not os.path.exists(path) and time.monotonic() < end:
        time.sleep(0.02)
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(b"\x00over a unix socket\xff")
    s.settimeout(5)
    t.is_(s.recv(100), b"\x00over a unix socket\xff", "--unix-listen: bytes echoed through it")
    s.close()
    r = t.run([srv.url, "--unix-listen", path])
    t.exits(r, 3, "--unix-listen on a path that exists: exit 3")
    t.ok(b"it exists" in r.err, "--unix-listen on a path that exists: says so", r.err)
    proc.proc.send_signal(signal.SIGINT)
    t.exits(proc.wait(5), 0, "--unix-listen: SIGINT exits 0")
    t.ok(not os.path.exists(path), "--unix-listen: the socket file is removed at exit")


t.main()
