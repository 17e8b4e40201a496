#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Integration tests for the connection layer: handshake refusals, version negotiation,
basic auth, redirects, HTTP proxies (CONNECT), timeouts and address families.

Run as `/usr/bin/python3 tests/integration/connect.py` with WSC=/path/to/wsc (make check
does this). Peers: tests/helpers/raw_server.py (scripted servers: redirects, 426, 401,
broken answers), tests/helpers/raw_proxy.py (a scripted CONNECT proxy), tinyproxy (a
real HTTP proxy from Debian), nginx with certificates made at test time
(tests/helpers/daemons.py) and tests/helpers/echo_server.py. Every failure asserts the
exit status and what the message says.
"""

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsctest as t  # noqa: E402

t.require_websockets()
t.require_wsc()

sys.path.insert(0, t.HELPERS)
import daemons  # noqa: E402
import wsframe  # noqa: E402


def echo(*args):
    return t.server("echo_server.py", *args)


def raw(*args):
    return t.server("raw_server.py", *args)


def raw_proxy(*args):
    return t.server("raw_proxy.py", *args)


def stderr(result):
    return result.err.decode("utf-8", "replace")


def says(result, name, *words):
    """stderr holds every word (exact substrings)."""
    err = stderr(result)
    missing = [w for w in words if w not in err]
    return t.ok(not missing, f"{name}: the message says {', '.join(repr(w) for w in words)}",
                f"missing: {missing}\n{result}")


def requests(srv, count=1, timeout=5):
    """The request heads the server logged, as (request_line, {lower name: value})."""
    srv.wait_event(lambda e: len(srv.events("request")) >= count, timeout)
    return [(e["request_line"], {k.lower(): v for k, v in e["headers"]})
            for e in srv.events("request")]


def basic(creds):
    return "Basic " + base64.b64encode(creds.encode()).decode()


def certs():
    return daemons.shared_certs(t.tmpdir())


def nginx(backend_port, redirects=None):
    """nginx with the good certificate in front of backend_port; redirects: path: (code, url)."""
    c = certs()
    site = {"cert": c.server, "key": c.server_key, "redirects": redirects or {}}
    return t.track(daemons.Nginx(t.tmpdir(), backend_port, {"tls": site}))


def tinyproxy(*ports):
    return t.track(daemons.Tinyproxy(t.tmpdir(), ports))


HAS_NGINX = os.access(daemons.NGINX, os.X_OK)
HAS_TINYPROXY = daemons.find_tinyproxy() is not None


# ---- refused handshakes: each names what the server did wrong ---------------------------

REFUSALS = [
    # raw_server arguments, wsc arguments, what, words in the message
    (["--handshake", "bad-accept"], [], "a wrong Sec-WebSocket-Accept",
     ["handshake failed", "wrong Sec-WebSocket-Accept", "expected"]),
    (["--handshake", "no-accept"], [], "no Sec-WebSocket-Accept",
     ["handshake failed", "lacks Sec-WebSocket-Accept"]),
    (["--handshake", "no-upgrade"], [], "a missing Upgrade header",
     ["handshake failed", "lacks \"Upgrade: websocket\""]),
    (["--handshake", "no-connection"], [], "a missing Connection: Upgrade",
     ["handshake failed", "lacks \"Connection: Upgrade\""]),
    (["--header", "Sec-WebSocket-Protocol: chat"], [], "a subprotocol that was not offered",
     ["handshake failed", "subprotocol \"chat\"", "not offered"]),
    (["--header", "Sec-WebSocket-Protocol: chat"], ["-s", "superchat"],
     "a subprotocol other than the one offered",
     ["handshake failed", "subprotocol \"chat\"", "not offered"]),
    (["--header", "Sec-WebSocket-Extensions: permessage-deflate"], ["--no-deflate"],
     "an extension that was not offered (--no-deflate)",
     ["handshake failed", "permessage-deflate", "did not offer"]),
    (["--header", "Sec-WebSocket-Extensions: x-webkit-frobnicate"], [],
     "an unknown extension", ["handshake failed", "x-webkit-frobnicate"]),
    (["--handshake", "oversized"], [], "an oversized answer head (1 MiB)",
     ["handshake failed", "larger than 16 KiB"]),
    (["--handshake", "truncated"], [], "a truncated answer head",
     ["handshake failed", "connection closed during the opening handshake"]),
    (["--handshake", "garbage"], [], "an answer that is not HTTP",
     ["handshake failed", "not valid HTTP"]),
    (["--handshake", "http200"], [], "a plain HTTP page",
     ["handshake failed", "server answered 200 OK"]),
    (["--status", "HTTP/1.1 401 Unauthorized", "--header",
      "WWW-Authenticate: Basic realm=\"chat room\""], [], "401 with WWW-Authenticate",
     ["handshake failed", "server answered 401 Unauthorized",
      "WWW-Authenticate: Basic realm=\"chat room\""]),
    (["--status", "HTTP/1.1 403 Forbidden"], [], "403",
     ["handshake failed", "server answered 403 Forbidden"]),
    (["--status", "HTTP/1.1 302 Found"], ["-L"], "a 3xx without Location",
     ["handshake failed", "server answered 302 Found"]),
]


@t.test
def handshake_refusals():
    for srv_args, wsc_args, what, words in REFUSALS:
        srv = raw(*srv_args, "--text", "must not be printed", "--close", "1000")
        r = t.run(wsc_args + [srv.url + "/"], keep_stdin_open=True)
        t.exits(r, 4, f"{what}: exit 4")
        t.is_(r.out, b"", f"{what}: nothing on stdout")
        says(r, what, *words)


# ---- version negotiation (RFC 6455 4.4) -------------------------------------------------

@t.test
def version_426_down_to_8():
    srv = raw("--versions", "8", "--text", "hello from 8", "--close", "1000")
    r = t.run(["-o", "http://example.org", srv.url + "/v"], keep_stdin_open=True)
    t.exits(r, 0, "426 listing 8: exit 0 after the retry")
    t.is_(r.out, b"hello from 8\n", "426 listing 8: the retried connection works")
    says(r, "426 listing 8", "server wants WebSocket version 8; retrying")
    reqs = requests(srv, 2)
    t.is_([h.get("sec-websocket-version") for _, h in reqs], ["13", "8"],
          "426 listing 8: first 13, then 8 on a new connection")
    if len(reqs) == 2:
        t.is_(reqs[1][1].get("sec-websocket-origin"), "http://example.org",
              "version 8 sends Sec-WebSocket-Origin (hybi-08)")
        t.ok("origin" not in reqs[1][1], "version 8 sends no Origin", str(reqs[1]))


@t.test
def version_426_from_8_up_to_13():
    srv = raw("--versions", "13", "--close", "1000")
    r = t.run(["-p", "8", srv.url + "/"], keep_stdin_open=True)
    t.exits(r, 0, "-p 8 and a 426 listing 13: exit 0")
    t.is_([h.get("sec-websocket-version") for _, h in requests(srv, 2)], ["8", "13"],
          "-p 8: first 8, then 13")


@t.test
def version_426_unsupported():
    srv = raw("--versions", "7, 6")
    r = t.run([srv.url + "/"], keep_stdin_open=True)
    t.exits(r, 4, "426 listing only 7 and 6: exit 4")
    says(r, "426 listing only 7 and 6", "426 Upgrade Required", "version 7, 6",
         "wsc speaks 13 and 8")
    t.is_(len(requests(srv)), 1, "426 with no version wsc speaks: no retry")


@t.test
def version_426_twice():
    # The server lists 8 but refuses it too: one retry, not a loop.
    srv = raw("--versions", "8", "--status", "HTTP/1.1 426 Upgrade Required", "--header",
              "Sec-WebSocket-Version: 13")
    r = t.run([srv.url + "/"], keep_stdin_open=True, timeout=15)
    t.exits(r, 4, "426 after the retry too: exit 4")
    t.is_(len(requests(srv, 2)), 2, "426 twice: exactly one retry")


# ---- basic auth ------------------------------------------------------------------------

@t.test
def auth_option():
    srv = raw("--close", "1000")
    r = t.run(["--auth", "alice:s3cr3t", srv.url + "/"], keep_stdin_open=True)
    t.exits(r, 0, "--auth: exit 0")
    reqs = requests(srv)
    t.is_(reqs[0][1].get("authorization") if reqs else None, basic("alice:s3cr3t"),
          "--auth: Authorization: Basic base64(alice:s3cr3t)")


@t.test
def auth_from_url():
    srv = raw("--close", "1000")
    r = t.run([f"ws://bob:p%40ss@127.0.0.1:{srv.port}/"], keep_stdin_open=True)
    t.exits(r, 0, "user info in the URL: exit 0")
    reqs = requests(srv)
    t.is_(reqs[0][1].get("authorization") if reqs else None, basic("bob:p@ss"),
          "user info in the URL (percent-decoded) is sent as Basic auth")
    t.ok(reqs and "bob" not in reqs[0][1].get("host", ""), "user info is not in Host",
         str(reqs))


@t.test
def auth_option_wins_over_url():
    srv = raw("--close", "1000")
    r = t.run(["--auth", "alice:s3cr3t", f"ws://bob:pw@127.0.0.1:{srv.port}/"],
              keep_stdin_open=True)
    t.exits(r, 0, "--auth and user info: exit 0")
    reqs = requests(srv)
    t.is_(reqs[0][1].get("authorization") if reqs else None, basic("alice:s3cr3t"),
          "--auth takes precedence over the URL's user info")


@t.test
def auth_hidden_by_verbose():
    srv = raw("--close", "1000")
    r = t.run(["-v", "--auth", "alice:s3cr3t", srv.url + "/"], keep_stdin_open=True)
    t.exits(r, 0, "-v --auth: exit 0")
    secret = base64.b64encode(b"alice:s3cr3t").decode()
    t.ok(secret not in stderr(r) and "s3cr3t" not in stderr(r),
         "-v never prints the credentials", str(r))
    says(r, "-v --auth", "> Authorization: (hidden)")


@t.test
def auth_bad_option():
    r = t.run(["--auth", "nopassword", "ws://127.0.0.1:1/"])
    t.exits(r, 2, "--auth without a colon: usage error, exit 2")
    says(r, "--auth without a colon", "USER:PASS")


# ---- redirects -------------------------------------------------------------------------

@t.test
def redirect_relative():
    srv = raw("--redirect", "/old", "301", "new?x=1", "--text", "arrived", "--close", "1000")
    r = t.run(["-L", srv.url + "/old"], keep_stdin_open=True)
    t.exits(r, 0, "-L with a relative Location: exit 0")
    t.is_(r.out, b"arrived\n", "-L relative: the new URL answered")
    t.is_([line for line, _ in requests(srv, 2)], ["GET /old HTTP/1.1", "GET /new?x=1 HTTP/1.1"],
          "-L relative: the Location was resolved against the request URL")
    says(r, "-L relative", f"redirected (301) to ws://127.0.0.1:{srv.port}/new?x=1")


@t.test
def redirect_every_status():
    for code in ("301", "302", "303", "307", "308"):
        srv = raw("--redirect", "/a", code, "/b", "--close", "1000")
        r = t.run(["-L", srv.url + "/a"], keep_stdin_open=True)
        t.exits(r, 0, f"-L follows {code}")
        t.is_([line for line, _ in requests(srv, 2)], ["GET /a HTTP/1.1", "GET /b HTTP/1.1"],
              f"-L {code}: a new GET to the Location")


@t.test
def redirect_chain_across_servers():
    final = raw("--text", "at the end", "--close", "1000")
    # http:// in a Location maps to ws://, as a browser's fetch of an upgrade would
    middle = raw("--redirect", "/m", "307", f"http://127.0.0.1:{final.port}/end")
    first = raw("--redirect", "/start", "302", f"ws://127.0.0.1:{middle.port}/m")
    r = t.run(["-L", first.url + "/start"], keep_stdin_open=True)
    t.exits(r, 0, "-L through three servers: exit 0")
    t.is_(r.out, b"at the end\n", "-L chain: the last server answered")
    t.is_([line for line, _ in requests(final)], ["GET /end HTTP/1.1"],
          "-L chain: http:// Location became ws:// on the final server")
    t.is_(len(requests(first)) + len(requests(middle)), 2, "-L chain: one request per hop")


@t.test
def redirect_without_follow():
    srv = raw("--redirect", "/a", "302", "/b")
    r = t.run([srv.url + "/a"], keep_stdin_open=True)
    t.exits(r, 4, "3xx without -L: exit 4")
    says(r, "3xx without -L", "302", "/b", "-L")
    t.is_(len(requests(srv)), 1, "3xx without -L: not followed")


@t.test
def redirect_loop():
    srv = raw("--redirect", "/a", "302", "/b", "--redirect", "/b", "301", "/a")
    r = t.run(["-L", srv.url + "/a"], keep_stdin_open=True)
    t.exits(r, 4, "a redirect loop: exit 4")
    says(r, "a redirect loop", "redirect loop", f"ws://127.0.0.1:{srv.port}/a")
    t.is_(len(requests(srv, 2)), 2, "a redirect loop: stopped at the first revisit")


@t.test
def redirect_too_many():
    srv = raw("--redirect", "/1", "302", "/2", "--redirect", "/2", "302", "/3",
              "--redirect", "/3", "302", "/4", "--close", "1000")
    r = t.run(["-L", "--max-redirects", "2", srv.url + "/1"], keep_stdin_open=True)
    t.exits(r, 4, "--max-redirects 2 and three redirects: exit 4")
    says(r, "--max-redirects 2", "too many redirects", "--max-redirects 2", "/4")
    r = t.run(["-L", "--max-redirects", "3", srv.url + "/1"], keep_stdin_open=True)
    t.exits(r, 0, "--max-redirects 3 and three redirects: exit 0")


@t.test
def redirect_default_limit():
    args = []
    for i in range(11):
        args += ["--redirect", f"/{i}", "302", f"/{i + 1}"]
    srv = raw(*args, "--close", "1000")
    r = t.run(["-L", srv.url + "/1"], keep_stdin_open=True)
    t.exits(r, 0, "ten redirects: followed by default")
    r = t.run(["-L", srv.url + "/0"], keep_stdin_open=True)
    t.exits(r, 4, "eleven redirects: more than the default 10")
    says(r, "eleven redirects", "too many redirects (--max-redirects 10)")


@t.test
def redirect_unfollowed_status():
    srv = raw("--redirect", "/a", "300", "/b")
    r = t.run(["-L", srv.url + "/a"], keep_stdin_open=True)
    t.exits(r, 4, "-L and 300 Multiple Choices: exit 4")
    says(r, "-L and 300", "300", "301, 302, 303, 307 and 308")


@t.test
def redirect_bad_location():
    srv = raw("--redirect", "/a", "302", "gopher://127.0.0.1/")
    r = t.run(["-L", srv.url + "/a"], keep_stdin_open=True)
    t.exits(r, 4, "-L to an unsupported scheme: exit 4")
    says(r, "-L to gopher://", "handshake failed: cannot follow the redirect: unsupported "
         "scheme in Location \"gopher://127.0.0.1/\" (use ws:// or wss://)")


@t.test
def redirect_to_unix_socket_refused():
    srv = raw("--redirect", "/a", "302", "ws+unix:///tmp/wsc-test.sock:/")
    r = t.run(["-L", srv.url + "/a"], keep_stdin_open=True)
    t.exits(r, 4, "-L to ws+unix://: exit 4")
    says(r, "-L to ws+unix://", "Unix socket")


@t.test
def redirect_credentials_stay_home():
    other = raw("--close", "1000")
    home = raw("--redirect", "/a", "302", "/b",
               "--redirect", "/b", "302", f"ws://127.0.0.1:{other.port}/c")
    r = t.run(["-L", "--auth", "alice:s3cr3t", home.url + "/a"], keep_stdin_open=True)
    t.exits(r, 0, "-L --auth across origins: exit 0")
    reqs = requests(home, 2)
    t.is_([h.get("authorization") for _, h in reqs], [basic("alice:s3cr3t")] * 2,
          "-L --auth: credentials sent again on the same origin")
    got = requests(other)
    t.ok(got and "authorization" not in got[0][1],
         "-L --auth: credentials not sent to another origin (another port)", str(got))


@t.test
def redirect_credentials_in_location():
    other = raw("--close", "1000")
    home = raw("--redirect", "/a", "302", f"ws://carol:pw@127.0.0.1:{other.port}/c")
    r = t.run(["-L", home.url + "/a"], keep_stdin_open=True)
    t.exits(r, 0, "-L to a Location with user info: exit 0")
    got = requests(other)
    t.is_(got[0][1].get("authorization") if got else None, basic("carol:pw"),
          "-L: the Location's own user info is used")


@t.test
def redirect_cross_scheme():
    if not HAS_NGINX:
        t.skip("redirect ws -> wss -> ws", f"{daemons.NGINX} is not installed")
        return
    back = echo()
    plain = raw("--text", "plain again", "--close", "1000")
    web = nginx(back.port, {"/to/plain": (302, f"http://127.0.0.1:{plain.port}/plain")})
    port = web.ports["tls"]
    src = raw("--redirect", "/go", "308", f"wss://localhost:{port}/echo")
    r = t.run(["-L", "--ca", certs().ca, src.url + "/go"], input=b"over TLS\n")
    t.exits(r, 0, "-L ws -> wss: exit 0")
    t.is_(r.out, b"over TLS\n", "-L ws -> wss: echoed through nginx over verified TLS")
    says(r, "-L ws -> wss", f"redirected (308) to wss://localhost:{port}/echo")
    r = t.run(["-L", "--ca", certs().ca, f"wss://localhost:{port}/to/plain"],
              keep_stdin_open=True)
    t.exits(r, 0, "-L wss -> ws (nginx: return 302 http://...): exit 0")
    t.is_(r.out, b"plain again\n", "-L wss -> ws: the plain server answered")
    t.is_([line for line, _ in requests(plain)], ["GET /plain HTTP/1.1"],
          "-L wss -> ws: https/http Location mapped to ws")
    r = t.run(["-L", src.url + "/go"], keep_stdin_open=True)
    t.exits(r, 3, "-L ws -> wss without --ca: the new TLS connection is verified, exit 3")
    says(r, "-L ws -> wss without --ca", "certificate")


# ---- HTTP proxies (CONNECT) ------------------------------------------------------------

def tunnelled(proxy, port):
    """True when tinyproxy's log shows a CONNECT to 127.0.0.1:port."""
    return f"CONNECT 127.0.0.1:{port} " in proxy.log()


