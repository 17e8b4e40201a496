/* SPDX-License-Identifier: MIT */
/* Unit tests for proxy.c: the no_proxy list as curl reads it (names and
 * their subdomains, "*", ports, IPv4 and IPv6 addresses and CIDR
 * prefixes), proxy URLs, the choice of proxy from --proxy and the
 * environment (https_proxy/HTTPS_PROXY for wss, http_proxy but never
 * HTTP_PROXY for ws, all_proxy/ALL_PROXY), the CONNECT request bytes and
 * the judgement of the proxy's answer. Every string input is copied into a
 * heap buffer of exactly its size, so that ASan catches an over-read. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"
#include "tap.h"

static char *dup_str(const char *s)
{
    return (char *)tap_dup(s, strlen(s) + 1);
}

/* ---- no_proxy ---- */

struct np_case {
    const char *list;
    const char *host;
    unsigned port;
    bool matches;
};

static const struct np_case np_cases[] = {
    {"*", "example.com", 443, true},
    {"*", "10.1.2.3", 80, true},
    {"a.org, *", "example.com", 443, true},
    {"*.org", "example.com", 443, false},
    {"example.com", "example.com", 443, true},
    {"example.com", "EXAMPLE.com", 443, true},
    {"Example.COM", "example.com", 443, true},
    {"example.com", "www.example.com", 443, true},
    {"example.com", "a.b.example.com", 443, true},
    {"example.com", "badexample.com", 443, false},
    {"example.com", "example.com.evil.net", 443, false},
    {"example.com", "com", 443, false},
    {".example.com", "example.com", 443, true},
    {".example.com", "www.example.com", 443, true},
    {"*.example.com", "www.example.com", 443, true},
    {"example.com.", "www.example.com", 443, true},
    {"example.com", "www.example.com.", 443, true},
    {"a.org,example.com", "example.com", 80, true},
    {"a.org , example.com", "example.com", 80, true},
    {"a.org example.com", "example.com", 80, true},
    {"a.org,,b.org,", "example.com", 80, false},
    {"", "example.com", 80, false},
    {",", "example.com", 80, false},
    {"example.com:8080", "example.com", 8080, true},
    {"example.com:8080", "example.com", 443, false},
    {"example.com:8080", "www.example.com", 8080, true},
    {"example.com:x", "example.com", 443, false},
    {"example.com:99999", "example.com", 443, false},
    {"localhost", "localhost", 80, true},
    {"localhost", "127.0.0.1", 80, false},
    {"127.0.0.1", "127.0.0.1", 80, true},
    {"127.0.0.1", "127.0.0.10", 80, false},
    {"127.0.0.1:9000", "127.0.0.1", 9000, true},
    {"127.0.0.1:9000", "127.0.0.1", 9001, false},
    {"0.0.1", "127.0.0.1", 80, false}, /* no suffix matching of addresses */
    {"10.0.0.0/8", "10.200.3.4", 80, true},
    {"10.0.0.0/8", "11.0.0.1", 80, false},
    {"192.168.1.0/24", "192.168.1.77", 80, true},
    {"192.168.1.0/24", "192.168.2.77", 80, false},
    {"192.168.1.128/25", "192.168.1.127", 80, false},
    {"192.168.1.128/25", "192.168.1.200", 80, true},
    {"0.0.0.0/0", "8.8.8.8", 80, true},
    {"10.0.0.0/33", "10.0.0.1", 80, false},
    {"10.0.0.0/x", "10.0.0.1", 80, false},
    {"::1", "::1", 80, true},
    {"[::1]", "::1", 80, true},
    {"[::1]:8080", "::1", 8080, true},
    {"[::1]:8080", "::1", 8081, false},
    {"::1", "::2", 80, false},
    {"fd00::/8", "fd12:3456::1", 80, true},
    {"fd00::/8", "fe80::1", 80, false},
    {"[fd00::]/8", "fd00::abcd", 80, true},
    {"::ffff:0:0/96", "10.0.0.1", 80, false}, /* families are not mixed */
    {"10.0.0.1", "::ffff:10.0.0.1", 80, false},
    {"fe80::1", "fe80::1%eth0", 80, true},
    {"[::1", "::1", 80, false},
    {"example.com/8", "example.com", 80, false},
};

