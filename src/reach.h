/* SPDX-License-Identifier: MIT */
/* reach: a stream to a URL: a Unix socket, TCP directly or through an HTTP
 * proxy's CONNECT (--proxy or the environment), then TLS for wss. Once and
 * waiting, for wsc's own connection; without waiting, for each local client
 * of --tcp-listen, over one shared HTTP/2 connection with --http2. Says
 * what failed on stderr; main.c turns the result into an exit status. */
#ifndef WSC_REACH_H
#define WSC_REACH_H

#include <stdbool.h>

#include "options.h"
#include "output.h"
#include "proxy.h"
#include "stream.h"
#include "url.h"

struct hs_client;
struct h2_session;

enum reach_result {
    REACH_OK,
    REACH_FAILED,      /* could not connect: refused, timed out, proxy, TLS set-up */
    REACH_INTERRUPTED, /* the user interrupted the connect */
    REACH_NO_MEMORY,
};

/* Each connection, first or after a redirect or a 426, starts from
 * nothing: its own socket, proxy tunnel and TLS session. offers_h2: TLS
 * offers h2 by ALPN. Waits up to --connect-timeout. */
enum reach_result reach_connect(const struct url *u, const struct options *opt,
                                const struct output *out, bool offers_h2, struct stream **s);

/* --tcp-listen's dialer: set the first four fields and uses_h2, zero the
 * rest. */
struct reach_dialer {
    const struct url *url;
    const struct options *opt;
    const struct output *out;
    const struct hs_client *hs;
    bool uses_h2;               /* --http2: until the server turns out not to allow it */
    struct h2_session *session; /* kept for the next local client; NULL: none yet */
    /* the proxy to url, if any, for judging its answers (the same for every dial) */
    struct proxy px;
    char where[300], target[300];
};

/* A new WebSocket's stream for the next local client, still connecting
 * (the loop's listener calls it; ctx is a struct reach_dialer). With
 * --http2 every local client is a stream of one HTTP/2 connection, opened
 * by the first and kept while it lasts. NULL after saying why. */
struct stream *reach_dial(void *ctx);
/* Drops the shared HTTP/2 connection (it ends with its last stream). */
void reach_dialer_forget_session(struct reach_dialer *d);

#endif
