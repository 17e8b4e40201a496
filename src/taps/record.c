/* SPDX-License-Identifier: MIT */
/* record tap: --record. Every connection's two directions go through one
 * writer (core/record.c) into one file, each line written as soon as it
 * ends and a long message's line in pieces, so that memory stays bounded
 * and a killed wsc leaves whole lines. The file is written with blocking
 * writes: it is a local file, and a recording must not drop anything. */
#include "taps/record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/record.h"
#include "core/url.h"
#include "io/net.h"
#include "taps/tap.h"
#include "ui/output.h"

struct recorder {
    int fd;
    struct rec_writer w;
    bool failed; /* a write failed: said once, nothing more is recorded */
    char path[256];
};

struct recorder *recorder_open(const char *path, bool has_secrets, char *err, size_t errlen)
{
    struct recorder *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (r->fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(r);
        return NULL;
    }
    snprintf(r->path, sizeof(r->path), "%s", path);
    rec_writer_init(&r->w, has_secrets);
    return r;
}

static void flush(struct recorder *r, bool is_final)
{
    struct buf *b = &r->w.out;
    if (r->failed || (!is_final && !rec_writer_wants_write(&r->w))) {
        if (r->failed)
            buf_clear(b);
        return;
    }
    while (buf_size(b)) {
        ssize_t n = write(r->fd, buf_head(b), buf_size(b));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            error_line("--record: %s: %s; recording stopped", r->path, strerror(errno));
            r->failed = true;
            break;
        }
        buf_consume(b, (size_t)n);
    }
    buf_clear(b);
}

void recorder_close(struct recorder *r)
{
    flush(r, true);
    close(r->fd);
    rec_writer_free(&r->w);
    free(r);
}

/* ---- one connection ---- */

struct record_tap {
    struct conn_tap base;
    struct recorder *rec; /* borrowed */
    struct rec_stream in, out; /* what the peer sends, what we send */
    long opened_at;
    bool is_open;
    char time[40];
    struct rec_stamp st;
};

static const struct rec_stamp *stamp(struct record_tap *x)
{
    output_utc_time(x->time, sizeof(x->time));
    x->st = (struct rec_stamp){.time = x->time, .t = net_now_ms() - x->opened_at};
    return &x->st;
}

/* Headers as C strings, copied from a parsed head into store. */
static size_t copy_headers(const struct http_head *h, struct rec_header *out, size_t max,
                           struct buf *store)
{
    size_t n = 0, at[HTTP_MAX_HEADERS][2];
    for (size_t i = 0; i < h->num_headers && n < max; i++, n++) {
        at[n][0] = buf_size(store);
        buf_append(store, h->headers[i].name, h->headers[i].name_len);
        buf_append(store, "", 1);
        at[n][1] = buf_size(store);
        buf_append(store, h->headers[i].value, h->headers[i].value_len);
        buf_append(store, "", 1);
    }
    /* the store may have moved while growing: point into it at the end */
    for (size_t i = 0; i < n; i++)
        out[i] = (struct rec_header){(const char *)buf_head(store) + at[i][0],
                                     (const char *)buf_head(store) + at[i][1]};
    return n;
}

static void write_open(struct record_tap *x, const struct conn_request *req)
{
    struct conn *c = x->base.conn;
    struct rec_header rq[HTTP_MAX_HEADERS], rs[HTTP_MAX_HEADERS];
    struct rec_open o = {.role = c->is_server ? REC_FROM_SERVER : REC_FROM_CLIENT,
                         .request = rq, .response = rs};
    /* one store for each list: a store that grows moves what it holds */
    struct buf store, store_rs, head;
    buf_init(&store, 0);
    buf_init(&store_rs, 0);
    buf_init(&head, 0);
    char url[4400], ext[300];
    struct http_head h;
    if (c->is_server) {
        const struct http_header *host = http_find_header(req->head, "Host");
        snprintf(url, sizeof(url), "%s://%.*s%.*s", req->is_tls ? "wss" : "ws",
                 host ? (int)host->value_len : 0, host ? host->value : "",
                 (int)req->head->target_len, req->head->target);
        o.num_request = copy_headers(req->head, rq, HTTP_MAX_HEADERS / 2, &store);
        /* the 101 is still queued: its headers say what was agreed */
        if (http_parse_response((const char *)buf_head(&c->hs_out), buf_size(&c->hs_out),
                                HTTP_MAX_HEAD, &h) > 0)
            o.num_response = copy_headers(&h, rs, HTTP_MAX_HEADERS / 2, &store_rs);
    } else {
        const struct conn_client_hs *hs = c->client_hs; /* still there while it opens */
        url_format(hs->req.url, url, sizeof(url));
        /* the request as it was sent, rebuilt from what built it */
        if (hs_build_request(&hs->req, &head) == 0 &&
            http_parse_request((const char *)buf_head(&head), buf_size(&head), HTTP_MAX_HEAD,
                               &h) > 0)
            o.num_request = copy_headers(&h, rq, HTTP_MAX_HEADERS / 2, &store);
        if (hs->answer.subprotocol[0])
            rs[o.num_response++] = (struct rec_header){"Sec-WebSocket-Protocol",
                                                       hs->answer.subprotocol};
        if (hs->answer.has_deflate) {
            const struct ws_deflate_params *d = &hs->answer.deflate;
            snprintf(ext, sizeof(ext),
                     "permessage-deflate; server_max_window_bits=%u; client_max_window_bits=%u%s%s",
                     d->server_max_window_bits, d->client_max_window_bits,
                     d->server_no_context_takeover ? "; server_no_context_takeover" : "",
                     d->client_no_context_takeover ? "; client_no_context_takeover" : "");
            rs[o.num_response++] = (struct rec_header){"Sec-WebSocket-Extensions", ext};
        }
    }
    o.url = url;
    rec_write_open(&x->rec->w, &o, c->is_server ? c->id : 0, stamp(x));
    buf_free(&store);
    buf_free(&store_rs);
    buf_free(&head);
}