@t.test
def proxy_option_tinyproxy():
    if not HAS_TINYPROXY:
        t.skip("--proxy through tinyproxy", "tinyproxy is not installed")
        return
    srv = echo()
    proxy = tinyproxy(srv.port)
    r = t.run(["-v", "--proxy", proxy.url, srv.url + "/"], input=b"via proxy\n")
    t.exits(r, 0, "--proxy (tinyproxy): exit 0")
    t.is_(r.out, b"via proxy\n", "--proxy: echoed through the tunnel")
    t.ok(tunnelled(proxy, srv.port), "--proxy: tinyproxy logged the CONNECT", proxy.log())
    says(r, "--proxy -v", f"> CONNECT 127.0.0.1:{srv.port} HTTP/1.1",
         "< HTTP/1.0 200 Connection established", "(from --proxy)")


@t.test
def proxy_env_http_proxy():
    if not HAS_TINYPROXY:
        t.skip("http_proxy through tinyproxy", "tinyproxy is not installed")
        return
    srv = echo()
    proxy = tinyproxy(srv.port)
    r = t.run([srv.url + "/"], input=b"env\n", env={"http_proxy": proxy.url})
    t.exits(r, 0, "http_proxy for ws://: exit 0")
    t.is_(r.out, b"env\n", "http_proxy: echoed")
    t.ok(tunnelled(proxy, srv.port), "http_proxy: the connection went through tinyproxy",
         proxy.log())
    r = t.run([srv.url + "/"], input=b"all\n", env={"all_proxy": proxy.url.replace("http://", "")})
    t.exits(r, 0, "all_proxy (host:port without a scheme): exit 0")
    t.is_(r.out, b"all\n", "all_proxy: echoed")