static void test_no_proxy(void)
{
    for (size_t i = 0; i < sizeof(np_cases) / sizeof(np_cases[0]); i++) {
        const struct np_case *c = &np_cases[i];
        char *list = dup_str(c->list), *host = dup_str(c->host);
        bool got = proxy_no_proxy_matches(list, host, c->port);
        tap_ok(got == c->matches, "no_proxy \"%s\" %s %s port %u", c->list,
               c->matches ? "matches" : "does not match", c->host, c->port);
        free(list);
        free(host);
    }
}

/* ---- proxy URLs ---- */

struct parse_case {
    const char *input;
    const char *host; /* NULL: refused */
    unsigned port;
    const char *userinfo;
    const char *error_word;
};

static const struct parse_case parse_cases[] = {
    {"http://proxy.example:3128", "proxy.example", 3128, "", NULL},
    {"http://proxy.example:3128/", "proxy.example", 3128, "", NULL},
    {"HTTP://proxy.example:3128", "proxy.example", 3128, "", NULL},
    {"proxy.example:8080", "proxy.example", 8080, "", NULL},
    {"proxy.example", "proxy.example", 1080, "", NULL},
    {"http://proxy.example", "proxy.example", 1080, "", NULL},
    {"http://[::1]:3128", "::1", 3128, "", NULL},
    {"http://u:p@proxy:3128", "proxy", 3128, "u:p", NULL},
    {"http://us%40er:p%3Ass@proxy:3128", "proxy", 3128, "us@er:p:ss", NULL},
    {"user@proxy:3128", "proxy", 3128, "user", NULL},
    {"socks5://proxy:1080", NULL, 0, NULL, "socks5"},
    {"https://proxy:443", NULL, 0, NULL, "https"},
    {"http://proxy:99999", NULL, 0, NULL, "port"},
    {"http://", NULL, 0, NULL, "missing host in proxy URL \"http://\""},
    {"", NULL, 0, NULL, "empty proxy URL \"\""},
    /* the message quotes the URL as given, never its password */
    {"u:secret@proxy:99999", NULL, 0, NULL,
     "port out of range (1-65535) in proxy URL \"u:***@proxy:99999\""},
    {"http://u:secret@[::1:3128", NULL, 0, NULL,
     "unterminated IPv6 literal in proxy URL \"http://u:***@[::1:3128\""},
};

static void test_parse(void)
{
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        char *in = dup_str(c->input), err[256] = "";
        struct proxy p;
        int rc = proxy_parse(in, &p, err, sizeof(err));
        if (!c->host) {
            tap_ok(rc == -1 && strstr(err, c->error_word), "proxy URL \"%s\" refused (%s)",
                   c->input, err);
            if (strstr(c->input, "secret"))
                tap_ok(!strstr(err, "secret"), "proxy URL \"%s\": the password is not shown",
                       c->input);
        } else {
            tap_ok(rc == 0 && !strcmp(p.host, c->host) && p.port == c->port &&
                       !strcmp(p.userinfo, c->userinfo),
                   "proxy URL \"%s\": host %s port %u user info \"%s\"", c->input, c->host, c->port,
                   c->userinfo);
        }
        free(in);
    }
}

/* ---- choosing from --proxy and the environment ---- */

struct choose_case {
    const char *name;
    const char *target;
    const char *option;
    const char *env[8]; /* "NAME=value" */
    int result;
    const char *host;
    unsigned port;
    const char *source;
};

