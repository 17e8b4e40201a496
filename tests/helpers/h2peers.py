# SPDX-License-Identifier: MIT
"""HTTP/2 peers for wsc's RFC 8441 tests, each living in a temporary directory.

    web = Apache(dir, certs, backends)   # Apache httpd, mod_http2 with H2WebSockets
    asgi = Hypercorn(dir, certs=None)    # hypercorn serving tests/helpers/asgi_echo.py

Apache runs /usr/sbin/apache2 -DFOREGROUND with a configuration of its own (ServerRoot,
pid file and logs in the directory; mpm_event, ssl, http2, proxy, proxy_http,
proxy_wstunnel). It has four ports, in ports[...]: "h2c" and "tls" with
`H2WebSockets on`, and "h2c-off" and "tls-off" without it, which still take WebSockets
over HTTP/1.1. Cleartext ports take HTTP/2 with prior knowledge (H2Direct on); TLS ports
offer h2 by ALPN with the test CA's localhost certificate. backends maps a path prefix
to a backend port: `ProxyPass PREFIX ws://127.0.0.1:PORT/ upgrade=websocket`, so that a
WebSocket over HTTP/2 goes on over HTTP/1.1 to the backend. The access log has one line
per request, "PROTOCOL METHOD PATH STATUS", read with requests() (mod_http2 logs an
extended CONNECT under the GET it becomes for the proxy).

The tunnels are mod_proxy_wstunnel's own (ProxyWebsocketFallbackToProxyHttp Off). Under
mod_proxy_http's tunnel, which Apache uses by default, bytes the backend sends together
with its 101 wait until the next event on either side of the tunnel: behind an HTTP/2
stream, a server that speaks first is not heard until the client speaks or the server
closes (a second later in Autobahn's client cases). mod_proxy_wstunnel forwards them at
once.

Hypercorn runs `python3 -m hypercorn` on a free port (TLS when certs are given, where
it offers h2 and http/1.1 by ALPN; cleartext takes h2 with prior knowledge). It
announces SETTINGS_ENABLE_CONNECT_PROTOCOL. versions() reads the HTTP version of each
WebSocket the app saw (asgi_echo.py writes scope["http_version"]).

Each object has kill().
"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemons import free_port, read_files, stop, wait_port  # noqa: E402

APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
SYSTEM_PYTHON = "/usr/bin/python3"


def has_apache():
    return os.access(APACHE, os.X_OK) and os.path.exists(os.path.join(MODULES, "mod_http2.so"))


def has_hypercorn():
    p = subprocess.run([SYSTEM_PYTHON, "-c", "import hypercorn, h2"], capture_output=True)
    return p.returncode == 0


APACHE_CONF = """\
ServerRoot {dir}
PidFile {dir}/httpd.pid
ErrorLog {dir}/error.log
LogLevel warn
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule ssl_module {mods}/mod_ssl.so
LoadModule http2_module {mods}/mod_http2.so
LoadModule proxy_module {mods}/mod_proxy.so
LoadModule proxy_http_module {mods}/mod_proxy_http.so
LoadModule proxy_wstunnel_module {mods}/mod_proxy_wstunnel.so
ServerName localhost
StartServers 1
ServerLimit 1
ThreadsPerChild 25
MaxRequestWorkers 25
CustomLog {dir}/access.log "%H %m %U %>s"
Protocols h2 h2c http/1.1
H2Direct on
ProxyTimeout 60
ProxyWebsocketFallbackToProxyHttp Off
{listens}
{hosts}
"""

VHOST = """\
<VirtualHost 127.0.0.1:{port}>
  H2WebSockets {ws}
{tls}{proxies}</VirtualHost>
"""


class Apache:
    def __init__(self, directory, certs, backends, timeout=10):
        self.dir = tempfile.mkdtemp(prefix="apache-", dir=directory)
        self.ports = {}
        listens, hosts = [], []
        proxies = "".join(f"  ProxyPass {prefix} ws://127.0.0.1:{port}/ upgrade=websocket\n"
                          for prefix, port in sorted(backends.items(), reverse=True))
        for name in ("h2c", "tls", "h2c-off", "tls-off"):
            port = free_port()
            self.ports[name] = port
            listens.append(f"Listen 127.0.0.1:{port}")
            tls = ""
            if name.startswith("tls"):
                tls = (f"  SSLEngine on\n  SSLCertificateFile {certs.server}\n"
                       f"  SSLCertificateKeyFile {certs.server_key}\n")
            hosts.append(VHOST.format(port=port, ws="off" if name.endswith("off") else "on",
                                      tls=tls, proxies=proxies))
        conf = os.path.join(self.dir, "httpd.conf")
        with open(conf, "w") as f:
            f.write(APACHE_CONF.format(dir=self.dir, mods=MODULES, listens="\n".join(listens),
                                       hosts="".join(hosts)))
        self.log_path = os.path.join(self.dir, "stderr.log")
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen([APACHE, "-f", conf, "-DFOREGROUND"],
                                         stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        for port in self.ports.values():
            if not wait_port(port, self.proc, timeout):
                self.kill()
                raise RuntimeError(f"apache2 did not start:\n{self.errors()}")

    def requests(self):
        """The access log so far: one (protocol, method, path, status) per request."""
        try:
            with open(os.path.join(self.dir, "access.log")) as f:
                return [tuple(line.split()) for line in f if line.strip()]
        except OSError:
            return []

    def errors(self):
        return read_files(self.log_path, os.path.join(self.dir, "error.log"))

    def kill(self):
        stop(self.proc, grace=10)


class Hypercorn:
    def __init__(self, directory, certs=None, timeout=15):
        self.dir = tempfile.mkdtemp(prefix="hypercorn-", dir=directory)
        self.port = free_port()
        self.versions_path = os.path.join(self.dir, "versions.log")
        argv = [SYSTEM_PYTHON, "-m", "hypercorn", "--bind", f"127.0.0.1:{self.port}"]
        if certs:
            argv += ["--certfile", certs.server, "--keyfile", certs.server_key]
        argv.append("asgi_echo:app")
        env = dict(os.environ, ASGI_ECHO_LOG=self.versions_path,
                   PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
        self.log_path = os.path.join(self.dir, "stderr.log")
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         env=env, cwd=self.dir)
        if not wait_port(self.port, self.proc, timeout):
            self.kill()
            raise RuntimeError(f"hypercorn did not start:\n{self.errors()}")

    def versions(self):
        """(http_version, path) of each WebSocket the app saw, in order."""
        try:
            with open(self.versions_path) as f:
                return [tuple(line.split(" ", 1)) for line in f.read().splitlines()]
        except OSError:
            return []

    def errors(self):
        return read_files(self.log_path)

    def kill(self):
        stop(self.proc)