@t.test
def proxy_env_https_proxy():
    if not (HAS_TINYPROXY and HAS_NGINX):
        t.skip("https_proxy through tinyproxy to nginx", "tinyproxy or nginx is not installed")
        return
    back = echo()
    web = nginx(back.port)
    port = web.ports["tls"]
    proxy = tinyproxy(port)
    url = f"wss://localhost:{port}/"
    for var in ("https_proxy", "HTTPS_PROXY"):
        before = proxy.log().count(f"CONNECT localhost:{port} ")
        r = t.run(["--ca", certs().ca, url], input=b"secret\n", env={var: proxy.url})
        t.exits(r, 0, f"{var} for wss://: exit 0")
        t.is_(r.out, b"secret\n", f"{var}: echoed over TLS inside the tunnel")
        t.is_(proxy.log().count(f"CONNECT localhost:{port} "), before + 1,
              f"{var}: one CONNECT localhost:{port} (the proxy resolves the name)")
    r = t.run([url], env={"https_proxy": proxy.url}, keep_stdin_open=True)
    t.exits(r, 3, "https_proxy without --ca: TLS inside the tunnel is verified, exit 3")
    says(r, "https_proxy without --ca", "certificate")


@t.test
def proxy_env_ignored():
    # HTTP_PROXY (upper case) is ignored as curl does; https_proxy is for wss only;
    # --proxy "" turns the environment off; no_proxy bypasses.
    srv = echo()
    dead = f"http://127.0.0.1:{t.free_port()}"
    cases = [
        ({"HTTP_PROXY": dead}, [], "HTTP_PROXY (upper case) is ignored for ws://"),
        ({"https_proxy": dead}, [], "https_proxy is not used for ws://"),
        ({"http_proxy": dead}, ["--proxy", ""], "--proxy \"\" turns http_proxy off"),
        ({"http_proxy": dead, "no_proxy": "127.0.0.1"}, [], "no_proxy=127.0.0.1 bypasses"),
        ({"http_proxy": dead, "NO_PROXY": "example.com, 127.0.0.0/8"}, [],
         "NO_PROXY with a CIDR range bypasses"),
        ({"http_proxy": dead, "no_proxy": f"127.0.0.1:{srv.port}"}, [],
         "no_proxy with the server's port bypasses"),
        ({"http_proxy": dead, "no_proxy": "*"}, [], "no_proxy=* bypasses"),
        ({"no_proxy": "127.0.0.1"}, ["--proxy", dead], "no_proxy bypasses --proxy too"),
    ]
    for env, args, what in cases:
        r = t.run(args + [srv.url + "/"], input=b"direct\n", env=env)
        t.exits(r, 0, f"{what}: exit 0")
        t.is_(r.out, b"direct\n", f"{what}: connected directly")


