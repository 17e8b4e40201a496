#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""How wsc ends when something else happens at the same moment: signals while connecting
or waiting to reconnect, a failing stdout, a wss:// connection cut, listen mode's exit
statuses. Each case checks the exit status and the one line on stderr that man/wsc.1
documents, and that wsc neither hangs nor spins.

Run as `/usr/bin/python3 tests/integration/endings.py` with WSC=/path/to/wsc.
"""

import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

sys.path.insert(0, t.HELPERS)
import wsframe  # noqa: E402

t.require_wsc()


def raw(*args):
    return t.server("raw_server.py", *args)



def cpu_seconds(proc):
    """User + system CPU time of a running process, from /proc."""
    with open(f"/proc/{proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- signals before the connection is open ------------------------------------------------

@t.test
def interrupted_while_connecting():
    # A listener whose backlog is full: the kernel leaves further connects pending.
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    fillers = []
    for _ in range(8):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(("127.0.0.1", port))
        fillers.append(f)
    time.sleep(0.2)
    proc = t.spawn(["--connect-timeout", "20", f"ws://127.0.0.1:{port}/"])
    time.sleep(0.8)
    pending = proc.proc.poll() is None
    started = time.monotonic()
    proc.proc.send_signal(signal.SIGINT)
    r = proc.wait(10)
    took = time.monotonic() - started
    what = "SIGINT while the TCP connect is pending"
    if not pending:
        t.skip(what, f"this kernel answered the connect at once: {r}")
    else:
        t.ok(r.code == 130 and took < 3, f"{what}: exit 130 at once",
             f"{r}\nafter {took:.2f} s")
        t.is_(r.err_lines, ["wsc: interrupted while connecting"], f"{what}: one line says so")
    for f in fillers:
        f.close()
    lsock.close()


@t.test
def interrupted_while_waiting_to_reconnect():
    port, srv = t.listen("--echo")
    client = t.spawn(["--reconnect", f"ws://127.0.0.1:{port}/"])
    client.proc.stdin.write(b"first\n")
    client.proc.stdin.flush()
    client.wait_out(lambda out: out == b"first\n", 5)
    srv.proc.kill()  # no close frame; the reconnection that follows is refused
    waiting = t.wait_err(client, r"attempt 2", 10) is not None
    client.proc.send_signal(signal.SIGINT)
    r = client.wait(5)
    what = "SIGINT while waiting to reconnect after a refused reconnection"
    t.ok(waiting, f"{what}: wsc was waiting", str(r))
    t.exits(r, 130, f"{what}: exit 130")
    t.ok(r.err_lines[-1:] == ["wsc: interrupted while waiting to reconnect"],
         f"{what}: the last line says so", str(r))


# ---- stdout fails ---------------------------------------------------------------------------

@t.test
def stdout_closed_sends_the_close_at_once():
    srv = raw("--text", "hello", "--after", "reply")
    r_fd, w_fd = os.pipe()
    os.close(r_fd)  # nobody reads: the first write fails with EPIPE
    started = time.monotonic()
    proc = subprocess.Popen([t.WSC, srv.url], stdin=subprocess.PIPE, stdout=w_fd,
                            stderr=subprocess.PIPE, env=t.child_env())
    os.close(w_fd)
    t.track(proc)
    try:  # stdin stays open: the failing stdout, not an EOF, ends the connection
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    took = time.monotonic() - started
    err = proc.stderr.read()
    proc.stdin.close()
    close = srv.wait_event(lambda e: e.get("event") == "close", 5)
    what = "stdout is a pipe nobody reads"
    t.ok(proc.returncode == 0 and took < 3,
         f"{what}: exit 0 without waiting out --close-timeout",
         f"exit {proc.returncode} after {took:.2f} s; stderr {err!r}")
    t.ok(close is not None and close.get("code") == 1001, f"{what}: the server gets 1001",
         str(close))


@t.test
def full_disk_is_an_error():
    if not os.path.exists("/dev/full"):
        t.skip("stdout on a full disk", "no /dev/full")
        return
    srv = raw("--same-packet", "--text", "hello", "--close", "1000")
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([t.WSC, "-w", "-1", srv.url], stdin=subprocess.DEVNULL,
                              stdout=full, stderr=subprocess.PIPE, env=t.child_env(),
                              timeout=10)
    err = proc.stderr.decode(errors="replace")
    what = "the last message and the close in one packet, stdout on a full disk"
    t.is_(proc.returncode, 1, f"{what}: exit 1")
    t.ok("cannot write output: No space left on device" in err, f"{what}: stderr says why",
         err)


@t.test
def listen_mode_stdout_closed():
    r_fd, w_fd = os.pipe()
    os.close(r_fd)
    proc = subprocess.Popen([t.WSC, "-l", "0"], stdin=subprocess.DEVNULL, stdout=w_fd,
                            stderr=subprocess.PIPE, env=t.child_env())
    os.close(w_fd)
    t.track(proc)
    line = proc.stderr.readline()
    port = int(re.search(rb":(\d+)", line).group(1))
    client = t.run([f"ws://127.0.0.1:{port}/"], input=b"hi\n", keep_stdin_open=True)
    try:
        code = proc.wait(5)
    except subprocess.TimeoutExpired:
        code = None
    what = "wsc -l with stdout a pipe nobody reads, a client sends a message"
    t.is_(code, 0, f"{what}: the server ends, exit 0")
    t.ok(client.code == 0 and "1001" in client.err.decode(),
         f"{what}: the client is closed with 1001", str(client))


# ---- timers during a close ------------------------------------------------------------------

@t.test
def keepalive_does_not_spin_while_closing():
    srv = raw("--after", "ignore-close")
    proc = t.spawn(["--ping-interval", "0.3", "--ping-timeout", "100", "--close-timeout", "3",
                    srv.url], b"", keep_stdin_open=False)
    time.sleep(2)
    cpu = cpu_seconds(proc.proc) if proc.proc.poll() is None else None
    r = proc.wait(10)
    t.ok(cpu is not None and cpu < 0.5,
         "--ping-interval while waiting for an unanswered close: the loop sleeps",
         f"{cpu} s of CPU in 2 s; {r}")
    t.exits(r, 1, "... and the close timeout still ends it, exit 1")


# ---- wss:// ---------------------------------------------------------------------------------

@t.test
def wss_connection_cut_is_a_lost_connection():
    if not shutil.which("openssl"):
        t.skip("a wss connection cut", "the openssl command is not installed")
        return
    cert, key = t.tmpfile("cert") + ".pem", t.tmpfile("key") + ".pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   capture_output=True, check=True, timeout=30)
    port, srv = t.listen("--cert", cert, "--key", key, "--echo")
    client = t.spawn(["--ca", cert, "--reconnect=1", f"wss://127.0.0.1:{port}/"])
    client.proc.stdin.write(b"over tls\n")
    client.proc.stdin.flush()
    client.wait_out(lambda out: out == b"over tls\n", 5)
    srv.proc.kill()  # TCP closes without close_notify and without a close frame
    r = client.wait(15)
    what = "a wss:// server killed mid-session"
    t.ok(any("connection lost: 1006" in line for line in r.err_lines),
         f"{what}: a lost connection (1006), not a TLS failure", str(r))
    t.ok(any("reconnecting in" in line for line in r.err_lines),
         f"{what}: --reconnect tries again", str(r))
    t.ok(not any("TLS" in line for line in r.err_lines), f"{what}: no TLS error", str(r))


@t.test
def listen_bad_certificate():
    bad = t.tmpfile("bad") + ".pem"
    with open(bad, "w") as f:
        f.write("not a certificate\n")
    r = t.run(["-l", "0", "--cert", bad, "--key", bad])
    t.exits(r, 3, "wsc -l with a certificate that cannot be read: exit 3 (TLS)")
    t.ok(len(r.err_lines) == 1 and "listening" not in r.err.decode(),
         "... one line, and no 'listening on' before it", str(r))


@t.test
def hangup_closes_cleanly():
    # ssh sends SIGHUP to its ProxyCommand (wsc -b URL) when the session ends, often
    # before wsc has read the end of its stdin: the server must still get a close.
    srv = t.server("echo_server.py")
    client = t.spawn(["-b", srv.url])  # stdin stays open
    connected = srv.wait_event(lambda e: e.get("event") == "connect", 5) is not None
    t.ok(connected, "SIGHUP case: wsc -b connected", str(client.err))
    time.sleep(0.2)
    client.proc.send_signal(signal.SIGHUP)
    r = client.wait(5)
    close = srv.wait_event(lambda e: e.get("event") == "close", 2)
    t.ok(close is not None and close.get("code") == 1000,
         "SIGHUP: wsc sends a close 1000, as for SIGINT", f"close event: {close}\n{r}")
    t.exits(r, 0, "SIGHUP: the close handshake done, exit 0")


# ---- listen mode's statuses -----------------------------------------------------------------

@t.test
def listen_twice_interrupted():
    port, srv = t.listen()
    sock, head, _ = wsframe.client_handshake(port)  # never answers the close
    t.ok(head.startswith("HTTP/1.1 101"), "a raw client completes the handshake", head)
    srv.proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    srv.proc.send_signal(signal.SIGINT)
    r = srv.wait(5)
    t.exits(r, 130, "wsc -l interrupted twice: exit 130")
    sock.close()


@t.test
def listen_interrupt_as_a_client_arrives():
    # The signal and the new connection come out of the same poll: no client is taken in.
    port, srv = t.listen()
    srv.proc.send_signal(signal.SIGSTOP)
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)  # waits in the backlog
    srv.proc.send_signal(signal.SIGINT)
    srv.proc.send_signal(signal.SIGCONT)
    r = srv.wait(5)
    t.ok(not r.timed_out and r.code == 0,
         "SIGINT as a client connects: wsc -l ends, exit 0", str(r))
    sock.close()


@t.test
def listen_bad_utf8_on_stdin():
    port, srv = t.listen()
    clients = [t.spawn(["-w", "-1", f"ws://127.0.0.1:{port}/"]) for _ in range(2)]
    t.ok(t.wait_err(srv, r"client 2 connected") is not None, "two clients connected", repr(srv.err))
    srv.proc.stdin.write(b"\xff\n")
    srv.proc.stdin.flush()
    r = srv.wait(10)
    what = "wsc -l, stdin not UTF-8 with two clients"
    t.exits(r, 1, f"{what}: exit 1")
    t.is_(sum("not valid UTF-8" in line for line in r.err_lines), 1,
          f"{what}: the error is said once", str(r))
    for c in clients:
        c.wait(5)


@t.test
def listen_out_of_descriptors_rests():
    def few_fds():
        resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))

    proc = subprocess.Popen([t.WSC, "-l", "0", "--echo"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=t.child_env(), preexec_fn=few_fds)
    t.track(proc)
    port = int(re.search(rb":(\d+)", proc.stderr.readline()).group(1))
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(30)]
    time.sleep(0.5)
    before = cpu_seconds(proc)
    time.sleep(1.5)
    used = cpu_seconds(proc) - before
    t.ok(used < 0.5, "wsc -l out of file descriptors: the accept loop rests",
         f"{used:.2f} s of CPU in 1.5 s")
    for s in idle:
        s.close()
    proc.kill()
    proc.wait()


if __name__ == "__main__":
    t.main()
