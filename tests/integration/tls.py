#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Integration tests for wss://: wsc against nginx terminating TLS in front of the
Python websockets echo server, with a CA, server and client certificates made at test
time with the openssl CLI (tests/helpers/daemons.py).

Run as `/usr/bin/python3 tests/integration/tls.py` with WSC=/path/to/wsc (make check
does this). Each refusal asserts exit status 3 and the reason in the message.
"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

t.require_websockets()
t.require_wsc()

sys.path.insert(0, t.HELPERS)
import daemons  # noqa: E402

if not os.access(daemons.NGINX, os.X_OK):
    t.skip_all(f"{daemons.NGINX} is not installed (Debian: nginx-light)")
if subprocess.run(["openssl", "version"], capture_output=True).returncode != 0:
    t.skip_all("the openssl command is not installed")

CERTS = daemons.Certs(t.tmpdir())


def stderr(result):
    return result.err.decode("utf-8", "replace")


def says(result, name, *words):
    err = stderr(result)
    missing = [w for w in words if w not in err]
    return t.ok(not missing, f"{name}: the message says {', '.join(repr(w) for w in words)}",
                f"missing: {missing}\n{result}")


def site(cert, key, client_ca=None):
    return {"cert": cert, "key": key, "client_ca": client_ca}


def start(**sites):
    """The echo server behind nginx, one TLS port per site; returns (echo, ports)."""
    back = t.server("echo_server.py")
    web = t.track(daemons.Nginx(t.tmpdir(), back.port, sites))
    return back, web.ports


def good():
    return site(CERTS.server, CERTS.server_key)


@t.test
def verified_with_ca():
    back, ports = start(good=good())
    for host in ("localhost", "127.0.0.1"):
        url = f"wss://{host}:{ports['good']}/chat"
        r = t.run(["--ca", CERTS.ca, url], input=b"hello\nworld\n")
        t.exits(r, 0, f"--ca and a certificate for {host}: exit 0")
        t.is_(r.out, b"hello\nworld\n", f"--ca, {host}: echoed through nginx over TLS")
    paths = [e.get("path") for e in back.events("connect")]
    t.is_(paths, ["/chat", "/chat"], "nginx passed both upgrades to the echo server")


@t.test
def verified_with_ssl_cert_file():
    _, ports = start(good=good())
    r = t.run([f"wss://localhost:{ports['good']}/"], input=b"trust store\n",
              env={"SSL_CERT_FILE": CERTS.ca})
    t.exits(r, 0, "SSL_CERT_FILE names the CA (the default trust store): exit 0")
    t.is_(r.out, b"trust store\n", "SSL_CERT_FILE: echoed")


@t.test
def large_messages_over_tls():
    _, ports = start(good=good())
    lines = b"".join(bytes([65 + i % 26]) * (100000 + i) + b"\n" for i in range(20))
    r = t.run(["--ca", CERTS.ca, f"wss://localhost:{ports['good']}/"], input=lines, timeout=30)
    t.exits(r, 0, "twenty 100 KB messages over TLS: exit 0")
    t.ok(r.out == lines, "twenty 100 KB messages over TLS: every byte echoed",
         f"got {len(r.out)} bytes, want {len(lines)}")


@t.test
def unknown_issuer_refused():
    _, ports = start(good=good())
    r = t.run([f"wss://localhost:{ports['good']}/"], keep_stdin_open=True)
    t.exits(r, 3, "a certificate from an unknown CA, no --ca: exit 3")
    says(r, "unknown issuer", "certificate refused", "unable to get local issuer certificate")
    t.is_(r.out, b"", "unknown issuer: nothing on stdout")
    r = t.run(["--ca", CERTS.client, f"wss://localhost:{ports['good']}/"],
              keep_stdin_open=True)
    t.exits(r, 3, "--ca naming a certificate that is not the issuer: exit 3")
    says(r, "the wrong --ca", "certificate refused")


@t.test
def expired_refused():
    _, ports = start(expired=site(CERTS.expired, CERTS.expired_key))
    r = t.run(["--ca", CERTS.ca, f"wss://localhost:{ports['expired']}/"], keep_stdin_open=True)
    t.exits(r, 3, "an expired certificate: exit 3")
    says(r, "expired", "certificate refused", "certificate has expired")


