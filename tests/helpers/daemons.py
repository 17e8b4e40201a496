# SPDX-License-Identifier: MIT
"""Real peers for wsc's integration tests, each living in a temporary directory.

    certs = Certs(dir)                       # a CA and certificates, made with the openssl CLI
    web = Nginx(dir, certs, backend_port, sites)   # TLS-terminating reverse proxy
    proxy = Tinyproxy(dir, connect_ports)    # an HTTP proxy that speaks CONNECT

Certs makes, with the openssl command line: a CA; a server certificate for localhost,
127.0.0.1 and ::1; the same names expired (valid only on 1-2 January 2020); one for
another name (other.example); and a client certificate whose key is encrypted with
the passphrase "wsc-test". Every certificate is signed by the CA with `openssl ca`,
which can set any validity dates (OpenSSL 3.0's x509 and req cannot backdate).

Nginx runs /usr/sbin/nginx in the foreground (-g 'daemon off;') with its prefix, pid
file, error log and temp paths inside the directory, one server block per site on a free
127.0.0.1 port: TLS with the chosen certificate, optionally requiring a client
certificate, proxying WebSocket upgrades to a backend on 127.0.0.1, plus fixed
redirects (`return 30x URL`).

Tinyproxy runs `tinyproxy -d -c CONF` on a free port, allowing CONNECT only to the
given ports, and logs every request to a file the tests read.

Each object has kill(); the tests hand it to wsctest.track() so it dies with the test.
"""

import os
import shutil
import socket
import subprocess
import time

NGINX = "/usr/sbin/nginx"
PASSPHRASE = "wsc-test"


def find_tinyproxy():
    for path in ("/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"):
        if os.access(path, os.X_OK):
            return path
    return shutil.which("tinyproxy")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_files(*paths):
    """The text of those of paths that exist, one after the other (a daemon's logs)."""
    text = ""
    for path in paths:
        try:
            with open(path, errors="replace") as f:
                text += f.read()
        except OSError:
            pass
    return text


def stop(proc, grace=5):
    """SIGTERM, with which a daemon's parent stops its workers; SIGKILL after grace s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def wait_port(port, proc, timeout=10):
    """Wait until something accepts on 127.0.0.1:port (or proc died)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _run(argv, cwd):
    p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({p.returncode}):\n{p.stderr}")


CA_CONF = """\
[ca]
default_ca = test_ca
[test_ca]
dir = .
database = index.txt
new_certs_dir = issued
certificate = ca.pem
private_key = ca.key
serial = serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
[other]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
"""

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]


