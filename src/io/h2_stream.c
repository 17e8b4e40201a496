/* SPDX-License-Identifier: MIT */
/* h2_stream: one WebSocket on a stream of an HTTP/2 connection, seen by
 * the engine as a struct stream: reads and writes of DATA with flow
 * control that follows the reader, the client's extended CONNECT and its
 * answer, the server's accept and response (RFC 8441). */
#include "h2.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "h2_session.h"

#define SEND_MAX (256 * 1024)          /* a stream takes this much before STREAM_AGAIN */

static void copy_error(struct stream *s, const char *why)
{
    snprintf(s->error, sizeof(s->error), "%s", why);
}

static ssize_t read_data(nghttp2_session *ng, int32_t id, uint8_t *dst, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *user)
{
    struct h2_stream *st = src->ptr;
    if (st->body) {
        size_t n = st->body_len < len ? st->body_len : len;
        memcpy(dst, st->body, n);
        st->body += n;
        st->body_len -= n;
        if (!st->body_len)
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)n;
    }
    size_t n = buf_size(&st->out) < len ? buf_size(&st->out) : len;
    memcpy(dst, buf_head(&st->out), n);
    buf_consume(&st->out, n);
    if (!buf_size(&st->out) && st->wants_end) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)n;
    }
    if (!n) {
        st->is_deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static void mirror_transport(struct stream *s, const struct h2_session *h)
{
    s->is_secured = h->transport->is_secured;
    s->is_tls_error = h->transport->is_tls_error;
    /* a transport still connecting may move to another socket */
    s->connect_deadline = h->transport->connect_deadline;
    s->fd = h->transport->fd;
}

/* Why the stream cannot go on, in s->error; 0 for a clean end of stream. */
static ssize_t stream_end(struct stream *s, struct h2_stream *st)
{
    struct h2_session *h = st->h;
    if (st->is_too_large) {
        copy_error(s, "the HTTP/2 header list is larger than 16 KiB or 72 fields");
        return STREAM_ERROR;
    }
    if (st->is_closed && st->close_code != NGHTTP2_NO_ERROR) {
        const char *by = st->is_reset_by_us ? "wsc" : h->is_server ? "the client" : "the server";
        snprintf(s->error, sizeof(s->error), "HTTP/2 stream %d reset by %s: %s (0x%x)%s%s",
                 st->id, by, nghttp2_http2_strerror(st->close_code), st->close_code,
                 st->is_reset_by_us && *h->detail ? ": " : "",
                 st->is_reset_by_us ? h->detail : "");
        return STREAM_ERROR;
    }
    if (st->is_remote_ended || st->is_closed)
        return 0;
    if (h->is_dead) {
        mirror_transport(s, h);
        copy_error(s, h->error);
        return STREAM_ERROR;
    }
    return STREAM_AGAIN;
}

static ssize_t h2_read(struct stream *s, void *p, size_t n)
{
    struct h2_stream *st = s->impl;
    struct h2_session *h = st->h;
    h2_pump(h);
    mirror_transport(s, h);
    st->has_news = false;
    /* the caller stopped reading (its output is full): bytes wait, unacknowledged */
    if (!st->caller_wants_read)
        return STREAM_AGAIN;
    size_t have = buf_size(&st->in);
    if (have) {
        size_t take = have < n ? have : n;
        memcpy(p, buf_head(&st->in), take);
        buf_consume(&st->in, take);
        /* read now, so the window may open again (RFC 9113 6.9) */
        if (!h->is_dead && nghttp2_session_consume(h->ng, st->id, take) == 0)
            h2_send_all(h);
        return (ssize_t)take;
    }
    return stream_end(s, st);
}

static ssize_t h2_write(struct stream *s, const void *p, size_t n)
{
    struct h2_stream *st = s->impl;
    struct h2_session *h = st->h;
    if (st->is_closed || h->is_dead || st->wants_end) {
        ssize_t r = stream_end(s, st);
        if (r != STREAM_ERROR)
            copy_error(s, "the HTTP/2 stream is closed");
        return STREAM_ERROR;
    }
    if (buf_size(&st->out) >= SEND_MAX)
        h2_pump(h);
    size_t room = SEND_MAX > buf_size(&st->out) ? SEND_MAX - buf_size(&st->out) : 0;
    if (!room)
        return STREAM_AGAIN;
    size_t take = n < room ? n : room;
    if (buf_append(&st->out, p, take) != 0) {
        copy_error(s, "out of memory");
        return STREAM_ERROR;
    }
    if (st->is_deferred && st->id > 0) {
        st->is_deferred = false;
        nghttp2_session_resume_data(h->ng, st->id);
    }
    h2_pump(h);
    return (ssize_t)take;
}

static size_t h2_pending(struct stream *s)
{
    struct h2_stream *st = s->impl;
    if (!st->caller_wants_read)
        return 0;
    return buf_size(&st->in) + (st->has_news ? 1 : 0);
}

/* RFC 8441 and RFC 9113 8.5: a tunnel's end is an END_STREAM. */
static void h2_shutdown(struct stream *s)
{
    struct h2_stream *st = s->impl;
    struct h2_session *h = st->h;
    if (st->wants_end)
        return;
    st->wants_end = true;
    if (st->is_deferred && st->id > 0 && !st->is_closed) {
        st->is_deferred = false;
        nghttp2_session_resume_data(h->ng, st->id);
    }
    h2_pump(h);
}

static void unlink_stream(struct h2_session *h, struct h2_stream *st)
{
    for (struct h2_stream **pp = &h->streams; *pp; pp = &(*pp)->next) {
        if (*pp == st) {
            *pp = st->next;
            return;
        }
    }
}

void h2_release_lingering(struct h2_session *h)
{
    size_t kept = 0;
    /* newest first: the oldest, long finished, are the ones released */
    for (struct h2_stream *st = h->streams; st; st = st->next) {
        if (!st->is_orphan || !st->is_end_sent || st->is_remote_ended || st->is_closed ||
            st->is_reset_by_us)
            continue;
        if (++kept > LINGER_MAX) {
            nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
            st->is_reset_by_us = true;
        }
    }
}

void h2_stream_drop_orphan(struct h2_session *h, struct h2_stream *st)
{
    unlink_stream(h, st);
    h2_stream_destroy(st);
}

void h2_stream_destroy(struct h2_stream *st)
{
    buf_free(&st->in);
    buf_free(&st->out);
    free(st->request);
    free(st->answer);
    free(st);
}

static void h2_free(struct stream *s)
{
    struct h2_stream *st = s->impl;
    struct h2_session *h = st->h;
    s->fd = -1; /* the session's socket: closed with the session */
    bool is_open = !h->is_dead && st->id > 0 && !st->is_closed;
    if (is_open && !st->wants_end) {
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
    } else if (is_open) {
        /* Our side is ending or ended; the peer's END_STREAM may follow.
         * The stream outlives its caller until nghttp2 closes it: our last
         * bytes still go out, and the peer gets time to forward them. */
        st->is_orphan = true;
        st->is_accepted = false;
        st->self = NULL;
        h2_release_lingering(h);
    }
    if (!st->is_orphan) {
        unlink_stream(h, st);
        h2_stream_destroy(st);
    }
    if (!h2_has_accepted(h) && (h->is_server ? h->is_released : !h->is_kept))
        h2_session_free(h);
    else
        h2_pump(h);
}

static short h2_poll_events(struct stream *s, bool want_read, bool want_write)
{
    struct h2_stream *st = s->impl;
    struct h2_session *h = st->h;
    st->caller_wants_read = want_read;
    mirror_transport(s, h);
    short ev = h2_session_events(h);
    /* room for the caller's bytes: its write goes through at once */
    if (want_write && !h->is_dead && buf_size(&st->out) < SEND_MAX)
        ev |= POLLOUT;
    return ev;
}

static void h2_ready(struct stream *s, short revents)
{
    struct h2_stream *st = s->impl;
    if (revents)
        h2_pump(st->h);
}

/* The session's transport connects for all its streams. */
static int h2_connect(struct stream *s)
{
    struct h2_stream *st = s->impl;
    struct h2_session *h = st->h;
    if (!h->is_dead && stream_is_connecting(h->transport))
        h2_pump(h);
    mirror_transport(s, h);
    if (!stream_is_connecting(h->transport))
        return 0; /* what fails after, fails the stream's reads and writes */
    if (h->is_dead) {
        copy_error(s, h->error);
        return STREAM_ERROR;
    }
    return STREAM_AGAIN;
}

static const struct stream_ops h2_ops = {
    h2_read, h2_write, h2_pending, h2_shutdown, h2_free, h2_poll_events, h2_ready, h2_connect,
};

struct h2_stream *h2_stream_new(struct h2_session *h)
{
    struct h2_stream *st = calloc(1, sizeof(*st));
    struct stream *s = st ? calloc(1, sizeof(*s)) : NULL;
    if (!s) {
        free(st);
        return NULL;
    }
    st->h = h;
    st->self = s;
    st->caller_wants_read = true;
    buf_init(&st->in, 2 * (size_t)STREAM_WINDOW);
    buf_init(&st->out, 0);
    s->ops = &h2_ops;
    s->impl = st;
    mirror_transport(s, h);
    st->next = h->streams;
    h->streams = st;
    return st;
}

/* ---- client ---- */

void h2_submit_request(struct h2_session *h, struct h2_stream *st)
{
    nghttp2_nv nva[HS_FIELDS_MAX];
    const struct hs_fields *f = st->request;
    for (size_t i = 0; i < f->num; i++)
        nva[i] = (nghttp2_nv){(uint8_t *)f->fields[i].name, (uint8_t *)f->fields[i].value,
                              f->fields[i].name_len, f->fields[i].value_len, NGHTTP2_NV_FLAG_NONE};
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_data};
    int32_t id = nghttp2_submit_request(h->ng, NULL, nva, f->num, &prd, st);
    st->is_submitted = true;
    if (id < 0) {
        h2_session_fail(h, false, "HTTP/2: cannot send the request: %s", nghttp2_strerror(id));
        return;
    }
    st->id = id;
}

