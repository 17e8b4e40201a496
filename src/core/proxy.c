/* SPDX-License-Identifier: MIT */
#include "proxy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "handshake.h"

/* ---- the proxy URL ---- */

int proxy_parse(const char *s, struct proxy *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    const char *sep = strstr(s, "://");
    if (sep && (size_t)(sep - s) <= strcspn(s, "/?#@")) {
        size_t slen = (size_t)(sep - s);
        if (slen != 4 || strncasecmp(s, "http", 4) != 0) {
            snprintf(err, errlen,
                     "unsupported proxy scheme \"%.*s\" (wsc speaks HTTP proxies: "
                     "http://host:port)",
                     (int)(slen > 16 ? 16 : slen), s);
            return -1;
        }
    }
    /* The scheme is http or none, which url_parse reads alike for the host,
     * port and user info; its message quotes s with the password masked. */
    struct url u;
    if (url_parse_named(s, "proxy URL", &u, err, errlen) != 0)
        return -1;
    snprintf(p->host, sizeof(p->host), "%s", u.host);
    p->is_ipv6 = u.is_ipv6;
    p->port = u.has_port ? u.port : PROXY_DEFAULT_PORT;
    snprintf(p->userinfo, sizeof(p->userinfo), "%s", u.userinfo);
    return 0;
}

/* ---- choosing ---- */

/* curl reads <scheme>_proxy, its upper-case form, then all_proxy. For
 * plain HTTP it ignores HTTP_PROXY: CGI programs get that variable from a
 * request's "Proxy:" header (httpoxy), so a client must not trust it. */
static const char *const TLS_VARS[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                                       NULL};
static const char *const PLAIN_VARS[] = {"http_proxy", "all_proxy", "ALL_PROXY", NULL};

static const char *lookup(proxy_getenv_fn getenv_fn, void *ctx, const char *name)
{
    const char *v = getenv_fn ? getenv_fn(ctx, name) : NULL;
    return v && *v ? v : NULL;
}

int proxy_choose(const struct url *target, const char *option, proxy_getenv_fn getenv_fn, void *ctx,
                 struct proxy *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    if (target->is_unix)
        return 0;
    const char *value = option, *source = "--proxy";
    if (!option) {
        for (const char *const *n = target->is_tls ? TLS_VARS : PLAIN_VARS; *n && !value; n++)
            if ((value = lookup(getenv_fn, ctx, *n)))
                source = *n;
    }
    if (!value || !*value)
        return 0;
    /* As in curl, no_proxy applies to --proxy too. */
    const char *no_proxy = lookup(getenv_fn, ctx, "no_proxy");
    if (!no_proxy)
        no_proxy = lookup(getenv_fn, ctx, "NO_PROXY");
    if (no_proxy && proxy_no_proxy_matches(no_proxy, target->host, target->port))
        return 0;
    char why[400];
    if (proxy_parse(value, p, why, sizeof(why)) != 0) {
        p->source = source;
        snprintf(err, errlen, "%s: %s", source, why);
        return -1;
    }
    p->source = source;
    return 1;
}

/* ---- no_proxy ---- */

/* The bytes of an IP address (4 or 16), 0 when s is not one. An IPv6 zone
 * ("%eth0") is left out of the comparison. */
