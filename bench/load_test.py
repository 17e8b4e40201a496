#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Check bench/load.c against independent servers before trusting its numbers.

Builds the load tool (and bench/tcpecho.c) into a temporary directory, then runs it
against servers written here with Python's `websockets` library (Debian's
python3-websockets, hence /usr/bin/python3) and raw asyncio sockets, each of which
counts what it saw: every count the tool prints is compared with the server's own.
Servers that get things wrong (a changed byte, a wrong Sec-WebSocket-Accept, a lost
close) must show up as failures. Only 127.0.0.x; exits 0 when all pass.

    /usr/bin/python3 bench/load_test.py [--load PATH] [--tcpecho PATH]
"""
import argparse
import asyncio
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
FAILURES = []
LOAD = None


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


async def run_load(port, *args):
    """Runs the load tool; returns (exit status, its JSON)."""
    proc = await asyncio.create_subprocess_exec(
        LOAD, *args, str(port), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    try:
        res = json.loads(out)
    except ValueError:
        res = {}
        print("     load printed: %r %r" % (out[:300], err[:300]))
    return proc.returncode, res


class Counts:
    def __init__(self):
        self.echoed = 0
        self.close_codes = []
        self.peers = set()
        self.pongs = 0


def echo_server(counts, mutate=None, split=False, fragment=False, ping=False):
    """A websockets handler that echoes and counts; mutate(i, msg) may change echo i."""
    async def handler(ws, path=None):
        counts.peers.add(ws.remote_address[0])
        if ping:
            pong = await ws.ping(b"from the server")
            await asyncio.wait_for(pong, 5)
            counts.pongs += 1
        try:
            async for msg in ws:
                i = counts.echoed
                counts.echoed += 1
                out = mutate(i, msg) if mutate else msg
                if split:
                    await ws.send(out[:10])
                    await ws.send(out[10:])
                elif fragment:
                    await ws.send([out[:7], out[7:]])
                else:
                    await ws.send(out)
        except websockets.ConnectionClosed:
            pass
        await ws.wait_closed()
        counts.close_codes.append(ws.close_code)
    return handler


async def with_server(handler, fn):
    async with websockets.serve(handler, "127.0.0.1", 0, compression=None) as srv:
        port = srv.sockets[0].getsockname()[1]
        return await fn(port)


async def plain_echo():
    c = Counts()

    async def go(port):
        return await run_load(port, "-n", "20", "-d", "1", "-p", str(os.getpid()))
    rc, r = await with_server(echo_server(c), go)
    check(rc == 0, "echo: exit 0")
    check(r.get("connected") == 20 and r.get("failed") == 0, "echo: 20 clients connected, none "
          "failed (%s, %s)" % (r.get("connected"), r.get("failed")))
    check(r.get("round_trips", 0) > 0 and r.get("round_trips") == c.echoed,
          "echo: round trips counted (%s) = messages the server echoed (%d)" % (
              r.get("round_trips"), c.echoed))
    check(r.get("bad_echoes") == 0, "echo: no bad echo")
    check(r.get("closed_clean") == 20 and c.close_codes == [1000] * 20,
          "echo: 20 clean closes, the server saw 1000 on each (%s)" % sorted(set(
              c.close_codes)))
    rss = r.get("server_rss_anon_kib", {})
    check(all(rss.get(k, 0) > 0 for k in ("start", "idle", "peak", "end")),
          "echo: the server's RssAnon is read (%s)" % rss)
    check(r.get("p50_us", 0) > 0 and r.get("p99_us", 0) >= r.get("p50_us", 0),
          "echo: p50 %s us <= p99 %s us" % (r.get("p50_us"), r.get("p99_us")))


async def binary_and_sizes():
    for size in (0, 1, 125, 126, 65535, 65536, 200000):
        c = Counts()
        seen = []

        def keep(i, msg):
            seen.append(msg)
            return msg

        async def go(port):
            return await run_load(port, "-n", "3", "-d", "0.3", "-y", "-s", str(size))
        rc, r = await with_server(echo_server(c, mutate=keep), go)
        good = (rc == 0 and r.get("round_trips") == c.echoed > 0 and
                all(isinstance(m, bytes) and len(m) == size for m in seen))
        check(good, "binary, %d bytes: exit 0, every message binary of that size, round trips "
              "= echoes (%s = %d)" % (size, r.get("round_trips"), c.echoed))


async def connect_mode():
    c = Counts()

    async def go(port):
        return await run_load(port, "-n", "50", "-m", "connect")
    rc, r = await with_server(echo_server(c), go)
    check(rc == 0 and r.get("connected") == 50 and r.get("round_trips") == 0 and c.echoed == 0,
          "connect mode: 50 connected, no message sent")
    check(r.get("closed_clean") == 50 and len(c.close_codes) == 50,
          "connect mode: 50 clean closes")


async def bad_echoes():
    c = Counts()

    def corrupt(i, msg):
        if i % 5 == 0:
            return msg[:3] + ("Z" if msg[3] != "Z" else "Y") + msg[4:]
        return msg

    async def go(port):
        return await run_load(port, "-n", "4", "-d", "0.5")
    rc, r = await with_server(echo_server(c, mutate=corrupt), go)
    want = (c.echoed + 4) // 5
    check(rc == 1 and r.get("bad_echoes") == want,
          "a changed byte in every 5th echo: exit 1, %s bad echoes counted of %d" % (
              r.get("bad_echoes"), want))

    c2 = Counts()

    async def go2(port):
        return await run_load(port, "-n", "4", "-d", "0.5")
    rc, r = await with_server(echo_server(c2, mutate=lambda i, m: m + "x"), go2)
    check(rc == 1 and r.get("bad_echoes", 0) > 0, "an echo one byte too long: bad echoes")


async def split_and_fragmented():
    for kind in ("split", "fragment"):
        c = Counts()

        async def go(port):
            return await run_load(port, "-n", "5", "-d", "0.5")
        rc, r = await with_server(echo_server(c, **{kind: True}), go)
        check(rc == 0 and r.get("round_trips") == c.echoed > 0 and r.get("bad_echoes") == 0,
              "echo %s: one round trip per message sent (%s = %d)" % (
                  "in two messages" if kind == "split" else "in two frames",
                  r.get("round_trips"), c.echoed))


async def server_ping():
    c = Counts()

    async def go(port):
        return await run_load(port, "-n", "5", "-d", "0.3")
    rc, r = await with_server(echo_server(c, ping=True), go)
    check(rc == 0 and c.pongs == 5, "a ping from the server is answered with a pong (%d/5)" %
          c.pongs)


async def source_addresses():
    c = Counts()

    async def go(port):
        return await run_load(port, "-n", "9", "-m", "connect", "-b", "3")
    rc, r = await with_server(echo_server(c), go)
    check(rc == 0 and c.peers == {"127.0.0.1", "127.0.0.2", "127.0.0.3"},
          "-b 3: clients come from 127.0.0.1, .2 and .3 (%s)" % sorted(c.peers))


async def wrong_accept():
    async def handle(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        key = re.search(rb"Sec-WebSocket-Key: (\S+)", head).group(1)
        accept = base64.b64encode(hashlib.sha1(key + b"x").digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        await writer.drain()
        await reader.read()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    rc, r = await run_load(port, "-n", "5", "-d", "0.2")
    srv.close()
    check(rc == 1 and r.get("connected") == 0 and r.get("refused") == 5,
          "a wrong Sec-WebSocket-Accept: every client refused, exit 1")


async def no_close_reply():
    """A server that drops the TCP connection instead of answering the close."""
    async def handler(ws, path=None):
        try:
            async for msg in ws:
                await ws.send(msg)
        except websockets.ConnectionClosed:
            pass
    async with websockets.serve(handler, "127.0.0.1", 0, compression=None) as srv:
        port = srv.sockets[0].getsockname()[1]
        rc, r = await run_load(port, "-n", "3", "-d", "0.2")
        check(rc == 0 and r.get("closed_clean") == 3, "control: a normal server closes cleanly")

    async def rude(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        key = re.search(rb"Sec-WebSocket-Key: (\S+)", head).group(1)
        accept = base64.b64encode(hashlib.sha1(
            key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        await writer.drain()
        await reader.read(2)  # the first bytes of the close frame: hang up
        writer.close()

    srv = await asyncio.start_server(rude, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    rc, r = await run_load(port, "-n", "3", "-m", "connect")
    srv.close()
    check(rc == 1 and r.get("closed_clean") == 0 and r.get("lost") == 3,
          "a server that drops TCP instead of answering the close: no clean close, exit 1")


def fanout_message(i, size=64):
    """Message i as the load tool's fan-out mode expects it (see bench/load.c)."""
    head = b"%010d %020d " % (i, time.monotonic_ns())
    return head + bytes(97 + (i + k) % 26 for k in range(len(head), size))


