/* SPDX-License-Identifier: MIT */
#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Where an error goes, and how it names the string being parsed: every
 * message quotes that string whole, as given, so that the user sees what
 * was read (a Location is quoted as the server sent it, not as resolved). */
struct quote {
    const char *shown; /* the string as given */
    const char *what;  /* "URL", "Location", "proxy URL" */
    char *err;
    size_t errlen;
};

/* "REASON WHAT "SHOWN"HINT", with SHOWN redacted and cut so that the
 * closing quote and the hint always fit. */
static int error(const struct quote *q, const char *reason, const char *hint)
{
    if (q->errlen == 0)
        return -1;
    int n = snprintf(q->err, q->errlen, "%s %s \"", reason, q->what);
    if (n < 0 || (size_t)n >= q->errlen)
        return -1;
    size_t room = q->errlen - (size_t)n, tail = 1 + strlen(hint);
    if (room > tail)
        url_redact(q->shown, q->err + n, room - tail);
    size_t len = strlen(q->err);
    snprintf(q->err + len, q->errlen - len, "\"%s", hint);
    return -1;
}

/* ---- showing a URL in a message ---- */

/* The password's bytes in s, [*from, *to); none when *from == *to. The
 * user info ends at the authority's last '@' (RFC 3986 3.2.1); when the
 * authority has none, at the last '@' anywhere, since a password typed
 * with a bare '/', '?' or '#' cuts the authority short and must still not
 * be shown (at worst, more than a password is masked). */
static void find_password(const char *s, size_t *from, size_t *to)
{
    *from = *to = 0;
    size_t start = 0;
    const char *sep = strstr(s, "://");
    if (sep && (size_t)(sep - s) <= strcspn(s, "/?#"))
        start = (size_t)(sep - s) + 3;
    size_t end = start + strcspn(s + start, "/?#");
    const char *at = NULL;
    for (size_t i = start; i < end; i++)
        if (s[i] == '@')
            at = s + i;
    if (!at)
        at = strrchr(s + start, '@');
    if (!at)
        return;
    const char *colon = memchr(s + start, ':', (size_t)(at - (s + start)));
    if (!colon)
        return;
    *from = (size_t)(colon + 1 - s);
    *to = (size_t)(at - s);
}

/* Output that takes whole pieces only: an escape or the mask is never cut. */
struct sink {
    char *out;
    size_t len, cap;
    bool is_full;
};

static void put(struct sink *k, const char *p, size_t n)
{
    if (k->is_full || n > k->cap - k->len) {
        k->is_full = true;
        return;
    }
    memcpy(k->out + k->len, p, n);
    k->len += n;
}

static void redact_into(const char *s, struct sink *k)
{
    size_t from, to;
    find_password(s, &from, &to);
    for (size_t i = 0; s[i] && !k->is_full; i++) {
        unsigned char c = (unsigned char)s[i];
        if (from < to && i == from) {
            put(k, "***", 3);
            i = to - 1;
        } else if (c < 0x20 || c == 0x7F) {
            char esc[5];
            snprintf(esc, sizeof(esc), "\\x%02x", c);
            put(k, esc, 4);
        } else {
            put(k, s + i, 1);
        }
    }
}

void url_redact(const char *s, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    struct sink k = {out, 0, outlen - 1, false};
    redact_into(s, &k);
    if (k.is_full && outlen > 3) {
        k = (struct sink){out, 0, outlen - 4, false};
        redact_into(s, &k);
        memcpy(out + k.len, "...", 3);
        k.len += 3;
    }
    out[k.len] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

static int percent_decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (j + 1 >= outlen)
            return -1;
        out[j++] = c;
    }
    out[j] = 0;
    return 0;
}

static bool has_bad_char(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7F)
            return true;
    return false;
}

/* host[:port] or [v6][:port] */
static int parse_authority(const char *a, size_t n, struct url *u, const struct quote *q)
{
    const char *at = NULL;
    for (size_t i = 0; i < n; i++)
        if (a[i] == '@')
            at = a + i;
    if (at) {
        if (percent_decode(a, (size_t)(at - a), u->userinfo, sizeof(u->userinfo)) != 0)
            return error(q, "bad user info in", "");
        n -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    const char *port = NULL;
    size_t hlen;
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return error(q, "unterminated IPv6 literal in", "");
        hlen = (size_t)(close - a - 1);
        if (hlen == 0 || hlen >= sizeof(u->host))
            return error(q, "bad IPv6 literal in", "");
        memcpy(u->host, a + 1, hlen);
        u->host[hlen] = 0;
        for (size_t i = 0; i < hlen; i++)
            if (!strchr("0123456789abcdefABCDEF:.%", u->host[i]) &&
                !(u->host[i] >= 'a' && u->host[i] <= 'z'))
                return error(q, "bad IPv6 literal in", "");
        u->is_ipv6 = true;
        const char *rest = close + 1;
        if (rest < a + n) {
            if (*rest != ':')
                return error(q, "unexpected text after the IPv6 literal in", "");
            port = rest + 1;
        }
    } else {
        const char *colon = memchr(a, ':', n);
        hlen = colon ? (size_t)(colon - a) : n;
        if (hlen == 0)
            return error(q, "missing host in", "");
        if (hlen >= sizeof(u->host))
            return error(q, "host name too long in", "");
        memcpy(u->host, a, hlen);
        u->host[hlen] = 0;
        if (colon)
            port = colon + 1;
    }
    if (port) {
        size_t plen = (size_t)(a + n - port);
        if (plen == 0) /* RFC 3986 3.2.3: an empty port means the default */
            return 0;
        unsigned long v = 0;
        for (size_t i = 0; i < plen; i++)
            if (port[i] < '0' || port[i] > '9')
                return error(q, "bad port in", "");
        for (size_t i = 0; i < plen && v <= 65535; i++)
            v = v * 10 + (unsigned long)(port[i] - '0');
        if (v == 0 || v > 65535)
            return error(q, "port out of range (1-65535) in", "");
        u->port = (unsigned)v;
        u->has_port = true;
    }
    return 0;
}

