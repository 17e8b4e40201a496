/* SPDX-License-Identifier: MIT */
#include "dial.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http.h"
#include "net.h"
#include "tls.h"
#include "tunnel.h"

enum dial_step {
    DIAL_TCP,     /* the socket is connecting to one address after another */
    DIAL_REQUEST, /* sending the proxy's CONNECT */
    DIAL_ANSWER,  /* reading the proxy's answer head */
    DIAL_FAILED,  /* s->error says why; stays so */
};

struct dialing {
    enum dial_step step;
    struct net_dial net;     /* owned; its fd is s->fd */
    char prefix[200];        /* before every reason */
    struct buf request;      /* the CONNECT to send; owned */
    size_t sent;             /* of request */
    struct buf answer;       /* the proxy's head so far; owned */
    int (*check)(void *ctx, const struct buf *head, char *err, size_t errlen);
    void *check_ctx;
    struct tls_context *tls; /* owned; NULL: plain */
    char tls_host[256];
};

static void dialing_free(struct dialing *d)
{
    net_dial_free(&d->net);
    buf_free(&d->request);
    buf_free(&d->answer);
    tls_context_free(d->tls);
    free(d);
}

static int fail(struct stream *s, const char *prefix, const char *why)
{
    struct dialing *d = s->impl;
    d->step = DIAL_FAILED;
    /* what does not fit is cut from the end */
    int room = (int)sizeof(s->error) - 1, keep = (int)strnlen(prefix, (size_t)room);
    snprintf(s->error, sizeof(s->error), "%.*s%.*s", keep, prefix, room - keep, why);
    return STREAM_ERROR;
}

/* Whether fd turned writable, asked without waiting: the caller may drive
 * the stream on a turn whose poll did not report it (a read or a write of
 * the connection, another stream of an HTTP/2 session). */
static bool is_writable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    return poll(&p, 1, 0) > 0;
}

/* 1 connected, 0 still waiting (perhaps on a new socket), -1 failed. */
static int step_tcp(struct stream *s, struct dialing *d, char *why, size_t whylen)
{
    while (is_writable(d->net.fd)) {
        /* a refused address closes its socket and the next one gets a new
         * descriptor, which net_dial_step took off the waiter's list */
        int r = net_dial_step(&d->net, why, whylen);
        s->fd = d->net.fd;
        if (r != 0)
            return r;
    }
    return 0;
}

/* The socket is connected and the proxy, if any, agreed: the stream turns
 * into the plain or TLS stream over it, in place, so that whoever holds s
 * (a connection, an HTTP/2 session) goes on with it. */
static int become_connected(struct stream *s)
{
    struct dialing *d = s->impl;
    char why[256];
    struct stream *t = d->tls ? stream_new_tls(d->tls, s->fd, d->tls_host, why, sizeof(why))
                              : stream_new_plain(s->fd);
    if (!t)
        return fail(s, d->prefix, d->tls ? why : "out of memory");
    /* Neither kind keeps a pointer to its struct stream: a copy is the same
     * stream. The TLS session holds what it needs of the context. */
    dialing_free(d);
    *s = *t;
    free(t);
    return 0;
}

/* Runs the steps until one would block. */
static int dial_connect(struct stream *s)
{
    struct dialing *d = s->impl;
    char why[512];
    int r = 1;
    while (r == 1) {
        switch (d->step) {
        case DIAL_TCP:
            r = step_tcp(s, d, why, sizeof(why));
            if (r == 1 && !buf_size(&d->request))
                return become_connected(s);
            if (r == 1)
                d->step = DIAL_REQUEST;
            break;
        case DIAL_REQUEST:
            r = tunnel_send(s->fd, &d->request, &d->sent, why, sizeof(why));
            if (r == 1)
                d->step = DIAL_ANSWER;
            break;
        case DIAL_ANSWER:
            r = tunnel_read_head(s->fd, &d->answer, why, sizeof(why));
            if (r != 1)
                break;
            if (d->check && d->check(d->check_ctx, &d->answer, why, sizeof(why)) != 0)
                return fail(s, "", why); /* the whole reason */
            return become_connected(s);
        case DIAL_FAILED:
            return STREAM_ERROR;
        }
    }
    if (r < 0)
        return fail(s, d->prefix, why);
    if (net_now_ms() >= s->connect_deadline) {
        if (d->step == DIAL_TCP)
            snprintf(why, sizeof(why), "cannot connect to %s: timed out", d->net.where);
        else
            snprintf(why, sizeof(why), "%s",
                     d->step == DIAL_REQUEST ? "cannot send CONNECT to the proxy: timed out"
                                             : "the proxy did not answer CONNECT in time");
        return fail(s, d->prefix, why);
    }
    /* what the step waits for, as a TLS stream says it (an HTTP/2 session
     * reads these flags) */
    s->read_wants_write = d->step != DIAL_ANSWER;
    s->write_wants_read = d->step == DIAL_ANSWER;
    return STREAM_AGAIN;
}

static ssize_t dial_read(struct stream *s, void *p, size_t n)
{
    int r = dial_connect(s);
    return r == 0 ? stream_read(s, p, n) : r;
}

static ssize_t dial_write(struct stream *s, const void *p, size_t n)
{
    int r = dial_connect(s);
    return r == 0 ? stream_write(s, p, n) : r;
}

static size_t dial_pending(struct stream *s)
{
    return 0;
}

static void dial_shutdown(struct stream *s)
{
    /* nothing was sent that a FIN could end */
}

static void dial_free(struct stream *s)
{
    dialing_free(s->impl);
    s->impl = NULL;
}

static short dial_poll_events(struct stream *s, bool want_read, bool want_write)
{
    struct dialing *d = s->impl;
    if (d->step == DIAL_FAILED)
        return 0;
    return d->step == DIAL_ANSWER ? POLLIN : POLLOUT;
}

static void dial_ready(struct stream *s, short revents)
{
    if (revents)
        dial_connect(s);
}

static const struct stream_ops dial_ops = {
    dial_read, dial_write, dial_pending, dial_shutdown, dial_free,
    dial_poll_events, dial_ready, dial_connect,
};

struct stream *dial_stream_new(const struct dial_options *o, char *err, size_t errlen)
{
    struct stream *s = calloc(1, sizeof(*s));
    struct dialing *d = s ? calloc(1, sizeof(*d)) : NULL;
    if (!d) {
        free(s);
        tls_context_free(o->tls);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->tls = o->tls;
    snprintf(d->prefix, sizeof(d->prefix), "%s", o->error_prefix ? o->error_prefix : "");
    snprintf(d->tls_host, sizeof(d->tls_host), "%s", o->tls_host ? o->tls_host : "");
    buf_init(&d->request, 0);
    buf_init(&d->answer, HTTP_MAX_HEAD + 1);
    d->check = o->check;
    d->check_ctx = o->check_ctx;
    char why[512];
    if ((o->proxy_request &&
         buf_append(&d->request, buf_head(o->proxy_request), buf_size(o->proxy_request)) != 0)) {
        snprintf(err, errlen, "out of memory");
        dialing_free(d);
        free(s);
        return NULL;
    }
    if (net_dial_start(&d->net, o->host, o->port, o->family, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s%s", d->prefix, why);
        dialing_free(d);
        free(s);
        return NULL;
    }
    s->ops = &dial_ops;
    s->fd = d->net.fd;
    s->impl = d;
    s->read_wants_write = true;
    long timeout = o->timeout_ms > 0 ? o->timeout_ms : 24L * 3600 * 1000;
    s->connect_deadline = net_now_ms() + timeout;
    return s;
}
