#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The options of scripts, expectations and recordings (--until, --count, --timeout,
-f, --record, --replay, --to): each value is checked before anything connects (exit 2
with one line naming the problem), and, until the run uses them, an option given is
refused as not implemented rather than ignored.

Run as `/usr/bin/python3 tests/integration/expectations.py` with WSC=/path/to/wsc.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

t.require_wsc()

# No server listens here: a run that tried to connect would say so (exit 3).
URL = "ws://127.0.0.1:9/"


def usage(args, want, name):
    r = t.run(args, timeout=5)
    t.exits(r, 2, name)
    t.ok(want.encode() in r.err, f"{name}: says {want!r}", str(r))


@t.test
def bad_values():
    usage(["--until", "x(", URL], "--until: bad pattern /x(/", "a malformed REGEX")
    usage(["--until", "(((x{99}){99}){99})", URL], "expands too much",
          "a REGEX too costly to compile")
    usage(["--until", "(a)\\1", URL], "back-references", "a back-reference")
    usage(["--count", "0", URL], "--count: bad number '0'", "--count 0")
    usage(["--timeout", "-1", URL], "--timeout: bad number of seconds", "a negative --timeout")
    usage(["--replay-speed", "x", "--replay", "r.jsonl", URL], "--replay-speed: bad speed",
          "a bad --replay-speed")
    usage(["--replay", "-", URL], "name a file", "--replay from stdin")


@t.test
def combinations():
    rec = t.tmpfile("rec")
    usage(["--record", rec, "--replay", rec, URL], "--replay and --record name the same file",
          "--replay and --record: one file")
    other = os.path.join(os.path.dirname(rec), ".", os.path.basename(rec))
    usage(["--record", other, "--replay", rec, URL], "name the same file",
          "--replay and --record: one file by two names")
    usage(["-l", "0", "--until", "x"], "client role", "--until with --listen")
    usage(["-l", "0", "-f", "s"], "client role", "--script with --listen")
    usage(["--to", "ws://127.0.0.1:9/x", URL], "needs --listen", "--to without --listen")
    usage(["--strict", URL], "--strict needs --replay", "--strict without --replay")
    usage(["--record-secrets", URL], "needs --record", "--record-secrets without --record")
    usage(["-f", "s", "--replay", "r", URL], "cannot be combined", "--script with --replay")


@t.test
def not_yet_run():
    rec = t.tmpfile("rec")
    for args, name in ((["--until", "ok"], "--until"), (["--count", "3"], "--count"),
                       (["--timeout", "1"], "--timeout"), (["-f", "s"], "--script"),
                       (["--record", rec], "--record"), (["--replay", rec], "--replay")):
        usage(args + [URL], f"{name} is not implemented yet", f"{name} is refused, not ignored")
    usage(["-l", "0", "--to", "ws://127.0.0.1:9/"], "--to is not implemented yet",
          "--to is refused, not ignored")


@t.test
def help_lists_them():
    r = t.run(["--help"])
    t.exits(r, 0, "--help")
    for name in ("--until REGEX", "--count N", "--timeout SEC", "-f, --script FILE",
                 "--record FILE", "--record-secrets", "--replay FILE", "--replay-speed X",
                 "--replay-client ID", "--strict", "--to URL", "7 an expectation not met"):
        t.ok(name.encode() in r.out, f"--help lists {name}", str(r.out[-300:]))


t.main()
