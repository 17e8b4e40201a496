#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""websockify (Debian's, the server noVNC talks to) as a real peer for wsc's client
side: websockify 127.0.0.1:P 127.0.0.1:ECHO stands in front of a TCP echo service of
the test's own, and
  - wsc -b ws://127.0.0.1:P/ pipes bytes through it to the echo and back;
  - wsc ws://127.0.0.1:P/ --tcp-listen LPORT joins raw TCP clients to it, so bytes
    cross two bridges (TCP to WebSocket in wsc, WebSocket to TCP in websockify).
Every byte comes back exactly, either side may end first, each ending is a close
1000 and an exit 0. Skipped when websockify is not installed.
"""

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

sys.path.insert(0, t.HELPERS)
from tcp_echo import TcpEcho  # noqa: E402

t.require_wsc()
WEBSOCKIFY = shutil.which("websockify")
if not WEBSOCKIFY:
    t.skip_all("websockify is not installed (bootstrap installs Debian's websockify)")


class Websockify:
    """websockify 127.0.0.1:PORT 127.0.0.1:TARGET, in a process group of its own
    (it forks a process per client), with its log kept."""

    def __init__(self, target):
        self.port = t.free_port()
        self.log_path = t.tmpfile("websockify-log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([WEBSOCKIFY, f"127.0.0.1:{self.port}",
                                          f"127.0.0.1:{target}"],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True, env=t.child_env())
        t.track(self)
        if not t.wait_listening(self.port, 15):
            self.kill()
            raise RuntimeError(f"websockify did not listen on {self.port}\n{self.log()}")
        self.url = f"ws://127.0.0.1:{self.port}/"

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return "websockify:\n" + f.read()[-3000:]

    def kill(self):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                pass


def exchange(port, blob, shutdown_after=True, timeout=20):
    """A raw TCP client on port: sends blob while reading. With shutdown_after,
    sends its FIN once every byte is back; then reads to the end. Returns (bytes
    read before the end, whether the end came within timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sender = threading.Thread(target=s.sendall, args=(blob,), daemon=True)
    sender.start()
    back = bytearray()
    ended = False
    try:
        while len(back) < len(blob):
            chunk = s.recv(1 << 16)
            if not chunk:
                return bytes(back), True
            back += chunk
        if shutdown_after:
            s.shutdown(socket.SHUT_WR)
        ended = s.recv(1) == b""
    except OSError:
        pass
    finally:
        sender.join(timeout)
        s.close()
    return bytes(back), ended


def stop_front(front, connections):
    """SIGINT to wsc --tcp-listen once it has logged the end of its connections."""
    end = time.monotonic() + 5
    while (len(re.findall(rb"connection \d+ closed", front.err)) < connections
           and time.monotonic() < end):
        time.sleep(0.02)
    front.proc.send_signal(signal.SIGINT)
    r = front.wait(10)
    t.exits(r, 0, "wsc --tcp-listen: SIGINT, exit 0")
    t.is_(r.err_lines[-1:], ["wsc: closing (interrupt again to quit at once)"],
          "wsc --tcp-listen: SIGINT with no connection open says it is closing "
          "(no opening handshake was under way)", str(r))


def digest(b):
    return hashlib.sha256(b).hexdigest()


@t.test
def pipe_through_websockify():
    size = 3 * 1024 * 1024
    echo = t.track(TcpEcho(limit=size))
    wsf = Websockify(echo.port)
    blob = os.urandom(size)
    # -w -1: at the end of stdin wsc waits for the server's close, which comes
    # when the echo service has sent everything back and closed.
    r = t.run(["-b", "-w", "-1", wsf.url], input=blob, timeout=30)
    diag = f"{r}\n{wsf.log()}"
    t.exits(r, 0, "wsc -b through websockify: exit 0")
    t.ok(digest(r.out) == digest(blob),
         "wsc -b through websockify to a TCP echo: 3 MiB byte-exact",
         f"{len(r.out)} bytes back\n{diag}")
    t.ok(re.search(rb"closed by server: 1000", r.err),
         "the TCP service's end is websockify's close 1000", diag)
    t.is_(echo.counts, [size], "one TCP connection behind websockify, every byte reached it")


@t.test
def pipe_ends_first():
    echo = t.track(TcpEcho())
    wsf = Websockify(echo.port)
    # No -w: at the end of stdin wsc closes at once; websockify answers 1000.
    r = t.run(["-b", wsf.url], input=b"\x00\x01\x02 through websockify \xff", timeout=15)
    t.exits(r, 0, "wsc -b closes first at the end of its stdin: websockify agrees, exit 0")
    end = time.monotonic() + 5
    while not echo.counts and time.monotonic() < end:
        time.sleep(0.02)
    t.is_(len(echo.counts), 1, "websockify closes its TCP connection after wsc's close",
          wsf.log())


@t.test
def tcp_listen_in_front_of_websockify():
    echo = t.track(TcpEcho())
    wsf = Websockify(echo.port)
    lport = t.free_port()
    front = t.spawn([wsf.url, "--tcp-listen", str(lport)])
    if not t.wait_listening(lport, 5, front):
        t.ok(False, "wsc --tcp-listen listens", str(front.wait(1)))
        return
    blobs = [os.urandom(1024 * 1024 + i * 4099) for i in range(3)]
    results = [None] * len(blobs)

    def client(i):
        results[i] = exchange(lport, blobs[i])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(blobs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(40)
    diag = front.err.decode("utf-8", "replace") + "\n" + wsf.log()
    for i, (blob, res) in enumerate(zip(blobs, results)):
        back, ended = res or (b"", False)
        t.ok(digest(back) == digest(blob),
             f"TCP client {i} through wsc --tcp-listen and websockify: "
             f"{len(blob)} bytes echoed byte-exact", f"{len(back)} bytes back\n{diag}")
        t.ok(ended, f"TCP client {i}: its FIN ends the WebSocket, then its connection", diag)
    end = time.monotonic() + 5
    while len(echo.counts) < len(blobs) and time.monotonic() < end:
        time.sleep(0.02)
    t.is_(sorted(echo.counts), sorted(len(b) for b in blobs),
          "a WebSocket and a TCP connection behind websockify for each TCP client", diag)
    stop_front(front, len(blobs))


@t.test
def tcp_listen_service_ends_first():
    size = 512 * 1024
    echo = t.track(TcpEcho(limit=size))
    wsf = Websockify(echo.port)
    lport = t.free_port()
    front = t.spawn([wsf.url, "--tcp-listen", str(lport)])
    if not t.wait_listening(lport, 5, front):
        t.ok(False, "wsc --tcp-listen listens", str(front.wait(1)))
        return
    blob = os.urandom(size)
    back, ended = exchange(lport, blob, shutdown_after=False)
    diag = front.err.decode("utf-8", "replace") + "\n" + wsf.log()
    t.ok(digest(back) == digest(blob), "the service ends first: every byte came back first",
         f"{len(back)} bytes back\n{diag}")
    t.ok(ended, "the service's end (websockify's close) ends the local TCP connection", diag)
    stop_front(front, 1)


t.main()
