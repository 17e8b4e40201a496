# SPDX-License-Identifier: MIT
"""A tiny TAP library for wsc's integration tests (stdlib only).

    import wsctest as t

    @t.test
    def echo_two_lines():
        srv = t.server("echo_server.py")
        r = t.run([srv.url], input=b"a\\nb\\n")
        t.exits(r, 0, "two lines: exit 0")
        t.is_(r.out, b"a\\nb\\n", "two lines: stdout")

    t.main()

Every test function runs in order; an exception in one is reported as a failure and
the next one runs. Servers and wsc processes started during a test are killed when the
test ends (and at exit, whatever happens). Output is TAP: "ok N - name",
"not ok N - name", "# diagnostics", and the plan "1..N" at the end; the exit status is
1 when anything failed. wsc is os.environ["WSC"], or ../../src/wsc from this file.
"""

import atexit
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
HELPERS = os.path.normpath(os.path.join(HERE, "..", "helpers"))
PYTHON = sys.executable
WSC = os.environ.get("WSC") or os.path.normpath(os.path.join(HERE, "..", "..", "src", "wsc"))

_count = 0
_failed = 0
_tests = []
_live = []          # processes to kill at the end of the current test
_tmpdir = None


# ---- TAP ----

def diag(msg):
    text = str(msg)
    for line in text.splitlines() or [""]:
        print("# " + line)
    sys.stdout.flush()


def ok(cond, name, diag_msg="", todo=None):
    """Record one test point; diag_msg is printed when it fails. With todo (the
    reason), the point is a known bug: its failure does not fail the run."""
    global _count, _failed
    _count += 1
    name = _tap_text(name)
    directive = f" # TODO {_tap_text(todo)}" if todo else ""
    if cond:
        print(f"ok {_count} - {name}{directive}")
    else:
        _failed += 0 if todo else 1
        print(f"not ok {_count} - {name}{directive}")
        if diag_msg:
            diag(diag_msg)
    sys.stdout.flush()
    return bool(cond)


def _tap_text(text):
    return " ".join(str(text).replace("#", "\\#").split())


def is_(got, want, name, extra="", todo=None):
    return ok(got == want, name,
              f"got:  {_short(got)}\nwant: {_short(want)}" + (f"\n{extra}" if extra else ""),
              todo)


def skip(name, reason):
    """Record one test point that could not run here: "ok N - name # SKIP reason"."""
    global _count
    _count += 1
    name = " ".join(str(name).replace("#", "\\#").split())
    print(f"ok {_count} - {name} # SKIP {' '.join(str(reason).split())}")
    sys.stdout.flush()


def exits(result, code, name):
    """The process ended by itself (no timeout) with this exit status."""
    why = "timed out (killed)" if result.timed_out else f"exit status {result.code}"
    return ok(not result.timed_out and result.code == code, name,
              f"expected exit status {code}, {why}\n{result}")


def skip_all(reason):
    print(f"1..0 # SKIP {reason}")
    sys.exit(0)


def bail_out(reason):
    print(f"Bail out! {reason}")
    sys.exit(1)


def is_sanitized():
    """True when wsc was built with AddressSanitizer: its shadow memory and
    quarantine make memory figures meaningless."""
    with open(WSC, "rb") as f:
        return b"__asan_init" in f.read()


def require_websockets():
    try:
        import websockets  # noqa: F401
    except ImportError:
        skip_all(f"python3-websockets is not installed for {PYTHON}")


def require_wsc():
    if os.access(WSC, os.X_OK):
        return
    if os.environ.get("WSC"):
        bail_out(f"WSC={WSC} is not an executable")
    skip_all(f"{WSC} is not built")


def test(fn):
    # A test file imported by another (for its helpers) does not add its tests there.
    if fn.__module__ == "__main__":
        _tests.append(fn)
    return fn


