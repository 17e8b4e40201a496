/* SPDX-License-Identifier: MIT */
/* h2: one HTTP/2 connection (the nghttp2 session, its callbacks, the bytes
 * moved to and from its transport, and its life). The WebSockets on its
 * streams are h2_stream.c's. */
#include "h2.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "h2_session.h"
#include "tls.h"

#define SESSION_WINDOW (16 << 20)      /* what the whole connection may send us unread */
#define RECV_CHUNK (32 * 1024)
#define RECV_ROUNDS 16                 /* reads of the socket per pump: others get a turn */
#define MAX_STREAMS 100                /* concurrent streams a server allows a client */
#define SETTINGS_PING "wsc-8441"       /* the opaque data of our PING after SETTINGS */

/* ---- failures ---- */

void h2_session_fail(struct h2_session *h, bool is_no_websockets, const char *fmt, ...)
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
        h2_session_fail(h, false, "HTTP/2 GOAWAY from the %s: %s (0x%x), then %s",
                     h->is_server ? "client" : "server", nghttp2_http2_strerror(h->goaway_code),
                     h->goaway_code, h->transport->error);
    else
        h2_session_fail(h, false, "%s", h->transport->error);
}

/* ---- nghttp2 callbacks ---- */

static struct h2_stream *find_stream(struct h2_session *h, int32_t id)
{
    for (struct h2_stream *st = h->streams; st; st = st->next)
        if (st->id == id)
            return st;
    return NULL;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct h2_session *h = user;
    if (!h->is_server || frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct h2_stream *st = h2_stream_new(h);
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
    if (st->is_orphan) { /* no one reads it any more */
        nghttp2_session_consume(ng, id, len);
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
    if (st && st->is_orphan) {
        h2_stream_drop_orphan(user, st);
        return 0;
    }
    if (st) {
        st->is_closed = true;
        st->close_code = code;
        st->has_news = true;
    }
    return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct h2_session *h = user;
    struct h2_stream *st = find_stream(h, frame->hd.stream_id);
    if (st && frame->hd.type == NGHTTP2_RST_STREAM)
        st->is_reset_by_us = true;
    if (st && frame->hd.type == NGHTTP2_DATA && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        st->is_end_sent = true;
        if (st->is_orphan)
            h2_release_lingering(h);
    }
    return 0;
}

static int on_error(nghttp2_session *ng, int lib_error_code, const char *msg, size_t len,
                    void *user)
{
    struct h2_session *h = user;
    snprintf(h->detail, sizeof(h->detail), "%.*s", (int)len, msg);
    return 0;
}

/* ---- moving bytes ---- */

/* Session bytes to the transport until it would block. */
void h2_send_all(struct h2_session *h)
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
            h2_session_fail(h, false, "HTTP/2: %s", nghttp2_strerror((int)n));
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
            h2_session_fail(h, false, "out of memory");
            return;
        }
    }
}

/* RFC 8441 3: a client sends an extended CONNECT only once the server's
 * SETTINGS said SETTINGS_ENABLE_CONNECT_PROTOCOL = 1. A server may say so in
 * a SETTINGS frame after its first: when the first does not, a PING goes
 * out, and the SETTINGS that came before its answer are all there are. */
void h2_submit_waiting(struct h2_session *h)
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
            h2_session_fail(h, true, "the server speaks HTTP/2 but does not allow WebSockets over it "
                                  "(no SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441 3)");
            return;
        }
        h2_submit_request(h, st);
    }
}

/* The connection is over: say why in the words of the peer or of nghttp2. */
static void session_over(struct h2_session *h)
{
    if (!h->has_settings && !h->is_server)
        h2_session_fail(h, true, "the server does not speak HTTP/2%s%s", *h->detail ? ": " : "",
                     h->detail);
    else if (h->has_goaway)
        h2_session_fail(h, false, "HTTP/2 GOAWAY from the %s: %s (0x%x)%s%s",
                     h->is_server ? "client" : "server", nghttp2_http2_strerror(h->goaway_code),
                     h->goaway_code, *h->detail ? ": " : "", h->detail);
    else if (*h->detail)
        h2_session_fail(h, false, "HTTP/2 protocol error by the %s: %s",
                     h->is_server ? "client" : "server", h->detail);
    else
        h2_session_fail(h, false, "the HTTP/2 connection ended");
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
            h2_send_all(h); /* the GOAWAY nghttp2 may have queued */
            session_over(h);
            return;
        }
        h2_submit_waiting(h);
    }
}

