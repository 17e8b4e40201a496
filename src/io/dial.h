/* SPDX-License-Identifier: MIT */
/* dial: a stream that is still connecting, for a listener that opens a
 * connection for each of its clients (--tcp-listen) and must never wait on
 * one: TCP to every address in turn, then a proxy's CONNECT if any, all
 * within one deadline; then the stream becomes, in place, the plain or TLS
 * stream over the socket. Only resolving the name still blocks. Knows
 * nothing of WebSocket or of how a proxy's answer is judged. */
#ifndef WSC_DIAL_H
#define WSC_DIAL_H

#include <stddef.h>

#include "core/buf.h"
#include "stream.h"

struct tls_context;

struct dial_options {
    const char *host; /* what to connect to: the server, or the proxy */
    unsigned port;
    int family;       /* 0, 4 or 6, as for net_connect */
    int timeout_ms;   /* everything before the stream becomes plain or TLS; <= 0: none */
    /* Put before each failure's reason, such as "proxy 10.0.0.1:3128 (from
     * --proxy): "; NULL: nothing. */
    const char *error_prefix;
    /* A proxy's CONNECT (NULL: none): sent once connected, then its answer
     * head is read (never a byte past it) and handed to check, which returns
     * 0 to go on or -1 with the whole reason in err. */
    const struct buf *proxy_request;
    int (*check)(void *ctx, const struct buf *head, char *err, size_t errlen);
    void *check_ctx;
    /* TLS once connected (NULL: plain), owned by the stream from now on,
     * also on failure; tls_host is the name to verify. */
    struct tls_context *tls;
    const char *tls_host;
};

/* Starts connecting (the name is resolved here, which may block). Returns
 * a stream whose stream_connect() answers STREAM_AGAIN until connected, or
 * NULL with a one-line reason in err. Its reads and writes answer
 * STREAM_AGAIN while it connects; its poll events are those the connect
 * waits for. */
struct stream *dial_stream_new(const struct dial_options *o, char *err, size_t errlen);

#endif
