/* SPDX-License-Identifier: MIT */
/* libFuzzer target for url.c. The input, up to its first newline, is a URL
 * given to url_parse; when it parses, the rest of the input is a redirect's
 * Location resolved against it. Each string is a NUL-terminated heap copy
 * of exactly its size. Every URL that parses must keep the invariants of
 * struct url, and its url_format form must parse back to the same URL. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            __builtin_trap();                                                                  \
    } while (0)

static char *dup_string(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, p, n);
    s[n] = 0;
    return s;
}

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, 0, cap) != NULL;
}

static void check_url(const struct url *u)
{
    CHECK(terminated(u->host, sizeof(u->host)) && terminated(u->path, sizeof(u->path)) &&
          terminated(u->userinfo, sizeof(u->userinfo)) &&
          terminated(u->unix_path, sizeof(u->unix_path)));
    /* RFC 9112 3.2.1: the request target in origin form starts with '/' */
    CHECK(u->path[0] == '/');
    CHECK(strchr(u->path, '#') == NULL); /* RFC 6455 3: no fragment */
    for (const char *q = u->path; *q; q++)
        CHECK((unsigned char)*q > 0x20 && *q != 0x7F);
    if (u->is_unix) {
        CHECK(u->unix_path[0] != 0);
        return;
    }
    CHECK(u->host[0] != 0);
    CHECK(u->port >= 1 && u->port <= 65535);
    if (!u->has_port)
        CHECK(u->port == (u->is_tls ? 443u : 80u));

    char host[300];
    url_host_header(u, host, sizeof(host));
    for (const char *q = host; *q; q++)
        CHECK((unsigned char)*q > 0x20 && *q != 0x7F);

    /* url_format's form parses back to the same place. */
    char text[5000];
    url_format(u, text, sizeof(text));
    struct url *v = malloc(sizeof(*v));
    if (!v)
        abort();
    char err[256];
    CHECK(url_parse(text, v, err, sizeof(err)) == 0);
    CHECK(v->is_tls == u->is_tls && v->is_unix == u->is_unix && v->is_ipv6 == u->is_ipv6 &&
          v->port == u->port && strcmp(v->host, u->host) == 0 && strcmp(v->path, u->path) == 0);
    free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t n = nl ? (size_t)(nl - data) : size;
    char *s = dup_string(data, n);
    struct url *u = malloc(sizeof(*u));
    struct url *r = malloc(sizeof(*r));
    if (!u || !r)
        abort();
    char err[128];
    memset(err, 0, sizeof(err));
    int rc = url_parse(s, u, err, sizeof(err));
    CHECK(rc == 0 || rc == -1);
    CHECK(terminated(err, sizeof(err)));
    if (rc == 0) {
        check_url(u);
        if (nl) {
            char *loc = dup_string(nl + 1, size - n - 1);
            rc = url_resolve(u, loc, r, err, sizeof(err));
            CHECK(rc == 0 || rc == -1);
            if (rc == 0)
                check_url(r);
            else
                CHECK(err[0] != 0 && terminated(err, sizeof(err)));
            free(loc);
        }
    } else {
        CHECK(err[0] != 0);
    }
    free(r);
    free(u);
    free(s);
    return 0;
}