/* Drives the transport's connect (io/dial.h) and TLS's handshake, and
 * checks ALPN, before the first HTTP/2 byte. */
static bool is_transport_ready(struct h2_session *h)
{
    int r = stream_connect(h->transport);
    if (r == STREAM_AGAIN)
        return false;
    if (r < 0) {
        break_session(h);
        return false;
    }
    if (!h->is_tls || h->is_alpn_checked)
        return true;
    r = tls_handshake(h->transport);
    if (r == STREAM_AGAIN)
        return false;
    if (r < 0) {
        break_session(h);
        return false;
    }
    h->is_alpn_checked = true;
    if (!tls_is_h2(h->transport)) {
        h2_session_fail(h, true, "the server did not choose HTTP/2 (ALPN)");
        return false;
    }
    return true;
}

/* Everything that can move now, both ways. */
void h2_pump(struct h2_session *h)
{
    if (h->is_dead || !is_transport_ready(h))
        return;
    recv_all(h);
    h2_send_all(h);
    if (!h->is_dead && !nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng) &&
        !buf_size(&h->out))
        session_over(h);
    else if (!h->is_dead && h->is_eof)
        session_over(h);
}

short h2_session_events(struct h2_session *h)
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

/* Whether a caller still holds a stream of h (a client's one stream is
 * held from the start). */
bool h2_has_accepted(const struct h2_session *h)
{
    for (const struct h2_stream *st = h->streams; st; st = st->next)
        if (st->is_accepted)
            return true;
    return false;
}

/* ---- sessions ---- */

void h2_session_free(struct h2_session *h)
{
    if (!h)
        return;
    while (h->streams) {
        /* streams the listener never accepted */
        struct h2_stream *st = h->streams;
        h->streams = st->next;
        if (!st->is_accepted) {
            free(st->self);
            h2_stream_destroy(st);
        }
    }
    if (h->ng && !h->is_broken && !h->is_eof) {
        /* RFC 9113 6.8: a graceful end; sent if the socket takes it now */
        nghttp2_session_terminate_session(h->ng, NGHTTP2_NO_ERROR);
        h2_send_all(h);
        stream_shutdown(h->transport);
    }
    nghttp2_session_del(h->ng);
    buf_free(&h->out);
    stream_free(h->transport);
    free(h);
}

struct h2_session *h2_session_new(struct stream *transport, bool is_server, bool is_tls,
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

/* ---- what a client or a listener asks of its session ---- */

void h2_client_keep(struct h2_session *h, bool is_kept)
{
    h->is_kept = is_kept;
    if (!is_kept && !h2_has_accepted(h))
        h2_session_free(h);
}

bool h2_session_is_usable(const struct h2_session *h)
{
    return !h->is_dead;
}

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
    struct h2_session *h = h2_session_new(transport, true, false, err, errlen);
    if (!h)
        return NULL;
    /* ALPN has already chosen h2 on TLS: no check left to make here */
    if (early_len) {
        ssize_t r = nghttp2_session_mem_recv(h->ng, early, early_len);
        if (r < 0) {
            snprintf(err, errlen, "HTTP/2: %s", nghttp2_strerror((int)r));
            h->is_released = true;
            h2_session_free(h);
            return NULL;
        }
    }
    h2_pump(h);
    return h;
}

void h2_server_release(struct h2_session *h)
{
    h->is_released = true;
    if (!h2_has_accepted(h))
        h2_session_free(h);
}

int h2_session_fd(const struct h2_session *h)
{
    return h->transport->fd;
}

short h2_session_poll_events(struct h2_session *h)
{
    return h2_session_events(h);
}

void h2_session_ready(struct h2_session *h, short revents)
{
    if (revents)
        h2_pump(h);
}

bool h2_session_is_done(const struct h2_session *h)
{
    if (!h->is_dead)
        return false;
    for (const struct h2_stream *st = h->streams; st; st = st->next)
        if (!st->is_accepted && !st->is_orphan && st->is_head_done)
            return false;
    return true;
}

const char *h2_session_error(const struct h2_session *h)
{
    return h->error;
}