static int set_path(struct url *u, const char *p, const struct quote *q)
{
    size_t n = strcspn(p, "#"); /* RFC 6455 3: fragments are not sent */
    if (n + 2 > sizeof(u->path))
        return error(q, "path too long in", "");
    if (p[0] != '/' || n == 0) {
        u->path[0] = '/';
        memcpy(u->path + 1, p, n);
        u->path[n + 1] = 0;
    } else {
        memcpy(u->path, p, n);
        u->path[n] = 0;
    }
    return 0;
}

static int parse(const char *s, struct url *u, const struct quote *q)
{
    memset(u, 0, sizeof(*u));
    if (!*s)
        return error(q, "empty", "");
    if (has_bad_char(s))
        return error(q, "space or control character in", "");
    /* A scheme ends at the first "://", if that comes before any '/', '?'
     * or '#' (a query may hold another URL). */
    const char *sep = strstr(s, "://");
    if (sep && (size_t)(sep - s) > strcspn(s, "/?#"))
        sep = NULL;
    const char *rest = s;
    if (sep) {
        size_t slen = (size_t)(sep - s);
        rest = sep + 3;
        if (slen == 2 && !strncasecmp(s, "ws", 2))
            ;
        else if (slen == 3 && !strncasecmp(s, "wss", 3))
            u->is_tls = true;
        else if (slen == 4 && !strncasecmp(s, "http", 4))
            ;
        else if (slen == 5 && !strncasecmp(s, "https", 5))
            u->is_tls = true;
        else if (slen == 7 && !strncasecmp(s, "ws+unix", 7))
            u->is_unix = true;
        else if (slen == 8 && !strncasecmp(s, "wss+unix", 8))
            u->is_unix = u->is_tls = true;
        else
            return error(q, "unsupported scheme in", " (use ws:// or wss://)");
    }
    if (u->is_unix) {
        /* ws+unix:///path/to.sock:/resource */
        const char *colon = strchr(rest, ':');
        size_t n = colon ? (size_t)(colon - rest) : strlen(rest);
        if (n == 0 || n >= sizeof(u->unix_path))
            return error(q, "bad Unix socket path in", "");
        memcpy(u->unix_path, rest, n);
        u->unix_path[n] = 0;
        strcpy(u->host, "localhost");
        u->port = u->is_tls ? 443 : 80; /* so that the Host header carries no port */
        return set_path(u, colon ? colon + 1 : "/", q);
    }
    size_t alen = strcspn(rest, "/?#");
    if (parse_authority(rest, alen, u, q) != 0)
        return -1;
    if (!u->has_port)
        u->port = u->is_tls ? 443 : 80;
    return set_path(u, rest + alen, q);
}

int url_parse_named(const char *s, const char *what, struct url *u, char *err, size_t errlen)
{
    const struct quote q = {s, what, err, errlen};
    return parse(s, u, &q);
}

int url_parse(const char *s, struct url *u, char *err, size_t errlen)
{
    return url_parse_named(s, "URL", u, err, errlen);
}

int url_resolve(const struct url *base, const char *loc, struct url *out, char *err,
                size_t errlen)
{
    const struct quote q = {loc, "Location", err, errlen};
    const char *sep = strstr(loc, "://");
    if (sep && (size_t)(sep - loc) <= strcspn(loc, "/?#"))
        return parse(loc, out, &q);
    if (has_bad_char(loc))
        return error(&q, "space or control character in", "");
    *out = *base;
    if (loc[0] == '/' && loc[1] == '/') {
        char buf[4400];
        if (snprintf(buf, sizeof(buf), "%s:%s", base->is_tls ? "wss" : "ws", loc) >=
            (int)sizeof(buf))
            return error(&q, "path too long in", "");
        return parse(buf, out, &q);
    }
    if (loc[0] == '/')
        return set_path(out, loc, &q);
    /* A query replaces the base's query; a relative path its last segment. */
    size_t keep = strcspn(base->path, "?");
    if (loc[0] != '?')
        while (keep > 0 && base->path[keep - 1] != '/')
            keep--;
    size_t n = strcspn(loc, "#");
    if (keep + n + 1 > sizeof(out->path))
        return error(&q, "path too long in", "");
    memcpy(out->path, base->path, keep);
    memcpy(out->path + keep, loc, n);
    out->path[keep + n] = 0;
    return 0;
}

void url_host_header(const struct url *u, char *out, size_t outlen)
{
    bool is_default = u->port == (u->is_tls ? 443u : 80u);
    const char *l = u->is_ipv6 ? "[" : "", *r = u->is_ipv6 ? "]" : "";
    if (is_default)
        snprintf(out, outlen, "%s%s%s", l, u->host, r);
    else
        snprintf(out, outlen, "%s%s%s:%u", l, u->host, r, u->port);
}

void url_format(const struct url *u, char *out, size_t outlen)
{
    if (u->is_unix) {
        snprintf(out, outlen, "%s+unix://%s:%s", u->is_tls ? "wss" : "ws", u->unix_path,
                 u->path);
        return;
    }
    char host[300];
    url_host_header(u, host, sizeof(host));
    snprintf(out, outlen, "%s://%s%s", u->is_tls ? "wss" : "ws", host, u->path);
}
