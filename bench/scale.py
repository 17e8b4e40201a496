#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Listen mode at scale: the same load (bench/load.c) against wsc and other servers.

    /usr/bin/python3 bench/scale.py                      # every server, 100 and 1,000 clients
    /usr/bin/python3 bench/scale.py --clients 100,1000,10000 --duration 3
    /usr/bin/python3 bench/scale.py --servers wsc,node --json scale.json
    /usr/bin/python3 bench/scale.py --fanout --clients 100,1000,10000

Three groups, each server started afresh on 127.0.0.1 for every client count:
- echo servers: `wsc -l 0 --echo`, Python websockets (bench/echo_python.py), Node ws
  (bench/server_node.js; ws from tests/node/node_modules);
- a process per client: `websocketd cat`, and `wsc -l 0 --exec cat` once `src/wsc --help`
  lists --exec;
- relays to a TCP echo (bench/tcpecho.c): websockify, `wsc -l 0 --forward`
  once `src/wsc --help` lists --forward, a socat TCP relay (raw TCP: load -r), and
  tcpecho itself (raw TCP, no relay: the floor).
With --fanout, the fan-out group instead: `wsc -l 0` and a Node ws broadcast server
(bench/server_node.js --fanout), each fed by a pipe from this driver, every line of which goes to
every client (load -m fanout): first --paced messages one at a time, then a flood.
Servers whose program is missing are left out with a note. Every load run is bounded
(load -t) and every server is killed at the end. Prints a Markdown table; --json keeps
every load result. Exits 1 when a run of wsc failed.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process; its port comes from its output (a regex) or was chosen."""

    def __init__(self, argv, port_from=None, port=None, env=None, stdin=subprocess.DEVNULL):
        # What is not read for the port goes to a file: a full pipe would stop the server.
        self.log = tempfile.TemporaryFile()
        out = subprocess.PIPE if port is None and port_from != "stderr" else self.log
        err = subprocess.PIPE if port_from == "stderr" else self.log
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=err,
                                     env=env, start_new_session=True)
        self.port = port
        stream = self.proc.stderr if port_from == "stderr" else self.proc.stdout
        if port is None:
            line = stream.readline().decode(errors="replace")
            m = re.search(r"(?:PORT |listening on 127\.0\.0\.1:)(\d+)", line)
            if not m:
                self.stop()
                raise RuntimeError("%s did not say its port: %r" % (argv[0], line))
            self.port = int(m.group(1))
        else:
            self.wait_port()

    def wait_port(self):
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nothing listens on port %d" % self.port)

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def wsc_help(wsc):
    try:
        return subprocess.run([wsc, "--help"], capture_output=True, timeout=5).stdout.decode()
    except OSError:
        return ""


def server_table(args, tcpecho_port):
    """name -> (group, how to start it, load options) for the servers this machine has."""
    wsc, help_text = args.wsc, wsc_help(args.wsc)
    node_env = dict(os.environ, NODE_PATH=os.path.join(TOP, "tests", "node", "node_modules"))
    most = str(max(args.clients))
    t = {}
    t["wsc"] = ("echo", lambda: Server([wsc, "-l", "0", "--echo", "-q", "--max-clients", most],
                                       port_from="stderr"), [])
    t["python-websockets"] = ("echo", lambda: Server([PYTHON, os.path.join(
        HERE, "echo_python.py")]), [])
    if shutil.which("node"):
        t["node-ws"] = ("echo", lambda: Server(["node", os.path.join(HERE, "server_node.js")],
                                               env=node_env), [])
    if re.search(r"--exec\b(?!ute)", help_text):
        t["wsc --exec cat"] = ("process", lambda: Server(
            [wsc, "-l", "0", "--exec", "cat", "-q", "--max-clients", most],
            port_from="stderr"), [])
    if shutil.which("websocketd"):
        def websocketd():
            p = free_port()
            return Server(["websocketd", "--address", "127.0.0.1", "--port", str(p),
                           "--loglevel", "fatal", "cat"], port=p)
        t["websocketd cat"] = ("process", websocketd, [])
    target = "127.0.0.1:%d" % tcpecho_port
    if re.search(r"--forward\b", help_text):
        t["wsc --forward"] = ("relay", lambda: Server(
            [wsc, "-l", "0", "--forward", target, "-q", "--max-clients", most],
            port_from="stderr"), ["-y"])
    if shutil.which("websockify"):
        def websockify():
            p = free_port()
            return Server(["websockify", "127.0.0.1:%d" % p, target], port=p)
        t["websockify"] = ("relay", websockify, ["-y"])
    if shutil.which("socat"):
        def socat():
            p = free_port()
            return Server(["socat", "TCP-LISTEN:%d,bind=127.0.0.1,fork,reuseaddr,backlog=4096"
                           % p, "TCP:" + target], port=p)
        t["socat (TCP relay)"] = ("relay", socat, ["-r"])
    t["tcpecho (no relay)"] = ("relay", None, ["-r"])
    return t


def fanout_table(args):
    """name -> how to start it, for the servers that send stdin to every client."""
    node_env = dict(os.environ, NODE_PATH=os.path.join(TOP, "tests", "node", "node_modules"))
    most = str(max(args.clients))
    pipe = subprocess.PIPE
    t = {"wsc": lambda: Server([args.wsc, "-l", "0", "-q", "--max-clients", most,
                                *args.wsc_arg], port_from="stderr", stdin=pipe)}
    if shutil.which("node"):
        t["node-ws"] = lambda: Server(["node", os.path.join(HERE, "server_node.js"), "--fanout"],
                                      env=node_env, stdin=pipe)
    return t


class Feeder:
    """Writes the fan-out messages into a server's stdin from a thread: message i is
    `%010d %020d ` (i, time.monotonic_ns() as it is written) and letters up to SIZE,
    as bench/load.c checks them; the paced ones one at a time, then the flood."""

    def __init__(self, stdin, size, paced, flood, gap):
        self.stdin, self.size, self.paced, self.flood, self.gap = stdin, size, paced, flood, gap
        self.tails = [bytes(97 + (j + k) % 26 for k in range(32, size)) + b"\n"
                      for j in range(26)]
        self.error = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def line(self, i):
        return b"%010d %020d " % (i, time.monotonic_ns()) + self.tails[i % 26]

    def run(self):
        try:
            for i in range(self.paced):
                self.stdin.write(self.line(i))
                self.stdin.flush()
                time.sleep(self.gap)
            i, end = self.paced, self.paced + self.flood
            per_write = max(1, 65536 // self.size)
            while i < end:
                n = min(per_write, end - i)
                self.stdin.write(b"".join(self.line(j) for j in range(i, i + n)))
                self.stdin.flush()
                i += n
        except (BrokenPipeError, ValueError, OSError) as exc:
            self.error = exc  # the server ended, or was stopped after a failed run


def run_fanout(args, load, rows):
    """The fan-out group; returns True when a run of wsc failed."""
    failed = False
    servers = fanout_table(args)
    wanted = args.servers.split(",") if args.servers else list(servers)
    for name in wanted:
        if name not in servers:
            print("note: %s has no fan-out server here; left out" % name, file=sys.stderr)
            continue
        for n in args.clients:
            flood = max(10, args.fanout_frames // n)
            gap = args.gap if args.gap is not None else 0.02 + 25e-6 * n
            print("running fan-out on %s with %d clients: %d paced, %d flood ..." % (
                name, n, args.paced, flood), file=sys.stderr, flush=True)
            srv = servers[name]()
            argv = [load, "-m", "fanout", "-n", str(n), "-M", str(args.paced + flood),
                    "-L", str(args.paced), "-s", str(args.size), "-d", "120",
                    "-p", str(srv.proc.pid), "-t", "240", "-c", "1000" if n > 1000 else "256"]
            if args.stall:
                argv += ["-S", str(args.stall), "-T", str(args.stall_sec)]
            argv.append(str(srv.port))
            try:
                p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                ready = p.stdout.readline()
                feeder = None
                if ready.startswith(b"ready "):
                    feeder = Feeder(srv.proc.stdin, args.size, args.paced, flood, gap)
                    feeder.thread.start()
                out, err = p.communicate(timeout=300)
                r = json.loads(out)
                r["argv"] = argv[:1] + ["..."] + argv[3:]
                if p.returncode != 0 and name.startswith("wsc"):
                    failed = True
            except (subprocess.TimeoutExpired, ValueError) as exc:
                p.kill()
                p.wait()
                r = {"error": "load failed: %s" % exc}
                failed = failed or name.startswith("wsc")
            finally:
                srv.stop()
            rows.append((name, n, r))
            time.sleep(1)
    return failed


def fanout_markdown(rows):
    out = ["| server | clients | connected | messages | frames | lost | bad | frames/s | "
           "reach all, p50 | p99 | flood p50 | flood p99 | clean closes | server private, "
           "idle | peak |",
           "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for name, n, r in rows:
        if "error" in r:
            out.append("| %s | %d | %s |" % (name, n, r["error"]) + " |" * 12)
            continue
        rss = r["server_rss_anon_kib"]

        def ms(key, has):
            return "%.1f ms" % (r[key] / 1000) if has else "n/a"
        paced, flood = r["paced"] > 0, r["messages"] > r["paced"]
        out.append("| %s | %d | %d | %d | %s | %d | %d | %s | %s | %s | %s | %s | %d | %s | %s |"
                   % (name, n, r["connected"], r["messages"], "{:,}".format(r["frames"]),
                      r["lost"], r["bad"], "{:,.0f}".format(r["frames_per_sec"]),
                      ms("reach_all_p50_us", paced), ms("reach_all_p99_us", paced),
                      ms("flood_reach_all_p50_us", flood), ms("flood_reach_all_p99_us", flood),
                      r["closed_clean"], fmt_kib(rss["idle"]), fmt_kib(rss["peak"])))
        if r.get("stalled"):
            out[-1] += " stall: %d clients %.1f s, the others got %s frames in it, %s in its " \
                "last second; the stalled ones %s |" % (
                    r["stalled"], r["stall_sec"], "{:,}".format(r["stall_others_frames"]),
                    "{:,}".format(r["stall_others_frames_last_sec"]),
                    r["stall_stalled_frames"])
    return "\n".join(out)


def fmt_kib(v):
    return "%.1f MiB" % (v / 1024) if v is not None and v >= 0 else "n/a"


def table(rows):
    out = ["| server | clients | connected | connects/s | round trips/s | p50 | p99 | clean "
           "closes | server private, idle | per client | peak | procs | Pss_Anon, idle | "
           "server alone, per client |",
           "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for name, n, r in rows:
        if "error" in r:
            out.append("| %s | %d | %s |" % (name, n, r["error"]) + " |" * 11)
            continue
        rss = r["server_rss_anon_kib"]
        per = ((rss["idle"] - rss["start"]) / r["connected"]
               if r["connected"] and rss["idle"] >= 0 and rss["start"] >= 0 else None)
        own = r.get("server_own_rss_anon_kib_idle", -1)
        own_per = ((own - rss["start"]) / r["connected"]
                   if r["connected"] and own >= 0 and rss["start"] >= 0 else None)
        out.append("| %s | %d | %d | %s | %s | %.1f ms | %.1f ms | %d | %s | %s | %s | %s | %s | %s |" % (
            name, n, r["connected"], "{:,.0f}".format(r["connects_per_sec"]),
            "{:,.0f}".format(r["round_trips_per_sec"]), r["p50_us"] / 1000,
            r["p99_us"] / 1000, r["closed_clean"], fmt_kib(rss["idle"]),
            "%.1f KiB" % per if per is not None else "n/a", fmt_kib(rss["peak"]),
            r.get("server_procs_idle", ""), fmt_kib(r.get("server_pss_anon_kib_idle")),
            "%.1f KiB" % own_per if own_per is not None else "n/a"))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wsc", default=os.path.join(TOP, "src", "wsc"))
    ap.add_argument("--clients", default="100,1000",
                    help="client counts for the echo servers (default 100,1000)")
    ap.add_argument("--others-at", type=int, default=1000,
                    help="client count for the process and relay groups (default 1000)")
    ap.add_argument("--servers", help="comma-separated names (default: all found)")
    ap.add_argument("--duration", type=float, default=3, help="echo phase, seconds")
    ap.add_argument("--size", type=int, default=64, help="message size")
    ap.add_argument("--json", help="write every result here")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--fanout", action="store_true",
                    help="the fan-out group instead: stdin to every client")
    ap.add_argument("--fanout-frames", type=int, default=2000000,
                    help="frames in the flood: messages = this / clients (default 2,000,000)")
    ap.add_argument("--paced", type=int, default=20,
                    help="fan-out: messages written one at a time before the flood")
    ap.add_argument("--gap", type=float,
                    help="fan-out: seconds between paced messages (0.02 + 25 us a client)")
    ap.add_argument("--stall", type=int, default=0,
                    help="fan-out: this many clients read nothing for --stall-sec")
    ap.add_argument("--stall-sec", type=float, default=5)
    ap.add_argument("--wsc-arg", action="append", default=[],
                    help="fan-out: an extra option for wsc (repeatable)")
    args = ap.parse_args()
    if args.fanout and args.size < 32:
        ap.error("--fanout needs --size of at least 32")
    args.clients = [int(x) for x in args.clients.split(",")]
    args.wsc = os.path.abspath(args.wsc)
    tmp = tempfile.mkdtemp(prefix="wsc-scale.")
    rows, failed = [], False
    tcpecho = None
    try:
        load, echo_bin = os.path.join(tmp, "load"), os.path.join(tmp, "tcpecho")
        cflags = [args.cc, "-O2", "-std=c11", "-Wall", "-Wextra"]
        subprocess.run([*cflags, os.path.join(HERE, "load.c"), "-lcrypto", "-o", load],
                       check=True)
        subprocess.run([*cflags, os.path.join(HERE, "tcpecho.c"), "-o", echo_bin], check=True)
        if args.fanout:
            failed = run_fanout(args, load, rows)
            print("# wsc listen mode: fan-out\n")
            print("%s; %d CPUs; Linux %s; %d-byte text messages, %d paced (%s apart), then "
                  "a flood of %s frames.\n" % (
                      time.strftime("%Y-%m-%d %H:%M:%S %z"), os.cpu_count(),
                      os.uname().release, args.size, args.paced,
                      "%g s" % args.gap if args.gap is not None else "0.02 s + 25 us a client",
                      "{:,}".format(args.fanout_frames)))
            print(fanout_markdown(rows))
            print("\nframes/s: frames of the flood received by all clients together, from "
                  "the write of its first message to the last arrival of its last. Reach "
                  "all: from a message's write into the server's stdin to its arrival at the "
                  "last client, for the paced messages and for the flood (where it is mostly "
                  "the queue in front). Lost: messages a client never got in order (must be "
                  "0); bad: changed, repeated or late. Server private: RssAnon, idle with "
                  "every client connected, and the largest during the fan-out.")
            if args.json:
                with open(args.json, "w") as f:
                    json.dump([{"server": a, "clients": b, "result": c} for a, b, c in rows],
                              f, indent=2)
                    f.write("\n")
            return 1 if failed else 0
        tcpecho = Server([echo_bin])
        servers = server_table(args, tcpecho.port)
        wanted = args.servers.split(",") if args.servers else list(servers)
        for name in wanted:
            if name not in servers:
                print("note: %s is not available here; left out" % name, file=sys.stderr)
                continue
            group, start, load_opts = servers[name]
            counts = args.clients if group == "echo" else [args.others_at]
            for n in counts:
                print("running %s with %d clients ..." % (name, n), file=sys.stderr, flush=True)
                srv = start() if start else None
                port = srv.port if srv else tcpecho.port
                pid = srv.proc.pid if srv else tcpecho.proc.pid
                argv = [load, "-n", str(n), "-d", str(args.duration), "-s", str(args.size),
                        "-p", str(pid), "-t", "150", "-c", "1000" if n > 1000 else "256",
                        *load_opts, str(port)]
                try:
                    p = subprocess.run(argv, capture_output=True, timeout=200)
                    r = json.loads(p.stdout)
                    r["argv"] = argv[:1] + ["..."] + argv[3:]
                    if p.returncode != 0 and name.startswith("wsc"):
                        failed = True
                except (subprocess.TimeoutExpired, ValueError) as exc:
                    r = {"error": "load failed: %s" % exc}
                    failed = failed or name.startswith("wsc")
                finally:
                    if srv:
                        srv.stop()
                rows.append((name, n, r))
                time.sleep(1)  # let TIME_WAIT and the scheduler settle between servers
        print("# wsc listen mode at scale\n")
        print("%s; %d CPUs; Linux %s; load: %d-byte text messages (binary for the "
              "WebSocket relays, raw bytes for socat and tcpecho), echo phase %g s.\n" % (
                  time.strftime("%Y-%m-%d %H:%M:%S %z"), os.cpu_count(), os.uname().release,
                  args.size, args.duration))
        print(table(rows))
        print("\nconnects/s: handshakes from the first connect() to the last 101. Round "
              "trips: each client sends a message and waits for its echo, over and over "
              "(p50 and p99 of those waits). Clean closes: close 1000 answered, then the "
              "server's TCP close. Server private: RssAnon of the server and its child "
              "processes with every client connected and idle (per client: above the "
              "server's start), and the largest while echoing; procs: how many processes that "
              "was; Pss_Anon: the same memory with pages that forked processes share "
              "copy-on-write counted once; server alone: the server's own RssAnon, idle, "
              "without its processes, above its start.")
        if args.json:
            with open(args.json, "w") as f:
                json.dump([{"server": a, "clients": b, "result": c} for a, b, c in rows], f,
                          indent=2)
                f.write("\n")
    finally:
        if tcpecho:
            tcpecho.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