@t.test
def proxy_env_used_when_not_bypassed():
    dead_port = t.free_port()
    dead = f"http://127.0.0.1:{dead_port}"
    cases = [
        ({"http_proxy": dead}, "http_proxy"),
        ({"http_proxy": dead, "no_proxy": "example.com,localhost"}, "http_proxy"),
        ({"http_proxy": dead, "no_proxy": "127.0.0.1:1"}, "http_proxy"),
        ({"ALL_PROXY": dead}, "ALL_PROXY"),
    ]
    for env, source in cases:
        r = t.run(["ws://127.0.0.1:9/"], env=env, keep_stdin_open=True)
        what = " ".join(f"{k}={v}" for k, v in env.items())
        t.exits(r, 3, f"{what}: the proxy is used (and is down): exit 3")
        says(r, what, f"proxy 127.0.0.1:{dead_port} (from {source})", "cannot connect")


@t.test
def proxy_refused_by_tinyproxy():
    if not HAS_TINYPROXY:
        t.skip("tinyproxy refusing a port", "tinyproxy is not installed")
        return
    srv = echo()
    proxy = tinyproxy(srv.port + 1 if srv.port < 65535 else srv.port - 1)
    r = t.run(["--proxy", proxy.url, srv.url + "/"], keep_stdin_open=True)
    t.exits(r, 3, "tinyproxy refuses CONNECT to a port not allowed: exit 3")
    says(r, "tinyproxy refuses", "proxy answered 403", f"CONNECT 127.0.0.1:{srv.port}",
         f"proxy 127.0.0.1:{proxy.port}")