static int ip_bytes(const char *s, size_t n, unsigned char out[16])
{
    char tmp[64];
    size_t zone = strcspn(s, "%");
    if (zone < n)
        n = zone;
    if (n == 0 || n >= sizeof(tmp))
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    if (inet_pton(AF_INET, tmp, out) == 1)
        return 4;
    if (inet_pton(AF_INET6, tmp, out) == 1)
        return 16;
    return 0;
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    size_t whole = bits / 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    unsigned rest = bits % 8;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xFF << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

struct np_entry {
    const char *name;
    size_t len;
    bool has_port;
    unsigned port;
    bool has_bits;
    unsigned bits;
};

static bool parse_number(const char *s, size_t n, unsigned max, unsigned *out)
{
    unsigned long v = 0;
    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

/* name, [v6], name:port, [v6]:port, v6 (two colons or more), addr/bits.
 * Returns false for an entry that can match nothing. */
static bool parse_entry(const char *t, size_t n, struct np_entry *e)
{
    memset(e, 0, sizeof(*e));
    const char *slash = memchr(t, '/', n);
    size_t body = slash ? (size_t)(slash - t) : n;
    if (slash) {
        if (!parse_number(slash + 1, n - body - 1, 128, &e->bits))
            return false;
        e->has_bits = true;
    }
    const char *port = NULL;
    if (body && t[0] == '[') {
        const char *close = memchr(t, ']', body);
        if (!close)
            return false;
        e->name = t + 1;
        e->len = (size_t)(close - t - 1);
        if (close + 1 < t + body) {
            if (close[1] != ':')
                return false;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(t, ':', body);
        bool is_one_colon = colon && !memchr(colon + 1, ':', (size_t)(t + body - colon - 1));
        e->name = t;
        e->len = is_one_colon ? (size_t)(colon - t) : body;
        if (is_one_colon)
            port = colon + 1;
    }
    if (port) {
        if (e->has_bits || !parse_number(port, (size_t)(t + body - port), 65535, &e->port))
            return false;
        e->has_port = true;
    }
    return e->len > 0;
}

static bool ip_matches(const struct np_entry *e, const unsigned char *host, int family_len)
{
    unsigned char addr[16];
    int len = ip_bytes(e->name, e->len, addr);
    if (len != family_len)
        return false;
    unsigned bits = e->has_bits ? e->bits : (unsigned)len * 8;
    return bits <= (unsigned)len * 8 && prefix_equal(addr, host, bits);
}

/* RFC 1034 names: the entry itself or any name below it. */
static bool name_matches(const struct np_entry *e, const char *host, size_t hlen)
{
    const char *name = e->name;
    size_t n = e->len;
    if (n >= 2 && name[0] == '*' && name[1] == '.') {
        name += 2;
        n -= 2;
    } else if (n >= 1 && name[0] == '.') {
        name++;
        n--;
    }
    if (n && name[n - 1] == '.')
        n--;
    if (n == 0 || e->has_bits)
        return false;
    if (hlen == n)
        return strncasecmp(host, name, n) == 0;
    return hlen > n && host[hlen - n - 1] == '.' && strncasecmp(host + hlen - n, name, n) == 0;
}

bool proxy_no_proxy_matches(const char *list, const char *host, unsigned port)
{
    size_t hlen = strlen(host);
    if (hlen && host[hlen - 1] == '.')
        hlen--; /* "example.com." is "example.com" */
    unsigned char addr[16];
    int family_len = ip_bytes(host, hlen, addr);
    const char *p = list;
    while (*p) {
        p += strspn(p, ", \t");
        size_t n = strcspn(p, ", \t");
        if (n == 0)
            break;
        const char *t = p;
        p += n;
        if (n == 1 && t[0] == '*')
            return true;
        struct np_entry e;
        if (!parse_entry(t, n, &e) || (e.has_port && e.port != port))
            continue;
        if (family_len ? ip_matches(&e, addr, family_len) : name_matches(&e, host, hlen))
            return true;
    }
    return false;
}

/* ---- CONNECT ---- */

int proxy_build_connect(const struct proxy *p, const struct url *target, struct buf *out)
{
    char authority[300], line[1024];
    const char *l = target->is_ipv6 ? "[" : "", *r = target->is_ipv6 ? "]" : "";
    snprintf(authority, sizeof(authority), "%s%s%s:%u", l, target->host, r, target->port);
    /* RFC 9110 9.3.6: the target of CONNECT is host:port, and so is Host. */
    int n = snprintf(line, sizeof(line),
                     "CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: wsc/" PACKAGE_VERSION "\r\n",
                     authority, authority);
    if (n < 0 || (size_t)n >= sizeof(line) || buf_append(out, line, (size_t)n) != 0)
        return -1;
    if (p->userinfo[0]) {
        /* curl sends "user:" when the URL has no password. */
        char creds[sizeof(p->userinfo) + 1];
        snprintf(creds, sizeof(creds), "%s%s", p->userinfo, strchr(p->userinfo, ':') ? "" : ":");
        char b64[4 * ((sizeof(creds) + 2) / 3) + 1];
        hs_base64((const unsigned char *)creds, strlen(creds), b64);
        n = snprintf(line, sizeof(line), "Proxy-Authorization: Basic %s\r\n", b64);
        if (n < 0 || (size_t)n >= sizeof(line) || buf_append(out, line, (size_t)n) != 0)
            return -1;
    }
    return buf_append(out, "\r\n", 2);
}

/* Printable ASCII only: the text comes from the network and goes to a terminal. */
static void printable(char *dst, size_t dstlen, const char *s, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < dstlen; i++)
        dst[j++] = s[i] >= 0x20 && s[i] < 0x7F ? s[i] : '?';
    dst[j] = 0;
}

int proxy_check_response(const struct http_head *h, char *err, size_t errlen)
{
    /* RFC 9110 9.3.6: any 2xx answer to CONNECT opens the tunnel. */
    if (h->status >= 200 && h->status < 300)
        return 0;
    char reason[128], challenge[256] = "";
    printable(reason, sizeof(reason), h->reason, h->reason_len);
    const struct http_header *c =
        h->status == 407 ? http_find_header(h, "Proxy-Authenticate") : NULL;
    if (c)
        printable(challenge, sizeof(challenge), c->value, c->value_len);
    snprintf(err, errlen, "proxy answered %d%s%s%s%s", h->status, *reason ? " " : "", reason,
             c ? "; Proxy-Authenticate: " : "", challenge);
    return -1;
}