async def fanout_run(n, messages, load_args=(), change=None, fragment=False, size=64):
    """A websockets server that sends every message to every client once the load tool
    says "ready"; change(client, i, msg) returns the list of messages that client gets
    instead (none, one, several). Returns (exit status, JSON, messages sent)."""
    clients = []
    sent = [0]

    async def handler(ws, path=None):
        clients.append(ws)
        try:
            await ws.wait_closed()
        except websockets.ConnectionClosed:
            pass

    async with websockets.serve(handler, "127.0.0.1", 0, compression=None) as srv:
        port = srv.sockets[0].getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            LOAD, "-m", "fanout", "-n", str(n), "-M", str(messages), "-s", str(size),
            "-d", "30", "-p", str(os.getpid()), *load_args, str(port),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready = await asyncio.wait_for(proc.stdout.readline(), 60)
        check(ready == b"ready %d\n" % n, "fanout: the tool says ready with %d clients (%r)" % (
            n, ready))
        for i in range(messages):
            msg = fanout_message(i, size).decode()
            for k, ws in enumerate(list(clients)):
                for m in (change(k, i, msg) if change else [msg]):
                    await ws.send([m[:20], m[20:]] if fragment else m)
                    sent[0] += 1
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    try:
        res = json.loads(out)
    except ValueError:
        res = {}
        print("     load printed: %r %r" % (out[:300], err[:300]))
    return proc.returncode, res, sent[0]