class Certs:
    """Paths: ca, server/server_key, expired/expired_key, other/other_key,
    client/client_key (encrypted with PASSPHRASE), and client_key_plain."""

    def __init__(self, directory):
        self.dir = os.path.join(directory, "pki")
        os.makedirs(os.path.join(self.dir, "issued"), exist_ok=True)
        with open(os.path.join(self.dir, "ca.cnf"), "w") as f:
            f.write(CA_CONF)
        open(os.path.join(self.dir, "index.txt"), "w").close()
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("1000\n")
        _run(["openssl", "req", "-x509", *EC, "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
              "-days", "2", "-subj", "/CN=wsc test CA",
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], self.dir)
        self.ca = self.path("ca.pem")
        self.server, self.server_key = self._issue("server", "localhost", "server")
        self.expired, self.expired_key = self._issue(
            "expired", "localhost", "server",
            ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"])
        self.other, self.other_key = self._issue("other", "other.example", "other")
        self.client, self.client_key_plain = self._issue("client", "wsc test client", "client")
        self.client_key = self.path("client.enc.key")
        _run(["openssl", "pkey", "-in", "client.key", "-out", "client.enc.key", "-aes256",
              "-passout", "pass:" + PASSPHRASE], self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _issue(self, name, cn, extensions, dates=("-days", "2")):
        _run(["openssl", "req", *EC, "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
              "-subj", "/CN=" + cn], self.dir)
        _run(["openssl", "ca", "-batch", "-config", "ca.cnf", "-extensions", extensions,
              *dates, "-notext", "-in", name + ".csr", "-out", name + ".pem"], self.dir)
        return self.path(name + ".pem"), self.path(name + ".key")


_shared_certs = {}


def shared_certs(directory):
    """One Certs for a test file's run, made on first use (openssl is slow)."""
    if directory not in _shared_certs:
        _shared_certs[directory] = Certs(directory)
    return _shared_certs[directory]


NGINX_CONF = """\
{user}
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body_temp;
    proxy_temp_path {dir}/proxy_temp;
    fastcgi_temp_path {dir}/fastcgi_temp;
    uwsgi_temp_path {dir}/uwsgi_temp;
    scgi_temp_path {dir}/scgi_temp;
{servers}
}}
"""

SERVER_BLOCK = """\
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
{client_auth}{redirects}        location / {{
            proxy_pass http://127.0.0.1:{backend};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            proxy_read_timeout 60s;
        }}
    }}
"""


class Nginx:
    """sites: {name: {"cert": path, "key": path, "client_ca": path or None,
    "redirects": {path: (status, url)}}}; ports[name] is each site's port."""

    def __init__(self, directory, backend_port, sites, timeout=10):
        self.dir = os.path.join(directory, "nginx")
        os.makedirs(self.dir, exist_ok=True)
        self.ports = {}
        blocks = []
        for name, site in sites.items():
            port = free_port()
            self.ports[name] = port
            client_auth = ""
            if site.get("client_ca"):
                client_auth = (f"        ssl_client_certificate {site['client_ca']};\n"
                               "        ssl_verify_client on;\n")
            redirects = "".join(f"        location = {path} {{ return {status} {url}; }}\n"
                                for path, (status, url) in site.get("redirects", {}).items())
            blocks.append(SERVER_BLOCK.format(port=port, cert=site["cert"], key=site["key"],
                                              client_auth=client_auth, redirects=redirects,
                                              backend=backend_port))
        # As root, nginx would hand the workers to "nobody", who cannot enter the
        # private temporary directory.
        user = "user root root;" if os.geteuid() == 0 else ""
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(user=user, dir=self.dir, servers="".join(blocks)))
        self.log_path = os.path.join(self.dir, "stderr.log")
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen([NGINX, "-p", self.dir, "-c", conf,
                                          "-g", "daemon off;"],
                                         stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        for port in self.ports.values():
            if not wait_port(port, self.proc, timeout):
                self.kill()
                raise RuntimeError(f"nginx did not start:\n{self.errors()}")

    def errors(self):
        return read_files(self.log_path, os.path.join(self.dir, "error.log"))

    def kill(self):
        stop(self.proc)


TINYPROXY_CONF = """\
Port {port}
Listen 127.0.0.1
Timeout 30
MaxClients 20
Allow 127.0.0.1
LogLevel Connect
LogFile "{log}"
DisableViaHeader Yes
{connect_ports}
"""


class Tinyproxy:
    """An HTTP proxy on 127.0.0.1:port allowing CONNECT to connect_ports only."""

    def __init__(self, directory, connect_ports, timeout=10):
        self.dir = os.path.join(directory, "tinyproxy")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "tinyproxy.log")
        open(self.log_path, "w").close()
        conf = os.path.join(self.dir, "tinyproxy.conf")
        with open(conf, "w") as f:
            f.write(TINYPROXY_CONF.format(
                port=self.port, log=self.log_path,
                connect_ports="\n".join(f"ConnectPort {p}" for p in connect_ports)))
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([find_tinyproxy(), "-d", "-c", conf],
                                         stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        if not wait_port(self.port, self.proc, timeout):
            self.kill()
            raise RuntimeError(f"tinyproxy did not start:\n{self.log()}")
        self.url = f"http://127.0.0.1:{self.port}"

    def log(self):
        return read_files(self.log_path, self.stderr_path)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
