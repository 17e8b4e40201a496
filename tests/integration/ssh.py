#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A real SSH session through wsc's bridges: Debian's openssh-server, started on a
free port with a host key and an authorized key made at test time, reached
  (a) by ssh and scp with ProxyCommand="wsc -b ws://127.0.0.1:P/", through
      wsc -l P --forward 127.0.0.1:SSHD;
  (b) by ssh and scp to a local port of wsc ws://127.0.0.1:P/ --tcp-listen LPORT,
      in front of the same listener.
Each way runs a command (its output and exit status asserted) and copies 10 MiB
up and 10 MiB down with scp, byte-exact (sha256). Every WebSocket ends with a
close 1000, every wsc exits 0 (SIGINT for the long-running ones), no process is
left. Skipped when openssh-server or openssh-client is missing.
"""

import hashlib
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

t.require_wsc()
SSHD = "/usr/sbin/sshd"  # sshd re-executes itself: it must be started by absolute path
TOOLS = {name: shutil.which(name) for name in ("ssh", "scp", "ssh-keygen")}
if not os.access(SSHD, os.X_OK):
    t.skip_all("openssh-server is not installed (bootstrap installs it)")
if not all(TOOLS.values()):
    t.skip_all("openssh-client is not installed (bootstrap installs it)")
if os.getuid() == 0:
    # sshd started by root wants its privilege-separation directory.
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)

USER = pwd.getpwuid(os.getuid()).pw_name
SIZE = 10 * 1024 * 1024


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def random_file(name):
    path = t.tmpfile(name)
    with open(path, "wb") as f:
        f.write(os.urandom(SIZE))
    return path


def keygen(path):
    subprocess.run([TOOLS["ssh-keygen"], "-q", "-t", "ed25519", "-N", "", "-C", "wsc-test",
                    "-f", path], check=True, stdin=subprocess.DEVNULL, timeout=30)


class Sshd:
    """sshd -D on 127.0.0.1 with a config, keys and logs of its own."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sshd-", dir=t.tmpdir())
        host_key = os.path.join(self.dir, "host_key")
        self.user_key = os.path.join(self.dir, "user_key")
        keygen(host_key)
        keygen(self.user_key)
        authorized = os.path.join(self.dir, "authorized_keys")
        shutil.copyfile(self.user_key + ".pub", authorized)
        os.chmod(authorized, 0o600)
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w") as f:
            f.write(f"HostKey {host_key}\n"
                    f"AuthorizedKeysFile {authorized}\n"
                    f"PidFile {os.path.join(self.dir, 'sshd.pid')}\n"
                    "ListenAddress 127.0.0.1\n"
                    "UsePAM no\n"
                    # the keys live under /tmp, which is world-writable
                    "StrictModes no\n"
                    "PasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\n"
                    "PubkeyAuthentication yes\n"
                    "PermitRootLogin prohibit-password\n"
                    # scp speaks SFTP: served in-process, no shell involved
                    "Subsystem sftp internal-sftp\n"
                    # Debian's bash reads ~/.bashrc for a command run by sshd when it
                    # looks like a top-level shell; the test must not depend on the
                    # user's dotfiles (or their speed)
                    "SetEnv SHLVL=1\n")
        self.port = t.free_port()
        self.log_path = os.path.join(self.dir, "sshd.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", config, "-p", str(self.port)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        t.track(self)
        if not t.wait_listening(self.port, 10):
            self.kill()
            raise RuntimeError(f"sshd did not listen on {self.port}\n{self.log()}")

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return "sshd:\n" + f.read()[-3000:]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# ProxyCommand runs wsc through this wrapper, which passes on the SIGHUP ssh sends
# its proxy when the session ends and records wsc's exit status in a file.
PROXY_WRAPPER = """\
import signal, subprocess, sys
p = subprocess.Popen(sys.argv[2:])
for s in (signal.SIGHUP, signal.SIGTERM):
    signal.signal(s, lambda sig, frame: p.send_signal(sig))
code = p.wait()
with open(sys.argv[1], "w") as f:
    f.write(str(code))
"""


class Proxy:
    """The ProxyCommand string for one ssh or scp run, and the status it leaves."""

    def __init__(self, url):
        wrapper = t.tmpfile("proxy-wrapper")
        with open(wrapper, "w") as f:
            f.write(PROXY_WRAPPER)
        self.status_path = t.tmpfile("proxy-status")
        os.unlink(self.status_path)
        argv = [t.PYTHON, wrapper, self.status_path, t.WSC, "-b", url]
        self.command = " ".join(shlex.quote(a) for a in argv)

    def status(self, timeout=10):
        """wsc's exit status once it has ended (None if it did not within timeout)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                with open(self.status_path) as f:
                    text = f.read()
                if text:
                    return int(text)
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        return None


def client_options(sshd, proxy=None):
    opts = ["-F", "/dev/null", "-i", sshd.user_key, "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=10"]
    if proxy:
        opts += ["-o", f"ProxyCommand={proxy.command}"]
    return opts


def ssh(sshd, port, command, input=b"", proxy=None):
    argv = [TOOLS["ssh"]] + client_options(sshd, proxy) + ["-p", str(port),
                                                           f"{USER}@127.0.0.1", command]
    return t.Proc(argv, input=input, env=t.child_env()).wait(30)


def scp(sshd, port, src, dst, proxy=None):
    argv = [TOOLS["scp"]] + client_options(sshd, proxy) + ["-P", str(port), src, dst]
    return t.Proc(argv, env=t.child_env()).wait(60)



def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


def client_endings(proc, count, timeout=10):
    """The listener's line for each of its first `count` clients once all have
    ended: 'closed: 1000 (normal closure)', 'disconnected', ... Which side
    closed first depends on whether ssh or sshd ends first: a close 1000 that
    the listener started ("closed by us") is the same clean end."""
    end = time.monotonic() + timeout
    while True:
        text = proc.err.decode("utf-8", "replace").replace("closed by us:", "closed:")
        endings = dict(re.findall(r"client (\d+) (closed: .*|disconnected.*|failed.*)", text))
        if len(endings) >= count or time.monotonic() >= end:
            return [endings.get(str(i), "(no end yet)") for i in range(1, count + 1)]
        time.sleep(0.05)


def session(what, sshd, port, make_proxy=None):
    """A command, a failing command, and 10 MiB each way with scp. Returns the
    number of connections made."""
    def proxy():
        return make_proxy() if make_proxy else None

    p = proxy()
    r = ssh(sshd, port, 'read line; echo "got $line $((6 * 7))"; uname -s',
            input=b"through wsc\n", proxy=p)
    t.exits(r, 0, f"{what}: ssh runs a command, exit 0")
    t.is_(r.out, b"got through wsc 42\nLinux\n", f"{what}: its stdin and stdout both ways",
          f"{r}\n{sshd.log()}")
    if p:
        t.is_(p.status(), 0, f"{what}: the ProxyCommand wsc exits 0")

    p = proxy()
    r = ssh(sshd, port, "echo on stderr >&2; exit 7", proxy=p)
    t.exits(r, 7, f"{what}: the remote command's exit status 7 comes back")
    t.ok(b"on stderr" in r.err, f"{what}: the remote command's stderr comes back", str(r))
    if p:
        t.is_(p.status(), 0, f"{what}: the ProxyCommand wsc exits 0 (after exit 7)")

    up_src, up_dst = random_file("up-src"), t.tmpfile("up-dst")
    p = proxy()
    started = time.monotonic()
    r = scp(sshd, port, up_src, f"{USER}@127.0.0.1:{up_dst}", proxy=p)
    took = time.monotonic() - started
    t.exits(r, 0, f"{what}: scp of 10 MiB up, exit 0")
    t.is_(sha256_file(up_dst), sha256_file(up_src), f"{what}: 10 MiB up byte-exact (sha256)",
          f"in {took:.1f} s")
    if p:
        t.is_(p.status(), 0, f"{what}: the ProxyCommand wsc exits 0 (scp up)")

    down_src, down_dst = random_file("down-src"), t.tmpfile("down-dst")
    p = proxy()
    started = time.monotonic()
    r = scp(sshd, port, f"{USER}@127.0.0.1:{down_src}", down_dst, proxy=p)
    took = time.monotonic() - started
    t.exits(r, 0, f"{what}: scp of 10 MiB down, exit 0")
    t.is_(sha256_file(down_dst), sha256_file(down_src),
          f"{what}: 10 MiB down byte-exact (sha256)", f"in {took:.1f} s")
    if p:
        t.is_(p.status(), 0, f"{what}: the ProxyCommand wsc exits 0 (scp down)")
    for path in (up_src, up_dst, down_src, down_dst):
        os.unlink(path)
    return 4


def stop_with_sigint(proc, what):
    t.is_(children_of(proc.proc.pid), [], f"{what}: no process of its own left")
    proc.proc.send_signal(signal.SIGINT)
    t.exits(proc.wait(10), 0, f"{what}: SIGINT, exit 0")


@t.test
def proxy_command():
    sshd = Sshd()
    port, bridge = t.listen("--forward", f"127.0.0.1:{sshd.port}")
    url = f"ws://127.0.0.1:{port}/"
    n = session("ProxyCommand wsc -b", sshd, sshd.port, lambda: Proxy(url))
    t.is_(client_endings(bridge, n), ["closed: 1000 (normal closure)"] * n,
          "ProxyCommand: every WebSocket through --forward ends with a close 1000",
          bridge.err.decode("utf-8", "replace"))
    stop_with_sigint(bridge, "wsc -l --forward")


@t.test
def tcp_listen():
    sshd = Sshd()
    port, bridge = t.listen("--forward", f"127.0.0.1:{sshd.port}")
    lport = t.free_port()
    front = t.spawn([f"ws://127.0.0.1:{port}/", "--tcp-listen", str(lport)])
    if not t.wait_listening(lport, 5, front):
        t.ok(False, "wsc --tcp-listen listens", str(front.wait(1)))
        return
    n = session("--tcp-listen", sshd, lport)
    t.is_(client_endings(bridge, n), ["closed: 1000 (normal closure)"] * n,
          "--tcp-listen: every WebSocket ends with a close 1000",
          bridge.err.decode("utf-8", "replace") + front.err.decode("utf-8", "replace"))
    stop_with_sigint(front, "wsc --tcp-listen")
    stop_with_sigint(bridge, "wsc -l --forward")


t.main()
