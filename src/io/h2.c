/* SPDX-License-Identifier: MIT */
#include "h2.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "tls.h"

#define STREAM_WINDOW (1 << 20)        /* what one stream may send us unread */
#define SESSION_WINDOW (16 << 20)      /* the same for the whole connection */
#define SEND_MAX (256 * 1024)          /* a stream takes this much before STREAM_AGAIN */
#define RECV_CHUNK (32 * 1024)
#define RECV_ROUNDS 16                 /* reads of the socket per pump: others get a turn */
#define MAX_STREAMS 100                /* concurrent streams a server allows a client */
#define SETTINGS_PING "wsc-8441"       /* the opaque data of our PING after SETTINGS */

struct h2_stream;

/* One HTTP/2 connection. Freed when its last stream is freed and no one
 * holds it: a listener (server) until it releases it, a client that keeps
 * it for more streams until it lets go. */
struct h2_session {
    nghttp2_session *ng;
    struct stream *transport; /* owned */
    bool is_server;
    bool is_tls;
    bool is_alpn_checked;
    bool has_settings;     /* the peer's first SETTINGS came */
    bool has_ping_sent;    /* client: the PING that bounds the wait for more SETTINGS */
    bool has_ping_ack;     /* ... and its answer came */
    bool is_eof;           /* the transport ended */
    bool is_dead;          /* no stream can go on; error says why */
    bool is_broken;        /* the transport failed: nothing more to send */
    bool is_no_websockets; /* dead because the peer has no RFC 8441 */
    bool has_goaway;
    uint32_t goaway_code;
    bool is_released;      /* server: the listener let go */
    bool is_kept;          /* client: kept for more streams (--tcp-listen) */
    char error[256];
    char detail[160];      /* nghttp2's last word on an error */
    struct buf out;        /* session bytes the transport did not take yet; owned */
    struct h2_stream *streams; /* every stream not yet freed, newest first */
};

/* One WebSocket. Owned by its struct stream (impl); the session links it
 * while both live. */
struct h2_stream {
    struct h2_session *h;
    struct h2_stream *next;
    struct stream *self;
    int32_t id;                /* 0 until submitted */
    struct hs_fields *request; /* client: to send; server: received; owned */
    struct hs_fields *answer;  /* client: received; owned */
    bool is_submitted;         /* client: the request went out */
    bool is_head_done;         /* the peer's head (request or answer) is complete */
    bool is_accepted;          /* server: handed to the listener */
    bool is_responded;         /* server: the answer went out */
    bool is_too_large;         /* the peer's head did not fit */
    struct buf in;             /* DATA received, not yet read; owned */
    struct buf out;            /* bytes to send as DATA; owned */
    bool is_deferred;          /* the data source waits for bytes */
    bool wants_end;            /* END_STREAM once out is sent */
    bool is_remote_ended;      /* END_STREAM came */
    bool is_closed;            /* nghttp2 is done with it */
    uint32_t close_code;
    bool is_reset_by_us;       /* nghttp2 or we sent its RST_STREAM */
    bool caller_wants_read;
    bool has_news;             /* something a read must report came */
    const char *body;          /* server: an error answer's content; borrowed */
    size_t body_len;
};

static void session_free(struct h2_session *h);

/* ---- failures ---- */

static void fail_session(struct h2_session *h, bool is_no_websockets, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_session(struct h2_session *h, bool is_no_websockets, const char *fmt, ...)
{
    if (h->is_dead)
        return;
    h->is_dead = true;
    h->is_no_websockets = is_no_websockets;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->error, sizeof(h->error), fmt, ap);
    va_end(ap);
    for (struct h2_stream *st = h->streams; st; st = st->next)
        st->has_news = true;
}

/* The transport failed: its error ends everything. */
static void break_session(struct h2_session *h)
{
    h->is_broken = true;
    if (h->has_goaway) /* the peer's reason first: the cut came after it */
        fail_session(h, false, "HTTP/2 GOAWAY from the %s: %s (0x%x), then %s",
                     h->is_server ? "client" : "server", nghttp2_http2_strerror(h->goaway_code),
                     h->goaway_code, h->transport->error);
    else
        fail_session(h, false, "%s", h->transport->error);
}

static void copy_error(struct stream *s, const char *why)
{
    snprintf(s->error, sizeof(s->error), "%s", why);
}