@t.test
def proxy_refuses():
    proxy = raw_proxy("--status", "HTTP/1.1 403 Forbidden")
    r = t.run(["--proxy", f"http://127.0.0.1:{proxy.port}", "ws://example.com/"],
              keep_stdin_open=True)
    t.exits(r, 3, "a proxy answering 403: exit 3")
    says(r, "a proxy answering 403", "proxy answered 403 Forbidden", "CONNECT example.com:80")
    reqs = requests(proxy)
    t.is_(reqs[0][0] if reqs else None, "CONNECT example.com:80 HTTP/1.1",
          "the proxy got CONNECT host:port for the unresolved name")
    t.is_(reqs[0][1].get("host") if reqs else None, "example.com:80", "CONNECT has Host")
    t.ok(reqs and "proxy-authorization" not in reqs[0][1], "no credentials: none sent")
    proxy = raw_proxy("--status", "HTTP/1.1 502 Bad Gateway")
    r = t.run(["--proxy", f"127.0.0.1:{proxy.port}", "wss://[2001:db8::1]:8443/"],
              keep_stdin_open=True)
    t.exits(r, 3, "a proxy answering 502 for wss: exit 3")
    says(r, "a proxy answering 502", "proxy answered 502 Bad Gateway",
         "CONNECT [2001:db8::1]:8443")