def main():
    # WSCTEST_ONLY=name,name runs only those tests (while working on them).
    only = set(filter(None, os.environ.get("WSCTEST_ONLY", "").split(",")))
    try:
        for fn in _tests:
            if only and fn.__name__ not in only:
                continue
            try:
                fn()
            except Exception:
                ok(False, f"{fn.__name__}: uncaught exception", traceback.format_exc())
            finally:
                _kill_live()
    finally:
        _cleanup()
    print(f"1..{_count}")
    sys.exit(1 if _failed else 0)


def _short(value, limit=400):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


# ---- processes ----

def tmpdir():
    global _tmpdir
    if _tmpdir is None:
        _tmpdir = tempfile.mkdtemp(prefix="wsctest-")
    return _tmpdir


def tmpfile(name):
    fd, path = tempfile.mkstemp(prefix=name + "-", dir=tmpdir())
    os.close(fd)
    return path


def child_env(extra=None):
    env = dict(os.environ)
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"):
        env.pop(name, None)
        env.pop(name.upper(), None)
    env["NO_COLOR"] = "1"
    env["HOME"] = tmpdir()
    env.update(extra or {})
    return env


class Proc:
    """A child process with stdout and stderr collected in the background."""

    def __init__(self, argv, input=b"", close_stdin=True, env=None):
        self.argv = argv
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env or child_env())
        self._out, self._err = bytearray(), bytearray()
        self._threads = [threading.Thread(target=self._drain, args=(s, b), daemon=True)
                         for s, b in ((self.proc.stdout, self._out),
                                      (self.proc.stderr, self._err))]
        self._threads.append(threading.Thread(target=self._feed, daemon=True,
                                              args=(input, close_stdin)))
        for th in self._threads:
            th.start()
        _live.append(self)

    @staticmethod
    def _drain(stream, sink):
        while True:
            chunk = stream.read1(1 << 16)
            if not chunk:
                return
            sink += chunk

    def _feed(self, data, close):
        try:
            if data:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            if close:
                self.proc.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass

    @property
    def out(self):
        return bytes(self._out)

    @property
    def err(self):
        return bytes(self._err)

    def wait(self, timeout):
        """Wait for exit; on timeout kill it. Returns a Result."""
        timed_out = False
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.kill()
        for th in self._threads[:2]:
            th.join(5)
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        return Result(self.argv, self.proc.returncode, self.out, self.err, timed_out,
                      time.monotonic() - self.started)

    def wait_out(self, predicate, timeout):
        """Wait until predicate(stdout so far) holds or the process exits."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate(self.out):
                return True
            if self.proc.poll() is not None:
                time.sleep(0.05)  # let the reader threads catch up
                return predicate(self.out)
            time.sleep(0.02)
        return predicate(self.out)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def stop(self, grace=2.0):
        """SIGTERM, then SIGKILL after grace seconds."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


class Result:
    def __init__(self, argv, code, out, err, timed_out, elapsed):
        self.argv, self.code, self.out, self.err = argv, code, out, err
        self.timed_out, self.elapsed = timed_out, elapsed

    def __str__(self):
        return (f"command: {' '.join(self.argv)}\n"
                f"exit: {'timeout' if self.timed_out else self.code} "
                f"after {self.elapsed:.2f}s\n"
                f"stdout: {_short(self.out)}\nstderr: {_short(self.err)}")

    @property
    def err_lines(self):
        return [line for line in self.err.decode("utf-8", "replace").splitlines() if line]


def run(args, input=b"", timeout=10, keep_stdin_open=False, env=None):
    """Run wsc with args; stdin gets input, then EOF unless keep_stdin_open."""
    return spawn(args, input, keep_stdin_open, env).wait(timeout)


def spawn(args, input=b"", keep_stdin_open=True, env=None):
    """Start wsc in the background (for listen mode); killed when the test ends."""
    return Proc([WSC] + list(args), input, not keep_stdin_open, child_env(env))