/* clang-format off */
static const struct choose_case choose_cases[] = {
    {"nothing set: direct", "wss://example.com/", NULL, {NULL}, 0, NULL, 0, NULL},
    {"--proxy", "wss://example.com/", "http://p:1", {NULL}, 1, "p", 1, "--proxy"},
    {"--proxy for ws", "ws://example.com/", "p:2", {NULL}, 1, "p", 2, "--proxy"},
    {"--proxy wins over the environment", "wss://example.com/", "p:1", {"https_proxy=q:2"}, 1,
     "p", 1, "--proxy"},
    {"--proxy \"\" turns the environment off", "wss://example.com/", "", {"https_proxy=q:2"},
     0, NULL, 0, NULL},
    {"https_proxy for wss", "wss://example.com/", NULL, {"https_proxy=q:2"}, 1, "q", 2,
     "https_proxy"},
    {"HTTPS_PROXY for wss", "wss://example.com/", NULL, {"HTTPS_PROXY=Q:3"}, 1, "Q", 3,
     "HTTPS_PROXY"},
    {"https_proxy before HTTPS_PROXY", "wss://example.com/", NULL,
     {"HTTPS_PROXY=Q:3", "https_proxy=q:2"}, 1, "q", 2, "https_proxy"},
    {"https_proxy is not for ws", "ws://example.com/", NULL, {"https_proxy=q:2"}, 0, NULL, 0,
     NULL},
    {"http_proxy for ws", "ws://example.com/", NULL, {"http_proxy=h:4"}, 1, "h", 4,
     "http_proxy"},
    {"http_proxy is not for wss", "wss://example.com/", NULL, {"http_proxy=h:4"}, 0, NULL, 0,
     NULL},
    {"HTTP_PROXY is ignored (httpoxy)", "ws://example.com/", NULL, {"HTTP_PROXY=H:5"}, 0, NULL,
     0, NULL},
    {"all_proxy for ws", "ws://example.com/", NULL, {"all_proxy=a:6"}, 1, "a", 6, "all_proxy"},
    {"ALL_PROXY for wss", "wss://example.com/", NULL, {"ALL_PROXY=A:7"}, 1, "A", 7,
     "ALL_PROXY"},
    {"the scheme's variable before all_proxy", "wss://example.com/", NULL,
     {"all_proxy=a:6", "HTTPS_PROXY=Q:3"}, 1, "Q", 3, "HTTPS_PROXY"},
    {"an empty variable is unset", "ws://example.com/", NULL, {"http_proxy=", "all_proxy=a:6"},
     1, "a", 6, "all_proxy"},
    {"no_proxy bypasses the environment", "wss://example.com/", NULL,
     {"https_proxy=q:2", "no_proxy=example.com"}, 0, NULL, 0, NULL},
    {"NO_PROXY bypasses too", "wss://www.example.com/", NULL,
     {"https_proxy=q:2", "NO_PROXY=.example.com"}, 0, NULL, 0, NULL},
    {"no_proxy before NO_PROXY", "wss://example.com/", NULL,
     {"https_proxy=q:2", "no_proxy=other.org", "NO_PROXY=example.com"}, 1, "q", 2,
     "https_proxy"},
    {"no_proxy bypasses --proxy (as in curl)", "wss://example.com/", "p:1",
     {"no_proxy=example.com"}, 0, NULL, 0, NULL},
    {"no_proxy for another host", "wss://example.com/", NULL,
     {"https_proxy=q:2", "no_proxy=localhost,127.0.0.1"}, 1, "q", 2, "https_proxy"},
    {"no_proxy with the target's port", "ws://127.0.0.1:9000/", NULL,
     {"http_proxy=h:4", "no_proxy=127.0.0.1:9000"}, 0, NULL, 0, NULL},
    {"no_proxy with another port", "ws://127.0.0.1:9001/", NULL,
     {"http_proxy=h:4", "no_proxy=127.0.0.1:9000"}, 1, "h", 4, "http_proxy"},
    {"no_proxy with an IPv6 target", "ws://[::1]:9000/", NULL,
     {"http_proxy=h:4", "no_proxy=::1"}, 0, NULL, 0, NULL},
    {"Unix sockets never use a proxy", "ws+unix:///tmp/s.sock:/", "p:1", {NULL}, 0, NULL, 0,
     NULL},
    {"a bad proxy in the environment", "wss://example.com/", NULL, {"https_proxy=socks5://s:1"},
     -1, NULL, 0, "https_proxy"},
    {"a bad --proxy", "wss://example.com/", "http://p:0", {NULL}, -1, NULL, 0, "--proxy"},
};
/* clang-format on */

static const char *table_getenv(void *ctx, const char *name)
{
    const char *const *env = ctx;
    size_t n = strlen(name);
    for (size_t i = 0; i < 8 && env[i]; i++)
        if (!strncmp(env[i], name, n) && env[i][n] == '=')
            return env[i] + n + 1;
    return NULL;
}

static void test_choose(void)
{
    for (size_t i = 0; i < sizeof(choose_cases) / sizeof(choose_cases[0]); i++) {
        const struct choose_case *c = &choose_cases[i];
        struct url target;
        char err[256] = "";
        if (url_parse(c->target, &target, err, sizeof(err)) != 0) {
            tap_ok(0, "choose %s: target %s parses", c->name, c->target);
            continue;
        }
        char *option = c->option ? dup_str(c->option) : NULL;
        struct proxy p;
        int rc = proxy_choose(&target, option, table_getenv, (void *)c->env, &p, err, sizeof(err));
        bool ok = rc == c->result;
        if (ok && rc == 1)
            ok = !strcmp(p.host, c->host) && p.port == c->port && !strcmp(p.source, c->source);
        if (ok && rc == -1)
            ok = p.source && !strcmp(p.source, c->source) && strstr(err, c->source);
        tap_ok(ok, "choose %s", c->name);
        if (!ok)
            tap_diag("rc %d host %s port %u source %s err %s", rc, p.host, p.port,
                     p.source ? p.source : "(none)", err);
        free(option);
    }
}