static struct record_tap *rt(struct conn_tap *t)
{
    return (struct record_tap *)t;
}

static struct rec_stream *stream_of(struct record_tap *x, bool is_sent)
{
    return is_sent ? &x->out : &x->in;
}

static void rt_open(struct conn_tap *t, const struct conn_request *req)
{
    struct record_tap *x = rt(t);
    struct conn *c = t->conn;
    unsigned client = c->is_server ? c->id : 0;
    enum rec_from peer = c->is_server ? REC_FROM_CLIENT : REC_FROM_SERVER;
    rec_stream_init(&x->in, client, peer);
    rec_stream_init(&x->out, client, c->is_server ? REC_FROM_SERVER : REC_FROM_CLIENT);
    x->opened_at = net_now_ms();
    x->is_open = true;
    write_open(x, req);
    flush(x->rec, false);
}

static void rt_begin(struct conn_tap *t, bool is_sent, enum ws_opcode op)
{
    struct record_tap *x = rt(t);
    if (!x->is_open)
        return;
    rec_message_begin(&x->rec->w, stream_of(x, is_sent), op, stamp(x));
    flush(x->rec, false);
}

static void rt_data(struct conn_tap *t, bool is_sent, const uint8_t *p, size_t len)
{
    struct record_tap *x = rt(t);
    if (!x->is_open)
        return;
    rec_message_data(&x->rec->w, stream_of(x, is_sent), p, len, stamp(x));
    flush(x->rec, false);
}

static void rt_end(struct conn_tap *t, bool is_sent)
{
    struct record_tap *x = rt(t);
    if (!x->is_open)
        return;
    rec_message_end(&x->rec->w, stream_of(x, is_sent), stamp(x));
    flush(x->rec, false);
}

static void rt_abort(struct conn_tap *t, bool is_sent)
{
    struct record_tap *x = rt(t);
    if (!x->is_open || !stream_of(x, is_sent)->in_message)
        return;
    rec_message_abort(&x->rec->w, stream_of(x, is_sent), stamp(x));
    flush(x->rec, false);
}

static void rt_control(struct conn_tap *t, bool is_sent, enum ws_opcode op, const uint8_t *p,
                       size_t len)
{
    struct record_tap *x = rt(t);
    if (!x->is_open)
        return;
    rec_control(&x->rec->w, stream_of(x, is_sent), op, p, len, stamp(x));
    flush(x->rec, false);
}

static void rt_close(struct conn_tap *t, bool is_sent, unsigned code, const uint8_t *reason,
                     size_t len)
{
    struct record_tap *x = rt(t);
    if (!x->is_open)
        return;
    rec_close(&x->rec->w, stream_of(x, is_sent), code, reason, len, stamp(x));
    flush(x->rec, false);
}

static void rt_ended(struct conn_tap *t)
{
    rt_abort(t, false);
    rt_abort(t, true);
}

static void rt_free(struct conn_tap *t)
{
    free(t);
}

static const struct conn_tap_ops record_tap_ops = {
    .type = "record",
    .open = rt_open,
    .message_begin = rt_begin,
    .message_data = rt_data,
    .message_end = rt_end,
    .message_abort = rt_abort,
    .control = rt_control,
    .close = rt_close,
    .ended = rt_ended,
    .free = rt_free,
};

struct conn_tap *record_tap_new(struct recorder *r)
{
    struct record_tap *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->base.ops = &record_tap_ops;
    x->rec = r;
    return &x->base;
}
