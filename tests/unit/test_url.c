/* SPDX-License-Identifier: MIT */
/* Unit tests for url.c: a table of URLs as users type them (schemes, default
 * and explicit ports, IPv6 literals, paths, queries, fragments, user info,
 * Unix sockets) with every field of the result, a table of URLs that must be
 * refused, redirect resolution (RFC 3986 5.2) and the Host header (RFC 6455
 * 4.1, RFC 9110 7.2), and the error messages word for word: each quotes the
 * URL whole, as typed, with a password masked. Each input is copied into a
 * heap buffer of exactly its size (with its NUL), so that ASan catches an
 * over-read. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "url.h"

static int parse(const char *s, struct url *u, char *err, size_t errlen)
{
    char *copy = (char *)tap_dup(s, strlen(s) + 1);
    int rc = url_parse(copy, u, err, errlen);
    free(copy);
    return rc;
}

/* ---- URLs that parse ---- */

struct good {
    const char *name;
    const char *input;
    bool is_tls;
    const char *host;
    bool is_ipv6;
    unsigned port;
    bool has_port;
    const char *path;
    const char *userinfo;
    const char *host_header;
};

static const struct good goods[] = {
    {"ws scheme", "ws://example.com/chat", false, "example.com", false, 80, false, "/chat", "",
     "example.com"},
    {"wss scheme", "wss://example.com/chat", true, "example.com", false, 443, false, "/chat", "",
     "example.com"},
    {"http maps to ws", "http://example.com/chat", false, "example.com", false, 80, false,
     "/chat", "", "example.com"},
    {"https maps to wss", "https://example.com/chat", true, "example.com", false, 443, false,
     "/chat", "", "example.com"},
    {"RFC 3986 3.1 schemes are case-insensitive", "WSS://Example.com/", true, "Example.com",
     false, 443, false, "/", "", "Example.com"},
    {"no scheme means ws", "example.com/chat", false, "example.com", false, 80, false, "/chat",
     "", "example.com"},
    {"no scheme with a port", "localhost:8080", false, "localhost", false, 8080, true, "/", "",
     "localhost:8080"},
    {"no scheme with a port and path", "localhost:8080/x?y=1", false, "localhost", false, 8080,
     true, "/x?y=1", "", "localhost:8080"},
    {"RFC 6455 3 default port 80 for ws", "ws://h", false, "h", false, 80, false, "/", "", "h"},
    {"RFC 6455 3 default port 443 for wss", "wss://h", true, "h", false, 443, false, "/", "",
     "h"},
    {"explicit port", "ws://h:9000/", false, "h", false, 9000, true, "/", "", "h:9000"},
    {"explicit port on wss", "wss://h:8443/a", true, "h", false, 8443, true, "/a", "", "h:8443"},
    {"explicit default port 80 is left out of Host", "ws://h:80/", false, "h", false, 80, true,
     "/", "", "h"},
    {"explicit default port 443 is left out of Host", "wss://h:443/", true, "h", false, 443,
     true, "/", "", "h"},
    {"port 443 on ws is not a default", "ws://h:443/", false, "h", false, 443, true, "/", "",
     "h:443"},
    {"port 80 on wss is not a default", "wss://h:80/", true, "h", false, 80, true, "/", "",
     "h:80"},
    {"port 1", "ws://h:1", false, "h", false, 1, true, "/", "", "h:1"},
    {"port 65535", "ws://h:65535", false, "h", false, 65535, true, "/", "", "h:65535"},
    {"RFC 3986 3.2.3 empty port means the default", "ws://h:/x", false, "h", false, 80, false,
     "/x", "", "h"},
    {"IPv4 address", "ws://127.0.0.1:9001/", false, "127.0.0.1", false, 9001, true, "/", "",
     "127.0.0.1:9001"},
    {"RFC 3986 3.2.2 IPv6 literal with port", "ws://[::1]:9000/", false, "::1", true, 9000, true,
     "/", "", "[::1]:9000"},
    {"IPv6 literal without port", "wss://[2001:db8::1]/chat", true, "2001:db8::1", true, 443,
     false, "/chat", "", "[2001:db8::1]"},
    {"IPv6 literal with no path", "ws://[::1]", false, "::1", true, 80, false, "/", "",
     "[::1]"},
    {"IPv6 literal without scheme", "[::1]:9000", false, "::1", true, 9000, true, "/", "",
     "[::1]:9000"},
    {"IPv4-mapped IPv6 literal", "ws://[::ffff:127.0.0.1]:81/", false, "::ffff:127.0.0.1", true,
     81, true, "/", "", "[::ffff:127.0.0.1]:81"},
    {"default path is /", "ws://h", false, "h", false, 80, false, "/", "", "h"},
    {"query kept, path defaults to /", "ws://h?x=1", false, "h", false, 80, false, "/?x=1", "",
     "h"},
    {"path and query kept", "ws://h/a/b?x=1&y=2", false, "h", false, 80, false, "/a/b?x=1&y=2",
     "", "h"},
    {"query on a port", "ws://h:9000?x=1", false, "h", false, 9000, true, "/?x=1", "",
     "h:9000"},
    {"RFC 6455 3 fragment dropped", "ws://h/chat#frag", false, "h", false, 80, false, "/chat",
     "", "h"},
    {"RFC 6455 3 fragment dropped after a query", "ws://h/chat?x=1#frag", false, "h", false, 80,
     false, "/chat?x=1", "", "h"},
    {"fragment only", "ws://h#frag", false, "h", false, 80, false, "/", "", "h"},
    {"percent escapes in the path kept", "ws://h/a%20b", false, "h", false, 80, false, "/a%20b",
     "", "h"},
    {"user info", "ws://user:pass@h/", false, "h", false, 80, false, "/", "user:pass", "h"},
    {"user info without password", "ws://user@h:9000/", false, "h", false, 9000, true, "/",
     "user", "h:9000"},
    {"user info percent-decoded", "ws://us%65r:p%40ss%3Aw%2fd@h/", false, "h", false, 80, false,
     "/", "user:p@ss:w/d", "h"},
    {"user info with '@' in the password, last '@' ends it", "ws://u:a@b@h/", false, "h", false,
     80, false, "/", "u:a@b", "h"},
    {"user info with IPv6", "wss://u:p@[::1]:9443/x", true, "::1", true, 9443, true, "/x",
     "u:p", "[::1]:9443"},
};

