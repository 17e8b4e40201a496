#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Benchmark wsc against a raw-TCP baseline on 127.0.0.1.

Builds bench/peer.c, bench/measure.c and bench/floor.c into a temporary directory, starts
one peer per mode, then runs each workload several times, alternating wsc (against the
WebSocket peer) and a plain TCP client, nc or socat (against the same peer in --tcp mode),
and checks every run's output byte for byte. Prints a Markdown table of medians, each with
its ratio to raw TCP. The latency workload also runs floor.c twice (see bench/README.md):
the raw exchange alone, and after the OpenSSL calls a WebSocket handshake needs.

    /usr/bin/python3 bench/run.py [--wsc src/wsc] [--quick] [--json FILE]

Workloads (sizes shown for a full run; --quick divides them):
  latency  start, connect, handshake, one 64-byte message, its echo, close, exit
  small    100,000 lines of 64 bytes piped through an echo peer
  large    1,000 lines of 64 KiB through an echo peer
  recv     the peer sends 100,000 messages of 64 bytes; the client prints them
  huge     one 256 MiB binary message through an echo peer (sha256 checked)

Every child is killed after --timeout seconds; peers are stopped on exit. Nothing but
127.0.0.1 is used. Exit status: 0 when every run succeeded and was verified, 1 otherwise.
"""
import argparse
import hashlib
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MIB = 1 << 20


def content(i, size):
    """Message i of a peer `source` run: must match put_content() in peer.c."""
    alpha = "abcdefghijklmnopqrstuvwxyz"
    prefix = ""
    n = size
    if size >= 11:
        prefix = "%010d " % (i % 10**10)
        n = size - 11
    start = i % 26
    reps = (start + n) // 26 + 1
    return prefix + (alpha * reps)[start:start + n]


def write_file(path, chunks):
    """Write an iterable of byte strings; return (size, sha256 hex)."""
    h = hashlib.sha256()
    size = 0
    with open(path, "wb") as f:
        for c in chunks:
            f.write(c)
            h.update(c)
            size += len(c)
    return size, h.hexdigest()


def lines_file(path, count, size):
    def gen():
        batch = []
        for i in range(count):
            batch.append(content(i, size))
            batch.append("\n")
            if len(batch) >= 2048:
                yield "".join(batch).encode()
                batch = []
        yield "".join(batch).encode()
    return write_file(path, gen())


def random_file(path, size):
    rng = random.Random(6455)

    def gen():
        left = size
        while left > 0:
            n = min(left, 4 * MIB)
            yield rng.randbytes(n)
            left -= n
    return write_file(path, gen())


def file_digest(path):
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MIB)
            if not b:
                break
            h.update(b)
            size += len(b)
    return size, h.hexdigest()


def describe_mismatch(out_path, exp_path, is_lines):
    """Say where the output first differs from what was expected."""
    with open(out_path, "rb") as fo, open(exp_path, "rb") as fe:
        off = 0
        line = 1
        while True:
            a = fo.read(MIB)
            b = fe.read(MIB)
            if a == b:
                if not a:
                    return "identical?"
                off += len(a)
                line += a.count(b"\n")
                continue
            n = min(len(a), len(b))
            i = next((k for k in range(n) if a[k] != b[k]), n)
            where = off + i
            line += a[:i].count(b"\n")
            out_size = os.path.getsize(out_path)
            exp_size = os.path.getsize(exp_path)
            msg = "output %d bytes, expected %d; first difference at byte %d" % (
                out_size, exp_size, where)
            if is_lines:
                msg += " (line %d)" % line
            if out_size == exp_size + 1 and i == len(b) and a[i:i + 1] == b"\n":
                msg += "; output has one extra trailing newline"
            elif where == out_size:
                msg += "; output ends early"
            return msg


class Peer:
    """One bench peer process serving connections one at a time."""

    def __init__(self, binary, args, tmp):
        self.args = args
        self.err_path = os.path.join(tmp, "peer-%s.err" % "-".join(args).replace("/", "_"))
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen([binary, *args], stdout=subprocess.PIPE,
                                     stderr=self.err, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        m = re.fullmatch(r"PORT (\d+)\n", line)
        if not m:
            self.stop()
            raise RuntimeError("peer %s did not print its port (%r)" % (args, line))
        self.port = int(m.group(1))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()

    def stderr_tail(self, n=5):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace").strip().splitlines()[-n:]


def run_child(measure, argv, stdin_path, stdout_path, stderr_path, timeout, tmp):
    """Run argv under bench/measure with files for stdio; return its measurements."""
    res_path = os.path.join(tmp, "measure.out")
    limit = max(1, int(-(-timeout // 1)))
    with open(stdin_path, "rb") as fin, open(stdout_path, "wb") as fout, \
            open(stderr_path, "wb") as ferr:
        proc = subprocess.Popen([measure, res_path, str(limit), *argv], stdin=fin,
                                stdout=fout, stderr=ferr, start_new_session=True)
        try:
            rc = proc.wait(limit + 30)  # measure kills the command itself at the limit
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise RuntimeError("measure did not return: %s" % " ".join(argv))
        except BaseException:  # e.g. ^C: the client is in its own session, end it too
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    if rc != 0:
        raise RuntimeError("measure failed (%d) for %s" % (rc, " ".join(argv)))
    with open(res_path) as f:
        wall, user, sys_, rss, code, timed_out, anon, files = f.read().split()
    return {
        "wall": float(wall),
        "user": float(user),
        "sys": float(sys_),
        "cpu": float(user) + float(sys_),
        "maxrss_kib": int(rss),
        "rss_anon_kib": int(anon),
        "rss_file_kib": int(files),
        "rc": int(code),
        "timed_out": timed_out == "1",
    }


class Workload:
    def __init__(self, name, desc, messages, nbytes, reps, peer_ws, peer_tcp, wsc_args,
                 stdin, expected, is_lines):
        self.name = name
        self.desc = desc
        self.messages = messages
        self.nbytes = nbytes  # payload bytes moved in one direction
        self.reps = reps
        self.peer_ws = peer_ws
        self.peer_tcp = peer_tcp
        self.wsc_args = wsc_args
        self.stdin = stdin
        self.expected = expected  # (path, size, sha256)
        self.is_lines = is_lines


def make_workloads(args, tmp):
    q = args.quick
    n_small = 10_000 if q else 100_000
    n_large = 100 if q else 1_000
    n_recv = 10_000 if q else 100_000
    huge = 16 * MIB if q else 256 * MIB
    reps = args.reps
    wanted = args.workloads.split(",")
    out = []

    def lines(name, count, size):
        path = os.path.join(tmp, name)
        size_, digest = lines_file(path, count, size)
        return path, size_, digest

    if "latency" in wanted:
        one = lines("one.txt", 1, 64)
        out.append(Workload("latency", "connect, 1 x 64 B echo, close", 1, 64,
                            args.latency_reps, ["echo"], ["--tcp", "echo"], [], one[0], one,
                            True))
    if "small" in wanted:
        small = lines("small.txt", n_small, 64)
        out.append(Workload("small", "%d x 64 B lines echoed" % n_small, n_small,
                            n_small * 64, reps, ["echo"], ["--tcp", "echo"], [], small[0],
                            small, True))
    if "large" in wanted:
        large = lines("large.txt", n_large, 65536)
        out.append(Workload("large", "%d x 64 KiB lines echoed" % n_large, n_large,
                            n_large * 65536, reps, ["echo"], ["--tcp", "echo"], [], large[0],
                            large, True))
    if "recv" in wanted:
        # wsc prints each 64-byte message plus a newline; the TCP source sends lines of
        # 64 bytes plus a newline (SIZE 65), so both outputs must equal the same file.
        recv = lines("recv.txt", n_recv, 64)
        out.append(Workload("recv", "%d x 64 B messages from the peer" % n_recv, n_recv,
                            n_recv * 64, reps, ["source", str(n_recv), "64"],
                            ["--tcp", "source", str(n_recv), "65"], ["-w", "-1"],
                            os.devnull, recv, True))
    if "huge" in wanted:
        path = os.path.join(tmp, "huge.bin")
        size, digest = random_file(path, huge)
        out.append(Workload("huge", "1 x %d MiB binary message echoed" % (huge // MIB), 1,
                            huge, reps, ["echo"], ["--tcp", "echo"],
                            ["-b", "--chunk", str(huge), "--max-message", "0"], path,
                            (path, size, digest), False))
    unknown = set(wanted) - {"latency", "small", "large", "recv", "huge"}
    if unknown:
        sys.exit("run.py: unknown workload(s): %s" % ", ".join(sorted(unknown)))
    return out


def baseline_argv(tool, port):
    if tool == "nc":
        # -N: shut down the socket's write side at stdin EOF, then read until the
        # peer's EOF, the same "send everything, then drain" shape as wsc.
        return ["nc", "-N", "127.0.0.1", str(port)]
    return ["socat", "-t", "60", "-b", "262144", "-", "TCP:127.0.0.1:%s" % port]


# The latency workload also runs bench/floor.c against the raw-TCP peer, built twice:
# nc's exchange alone, and the same after the OpenSSL calls every handshake needs.
FLOORS = {"floor": "floor", "floor+sha1": "floor-sha1", "floor+sha1+libssl": "floor-sha1-ssl",
          "floor+openssl-default": "floor-openssl-default"}


def one_run(client, wl, peers, args, tmp):
    peer = peers["wsc" if client == "wsc" else "tcp"]
    out_path = os.path.join(tmp, "out-%s" % client)
    err_path = os.path.join(tmp, "err-%s" % client)
    if client == "wsc":
        argv = [args.wsc, *wl.wsc_args, *args.wsc_arg, "ws://127.0.0.1:%d/" % peer.port]
    elif client in FLOORS:
        argv = [os.path.join(tmp, FLOORS[client]), str(peer.port)]
    else:
        argv = baseline_argv(args.baseline, peer.port)
    r = run_child(args.measure, argv, wl.stdin, out_path, err_path, args.timeout, tmp)
    exp_path, exp_size, exp_digest = wl.expected
    problems = []
    if r["timed_out"]:
        problems.append("killed after %g s" % args.timeout)
    elif r["rc"] != 0:
        problems.append("exit status %d" % r["rc"])
    size, digest = file_digest(out_path)
    if (size, digest) != (exp_size, exp_digest):
        problems.append(describe_mismatch(out_path, exp_path, wl.is_lines))
    r["ok"] = not problems
    r["problem"] = "; ".join(problems)
    if problems:
        with open(err_path, "rb") as f:
            r["stderr_tail"] = f.read().decode(errors="replace").strip().splitlines()[-5:]
        r["peer_stderr_tail"] = peer.stderr_tail()
    os.unlink(out_path)
    return r


def percentile(values, p):
    s = sorted(values)
    k = max(0, -(-len(s) * p // 100) - 1)  # nearest rank
    return s[int(k)]


def summarize(runs, wl):
    good = [r for r in runs if r["ok"]]
    if not good:
        return {"ok_runs": 0, "runs": len(runs)}
    wall = statistics.median(r["wall"] for r in good)
    return {
        "ok_runs": len(good),
        "runs": len(runs),
        "wall_median": wall,
        "wall_p90": percentile([r["wall"] for r in good], 90),
        "cpu_median": statistics.median(r["cpu"] for r in good),
        "user_median": statistics.median(r["user"] for r in good),
        "sys_median": statistics.median(r["sys"] for r in good),
        "maxrss_kib_median": statistics.median(r["maxrss_kib"] for r in good),
        "rss_anon_kib_median": statistics.median(r["rss_anon_kib"] for r in good),
        "msgs_per_sec": wl.messages / wall,
        "mb_per_sec": wl.nbytes / wall / 1e6,
    }


def fmt_time(sec):
    ms = sec * 1000
    if ms < 10:
        return "%.2f ms" % ms
    if ms < 1000:
        return "%.1f ms" % ms
    return "%.2f s" % sec


def fmt_rate(v):
    if v >= 100:
        return "{:,.0f}".format(v)
    return "%.3g" % v


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return "%.2fx" % (a / b)


def table(results):
    rows = ["| workload | client | ok | wall median | wall p90 | msg/s | MB/s | CPU (user+sys)"
            " | peak RSS | private | wall vs tcp | CPU vs tcp | RSS vs tcp |",
            "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for wl, summ in results:
        base = summ.get("tcp", {})
        for client, s in summ.items():
            label = "tcp (%s)" % s.get("tool", "") if client == "tcp" else client
            ok = "%d/%d" % (s["ok_runs"], s["runs"])
            if s["ok_runs"] == 0:
                rows.append("| %s | %s | %s |" % (wl.name, label, ok) + " – |" * 10)
                continue
            rss = s["maxrss_kib_median"]
            rows.append("| %s | %s | %s | %s | %s | %s | %s | %s | %.1f MiB | %.2f MiB | %s | %s "
                        "| %s |" % (
                wl.name, label, ok, fmt_time(s["wall_median"]), fmt_time(s["wall_p90"]),
                fmt_rate(s["msgs_per_sec"]), fmt_rate(s["mb_per_sec"]),
                fmt_time(s["cpu_median"]), rss / 1024, s["rss_anon_kib_median"] / 1024,
                ratio(s["wall_median"], base.get("wall_median")),
                ratio(s["cpu_median"], base.get("cpu_median")),
                ratio(rss, base.get("maxrss_kib_median"))))
    return "\n".join(rows)


def tool_version(argv):
    try:
        p = subprocess.run(argv, capture_output=True, timeout=5, stdin=subprocess.DEVNULL)
        text = p.stdout.decode(errors="replace").strip().splitlines()
        return text[0] if p.returncode == 0 and text else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def parse_args():
    ap = argparse.ArgumentParser(
        description="Benchmark wsc against raw TCP on 127.0.0.1.",
        epilog="Workloads: latency, small, large, recv, huge. See bench/README.md.")
    ap.add_argument("--wsc", default=os.path.join(REPO, "src", "wsc"),
                    help="the wsc binary (default: src/wsc)")
    ap.add_argument("--wsc-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for every wsc run, before the URL (repeatable)")
    ap.add_argument("--baseline", choices=("nc", "socat"),
                    help="raw-TCP client (default: nc if installed, else socat)")
    ap.add_argument("--baseline-only", action="store_true",
                    help="measure only the raw-TCP baseline (no wsc needed)")
    ap.add_argument("--workloads", default="latency,small,large,recv,huge",
                    help="comma-separated subset (default: all)")
    ap.add_argument("--reps", type=int, default=5,
                    help="runs per client of each throughput workload (default 5)")
    ap.add_argument("--latency-reps", type=int, default=50,
                    help="runs per client of the latency workload (default 50)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="unrecorded runs per client before each workload (default 1)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke test: 10x fewer messages, a 16 MiB huge message, "
                         "2 reps, 10 latency reps")
    ap.add_argument("--timeout", type=float, default=300,
                    help="kill a client run after this many seconds (default 300)")
    ap.add_argument("--json", metavar="FILE", help="also write every run and summary as JSON")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"), help="C compiler for the peer")
    ap.add_argument("--tmpdir", help="where to put the peer and data files (default: $TMPDIR)")
    args = ap.parse_args()
    if args.quick:
        args.reps = min(args.reps, 2)
        args.latency_reps = min(args.latency_reps, 10)
    if args.reps < 1 or args.latency_reps < 1 or args.warmup < 0:
        ap.error("--reps and --latency-reps must be at least 1, --warmup at least 0")
    if not args.baseline:
        args.baseline = "nc" if shutil.which("nc") else "socat"
    if not shutil.which(args.baseline):
        ap.error("%s not found (Debian packages: netcat-openbsd, socat)" % args.baseline)
    if args.baseline == "nc":
        usage = subprocess.run(["nc", "-h"], capture_output=True).stderr.decode(errors="replace")
        if "OpenBSD" not in usage:
            ap.error("nc is not OpenBSD netcat (need -N); install netcat-openbsd or use "
                     "--baseline socat")
    if not args.baseline_only:
        args.wsc = os.path.abspath(args.wsc)
        if not os.access(args.wsc, os.X_OK):
            ap.error("%s is not an executable; build wsc first, pass --wsc PATH, "
                     "or use --baseline-only" % args.wsc)
    return args


def on_terminate(signum, frame):
    raise SystemExit(128 + signum)  # so that the finally clauses stop peers and clients


def main():
    signal.signal(signal.SIGTERM, on_terminate)
    signal.signal(signal.SIGHUP, on_terminate)
    args = parse_args()
    clients = ["tcp"] if args.baseline_only else ["wsc", "tcp"]
    tmp = tempfile.mkdtemp(prefix="wsc-bench.", dir=args.tmpdir)
    peers_by_args = {}
    failed = False
    try:
        peer_bin = os.path.join(tmp, "peer")
        args.measure = os.path.join(tmp, "measure")
        cflags = [args.cc, "-O2", "-std=c11", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra"]
        subprocess.run([*cflags, os.path.join(HERE, "peer.c"), "-lcrypto", "-o", peer_bin],
                       check=True)
        subprocess.run([*cflags, os.path.join(HERE, "measure.c"), "-o", args.measure],
                       check=True)
        floor_src = os.path.join(HERE, "floor.c")
        subprocess.run([*cflags, floor_src, "-o", os.path.join(tmp, FLOORS["floor"])],
                       check=True)
        subprocess.run([*cflags, "-DWITH_OPENSSL", floor_src, "-lcrypto",
                        "-o", os.path.join(tmp, FLOORS["floor+sha1"])], check=True)
        # the same, loading libssl as well, as any client that can speak TLS does
        subprocess.run([*cflags, "-DWITH_OPENSSL", floor_src, "-Wl,--no-as-needed", "-lssl",
                        "-lcrypto", "-o", os.path.join(tmp, FLOORS["floor+sha1+libssl"])],
                       check=True)
        subprocess.run([*cflags, "-DWITH_OPENSSL_DEFAULT", floor_src, "-lcrypto",
                        "-o", os.path.join(tmp, FLOORS["floor+openssl-default"])], check=True)
        workloads = make_workloads(args, tmp)
        meta = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "host": platform.node(),
            "kernel": platform.release(),
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
            "wsc": None if args.baseline_only else args.wsc,
            "wsc_version": None if args.baseline_only else tool_version([args.wsc, "--version"]),
            "wsc_extra_args": args.wsc_arg,
            "baseline": args.baseline,
            "baseline_argv": baseline_argv(args.baseline, "PORT"),
            "reps": args.reps,
            "latency_reps": args.latency_reps,
            "warmup": args.warmup,
            "quick": args.quick,
        }
        results = []
        for wl in workloads:
            wl_clients = clients + list(FLOORS) if wl.name == "latency" else clients
            peers = {}
            for client, pargs in (("wsc", wl.peer_ws), ("tcp", wl.peer_tcp)):
                if client not in clients:
                    continue
                key = tuple(pargs)
                if key not in peers_by_args:
                    peers_by_args[key] = Peer(peer_bin, pargs, tmp)
                peers[client] = peers_by_args[key]
            print("running %-8s (%s) ..." % (wl.name, wl.desc), file=sys.stderr, flush=True)
            for _ in range(args.warmup):
                for client in wl_clients:
                    one_run(client, wl, peers, args, tmp)
            runs = {c: [] for c in wl_clients}
            for rep in range(wl.reps):
                # Alternate the order so that no client always runs right after another.
                order = wl_clients if rep % 2 == 0 else wl_clients[::-1]
                for client in order:
                    r = one_run(client, wl, peers, args, tmp)
                    runs[client].append(r)
                    if not r["ok"]:
                        failed = True
                        if sum(not x["ok"] for x in runs[client]) == 1:
                            print("  %s run failed: %s" % (client, r["problem"]), file=sys.stderr)
                            for line in r.get("stderr_tail", []):
                                print("    stderr: " + line, file=sys.stderr)
                            for line in r.get("peer_stderr_tail", []):
                                print("    peer:   " + line, file=sys.stderr)
            summ = {c: summarize(runs[c], wl) for c in wl_clients}
            if "tcp" in summ:
                summ["tcp"]["tool"] = args.baseline
            results.append((wl, summ, runs))

        print("# wsc benchmark\n")
        print("%s; %s CPUs (%s); Linux %s; wsc: %s; baseline: `%s`; medians of %d runs "
              "(latency: %d), alternating clients, after %d warm-up run(s).\n" % (
                  meta["date"], meta["cpus"], meta["cpu"], meta["kernel"],
                  "not run" if args.baseline_only else "`%s` (%s)" % (
                      meta["wsc"], meta["wsc_version"] or "no --version"),
                  " ".join(meta["baseline_argv"]), args.reps, args.latency_reps, args.warmup))
        print(table([(wl, s) for wl, s, _ in results]))
        print("\nMB/s counts message payload in one direction (10^6 bytes). CPU is user+sys "
              "of the client process; peak RSS is its ru_maxrss; private is the largest "
              "RssAnon that /proc/PID/status showed while it ran (sampled every 0.5 ms). "
              "Every run's output was "
              "compared byte for byte (sha256) with what was sent; 'ok' counts the runs "
              "that passed.")
        if args.json:
            doc = {"meta": meta, "workloads": [{
                "name": wl.name, "description": wl.desc, "messages": wl.messages,
                "payload_bytes": wl.nbytes, "wsc_args": wl.wsc_args,
                "peer_args": {"wsc": wl.peer_ws, "tcp": wl.peer_tcp},
                "summary": summ, "runs": runs} for wl, summ, runs in results]}
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=2)
                f.write("\n")
    finally:
        for p in peers_by_args.values():
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