@t.test
def proxy_credentials():
    srv = echo()
    proxy = raw_proxy("--auth", "puser:ppass")
    url = f"127.0.0.1:{proxy.port}"
    r = t.run(["--proxy", "http://" + url, srv.url + "/"], keep_stdin_open=True)
    t.exits(r, 3, "a proxy wanting credentials, none given: exit 3")
    says(r, "no proxy credentials", "proxy answered 407 Proxy Authentication Required",
         "Proxy-Authenticate: Basic realm=\"wsc-test\"")
    r = t.run(["-v", "--proxy", f"http://puser:ppass@{url}", srv.url + "/"], input=b"auth ok\n")
    t.exits(r, 0, "proxy credentials in the proxy URL: exit 0")
    t.is_(r.out, b"auth ok\n", "proxy credentials: echoed through the tunnel")
    reqs = requests(proxy, 2)
    t.is_(reqs[-1][1].get("proxy-authorization") if reqs else None, basic("puser:ppass"),
          "Proxy-Authorization: Basic base64(puser:ppass)")
    t.ok("cHVzZXI6cHBhc3M" not in stderr(r) and "ppass" not in stderr(r),
         "-v hides the proxy credentials", str(r))
    says(r, "-v with proxy credentials", "> Proxy-Authorization: (hidden)")
    t.ok(reqs and "authorization" not in reqs[-1][1],
         "the proxy's credentials are not sent as Authorization", str(reqs))
    r = t.run([srv.url + "/"], input=b"env auth\n",
              env={"http_proxy": f"http://puser:ppass@{url}"})
    t.exits(r, 0, "proxy credentials from http_proxy: exit 0")


@t.test
def proxy_bad_answers():
    cases = [
        ("garbage", "not valid HTTP"),
        ("truncated", "closed the connection in the middle of its answer"),
        ("oversized", "larger than 16384 bytes"),
    ]
    for mode, words in cases:
        proxy = raw_proxy("--answer", mode)
        r = t.run(["--proxy", f"127.0.0.1:{proxy.port}", "ws://example.com/"],
                  keep_stdin_open=True)
        t.exits(r, 3, f"a proxy answering {mode}: exit 3")
        says(r, f"a proxy answering {mode}", words, f"proxy 127.0.0.1:{proxy.port}")
    proxy = raw_proxy("--answer", "silent")
    r = t.run(["--connect-timeout", "0.5", "--proxy", f"127.0.0.1:{proxy.port}",
               "ws://example.com/"], keep_stdin_open=True)
    t.exits(r, 3, "a silent proxy and --connect-timeout 0.5: exit 3")
    says(r, "a silent proxy", "did not answer CONNECT in time")
    t.ok(r.elapsed < 5, "a silent proxy: gives up after about 0.5 s", str(r))