async def fanout():
    rc, r, sent = await fanout_run(10, 200, ("-L", "20"))
    check(rc == 0 and r.get("frames") == sent == 2000 and r.get("lost") == 0 and
          r.get("bad") == 0, "fanout: 10 clients x 200 messages, every frame counted (%s of "
          "%d), none lost or bad, exit 0" % (r.get("frames"), sent))
    check(r.get("frames_least") == r.get("frames_most") == 200,
          "fanout: each client got 200 (%s..%s)" % (r.get("frames_least"),
                                                    r.get("frames_most")))
    check(r.get("flood_frames") == 1800 and r.get("frames_per_sec", 0) > 0,
          "fanout: 1800 frames in the flood after 20 paced (%s), a rate" % r.get(
              "flood_frames"))
    wait_us = r.get("wait_sec", 0) * 1e6
    check(0 < r.get("reach_all_p50_us", 0) <= r.get("reach_all_p99_us", 0) <= wait_us and
          0 < r.get("flood_reach_all_p50_us", 0) <= r.get("flood_reach_all_p99_us", 0) <=
          wait_us, "fanout: 0 < p50 <= p99 <= the wait (%s, %s, %s, %s us): one clock" % (
              r.get("reach_all_p50_us"), r.get("reach_all_p99_us"),
              r.get("flood_reach_all_p50_us"), r.get("flood_reach_all_p99_us")))
    check(r.get("closed_clean") == 10, "fanout: 10 clean closes")
    rss = r.get("server_rss_anon_kib", {})
    check(rss.get("peak", 0) >= rss.get("idle", 0) > 0, "fanout: the server's RssAnon is read")

    rc, r, sent = await fanout_run(4, 50, fragment=True, size=100)
    check(rc == 0 and r.get("frames") == 200 and r.get("lost") == 0 and r.get("bad") == 0,
          "fanout: messages in two frames, 100 bytes: 200 frames, none lost or bad")

    # what a client gets instead of message i
    cases = [
        ("one message dropped for one client", lambda k, i, m: [] if (k, i) == (2, 7) else [m],
         1, 0),
        ("one message sent twice to one client",
         lambda k, i, m: [m, m] if (k, i) == (1, 3) else [m], 0, 1),
        ("a changed byte", lambda k, i, m: [m[:40] + "?" + m[41:]] if (k, i) == (0, 5)
         else [m], 1, 1),
        ("a message cut short", lambda k, i, m: [m[:-1]] if (k, i) == (3, 9) else [m], 1, 1),
        ("a binary message instead of text",
         lambda k, i, m: [m.encode()] if (k, i) == (1, 2) else [m], 1, 1),
    ]
    for what, change, lost, bad in cases:
        rc, r, sent = await fanout_run(4, 20, change=change)
        check(rc == 1 and r.get("lost") == lost and r.get("bad") == bad,
              "fanout, %s: exit 1, %d lost and %d bad (%s, %s)" % (
                  what, lost, bad, r.get("lost"), r.get("bad")))

    swapped = {}

    def swap(k, i, m):
        # messages 4 and 5 reach client 0 in the wrong order
        if k == 0 and i == 4:
            swapped["4"] = m
            return []
        if k == 0 and i == 5:
            return [m, swapped["4"]]
        return [m]
    rc, r, sent = await fanout_run(3, 10, change=swap)
    check(rc == 1 and r.get("lost") == 1 and r.get("bad") == 1,
          "fanout, two messages swapped: exit 1, the late one lost and bad (%s, %s)" % (
              r.get("lost"), r.get("bad")))

    rc, r, sent = await fanout_run(5, 30, ("-S", "2", "-T", "1"))
    check(rc == 0 and r.get("frames") == 150 and r.get("lost") == 0 and
          r.get("stalled") == 2 and r.get("stall_stalled_frames") == 0 and
          r.get("stall_others_frames", -1) <= 90,
          "fanout, 2 clients stalled for 1 s: they read nothing then (%s), every message "
          "reached every client in the end (%s of 150)" % (r.get("stall_stalled_frames"),
                                                          r.get("frames")))