static void test_good(const struct good *g)
{
    struct url u;
    char err[256] = "";
    int rc = parse(g->input, &u, err, sizeof(err));
    if (!tap_ok(rc == 0, "url %s: \"%s\" parses", g->name, g->input)) {
        tap_diag("error: %s", err);
        return;
    }
    bool ok = u.is_tls == g->is_tls && !u.is_unix && strcmp(u.host, g->host) == 0 &&
              u.is_ipv6 == g->is_ipv6 && u.port == g->port && u.has_port == g->has_port &&
              strcmp(u.path, g->path) == 0 && strcmp(u.userinfo, g->userinfo) == 0;
    if (!tap_ok(ok, "url %s: tls %d, host \"%s\", port %u%s, path \"%s\", userinfo \"%s\"",
                g->name, g->is_tls, g->host, g->port, g->has_port ? " (explicit)" : "", g->path,
                g->userinfo))
        tap_diag("got tls %d unix %d host \"%s\" v6 %d port %u explicit %d path \"%s\" "
                 "userinfo \"%s\"",
                 u.is_tls, u.is_unix, u.host, u.is_ipv6, u.port, u.has_port, u.path, u.userinfo);
    char host[300];
    url_host_header(&u, host, sizeof(host));
    if (!tap_ok(strcmp(host, g->host_header) == 0, "url %s: Host header \"%s\"", g->name,
                g->host_header))
        tap_diag("got \"%s\"", host);
}

/* ---- URLs that are refused ---- */

struct bad {
    const char *name;
    const char *input;
    const char *why; /* a word the error message must contain */
};