/* ---- CONNECT ---- */

static void check_connect(const char *name, const char *proxy_url, const char *target,
                          const char *expect)
{
    struct proxy p;
    struct url u;
    char err[256];
    if (proxy_parse(proxy_url, &p, err, sizeof(err)) != 0 ||
        url_parse(target, &u, err, sizeof(err)) != 0) {
        tap_ok(0, "CONNECT %s: inputs parse (%s)", name, err);
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    int rc = proxy_build_connect(&p, &u, &b);
    bool same =
        rc == 0 && buf_size(&b) == strlen(expect) && !memcmp(buf_head(&b), expect, buf_size(&b));
    tap_ok(same, "CONNECT %s", name);
    if (!same)
        tap_diag("got: %.*s", (int)buf_size(&b), (const char *)buf_head(&b));
    buf_free(&b);
}

#define UA "User-Agent: wsc/" PACKAGE_VERSION "\r\n"

static void test_connect(void)
{
    check_connect("to a default port", "p:3128", "wss://example.com/x",
                  "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n" UA "\r\n");
    check_connect("to an explicit port", "p:3128", "ws://example.com:8080/",
                  "CONNECT example.com:8080 HTTP/1.1\r\nHost: example.com:8080\r\n" UA "\r\n");
    check_connect("to an IPv6 literal", "p:3128", "ws://[::1]:9000/",
                  "CONNECT [::1]:9000 HTTP/1.1\r\nHost: [::1]:9000\r\n" UA "\r\n");
    /* base64("aladdin:opensesame") */
    check_connect("with credentials", "http://aladdin:opensesame@p:3128", "wss://h/",
                  "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n" UA
                  "Proxy-Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l\r\n\r\n");
    /* base64("user:") */
    check_connect("with a user and no password", "http://user@p:3128", "wss://h/",
                  "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n" UA
                  "Proxy-Authorization: Basic dXNlcjo=\r\n\r\n");
}

/* ---- the proxy's answer ---- */

struct answer_case {
    const char *head;
    int result;
    const char *error;
};

static const struct answer_case answers[] = {
    {"HTTP/1.1 200 Connection established\r\n\r\n", 0, ""},
    {"HTTP/1.0 200 OK\r\nProxy-agent: x\r\n\r\n", 0, ""},
    {"HTTP/1.1 204 No Content\r\n\r\n", 0, ""},
    {"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", -1, "proxy answered 403 Forbidden"},
    {"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic "
     "realm=\"wsc\"\r\n\r\n",
     -1,
     "proxy answered 407 Proxy Authentication Required; Proxy-Authenticate: Basic "
     "realm=\"wsc\""},
    {"HTTP/1.1 502\r\n\r\n", -1, "proxy answered 502"},
    {"HTTP/1.1 500 Bad\x1b[31m\r\n\r\n", -1, "proxy answered 500 Bad?[31m"},
    {"HTTP/1.1 101 Switching Protocols\r\n\r\n", -1, "proxy answered 101 Switching Protocols"},
    {"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", -1, "proxy answered 302 Found"},
};

static void test_answers(void)
{
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        const struct answer_case *c = &answers[i];
        size_t len = strlen(c->head);
        char *copy = (char *)tap_dup(c->head, len);
        struct http_head h;
        char err[512] = "";
        int n = http_parse_response(copy, len, HTTP_MAX_HEAD, &h);
        int rc = n > 0 ? proxy_check_response(&h, err, sizeof(err)) : -2;
        tap_ok(rc == c->result && !strcmp(err, c->error), "proxy answer %.*s: %s",
               (int)strcspn(c->head, "\r"), c->head, c->result ? c->error : "tunnel open");
        if (rc != c->result || strcmp(err, c->error))
            tap_diag("rc %d err \"%s\"", rc, err);
        free(copy);
    }
}

int main(void)
{
    test_no_proxy();
    test_parse();
    test_choose();
    test_connect();
    test_answers();
    return tap_done();
}