@t.test
def wrong_host_refused():
    _, ports = start(other=site(CERTS.other, CERTS.other_key))
    r = t.run(["--ca", CERTS.ca, f"wss://localhost:{ports['other']}/"], keep_stdin_open=True)
    t.exits(r, 3, "a certificate for other.example at localhost: exit 3")
    says(r, "wrong host name", "certificate refused", "hostname mismatch")
    r = t.run(["--ca", CERTS.ca, f"wss://127.0.0.1:{ports['other']}/"], keep_stdin_open=True)
    t.exits(r, 3, "a certificate without the IP address at 127.0.0.1: exit 3")
    says(r, "wrong IP address", "certificate refused", "IP address mismatch")


@t.test
def insecure_skips_verification():
    _, ports = start(other=site(CERTS.other, CERTS.other_key),
                     expired=site(CERTS.expired, CERTS.expired_key))
    for flag in ("-k", "--insecure", "-n", "--no-check"):
        for name in ("other", "expired"):
            r = t.run([flag, f"wss://localhost:{ports[name]}/"], input=b"anyway\n")
            t.exits(r, 0, f"{flag} with the {name} certificate and no --ca: exit 0")
            t.is_(r.out, b"anyway\n", f"{flag}, {name} certificate: echoed")


@t.test
def client_certificate():
    _, ports = start(mtls=site(CERTS.server, CERTS.server_key, client_ca=CERTS.ca))
    url = f"wss://localhost:{ports['mtls']}/"
    r = t.run(["--ca", CERTS.ca, "--cert", CERTS.client, "--key", CERTS.client_key_plain, url],
              input=b"it is me\n")
    t.exits(r, 0, "a required client certificate with --cert/--key: exit 0")
    t.is_(r.out, b"it is me\n", "client certificate: echoed")
    r = t.run(["--ca", CERTS.ca, "--cert", CERTS.client, "--key", CERTS.client_key,
               "--passphrase", daemons.PASSPHRASE, url], input=b"encrypted key\n")
    t.exits(r, 0, "an encrypted client key with --passphrase: exit 0")
    t.is_(r.out, b"encrypted key\n", "--passphrase: echoed")
    # nginx completes the TLS handshake without a client certificate and then answers
    # the upgrade with 400 ("No required SSL certificate was sent").
    r = t.run(["--ca", CERTS.ca, url], keep_stdin_open=True)
    t.exits(r, 4, "no client certificate where nginx requires one: exit 4")
    says(r, "no client certificate", "server answered 400 Bad Request")
    r = t.run(["--ca", CERTS.ca, "--cert", CERTS.client, "--key", CERTS.client_key,
               "--passphrase", "wrong", url], keep_stdin_open=True)
    t.exits(r, 3, "a wrong --passphrase: exit 3")
    says(r, "a wrong --passphrase", "cannot load the private key")


@t.test
def key_log_file():
    _, ports = start(good=good())
    keylog = t.tmpfile("keylog")
    r = t.run(["--ca", CERTS.ca, f"wss://localhost:{ports['good']}/"], input=b"log keys\n",
              env={"SSLKEYLOGFILE": keylog})
    t.exits(r, 0, "SSLKEYLOGFILE set: exit 0")
    with open(keylog) as f:
        lines = [line.split() for line in f.read().splitlines() if line]
    labels = {parts[0] for parts in lines}
    t.ok(lines and all(len(p) == 3 and re.fullmatch(r"[0-9a-f]{64}", p[1]) for p in lines),
         "SSLKEYLOGFILE: NSS key log lines (label, client random, secret)", str(lines[:3]))
    t.ok({"CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} <= labels or
         "CLIENT_RANDOM" in labels, "SSLKEYLOGFILE: traffic secrets written", str(labels))
    before = len(lines)
    r = t.run(["--ca", CERTS.ca, f"wss://localhost:{ports['good']}/"], input=b"again\n",
              env={"SSLKEYLOGFILE": keylog})
    with open(keylog) as f:
        after = len([line for line in f.read().splitlines() if line])
    t.ok(after > before, "SSLKEYLOGFILE: a second run appends", f"{before} -> {after}")


@t.test
def tls_to_a_plain_server():
    # The websockets server answers the ClientHello with an HTTP 400 page.
    srv = t.server("echo_server.py")
    r = t.run([f"wss://127.0.0.1:{srv.port}/"], keep_stdin_open=True)
    t.exits(r, 3, "wss:// to a server that answers in plain HTTP: exit 3")
    says(r, "wss:// to a plain server", "TLS")


@t.test
def tls_handshake_times_out():
    # A server that accepts the TCP connection and never says a word.
    import socket
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        r = t.run(["--handshake-timeout", "0.5", f"wss://127.0.0.1:{port}/"],
                  keep_stdin_open=True)
    t.exits(r, 3, "a TLS handshake that never ends: exit 3")
    says(r, "a TLS handshake that never ends", "no TLS handshake within 0.5 s")


t.main()