@t.test
def proxy_tunnel_through_raw_proxy():
    srv = raw("--text", "through", "--close", "1000")
    proxy = raw_proxy()
    r = t.run(["--proxy", f"127.0.0.1:{proxy.port}", srv.url + "/"], keep_stdin_open=True)
    t.exits(r, 0, "raw_proxy tunnel: exit 0")
    t.is_(r.out, b"through\n", "raw_proxy tunnel: frames arrive")
    reqs = requests(srv)
    t.is_(reqs[0][1].get("host") if reqs else None, f"127.0.0.1:{srv.port}",
          "through a proxy, Host still names the server")


@t.test
def proxy_bad_settings():
    r = t.run(["--proxy", "socks5://127.0.0.1:1080", "ws://127.0.0.1:9/"])
    t.exits(r, 2, "--proxy socks5://: usage error, exit 2")
    says(r, "--proxy socks5://", "--proxy", "unsupported proxy scheme \"socks5\"")
    r = t.run(["ws://127.0.0.1:9/"], env={"http_proxy": "https://127.0.0.1:3128"},
              keep_stdin_open=True)
    t.exits(r, 3, "http_proxy=https://...: exit 3")
    says(r, "http_proxy=https://...", "http_proxy", "unsupported proxy scheme \"https\"")


# ---- timeouts and address families -----------------------------------------------------

@t.test
def handshake_timeout():
    srv = raw("--handshake", "silent")
    r = t.run(["--handshake-timeout", "0.5", srv.url + "/"], keep_stdin_open=True)
    t.exits(r, 4, "a server that accepts and never answers: exit 4")
    says(r, "a silent server", "no handshake answer within 0.5 s")
    t.ok(r.elapsed < 5, "--handshake-timeout 0.5: gives up after about 0.5 s", str(r))


@t.test
def connect_timeout():
    # A listening socket whose accept queue is full: the kernel drops further SYNs,
    # so connect() neither succeeds nor fails.
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(c)
        time.sleep(0.2)
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.settimeout(0.3)
        try:
            probe.connect(("127.0.0.1", port))
            hangs = False
        except (socket.timeout, OSError):
            hangs = True
        finally:
            probe.close()
        if not hangs:
            t.skip("--connect-timeout", "this kernel completes connections to a full queue")
            return
        r = t.run(["--connect-timeout", "0.5", f"ws://127.0.0.1:{port}/"],
                  keep_stdin_open=True)
        t.exits(r, 3, "--connect-timeout 0.5 and no SYN-ACK: exit 3")
        says(r, "--connect-timeout", f"cannot connect to 127.0.0.1:{port}: timed out")
        t.ok(r.elapsed < 5, "--connect-timeout 0.5: gives up after about 0.5 s", str(r))
    finally:
        for c in fillers:
            c.close()
        lsock.close()


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@t.test
def address_families():
    srv4 = raw("--close", "1000")
    r = t.run(["-4", srv4.url + "/"], keep_stdin_open=True)
    t.exits(r, 0, "-4 and 127.0.0.1: exit 0")
    r = t.run(["-6", srv4.url + "/"], keep_stdin_open=True)
    t.exits(r, 3, "-6 and an IPv4 address: exit 3")
    says(r, "-6 and 127.0.0.1", "cannot resolve 127.0.0.1")
    if not has_ipv6_loopback():
        t.skip("-6 against ::1", "no IPv6 loopback here")
        return
    srv6 = raw("--bind", "::1", "--text", "six", "--close", "1000")
    r = t.run(["-6", f"ws://[::1]:{srv6.port}/"], keep_stdin_open=True)
    t.exits(r, 0, "-6 and [::1]: exit 0")
    t.is_(r.out, b"six\n", "-6 and [::1]: the IPv6 server answered")
    reqs = requests(srv6)
    t.is_(reqs[0][1].get("host") if reqs else None, f"[::1]:{srv6.port}",
          "an IPv6 literal is bracketed in Host")
    r = t.run(["-4", f"ws://[::1]:{srv6.port}/"], keep_stdin_open=True)
    t.exits(r, 3, "-4 and [::1]: exit 3")
    says(r, "-4 and [::1]", "cannot resolve ::1")


