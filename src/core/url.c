/* SPDX-License-Identifier: MIT */
#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int error(char *err, size_t errlen, const char *msg, const char *s)
{
    snprintf(err, errlen, "%s: %s", msg, s);
    return -1;
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
static int parse_authority(const char *a, size_t n, struct url *u, char *err, size_t errlen)
{
    const char *at = NULL;
    for (size_t i = 0; i < n; i++)
        if (a[i] == '@')
            at = a + i;
    if (at) {
        if (percent_decode(a, (size_t)(at - a), u->userinfo, sizeof(u->userinfo)) != 0)
            return error(err, errlen, "bad user info in URL", "");
        n -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    const char *port = NULL;
    size_t hlen;
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return error(err, errlen, "unterminated IPv6 literal in URL", "");
        hlen = (size_t)(close - a - 1);
        if (hlen == 0 || hlen >= sizeof(u->host))
            return error(err, errlen, "bad IPv6 literal in URL", "");
        memcpy(u->host, a + 1, hlen);
        u->host[hlen] = 0;
        for (size_t i = 0; i < hlen; i++)
            if (!strchr("0123456789abcdefABCDEF:.%", u->host[i]) &&
                !(u->host[i] >= 'a' && u->host[i] <= 'z'))
                return error(err, errlen, "bad IPv6 literal in URL", u->host);
        u->is_ipv6 = true;
        const char *rest = close + 1;
        if (rest < a + n) {
            if (*rest != ':')
                return error(err, errlen, "unexpected text after IPv6 literal", rest);
            port = rest + 1;
        }
    } else {
        const char *colon = memchr(a, ':', n);
        hlen = colon ? (size_t)(colon - a) : n;
        if (hlen == 0)
            return error(err, errlen, "missing host in URL", "");
        if (hlen >= sizeof(u->host))
            return error(err, errlen, "host name too long", "");
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
        for (size_t i = 0; i < plen; i++) {
            if (port[i] < '0' || port[i] > '9' || v > 65535)
                return error(err, errlen, "bad port in URL", port);
            v = v * 10 + (unsigned long)(port[i] - '0');
        }
        if (v == 0 || v > 65535)
            return error(err, errlen, "port out of range (1-65535) in URL", port);
        u->port = (unsigned)v;
        u->has_port = true;
    }
    return 0;
}

static int set_path(struct url *u, const char *p, char *err, size_t errlen)
{
    size_t n = strcspn(p, "#"); /* RFC 6455 3: fragments are not sent */
    if (n + 2 > sizeof(u->path))
        return error(err, errlen, "URL path too long", "");
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

int url_parse(const char *s, struct url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    if (!*s)
        return error(err, errlen, "empty URL", "");
    if (has_bad_char(s))
        return error(err, errlen, "URL contains a space or control character", s);
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
            return error(err, errlen, "unsupported URL scheme (use ws:// or wss://)", s);
    }
    if (u->is_unix) {
        /* ws+unix:///path/to.sock:/resource */
        const char *colon = strchr(rest, ':');
        size_t n = colon ? (size_t)(colon - rest) : strlen(rest);
        if (n == 0 || n >= sizeof(u->unix_path))
            return error(err, errlen, "bad Unix socket path in URL", s);
        memcpy(u->unix_path, rest, n);
        u->unix_path[n] = 0;
        strcpy(u->host, "localhost");
        u->port = u->is_tls ? 443 : 80; /* so that the Host header carries no port */
        return set_path(u, colon ? colon + 1 : "/", err, errlen);
    }
    size_t alen = strcspn(rest, "/?#");
    if (parse_authority(rest, alen, u, err, errlen) != 0)
        return -1;
    if (!u->has_port)
        u->port = u->is_tls ? 443 : 80;
    return set_path(u, rest + alen, err, errlen);
}

int url_resolve(const struct url *base, const char *loc, struct url *out, char *err,
                size_t errlen)
{
    const char *sep = strstr(loc, "://");
    if (sep && (size_t)(sep - loc) <= strcspn(loc, "/?#"))
        return url_parse(loc, out, err, errlen);
    if (has_bad_char(loc))
        return error(err, errlen, "bad Location", loc);
    *out = *base;
    if (loc[0] == '/' && loc[1] == '/') {
        char buf[4400];
        snprintf(buf, sizeof(buf), "%s:%s", base->is_tls ? "wss" : "ws", loc);
        return url_parse(buf, out, err, errlen);
    }
    if (loc[0] == '/')
        return set_path(out, loc, err, errlen);
    /* A query replaces the base's query; a relative path its last segment. */
    size_t keep = strcspn(base->path, "?");
    if (loc[0] != '?')
        while (keep > 0 && base->path[keep - 1] != '/')
            keep--;
    size_t n = strcspn(loc, "#");
    if (keep + n + 1 > sizeof(out->path))
        return error(err, errlen, "redirect path too long", loc);
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