class Server:
    """A helper server from tests/helpers, started with --log; PORT read from stdout."""

    def __init__(self, script, args=(), log=True, timeout=10):
        self.log_path = tmpfile(script.split(".")[0] + "-log") if log else None
        argv = [PYTHON, os.path.join(HELPERS, script)] + list(args)
        if log:
            argv += ["--log", self.log_path]
        self.argv = argv
        self.stderr_path = tmpfile(script.split(".")[0] + "-stderr")
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=err,
                                         env=child_env())
        _live.append(self)
        self.port = self._read_port(timeout)
        self.url = f"ws://127.0.0.1:{self.port}"

    def _read_port(self, timeout):
        line, end = b"", time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while not line.endswith(b"\n") and time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
            if not ready:
                break
            chunk = os.read(fd, 1)
            if not chunk:
                break
            line += chunk
        if not line.startswith(b"PORT "):
            self.stop()
            raise RuntimeError(f"{' '.join(self.argv)} did not print PORT: {line!r}\n"
                               f"stderr: {self.stderr}")
        return int(line.split()[1])

    @property
    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def events(self, kind=None):
        """The log so far as a list of dicts (only events of this kind if given)."""
        evs = []
        with open(self.log_path, encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n"):
                    evs.append(json.loads(line))
        return [e for e in evs if kind is None or e.get("event") == kind]

    def wait_event(self, predicate, timeout=5):
        """Wait until an event satisfying predicate is logged; return it or None."""
        end = time.monotonic() + timeout
        while True:
            for ev in self.events():
                if predicate(ev):
                    return ev
            if time.monotonic() >= end:
                return None
            time.sleep(0.02)

    def messages(self):
        return [e for e in self.events("message")]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if self.proc.stdout:
            self.proc.stdout.close()

    kill = stop


def track(obj):
    """Kill obj (anything with kill()) when the current test ends, like the servers."""
    _live.append(obj)
    return obj


def server(script, *args, log=True):
    return Server(script, args, log)


def listen(*args, env=None):
    """wsc -l 0 ARGS in the background; returns (port, proc), the port read from the
    "listening on" line of its stderr."""
    proc = spawn(["-l", "0"] + list(args), env=env)
    end = time.monotonic() + 5
    while time.monotonic() < end:
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", proc.err)
        if m:
            return int(m.group(1)), proc
        if proc.proc.poll() is not None:
            break
        time.sleep(0.02)
    raise RuntimeError(f"wsc -l 0 did not say where it listens\n{proc.wait(1)}")


def wait_err(proc, pattern, timeout=5):
    """Wait until the process's stderr matches the regex; return the match or None."""
    end = time.monotonic() + timeout
    while True:
        m = re.search(pattern, proc.err.decode("utf-8", "replace"))
        if m or time.monotonic() >= end:
            return m
        time.sleep(0.02)


def status_kib(pid, field):
    """A size from /proc/PID/status (e.g. "RssAnon", "VmHWM") in KiB; -1 if unreadable."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def rss_anon_kib(pid):
    """A process's private memory (RssAnon) in KiB; -1 if it cannot be read."""
    return status_kib(pid, "RssAnon")


def peak_rss_kib(proc):
    """The highest resident set size of a running Proc so far (VmHWM) in KiB; 0 if gone."""
    return max(status_kib(proc.proc.pid, "VmHWM"), 0)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_listening(port):
    """True when some socket listens on this TCP port (read from /proc, no connect)."""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            continue
    return False


def wait_listening(port, timeout=5, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if is_listening(port):
            return True
        if proc is not None and proc.proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def _kill_live():
    while _live:
        p = _live.pop()
        try:
            p.stop() if isinstance(p, Server) else p.kill()
        except Exception:
            pass


def _cleanup():
    _kill_live()
    if _tmpdir is not None:
        shutil.rmtree(_tmpdir, ignore_errors=True)


atexit.register(_cleanup)