/* A new stream of h whose request is the extended CONNECT for c. */
static struct h2_stream *client_stream(struct h2_session *h, const struct hs_client *c, char *err,
                                       size_t errlen)
{
    struct h2_stream *st = h2_stream_new(h);
    if (st)
        st->request = malloc(sizeof(*st->request));
    if (st)
        st->answer = calloc(1, sizeof(*st->answer));
    if (!st || !st->request || !st->answer) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    st->is_accepted = true;
    if (hs_build_request_h2(c, st->request) != 0) {
        snprintf(err, errlen, "request too large, or an -H header is not \"Name: value\"");
        goto fail;
    }
    return st;
fail:
    if (st) {
        unlink_stream(h, st);
        free(st->self);
        h2_stream_destroy(st);
    }
    return NULL;
}

struct stream *h2_client_open(struct stream *transport, bool is_tls, const struct hs_client *c,
                              char *err, size_t errlen)
{
    struct h2_session *h = h2_session_new(transport, false, is_tls, err, errlen);
    if (!h)
        return NULL;
    struct h2_stream *st = client_stream(h, c, err, errlen);
    if (!st) {
        h2_session_free(h);
        return NULL;
    }
    return st->self;
}

struct stream *h2_client_open_stream(struct h2_session *h, const struct hs_client *c, char *err,
                                     size_t errlen)
{
    if (h->is_dead) {
        snprintf(err, errlen, "%s", h->error);
        return NULL;
    }
    struct h2_stream *st = client_stream(h, c, err, errlen);
    if (!st)
        return NULL;
    h2_submit_waiting(h); /* at once when the server's SETTINGS allowed it already */
    h2_pump(h);
    return st->self;
}