static const struct bad bads[] = {
    {"empty", "", "empty"},
    {"unsupported scheme ftp", "ftp://h/", "scheme"},
    {"unsupported scheme file", "file:///etc/passwd", "scheme"},
    {"unsupported scheme wsx", "wsx://h/", "scheme"},
    {"empty scheme", "://h/", "scheme"},
    {"port 0", "ws://h:0/", "port"},
    {"port 65536", "ws://h:65536/", "port"},
    {"port 99999999999999999999", "ws://h:99999999999999999999/", "port"},
    {"port not numeric", "ws://h:http/", "port"},
    {"port with a sign", "ws://h:+80/", "port"},
    {"port with a trailing letter", "ws://h:80a/", "port"},
    {"port -1", "ws://h:-1/", "port"},
    {"two ports", "ws://h:80:81/", "port"},
    {"port 0 on IPv6", "ws://[::1]:0/", "port"},
    {"port 65536 on IPv6", "ws://[::1]:65536/", "port"},
    {"missing host", "ws:///chat", "host"},
    {"missing host, scheme only", "ws://", "host"},
    {"missing host with port", "ws://:80/", "host"},
    {"missing host after user info", "ws://user@/x", "host"},
    {"unterminated IPv6 literal", "ws://[::1/", "IPv6"},
    {"empty IPv6 literal", "ws://[]/", "IPv6"},
    {"text after an IPv6 literal", "ws://[::1]x/", "IPv6"},
    {"bad character in an IPv6 literal", "ws://[::g!]/", "IPv6"},
    {"space in the host", "ws://ex ample.com/", "space"},
    {"space in the path", "ws://h/a b", "space"},
    {"leading space", " ws://h/", "space"},
    {"trailing newline", "ws://h/\n", "control"},
    {"CR LF in the path (header injection)", "ws://h/x\r\nX-Evil: 1", "control"},
    {"tab", "ws://h/\tx", "control"},
    {"DEL", "ws://h/\x7f", "control"},
    {"escape character", "ws://h/\x1b[31m", "control"},
    {"bad percent escape in user info", "ws://us%zzer@h/", "user"},
    {"truncated percent escape in user info", "ws://user%4@h/", "user"},
    {"empty Unix socket path", "ws+unix://:/chat", "Unix"},
};

static void test_bad(const struct bad *b)
{
    struct url u;
    char err[256] = "";
    int rc = parse(b->input, &u, err, sizeof(err));
    if (!tap_ok(rc == -1 && err[0], "url %s: refused", b->name))
        return;
    if (!tap_ok(strstr(err, b->why) != NULL, "url %s: the reason mentions \"%s\"", b->name,
                b->why))
        tap_diag("reason: %s", err);
}

/* ---- ws+unix ---- */

static void test_unix(void)
{
    struct url u;
    char err[256] = "";
    int rc = parse("ws+unix:///tmp/s.sock:/chat", &u, err, sizeof(err));
    tap_ok(rc == 0 && u.is_unix && !u.is_tls && strcmp(u.unix_path, "/tmp/s.sock") == 0 &&
               strcmp(u.path, "/chat") == 0,
           "url ws+unix:///tmp/s.sock:/chat: socket /tmp/s.sock, path /chat");
    rc = parse("ws+unix:///tmp/s.sock", &u, err, sizeof(err));
    tap_ok(rc == 0 && u.is_unix && strcmp(u.unix_path, "/tmp/s.sock") == 0 &&
               strcmp(u.path, "/") == 0,
           "url ws+unix:///tmp/s.sock: default path /");
    rc = parse("ws+unix:///tmp/s.sock:/chat?room=1#x", &u, err, sizeof(err));
    tap_ok(rc == 0 && strcmp(u.path, "/chat?room=1") == 0,
           "url ws+unix: query kept and fragment dropped");
    rc = parse("wss+unix:///run/a.sock:/", &u, err, sizeof(err));
    tap_ok(rc == 0 && u.is_unix && u.is_tls && strcmp(u.unix_path, "/run/a.sock") == 0,
           "url wss+unix: TLS over a Unix socket");
    char path[200];
    memset(path, 'a', sizeof(path));
    memcpy(path, "ws+unix:///", 11);
    memcpy(path + sizeof(path) - 7, ":/chat", 7);
    rc = parse(path, &u, err, sizeof(err));
    tap_ok(rc == -1, "url ws+unix: a socket path longer than sun_path is refused");

    char host[300];
    parse("ws+unix:///tmp/s.sock:/chat", &u, err, sizeof(err));
    url_host_header(&u, host, sizeof(host));
    if (!tap_ok(strcmp(host, "localhost") == 0,
                "url ws+unix: the Host header is \"localhost\", with no port"))
        tap_diag("got \"%s\"", host);
    /* RFC 9112 3.2: the origin-form target starts with '/'. */
    rc = parse("ws+unix:///tmp/s.sock:chat", &u, err, sizeof(err));
    if (!tap_ok(rc == -1 || u.path[0] == '/',
                "url ws+unix:///tmp/s.sock:chat: the path starts with '/' (or is refused)"))
        tap_diag("got path \"%s\"", u.path);
}