def resolves_to_both(argv_prefix, name):
    """True when name resolves to ::1 and 127.0.0.1 for a command run under argv_prefix."""
    try:
        p = subprocess.run([*argv_prefix, "getent", "ahostsv6", name], capture_output=True,
                           timeout=10)
        q = subprocess.run([*argv_prefix, "getent", "ahostsv4", name], capture_output=True,
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return (p.returncode == 0 and q.returncode == 0 and
            p.stdout.split()[:1] == [b"::1"] and q.stdout.split()[:1] == [b"127.0.0.1"])


def dual_stack_name():
    """A host name that resolves to both ::1 and 127.0.0.1, and the argv prefix that makes
    it so: localhost itself where the hosts file says so; otherwise, as root, a private
    mount namespace with a hosts file of our own over /etc/hosts."""
    if resolves_to_both([], "localhost"):
        return "localhost", []
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return None, None
    hosts = t.tmpfile("hosts")
    with open(hosts, "w") as f:
        f.write("::1 wsc-dual\n127.0.0.1 wsc-dual\n")
    prefix = ["unshare", "--mount", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"',
              hosts]
    return ("wsc-dual", prefix) if resolves_to_both(prefix, "wsc-dual") else (None, None)


@t.test
def every_address_tried():
    # A name with an IPv6 and an IPv4 address: a server on only one of them is reached
    # whichever comes first, and -4/-6 choose.
    name, prefix = dual_stack_name() if has_ipv6_loopback() else (None, None)
    if not name:
        t.skip("every address of a dual-stack name tried in order",
               "no name resolves to both ::1 and 127.0.0.1 here, and no mount namespace "
               "to make one")
        return
    for bind, flag_ok, flag_bad in (("127.0.0.1", "-4", "-6"), ("::1", "-6", "-4")):
        srv = raw("--bind", bind, "--text", "found", "--close", "1000")
        url = f"ws://{name}:{srv.port}/"

        def run(*args):
            return t.Proc([*prefix, t.WSC, *args], close_stdin=False).wait(10)
        r = run(url)
        t.exits(r, 0, f"{name} with a server on {bind} only: exit 0")
        t.is_(r.out, b"found\n", f"{name}, server on {bind}: reached")
        r = run(flag_ok, url)
        t.exits(r, 0, f"{flag_ok} {name}, server on {bind}: exit 0")
        r = run(flag_bad, url)
        t.exits(r, 3, f"{flag_bad} {name}, server on {bind}: exit 3")
        says(r, f"{flag_bad} {name}", "cannot connect to")


@t.test
def connection_refused_names_address():
    port = t.free_port()
    r = t.run([f"ws://127.0.0.1:{port}/"])
    t.exits(r, 3, "connection refused: exit 3")
    says(r, "connection refused", f"cannot connect to 127.0.0.1:{port}", "refused")


@t.test
def unix_socket():
    path = os.path.join(t.tmpdir(), "ws.sock")
    srv = t.server("echo_server.py", "--unix", path)
    r = t.run([f"ws+unix://{path}:/chat?x=1"], input=b"over a unix socket\n")
    t.exits(r, 0, "ws+unix://: exit 0")
    t.is_(r.out, b"over a unix socket\n", "ws+unix://: the echo comes back")
    conn = srv.wait_event(lambda e: e.get("event") == "connect")
    t.ok(conn and conn.get("path") == "/chat?x=1", "ws+unix://: the resource after the path",
         f"connect event: {conn}")


@t.test
def host_header_override():
    srv = raw("--text", "hi", "--close", "1000")
    r = t.run(["-H", "Host: example.test:8443", srv.url], keep_stdin_open=True)
    t.exits(r, 0, "-H Host: exit 0")
    heads = requests(srv)
    host = heads[0][1].get("host") if heads else None
    t.is_(host, "example.test:8443", "-H 'Host: ...' replaces the default Host header")
    t.is_(sum(1 for k in (heads[0][1] if heads else {}) if k == "host"), 1,
          "-H Host: only one Host header")


@t.test
def ws_reads_no_openssl_cnf():
    """A ws:// session sets OpenSSL up for SHA-1 only: it must not open the
    configuration file. OPENSSL_CONF names a FIFO that nobody writes, so an
    open() of it would block until the timeout."""
    fifo = os.path.join(t.tmpdir(), "openssl.cnf.fifo")
    os.mkfifo(fifo)
    srv = t.server("echo_server.py")
    r = t.run([srv.url], input=b"no config\n", env={"OPENSSL_CONF": fifo}, timeout=10)
    t.exits(r, 0, "ws:// with OPENSSL_CONF on an unwritten FIFO: exit 0, no hang")
    t.is_(r.out, b"no config\n", "ws:// with OPENSSL_CONF on an unwritten FIFO: the echo")
    port, proc = None, t.spawn(["-l", "0", "--echo"], env={"OPENSSL_CONF": fifo})
    end = time.monotonic() + 5
    while time.monotonic() < end and port is None:
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", proc.err)
        port = int(m.group(1)) if m else None
        time.sleep(0.02)
    got = None
    if port:
        s, head, _ = wsframe.client_handshake(port)
        s.close()
        got = head.split("\r\n")[0]
    t.is_(got, "HTTP/1.1 101 Switching Protocols",
          "wsc -l without --cert, OPENSSL_CONF on an unwritten FIFO: the handshake is answered")


t.main()