def raw_tests(tcpecho):
    p = subprocess.Popen([tcpecho], stdout=subprocess.PIPE)
    try:
        port = int(re.fullmatch(r"PORT (\d+)\n", p.stdout.readline().decode()).group(1))
        rc, r = asyncio.run(run_load(port, "-r", "-n", "30", "-d", "0.5", "-s", "1000"))
        check(rc == 0 and r.get("round_trips", 0) > 0 and r.get("closed_clean") == 30 and
              r.get("bad_echoes") == 0, "raw TCP against tcpecho: exit 0, round trips, 30 "
              "clean closes (%s)" % {k: r.get(k) for k in ("round_trips", "closed_clean")})
    finally:
        p.kill()
        p.wait()

    async def extra(reader, writer):
        while data := await reader.read(65536):
            writer.write(data + b"!")
            await writer.drain()
        writer.close()

    async def go():
        srv = await asyncio.start_server(extra, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        res = await run_load(port, "-r", "-n", "3", "-d", "0.3")
        srv.close()
        return res
    rc, r = asyncio.run(go())
    check(rc == 1 and r.get("bad_echoes", 0) > 0, "raw TCP, a byte too many in each echo: bad "
          "echoes, exit 1")


def main():
    global LOAD
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--load", help="a built load tool (default: build bench/load.c)")
    ap.add_argument("--tcpecho", help="a built tcpecho (default: build bench/tcpecho.c)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="wsc-load-test.") as tmp:
        cc = os.environ.get("CC", "cc")
        LOAD = args.load or os.path.join(tmp, "load")
        tcpecho = args.tcpecho or os.path.join(tmp, "tcpecho")
        if not args.load:
            subprocess.run([cc, "-O2", "-std=c11", "-Wall", "-Wextra", os.path.join(
                HERE, "load.c"), "-lcrypto", "-o", LOAD], check=True)
        if not args.tcpecho:
            subprocess.run([cc, "-O2", "-std=c11", "-Wall", "-Wextra", os.path.join(
                HERE, "tcpecho.c"), "-o", tcpecho], check=True)
        for t in (plain_echo, binary_and_sizes, connect_mode, bad_echoes, split_and_fragmented,
                  server_ping, source_addresses, wrong_accept, no_close_reply, fanout):
            asyncio.run(t())
        raw_tests(tcpecho)
    print("%d failure(s)" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