/* ---- limits ---- */

static void test_limits(void)
{
    struct url u;
    char err[256] = "";
    char *s = malloc(5000);
    if (!s)
        abort();

    /* a 255-byte host fits host[256]; 256 bytes do not */
    strcpy(s, "ws://");
    memset(s + 5, 'a', 255);
    strcpy(s + 260, "/");
    tap_ok(parse(s, &u, err, sizeof(err)) == 0 && strlen(u.host) == 255,
           "url: a 255-byte host name is accepted");
    memset(s + 5, 'a', 256);
    strcpy(s + 261, "/");
    tap_ok(parse(s, &u, err, sizeof(err)) == -1, "url: a 256-byte host name is refused");

    /* a path of 4000 bytes fits path[4096]; 4096 bytes do not */
    strcpy(s, "ws://h");
    s[6] = '/';
    memset(s + 7, 'p', 3999);
    s[4006] = 0;
    int rc = parse(s, &u, err, sizeof(err));
    tap_ok(rc == 0 && strlen(u.path) == 4000, "url: a 4000-byte path is accepted");
    memset(s + 7, 'p', 4095);
    s[4102] = 0;
    tap_ok(parse(s, &u, err, sizeof(err)) == -1, "url: a 4096-byte path is refused");

    /* user info that does not fit */
    strcpy(s, "ws://");
    memset(s + 5, 'u', 300);
    strcpy(s + 305, "@h/");
    tap_ok(parse(s, &u, err, sizeof(err)) == -1, "url: 300 bytes of user info are refused");
    free(s);

    /* a short error buffer is not overrun */
    char small[8];
    tap_ok(parse("ftp://h/", &u, small, sizeof(small)) == -1 && strlen(small) < sizeof(small),
           "url: the error message is cut to the buffer");
}

/* ---- redirects ---- */

struct redirect {
    const char *name;
    const char *base;
    const char *location;
    const char *expect; /* url_format of the result, NULL when refused */
    const char *userinfo;
};

static const struct redirect redirects[] = {
    {"RFC 3986 5.2 absolute ws", "ws://a.example/x", "ws://b.example:9000/y?z=1",
     "ws://b.example:9000/y?z=1", ""},
    {"absolute https becomes wss", "ws://a.example/x", "https://b.example/y",
     "wss://b.example/y", ""},
    {"absolute http becomes ws", "wss://a.example/x", "http://b.example/y", "ws://b.example/y",
     ""},
    {"absolute drops the old user info", "ws://u:p@a.example/x", "ws://b.example/y",
     "ws://b.example/y", ""},
    {"absolute with its own user info", "ws://a.example/x", "ws://v:q@b.example/y",
     "ws://b.example/y", "v:q"},
    {"scheme-relative keeps ws", "ws://a.example/x", "//b.example/y", "ws://b.example/y", ""},
    {"scheme-relative keeps wss", "wss://a.example/x", "//b.example:8443/y",
     "wss://b.example:8443/y", ""},
    {"scheme-relative to IPv6", "ws://a.example/x", "//[::1]:9000/y", "ws://[::1]:9000/y", ""},
    {"absolute-path", "wss://a.example:8443/x/y?q=1", "/z", "wss://a.example:8443/z", ""},
    {"absolute-path with query", "ws://a.example/x", "/z?k=v", "ws://a.example/z?k=v", ""},
    {"absolute-path keeps the user info", "ws://u:p@a.example/x", "/z", "ws://a.example/z",
     "u:p"},
    {"absolute-path drops a fragment", "ws://a.example/x", "/z#top", "ws://a.example/z", ""},
    {"query-only replaces the query", "ws://a.example/x/y?q=1", "?r=2",
     "ws://a.example/x/y?r=2", ""},
    {"query-only adds a query", "ws://a.example/x/y", "?r=2", "ws://a.example/x/y?r=2", ""},
    {"query-only on the root", "ws://a.example", "?r=2", "ws://a.example/?r=2", ""},
    {"relative replaces the last segment", "ws://a.example/x/y?q=1", "z",
     "ws://a.example/x/z", ""},
    {"relative with a query", "ws://a.example/x/y", "z?w=1", "ws://a.example/x/z?w=1", ""},
    {"relative against a directory", "ws://a.example/x/", "z", "ws://a.example/x/z", ""},
    {"relative against the root", "ws://a.example", "z", "ws://a.example/z", ""},
    {"relative with a fragment", "ws://a.example/x/y", "z#f", "ws://a.example/x/z", ""},
    {"relative keeps the port", "ws://a.example:9000/x/y", "z", "ws://a.example:9000/x/z", ""},
    {"absolute-path with '://' in the query", "ws://a.example/x",
     "/login?next=http://c.example/", "ws://a.example/login?next=http://c.example/", ""},
    {"relative with '://' in the query", "ws://a.example/x/y", "z?u=ws://c/",
     "ws://a.example/x/z?u=ws://c/", ""},
    {"unsupported scheme refused", "ws://a.example/x", "ftp://b.example/", NULL, ""},
    {"space refused", "ws://a.example/x", "/a b", NULL, ""},
    {"CR LF refused", "ws://a.example/x", "/a\r\nX: y", NULL, ""},
    {"scheme-relative without a host refused", "ws://a.example/x", "///y", NULL, ""},
    {"scheme-relative with port 0 refused", "ws://a.example/x", "//b:0/", NULL, ""},
};