/* ---- nghttp2 callbacks ---- */

static struct h2_stream *find_stream(struct h2_session *h, int32_t id)
{
    for (struct h2_stream *st = h->streams; st; st = st->next)
        if (st->id == id)
            return st;
    return NULL;
}

static struct h2_stream *stream_new(struct h2_session *h);

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct h2_session *h = user;
    if (!h->is_server || frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct h2_stream *st = stream_new(h);
    if (!st)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->id = frame->hd.stream_id;
    st->request = calloc(1, sizeof(*st->request));
    if (!st->request)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    struct h2_session *h = user;
    struct h2_stream *st = find_stream(h, frame->hd.stream_id);
    if (!st || st->is_head_done || frame->hd.type != NGHTTP2_HEADERS)
        return 0; /* trailers, or a stream we no longer hold */
    struct hs_fields *f = h->is_server ? st->request : st->answer;
    if (!f)
        return 0;
    if (hs_fields_add(f, (const char *)name, namelen, (const char *)value, valuelen) != 0) {
        /* bounded like an HTTP/1.1 head: the stream is reset, the reason kept */
        st->is_too_large = true;
        st->has_news = true;
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return 0;
}

/* A client's answer head is complete unless it was a 1xx (RFC 9110 15.2),
 * after which the real one follows. */
static void head_done(struct h2_session *h, struct h2_stream *st)
{
    if (!h->is_server && st->answer) {
        struct http_head head;
        if (hs_fields_to_head(st->answer, &head) == 0 && head.status >= 100 &&
            head.status < 200) {
            st->answer->num = st->answer->used = 0;
            return;
        }
    }
    st->is_head_done = true;
    st->has_news = true;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct h2_session *h = user;
    struct h2_stream *st = frame->hd.stream_id ? find_stream(h, frame->hd.stream_id) : NULL;
    switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK))
            h->has_settings = true;
        break;
    case NGHTTP2_PING:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) &&
            !memcmp(frame->ping.opaque_data, SETTINGS_PING, 8))
            h->has_ping_ack = true;
        break;
    case NGHTTP2_GOAWAY:
        h->has_goaway = true;
        h->goaway_code = frame->goaway.error_code;
        for (struct h2_stream *s = h->streams; s; s = s->next)
            s->has_news = true;
        break;
    case NGHTTP2_HEADERS:
        if (st && !st->is_head_done && (frame->hd.flags & NGHTTP2_FLAG_END_HEADERS))
            head_done(h, st);
        break;
    default:
        break;
    }
    if (st && (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        st->is_remote_ended = true;
        st->has_news = true;
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
    struct h2_stream *st = find_stream(user, id);
    if (!st) {
        /* a stream we gave up: its bytes still count for the connection */
        nghttp2_session_consume_connection(ng, len);
        return 0;
    }
    /* flow control bounds st->in: nghttp2 refuses DATA beyond our window */
    if (buf_append(&st->in, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->has_news = true;
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *user)
{
    struct h2_stream *st = find_stream(user, id);
    if (st) {
        st->is_closed = true;
        st->close_code = code;
        st->has_news = true;
    }
    return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct h2_stream *st = find_stream(user, frame->hd.stream_id);
    if (st && frame->hd.type == NGHTTP2_RST_STREAM)
        st->is_reset_by_us = true;
    return 0;
}

static int on_error(nghttp2_session *ng, int lib_error_code, const char *msg, size_t len,
                    void *user)
{
    struct h2_session *h = user;
    snprintf(h->detail, sizeof(h->detail), "%.*s", (int)len, msg);
    return 0;
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

/* ---- moving bytes ---- */

/* Session bytes to the transport until it would block. */
static void send_all(struct h2_session *h)
{
    while (!h->is_broken) {
        if (buf_size(&h->out)) {
            ssize_t n = stream_write(h->transport, buf_head(&h->out), buf_size(&h->out));
            if (n == STREAM_AGAIN)
                return;
            if (n <= 0) {
                break_session(h);
                return;
            }
            buf_consume(&h->out, (size_t)n);
            continue;
        }
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(h->ng, &data);
        if (n < 0) {
            fail_session(h, false, "HTTP/2: %s", nghttp2_strerror((int)n));
            return;
        }
        if (n == 0)
            return;
        /* mem_send's bytes live until its next call: what the transport
         * does not take now is copied */
        ssize_t w = stream_write(h->transport, data, (size_t)n);
        if (w < 0 && w != STREAM_AGAIN) {
            break_session(h);
            return;
        }
        size_t done = w > 0 ? (size_t)w : 0;
        if (done < (size_t)n && buf_append(&h->out, data + done, (size_t)n - done) != 0) {
            fail_session(h, false, "out of memory");
            return;
        }
    }
}

static void submit_request(struct h2_session *h, struct h2_stream *st);

/* RFC 8441 3: a client sends an extended CONNECT only once the server's
 * SETTINGS said SETTINGS_ENABLE_CONNECT_PROTOCOL = 1. A server may say so in
 * a SETTINGS frame after its first: when the first does not, a PING goes
 * out, and the SETTINGS that came before its answer are all there are. */
static void submit_waiting(struct h2_session *h)
{
    if (h->is_server || !h->has_settings)
        return;
    bool is_allowed = nghttp2_session_get_remote_settings(
                          h->ng, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL) == 1;
    if (!is_allowed && !h->has_ping_sent) {
        h->has_ping_sent = true;
        if (nghttp2_submit_ping(h->ng, NGHTTP2_FLAG_NONE, (const uint8_t *)SETTINGS_PING) == 0)
            return;
    } else if (!is_allowed && !h->has_ping_ack) {
        return;
    }
    for (struct h2_stream *st = h->streams; st; st = st->next) {
        if (st->is_submitted)
            continue;
        if (!is_allowed) {
            fail_session(h, true, "the server speaks HTTP/2 but does not allow WebSockets over it "
                                  "(no SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441 3)");
            return;
        }
        submit_request(h, st);
    }
}

/* The connection is over: say why in the words of the peer or of nghttp2. */
static void session_over(struct h2_session *h)
{
    if (!h->has_settings && !h->is_server)
        fail_session(h, true, "the server does not speak HTTP/2%s%s", *h->detail ? ": " : "",
                     h->detail);
    else if (h->has_goaway)
        fail_session(h, false, "HTTP/2 GOAWAY from the %s: %s (0x%x)%s%s",
                     h->is_server ? "client" : "server", nghttp2_http2_strerror(h->goaway_code),
                     h->goaway_code, *h->detail ? ": " : "", h->detail);
    else if (*h->detail)
        fail_session(h, false, "HTTP/2 protocol error by the %s: %s",
                     h->is_server ? "client" : "server", h->detail);
    else
        fail_session(h, false, "the HTTP/2 connection ended");
}

/* Transport bytes into the session until the transport would block. */
static void recv_all(struct h2_session *h)
{
    uint8_t chunk[RECV_CHUNK];
    for (int i = 0; i < RECV_ROUNDS && !h->is_dead && !h->is_eof; i++) {
        ssize_t n = stream_read(h->transport, chunk, sizeof(chunk));
        if (n == STREAM_AGAIN)
            return;
        if (n < 0) {
            break_session(h);
            return;
        }
        if (n == 0) {
            h->is_eof = true;
            for (struct h2_stream *st = h->streams; st; st = st->next)
                st->has_news = true;
            return;
        }
        ssize_t r = nghttp2_session_mem_recv(h->ng, chunk, (size_t)n);
        if (r < 0) {
            snprintf(h->detail, sizeof(h->detail), "%s", nghttp2_strerror((int)r));
            send_all(h); /* the GOAWAY nghttp2 may have queued */
            session_over(h);
            return;
        }
        submit_waiting(h);
    }
}

/* Drives TLS's handshake and checks ALPN before the first HTTP/2 byte. */
static bool is_transport_ready(struct h2_session *h)
{
    if (!h->is_tls || h->is_alpn_checked)
        return true;
    int r = tls_handshake(h->transport);
    if (r == STREAM_AGAIN)
        return false;
    if (r < 0) {
        break_session(h);
        return false;
    }
    h->is_alpn_checked = true;
    if (!tls_is_h2(h->transport)) {
        fail_session(h, true, "the server did not choose HTTP/2 (ALPN)");
        return false;
    }
    return true;
}

/* Everything that can move now, both ways. */
static void pump(struct h2_session *h)
{
    if (h->is_dead || !is_transport_ready(h))
        return;
    recv_all(h);
    send_all(h);
    if (!h->is_dead && !nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng) &&
        !buf_size(&h->out))
        session_over(h);
    else if (!h->is_dead && h->is_eof)
        session_over(h);
}

static short session_events(struct h2_session *h)
{
    const struct stream *t = h->transport;
    if (h->is_dead)
        return 0;
    if (h->is_tls && !h->is_alpn_checked)
        return t->write_wants_read ? POLLIN : POLLOUT;
    short ev = 0;
    if (!h->is_eof)
        ev |= t->read_wants_write ? POLLOUT : POLLIN;
    if (buf_size(&h->out) || nghttp2_session_want_write(h->ng))
        ev |= t->write_wants_read ? POLLIN : POLLOUT;
    return ev;
}

/* ---- the stream ops of one WebSocket ---- */

static void mirror_transport(struct stream *s, const struct h2_session *h)
{
    s->is_secured = h->transport->is_secured;
    s->is_tls_error = h->transport->is_tls_error;
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
    pump(h);
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
            send_all(h);
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
        pump(h);
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
    pump(h);
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
    pump(h);
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

static void stream_destroy(struct h2_stream *st)
{
    buf_free(&st->in);
    buf_free(&st->out);
    free(st->request);
    free(st->answer);
    free(st);
}

/* Whether a caller still holds a stream of h (a client's one stream is
 * held from the start). */
static bool has_accepted(const struct h2_session *h)
{
    for (const struct h2_stream *st = h->streams; st; st = st->next)
        if (st->is_accepted)
            return true;
    return false;
}

static void h2_free(struct stream *s)
{
    struct h2_stream *st = s->impl;
    struct h2_session *h = st->h;
    s->fd = -1; /* the session's socket: closed with the session */
    if (!h->is_dead && st->id > 0 && !st->is_closed && !st->wants_end)
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
    unlink_stream(h, st);
    stream_destroy(st);
    if (!has_accepted(h) && (h->is_server ? h->is_released : !h->is_kept))
        session_free(h);
    else
        pump(h);
}

static short h2_poll_events(struct stream *s, bool want_read, bool want_write)
{
    struct h2_stream *st = s->impl;
    struct h2_session *h = st->h;
    st->caller_wants_read = want_read;
    short ev = session_events(h);
    /* room for the caller's bytes: its write goes through at once */
    if (want_write && !h->is_dead && buf_size(&st->out) < SEND_MAX)
        ev |= POLLOUT;
    return ev;
}

static void h2_ready(struct stream *s, short revents)
{
    struct h2_stream *st = s->impl;
    if (revents)
        pump(st->h);
}

static const struct stream_ops h2_ops = {
    h2_read, h2_write, h2_pending, h2_shutdown, h2_free, h2_poll_events, h2_ready,
};

static struct h2_stream *stream_new(struct h2_session *h)
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
    s->fd = h->transport->fd;
    s->impl = st;
    st->next = h->streams;
    h->streams = st;
    return st;
}

/* ---- sessions ---- */

static void session_free(struct h2_session *h)
{
    if (!h)
        return;
    while (h->streams) {
        /* streams the listener never accepted */
        struct h2_stream *st = h->streams;
        h->streams = st->next;
        if (!st->is_accepted) {
            free(st->self);
            stream_destroy(st);
        }
    }
    if (h->ng && !h->is_broken && !h->is_eof) {
        /* RFC 9113 6.8: a graceful end; sent if the socket takes it now */
        nghttp2_session_terminate_session(h->ng, NGHTTP2_NO_ERROR);
        send_all(h);
        stream_shutdown(h->transport);
    }
    nghttp2_session_del(h->ng);
    buf_free(&h->out);
    stream_free(h->transport);
    free(h);
}

static struct h2_session *session_new(struct stream *transport, bool is_server, bool is_tls,
                                      char *err, size_t errlen)
{
    struct h2_session *h = calloc(1, sizeof(*h));
    nghttp2_session_callbacks *cbs = NULL;
    nghttp2_option *opt = NULL;
    if (!h || nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    h->transport = transport;
    h->is_server = is_server;
    h->is_tls = is_tls;
    buf_init(&h->out, 0);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_error_callback2(cbs, on_error);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    /* WINDOW_UPDATE only as the reader takes bytes: backpressure reaches the peer */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    int rc = is_server ? nghttp2_session_server_new2(&h->ng, cbs, h, opt)
                       : nghttp2_session_client_new2(&h->ng, cbs, h, opt);
    if (rc != 0) {
        snprintf(err, errlen, "HTTP/2: %s", nghttp2_strerror(rc));
        goto fail;
    }
    nghttp2_settings_entry iv[4] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS},
        {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
    };
    /* ENABLE_PUSH is for clients to send, ENABLE_CONNECT_PROTOCOL for servers */
    rc = is_server ? nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv + 1, 3)
                   : nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, 2);
    if (rc == 0)
        rc = nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0, SESSION_WINDOW);
    if (rc != 0) {
        snprintf(err, errlen, "HTTP/2: %s", nghttp2_strerror(rc));
        goto fail;
    }
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    return h;
fail:
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    if (h) {
        nghttp2_session_del(h->ng);
        buf_free(&h->out);
        free(h);
    }
    stream_free(transport);
    return NULL;
}

