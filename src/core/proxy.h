/* SPDX-License-Identifier: MIT */
/* proxy: HTTP proxies as curl reads them. Choosing the proxy for a URL
 * (--proxy, then https_proxy/HTTPS_PROXY for wss, http_proxy for ws,
 * all_proxy/ALL_PROXY), the no_proxy bypass list, the CONNECT request and
 * the judgement of the proxy's answer. Pure: the environment comes in
 * through a lookup function, and the caller does every read and write. */
#ifndef WSC_PROXY_H
#define WSC_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "http.h"
#include "url.h"

#define PROXY_DEFAULT_PORT 1080 /* curl's default, when the proxy URL has none */

struct proxy {
    char host[256]; /* without brackets for IPv6 literals */
    bool is_ipv6;
    unsigned port;
    char userinfo[256]; /* user:pass, percent-decoded; empty: no credentials */
    const char *source; /* "--proxy" or the environment variable it came from */
};

/* Returns the value of an environment variable, or NULL. */
typedef const char *(*proxy_getenv_fn)(void *ctx, const char *name);

/* Parses a proxy URL: [http://][user:pass@]host[:port][/]. Returns 0, or
 * -1 with a one-line reason in err (other schemes are refused by name). */
int proxy_parse(const char *s, struct proxy *p, char *err, size_t errlen);

/* Decides how to reach target. option is --proxy (NULL when not given; an
 * empty string turns every proxy off, as in curl). Returns 1 with p filled
 * when a proxy is to be used, 0 for a direct connection, -1 with err when
 * the proxy setting cannot be parsed (p->source still names where it came
 * from). Unix socket URLs never use a proxy. */
int proxy_choose(const struct url *target, const char *option, proxy_getenv_fn getenv_fn, void *ctx,
                 struct proxy *p, char *err, size_t errlen);

/* True when host (and port) is on the no_proxy list: entries separated by
 * commas or blanks; "*" matches everything; a name matches itself and its
 * subdomains (a leading "." or "*." is ignored); an IP address matches
 * exactly or by CIDR prefix (10.0.0.0/8, fd00::/8); an entry with :port
 * ([v6]:port for IPv6) matches that port only. Case-insensitive. */
bool proxy_no_proxy_matches(const char *list, const char *host, unsigned port);

/* The CONNECT request for target, with Proxy-Authorization: Basic when the
 * proxy URL carried credentials. Returns 0, or -1 when out does not grow. */
int proxy_build_connect(const struct proxy *p, const struct url *target, struct buf *out);

/* Judges the proxy's answer head: 0 for 2xx (the tunnel is open), -1 with
 * "proxy answered <status> <reason>" in err otherwise (and the
 * Proxy-Authenticate challenge for 407). */
int proxy_check_response(const struct http_head *h, char *err, size_t errlen);

#endif