static void test_redirect(const struct redirect *r)
{
    struct url base, out;
    char err[256] = "";
    if (parse(r->base, &base, err, sizeof(err)) != 0) {
        tap_ok(0, "url_resolve %s: base %s parses", r->name, r->base);
        return;
    }
    char *loc = (char *)tap_dup(r->location, strlen(r->location) + 1);
    int rc = url_resolve(&base, loc, &out, err, sizeof(err));
    free(loc);
    if (!r->expect) {
        if (!tap_ok(rc == -1 && err[0], "url_resolve %s: \"%s\" is refused", r->name,
                    r->location))
            tap_diag("got rc %d", rc);
        return;
    }
    char got[5000] = "";
    if (rc == 0)
        url_format(&out, got, sizeof(got));
    if (!tap_ok(rc == 0 && strcmp(got, r->expect) == 0 && strcmp(out.userinfo, r->userinfo) == 0,
                "url_resolve %s: %s + \"%s\" -> %s", r->name, r->base, r->location, r->expect))
        tap_diag("got rc %d \"%s\" userinfo \"%s\" (%s)", rc, got, rc == 0 ? out.userinfo : "",
                 rc ? err : "");
}

/* ---- url_format ---- */

static void test_format(void)
{
    static const struct {
        const char *input, *expect;
    } cases[] = {
        {"ws://h/x", "ws://h/x"},
        {"https://u:p@h:443/x?y#z", "wss://h/x?y"},
        {"ws://[::1]:9000", "ws://[::1]:9000/"},
        {"ws+unix:///tmp/s.sock:/chat", "ws+unix:///tmp/s.sock:/chat"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct url u;
        char err[256], out[5000] = "";
        if (parse(cases[i].input, &u, err, sizeof(err)) == 0)
            url_format(&u, out, sizeof(out));
        if (!tap_ok(strcmp(out, cases[i].expect) == 0,
                    "url_format(\"%s\") is \"%s\" (no user info)", cases[i].input,
                    cases[i].expect))
            tap_diag("got \"%s\"", out);
    }
    struct url u;
    char err[256], out[8];
    parse("ws://example.com/a/long/path", &u, err, sizeof(err));
    url_format(&u, out, sizeof(out));
    tap_ok(strlen(out) == sizeof(out) - 1, "url_format cuts to its buffer");
    url_host_header(&u, out, sizeof(out));
    tap_ok(strlen(out) == sizeof(out) - 1, "url_host_header cuts to its buffer");
}

/* No-scheme URLs whose path or query holds ':' or "://". */
static void test_no_scheme_colons(void)
{
    struct url u;
    char err[256] = "";
    int rc = parse("localhost:8080/chat?at=12:30", &u, err, sizeof(err));
    tap_ok(rc == 0 && u.port == 8080 && strcmp(u.path, "/chat?at=12:30") == 0,
           "url: no scheme, port, and a ':' in the query");
    rc = parse("localhost/chat?at=12:30", &u, err, sizeof(err));
    if (!tap_ok(rc == 0 && u.port == 80 && strcmp(u.path, "/chat?at=12:30") == 0,
                "url: no scheme, no port, and a ':' in the query"))
        tap_diag("got rc %d: %s", rc, err);
    rc = parse("localhost:8080/?next=ws://other/", &u, err, sizeof(err));
    if (!tap_ok(rc == 0 && strcmp(u.host, "localhost") == 0 &&
                    strcmp(u.path, "/?next=ws://other/") == 0,
                "url: no scheme, and \"://\" in the query"))
        tap_diag("got rc %d: %s", rc, err);
}

/* ---- error messages, word for word ---- */

struct message {
    const char *input;
    const char *message;
};

/* clang-format off */
static const struct message messages[] = {
    {"", "empty URL \"\""},
    {"ws://", "missing host in URL \"ws://\""},
    {"ws:///chat", "missing host in URL \"ws:///chat\""},
    {"ws://[::1", "unterminated IPv6 literal in URL \"ws://[::1\""},
    {"ws://[]/", "bad IPv6 literal in URL \"ws://[]/\""},
    {"ws://[::g!]/", "bad IPv6 literal in URL \"ws://[::g!]/\""},
    {"ws://[::1]x/", "unexpected text after the IPv6 literal in URL \"ws://[::1]x/\""},
    {"ws://host:99999/", "port out of range (1-65535) in URL \"ws://host:99999/\""},
    {"ws://h:99999999999999999999/",
     "port out of range (1-65535) in URL \"ws://h:99999999999999999999/\""},
    {"ws://h:0/", "port out of range (1-65535) in URL \"ws://h:0/\""},
    {"ws://h:http/", "bad port in URL \"ws://h:http/\""},
    {"ftp://h/", "unsupported scheme in URL \"ftp://h/\" (use ws:// or wss://)"},
    {"ws://h/a b", "space or control character in URL \"ws://h/a b\""},
    {"ws://h/x\r\nX: 1", "space or control character in URL \"ws://h/x\\x0d\\x0aX: 1\""},
    {"ws://h/\x1b[31m", "space or control character in URL \"ws://h/\\x1b[31m\""},
    {"ws://us%zz:pw@h/", "bad user info in URL \"ws://us%zz:***@h/\""},
    {"ws+unix://:/chat", "bad Unix socket path in URL \"ws+unix://:/chat\""},
    /* a password is never shown, whatever the error */
    {"ws://user:s3cret@host:99999/",
     "port out of range (1-65535) in URL \"ws://user:***@host:99999/\""},
    {"wss://user:s3cret@[::1/", "unterminated IPv6 literal in URL \"wss://user:***@[::1/\""},
    {"ftp://user:s3cret@h/",
     "unsupported scheme in URL \"ftp://user:***@h/\" (use ws:// or wss://)"},
    {"ws://user:s3 cret@h/", "space or control character in URL \"ws://user:***@h/\""},
    {"user:s3cret@:80/", "missing host in URL \"user:***@:80/\""},
    {"ws://user:s3c:ret@h:x/", "bad port in URL \"ws://user:***@h:x/\""},
    {"ws://user:s3c@ret@h:x/", "bad port in URL \"ws://user:***@h:x/\""},
    /* a '/' in a password ends the authority (RFC 3986 3.2); it is masked all the same */
    {"ws://user:s3/cret@h/", "bad port in URL \"ws://user:***@h/\""},
    {"ws://user@:80/", "missing host in URL \"ws://user@:80/\""},
};
/* clang-format on */

static void test_message(const struct message *m)
{
    struct url u;
    char err[512] = "";
    int rc = parse(m->input, &u, err, sizeof(err));
    if (!tap_ok(rc == -1 && strcmp(err, m->message) == 0, "url error: %s", m->message))
        tap_diag("got rc %d: %s", rc, err);
    if (strstr(m->input, "s3"))
        tap_ok(strstr(err, "s3") == NULL && strstr(err, "cret") == NULL,
               "url error: no part of the password in \"%s\"", err);
}

static void test_message_limits(void)
{
    struct url u;
    /* a URL too long to quote whole is cut with "...", and the quote closed */
    char *s = malloc(6000);
    if (!s)
        abort();
    strcpy(s, "ws://h/");
    memset(s + 7, 'p', 5000);
    s[5007] = 0;
    char err[300] = "";
    int rc = parse(s, &u, err, sizeof(err));
    size_t n = strlen(err);
    const char *start = "path too long in URL \"ws://h/pp";
    if (!tap_ok(rc == -1 && n == sizeof(err) - 1 && !strncmp(err, start, strlen(start)) &&
                    !strcmp(err + n - 4, "...\""),
                "url error: a long URL is cut with ... and the quote is closed"))
        tap_diag("got %s", err);
    free(s);
    /* the password is masked before cutting, so a cut never shows part of it */
    char small[24] = "";
    parse("ws://user:s3cret@h:0/", &u, small, sizeof(small));
    tap_ok(strstr(small, "s3") == NULL && strlen(small) < sizeof(small),
           "url error: a cut message shows no part of the password (%s)", small);

    /* the name of the URL in messages */
    char err2[256] = "";
    char *copy = (char *)tap_dup("http://u:pw@p:0", 16);
    rc = url_parse_named(copy, "proxy URL", &u, err2, sizeof(err2));
    free(copy);
    if (!tap_ok(rc == -1 && !strcmp(err2, "port out of range (1-65535) in proxy URL "
                                          "\"http://u:***@p:0\""),
                "url_parse_named: the message names the URL as told"))
        tap_diag("got %s", err2);
}

/* url_redact as used for any URL shown in a message */
static void test_redact(void)
{
    static const struct {
        const char *input, *expect;
    } cases[] = {
        {"ws://h/x", "ws://h/x"},
        {"ws://user@h/x", "ws://user@h/x"},
        {"ws://user:pw@h/x", "ws://user:***@h/x"},
        {"ws://user:@h/x", "ws://user:@h/x"}, /* nothing to hide */
        {"ws://:pw@h/x", "ws://:***@h/x"},
        {"h:80/a@b", "h:***@b"},
        {"ws://h/?mail=a@b", "ws://h/?mail=a@b"},
        {"ws://h/\x7f", "ws://h/\\x7f"},
        {"ws://h/\xc3\xbc", "ws://h/\xc3\xbc"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[256] = "";
        char *copy = (char *)tap_dup(cases[i].input, strlen(cases[i].input) + 1);
        url_redact(copy, out, sizeof(out));
        free(copy);
        if (!tap_ok(strcmp(out, cases[i].expect) == 0, "url_redact: \"%s\"", cases[i].expect))
            tap_diag("got \"%s\"", out);
    }
    char out[10];
    url_redact("ws://example.com/long", out, sizeof(out));
    if (!tap_ok(strcmp(out, "ws://e...") == 0, "url_redact: cut with ..."))
        tap_diag("got \"%s\"", out);
}

/* redirect errors quote the Location as the server sent it */
static void test_redirect_messages(void)
{
    static const struct message cases[] = {
        {"//b:0/", "port out of range (1-65535) in Location \"//b:0/\""},
        {"///y", "missing host in Location \"///y\""},
        {"/a b", "space or control character in Location \"/a b\""},
        {"ftp://u:pw@b/",
         "unsupported scheme in Location \"ftp://u:***@b/\" (use ws:// or wss://)"},
    };
    struct url base, out;
    char err[256] = "";
    parse("ws://a.example/x", &base, err, sizeof(err));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *loc = (char *)tap_dup(cases[i].input, strlen(cases[i].input) + 1);
        int rc = url_resolve(&base, loc, &out, err, sizeof(err));
        free(loc);
        if (!tap_ok(rc == -1 && strcmp(err, cases[i].message) == 0, "url_resolve error: %s",
                    cases[i].message))
            tap_diag("got rc %d: %s", rc, err);
    }
}

int main(void)
{
    for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++)
        test_good(&goods[i]);
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
        test_bad(&bads[i]);
    test_unix();
    test_limits();
    for (size_t i = 0; i < sizeof(redirects) / sizeof(redirects[0]); i++)
        test_redirect(&redirects[i]);
    test_format();
    test_no_scheme_colons();
    for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++)
        test_message(&messages[i]);
    test_message_limits();
    test_redact();
    test_redirect_messages();
    return tap_done();
}