/* ---- client ---- */

static void submit_request(struct h2_session *h, struct h2_stream *st)
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
        fail_session(h, false, "HTTP/2: cannot send the request: %s", nghttp2_strerror(id));
        return;
    }
    st->id = id;
}

/* A new stream of h whose request is the extended CONNECT for c. */
static struct h2_stream *client_stream(struct h2_session *h, const struct hs_client *c, char *err,
                                       size_t errlen)
{
    struct h2_stream *st = stream_new(h);
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
        stream_destroy(st);
    }
    return NULL;
}

struct stream *h2_client_open(struct stream *transport, bool is_tls, const struct hs_client *c,
                              char *err, size_t errlen)
{
    struct h2_session *h = session_new(transport, false, is_tls, err, errlen);
    if (!h)
        return NULL;
    struct h2_stream *st = client_stream(h, c, err, errlen);
    if (!st) {
        session_free(h);
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
    submit_waiting(h); /* at once when the server's SETTINGS allowed it already */
    pump(h);
    return st->self;
}

struct h2_session *h2_stream_session(const struct stream *s)
{
    return ((const struct h2_stream *)s->impl)->h;
}

void h2_client_keep(struct h2_session *h, bool is_kept)
{
    h->is_kept = is_kept;
    if (!is_kept && !has_accepted(h))
        session_free(h);
}

bool h2_session_is_usable(const struct h2_session *h)
{
    return !h->is_dead;
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
    pump(h);
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

int h2_preface_match(const uint8_t *p, size_t len)
{
    size_t n = len < H2_PREFACE_LEN ? len : H2_PREFACE_LEN;
    if (memcmp(p, H2_PREFACE, n) != 0)
        return -1;
    return len >= H2_PREFACE_LEN ? 1 : 0;
}

struct h2_session *h2_server_new(struct stream *transport, const uint8_t *early,
                                 size_t early_len, char *err, size_t errlen)
{
    struct h2_session *h = session_new(transport, true, false, err, errlen);
    if (!h)
        return NULL;
    /* ALPN has already chosen h2 on TLS: no check left to make here */
    if (early_len) {
        ssize_t r = nghttp2_session_mem_recv(h->ng, early, early_len);
        if (r < 0) {
            snprintf(err, errlen, "HTTP/2: %s", nghttp2_strerror((int)r));
            h->is_released = true;
            session_free(h);
            return NULL;
        }
    }
    pump(h);
    return h;
}

struct stream *h2_server_accept(struct h2_session *h)
{
    /* the oldest first: streams are linked newest first */
    struct h2_stream *found = NULL;
    for (struct h2_stream *st = h->streams; st; st = st->next)
        if (!st->is_accepted && st->is_head_done)
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
    pump(h);
    return 0;
}

void h2_server_release(struct h2_session *h)
{
    h->is_released = true;
    if (!has_accepted(h))
        session_free(h);
}

int h2_session_fd(const struct h2_session *h)
{
    return h->transport->fd;
}

short h2_session_poll_events(struct h2_session *h)
{
    return session_events(h);
}

void h2_session_ready(struct h2_session *h, short revents)
{
    if (revents)
        pump(h);
}

bool h2_session_is_done(const struct h2_session *h)
{
    if (!h->is_dead)
        return false;
    for (const struct h2_stream *st = h->streams; st; st = st->next)
        if (!st->is_accepted && st->is_head_done)
            return false;
    return true;
}

const char *h2_session_error(const struct h2_session *h)
{
    return h->error;
}