struct h2_session *h2_stream_session(const struct stream *s)
{
    return ((const struct h2_stream *)s->impl)->h;
}

bool h2_is_stream(const struct stream *s)
{
    return s && s->ops == &h2_ops;
}

int32_t h2_stream_id(const struct stream *s)
{
    return ((const struct h2_stream *)s->impl)->id;
}

int h2_request_text(const struct stream *s, struct buf *out)
{
    const struct hs_fields *f = ((const struct h2_stream *)s->impl)->request;
    return f ? hs_fields_format(f->fields, f->num, out) : -1;
}

enum h2_response h2_stream_response(struct stream *s, struct http_head *head)
{
    struct h2_stream *st = s->impl;
    struct h2_session *h = st->h;
    h2_pump(h);
    mirror_transport(s, h);
    st->has_news = false;
    if (st->is_head_done) {
        if (hs_fields_to_head(st->answer, head) != 0) {
            copy_error(s, "the server's HTTP/2 answer has no valid :status");
            return H2_FAILED;
        }
        return H2_READY;
    }
    if (h->is_dead) {
        copy_error(s, h->error);
        return h->is_no_websockets ? H2_NO_WEBSOCKETS : H2_FAILED;
    }
    ssize_t r = stream_end(s, st);
    if (r == 0)
        copy_error(s, "the server ended the HTTP/2 stream without an answer");
    return r == STREAM_AGAIN ? H2_WAIT : H2_FAILED;
}

/* ---- server ---- */

struct stream *h2_server_accept(struct h2_session *h)
{
    /* the oldest first: streams are linked newest first */
    struct h2_stream *found = NULL;
    for (struct h2_stream *st = h->streams; st; st = st->next)
        if (!st->is_accepted && !st->is_orphan && st->is_head_done)
            found = st;
    if (!found)
        return NULL;
    found->is_accepted = true;
    return found->self;
}

int h2_stream_request(struct stream *s, struct http_head *head)
{
    struct h2_stream *st = s->impl;
    if (!st->request || hs_fields_to_head(st->request, head) != 0) {
        copy_error(s, "the HTTP/2 request head is not valid");
        return -1;
    }
    return 0;
}

int h2_stream_respond(struct stream *s, const struct hs_fields *f, const char *body)
{
    struct h2_stream *st = s->impl;
    struct h2_session *h = st->h;
    nghttp2_nv nva[HS_FIELDS_MAX];
    for (size_t i = 0; i < f->num; i++)
        nva[i] = (nghttp2_nv){(uint8_t *)f->fields[i].name, (uint8_t *)f->fields[i].value,
                              f->fields[i].name_len, f->fields[i].value_len, NGHTTP2_NV_FLAG_NONE};
    if (body) {
        st->body = body;
        st->body_len = strlen(body);
    }
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_data};
    int rc = nghttp2_submit_response(h->ng, st->id, nva, f->num, &prd);
    if (rc != 0) {
        snprintf(s->error, sizeof(s->error), "HTTP/2: %s", nghttp2_strerror(rc));
        return -1;
    }
    st->is_responded = true;
    h2_pump(h);
    return 0;
}
