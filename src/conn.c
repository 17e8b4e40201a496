/* SPDX-License-Identifier: MIT */
#include "conn.h"
#include "conn_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ends/end.h"
#include "io/h2.h"
#include "io/net.h"
#include "io/random.h"
#include "taps/tap.h"

#define DRAIN_MS 2000        /* client: wait for the server's TCP close */
#define DEFLATE_MIN_SIZE 128 /* smaller single-frame messages are not worth zlib's time */
/* Compressed input is fed this much at a time while the local end takes it:
 * deflate inflates up to about 1032 times, so a slice brings at most about
 * half a MiB past the end's high-water mark, where a whole read could bring
 * hundreds of MiB (a small compressed flood into a process that never reads). */
#define INFLATE_SLICE 512
#define INFLATE_READ (16 * 1024) /* what waits in c->in stays small */

long conn_ms_from(double seconds)
{
    return net_now_ms() + (long)(seconds * 1000.0);
}

int conn_random(void *ctx, uint8_t *p, size_t n)
{
    return random_fill(ctx, p, n);
}

/* A copy of p[0, len) up to its first NUL, or NULL when that is empty or
 * memory is short. p may be NULL when len is 0 (a close without a reason). */
static char *text_dup(const char *p, size_t len)
{
    len = len ? strnlen(p, len) : 0;
    char *t = len ? malloc(len + 1) : NULL;
    if (!t)
        return NULL;
    memcpy(t, p, len);
    t[len] = 0;
    return t;
}

/* A text said about the connection, cut at CONN_TEXT_MAX as the report
 * would cut it. */
static char *text_format(const char *fmt, va_list ap)
{
    char text[CONN_TEXT_MAX];
    vsnprintf(text, sizeof(text), fmt, ap);
    return text_dup(text, sizeof(text));
}

static void record(struct conn *c, enum conn_outcome kind, const char *fmt, va_list ap)
{
    if (c->res.kind != OUTCOME_NONE)
        return;
    c->res.kind = kind;
    if (fmt)
        c->res.message = text_format(fmt, ap);
}

void conn_set_outcome(struct conn *c, enum conn_outcome kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(c, kind, fmt, ap);
    va_end(ap);
}

static void end_message_abort(struct conn *c)
{
    if (c->end && c->end->ops->message_abort)
        c->end->ops->message_abort(c->end);
    tap_message_abort(c->taps, false);
}

static void end_conn_ended(struct conn *c)
{
    if (c->has_told_end)
        return;
    c->has_told_end = true;
    if (c->is_sending_message)
        tap_message_abort(c->taps, true);
    tap_ended(c->taps);
    if (c->end && c->end->ops->conn_ended)
        c->end->ops->conn_ended(c->end);
}

/* Records how the connection ended (the first reason wins) and moves on to
 * flushing what is queued. */
void conn_finish(struct conn *c, enum conn_outcome kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(c, kind, fmt, ap);
    va_end(ap);
    if (c->phase < CONN_DRAIN) {
        c->phase = CONN_DRAIN;
        c->deadline = net_now_ms() + DRAIN_MS;
        end_message_abort(c); /* a message cut off will never be complete */
        end_conn_ended(c);
    }
}

void conn_abort(struct conn *c, enum conn_outcome kind, const char *why)
{
    conn_finish(c, kind, "%s", why);
    c->phase = CONN_DONE;
}

/* ---- engine events ---- */

static void ev_frame(void *ctx, bool is_outgoing, const struct ws_frame_header *h,
                     const uint8_t *preview, size_t n)
{
    struct conn *c = ctx;
    output_frame(c->env->out, is_outgoing, h, preview, n);
    /* the last frame of a message we sent compressed */
    unsigned long long wire, plain;
    if (is_outgoing && h->is_final && h->opcode < WS_OP_CLOSE && c->ws.deflater) {
        ws_deflate_last_sizes(&c->ws, true, &wire, &plain);
        if (wire != plain || (h->rsv & 0x4))
            output_deflate_sizes(c->env->out, true, wire, plain);
    }
}

static void ev_begin(void *ctx, enum ws_opcode op)
{
    struct conn *c = ctx;
    tap_message_begin(c->taps, false, op);
    if (c->end->ops->message_begin)
        c->end->ops->message_begin(c->end, op);
}

static void ev_data(void *ctx, const uint8_t *data, size_t len)
{
    struct conn *c = ctx;
    tap_message_data(c->taps, false, data, len);
    if (c->end->ops->message_data)
        c->end->ops->message_data(c->end, data, len);
}

static void ev_end(void *ctx)
{
    struct conn *c = ctx;
    if (c->env->opt->is_trace && c->ws.is_compressed) {
        unsigned long long wire, plain;
        ws_deflate_last_sizes(&c->ws, false, &wire, &plain);
        output_deflate_sizes(c->env->out, false, wire, plain);
    }
    /* the taps first: what the end sends in answer comes after in a recording */
    tap_message_end(c->taps, false);
    if (c->end->ops->message_end)
        c->end->ops->message_end(c->end);
}

/* A message that came whole: one call to an end that takes it so. Taps see
 * every message as its three events; with taps the end does too, so that
 * their calls interleave as they always did. */
static void ev_message(void *ctx, enum ws_opcode op, const uint8_t *data, size_t len)
{
    struct conn *c = ctx;
    if (!c->taps && c->end->ops->message) {
        c->end->ops->message(c->end, op, data, len);
        return;
    }
    ev_begin(ctx, op);
    if (len)
        ev_data(ctx, data, len);
    ev_end(ctx);
}

static void ev_ping(void *ctx, const uint8_t *data, size_t len)
{
    struct conn *c = ctx;
    tap_control(c->taps, false, WS_OP_PING, data, len);
    if (c->ws.state == WS_STATE_OPEN) /* the engine has answered it */
        tap_control(c->taps, true, WS_OP_PONG, data, len);
    if (c->end->ops->control)
        c->end->ops->control(c->end, WS_OP_PING, data, len);
}

static void ev_pong(void *ctx, const uint8_t *data, size_t len)
{
    struct conn *c = ctx;
    c->pong_deadline = 0; /* any pong shows the peer is alive */
    tap_control(c->taps, false, WS_OP_PONG, data, len);
    const struct conn_timed_ping *t = c->timed_ping;
    if (t && len == t->len && !memcmp(data, t->payload, len)) {
        note(c->env->out, "pong after %ld ms", net_now_ms() - t->sent_at);
        free(c->timed_ping);
        c->timed_ping = NULL;
        return;
    }
    if (c->end->ops->control)
        c->end->ops->control(c->end, WS_OP_PONG, data, len);
}

static void ev_close(void *ctx, unsigned code, const uint8_t *reason, size_t len)
{
    struct conn *c = ctx;
    tap_close(c->taps, false, code, reason, len);
    if (c->ws.closed_by_peer) /* the engine has answered it, echoing the code */
        tap_close(c->taps, true, c->ws.sent_close_code, NULL, 0);
    if (c->end->ops->peer_close)
        c->end->ops->peer_close(c->end, code, reason, len);
    c->res.close_code = code;
    free(c->res.close_reason);
    c->res.close_reason = text_dup((const char *)reason, len);
    if (c->res.close_reason)
        utf8_sanitize(c->res.close_reason); /* printed on stderr */
}

void conn_open_engine(struct conn *c, enum ws_role role, const struct ws_deflate_params *dp)
{
    const struct options *opt = c->env->opt;
    struct ws_config cfg = {
        .role = role,
        .max_message = opt->max_message,
        .random = conn_random,
        .events = {.ctx = c, .message_begin = ev_begin, .message_data = ev_data,
                   .message_end = ev_end, .message = ev_message, .ping = ev_ping,
                   .pong = ev_pong, .close = ev_close},
    };
    if (opt->is_trace)
        cfg.events.frame = ev_frame;
    ws_init(&c->ws, &cfg);
    c->has_ws = true;
    c->phase = CONN_OPEN;
    c->deadline = 0;
    if (opt->ping_interval > 0)
        c->next_ping = conn_ms_from(opt->ping_interval);
    if (dp && ws_deflate_enable(&c->ws, dp, role == WS_ROLE_CLIENT) != 0)
        conn_finish(c, OUTCOME_IO, "cannot initialise zlib");
    ws_deflate_set_min_size(&c->ws, DEFLATE_MIN_SIZE);
}

/* ---- what local ends call ---- */

bool conn_is_open(const struct conn *c)
{
    return c->phase == CONN_OPEN && c->ws.state == WS_STATE_OPEN;
}

bool conn_can_send(const struct conn *c)
{
    return conn_is_open(c) && buf_size(&c->ws.out) < CONN_HIGH_WATER;
}

size_t conn_queued(const struct conn *c)
{
    return buf_size(&c->ws.out);
}

int conn_send_frame(struct conn *c, enum ws_opcode op, bool is_final, const void *p, size_t len)
{
    if (c->phase != CONN_OPEN || ws_send_frame(&c->ws, op, is_final, p, len) != 0)
        return -1;
    if (!c->taps)
        return 0; /* is_sending_message is for the taps alone */
    if (op != WS_OP_CONT && !c->is_sending_message) {
        tap_message_begin(c->taps, true, op);
        c->is_sending_message = true;
    }
    tap_message_data(c->taps, true, p, len);
    if (is_final && c->is_sending_message) {
        tap_message_end(c->taps, true);
        c->is_sending_message = false;
    }
    return 0;
}

int conn_send_message(struct conn *c, enum ws_opcode op, const void *p, size_t len)
{
    if (c->phase != CONN_OPEN || ws_send_message(&c->ws, op, p, len) != 0)
        return -1;
    tap_message_begin(c->taps, true, op);
    tap_message_data(c->taps, true, p, len);
    tap_message_end(c->taps, true);
    return 0;
}

int conn_send_ping(struct conn *c, const void *p, size_t len, bool is_timed)
{
    if (c->phase != CONN_OPEN)
        return -1;
    if (is_timed) {
        if (!c->timed_ping && !(c->timed_ping = malloc(sizeof(*c->timed_ping))))
            return -1;
        struct conn_timed_ping *t = c->timed_ping;
        if (len > sizeof(t->payload))
            len = sizeof(t->payload);
        memcpy(t->payload, p, len);
        t->len = len;
        t->sent_at = net_now_ms();
    }
    if (ws_send_ping(&c->ws, p, len) != 0)
        return -1;
    tap_control(c->taps, true, WS_OP_PING, p, len);
    return 0;
}

int conn_send_pong(struct conn *c, const void *p, size_t len)
{
    if (c->phase != CONN_OPEN || ws_send_pong(&c->ws, p, len) != 0)
        return -1;
    tap_control(c->taps, true, WS_OP_PONG, p, len);
    return 0;
}

int conn_send_raw(struct conn *c, const struct ws_frame_header *h, const void *p)
{
    if (c->phase != CONN_OPEN)
        return -1;
    return ws_send_raw(&c->ws, h, p);
}

/* How long the peer has to answer our close: --close-timeout without a byte
 * from it, and CLOSE_WAIT_ROUNDS times that in all (a peer that never stops
 * sending still ends). Runs from when our last byte left. */
#define CLOSE_WAIT_ROUNDS 10

static void start_close_wait(struct conn *c)
{
    double t = c->env->opt->close_timeout;
    c->deadline = conn_ms_from(t);
    c->close_wait_cap = conn_ms_from(t * CLOSE_WAIT_ROUNDS);
}

void conn_close(struct conn *c, unsigned code, const char *reason)
{
    c->is_closing = true;
    if (!c->has_ws || c->ws.state != WS_STATE_OPEN)
        return;
    size_t len = reason ? strlen(reason) : 0;
    ws_send_close(&c->ws, code, reason, len);
    tap_close(c->taps, true, code ? code : WS_CLOSE_NO_STATUS, (const uint8_t *)reason, len);
    c->res.sent_code = code;
    start_close_wait(c);
}

/* ---- life ---- */

struct conn *conn_new(struct conn_env *env, unsigned id, struct stream *s, bool is_server,
                      const char *name)
{
    size_t name_len = strlen(name);
    struct conn *c = calloc(1, sizeof(*c) + name_len + 1);
    if (!c)
        return NULL;
    c->env = env;
    c->id = id;
    memcpy(c->name, name, name_len + 1);
    c->stream = s;
    c->is_server = is_server;
    buf_init(&c->in, HTTP_MAX_HEAD + env->rbuf_size);
    buf_init(&c->hs_out, 0);
    /* the handshake's time starts once the stream is connected */
    c->is_dialing = stream_is_connecting(s);
    c->deadline = c->is_dialing ? s->connect_deadline : conn_ms_from(env->opt->handshake_timeout);
    return c;
}

void conn_set_end(struct conn *c, struct local_end *e)
{
    c->end = e;
    e->conn = c;
}

void conn_add_tap(struct conn *c, struct conn_tap *t)
{
    struct conn_tap **at = &c->taps;
    while (*at)
        at = &(*at)->next;
    *at = t;
    t->conn = c;
    t->next = NULL;
}

void conn_fail_expectation(struct conn *c, const char *fmt, ...)
{
    if (c->res.is_unmet)
        return;
    c->res.is_unmet = true;
    va_list ap;
    va_start(ap, fmt);
    c->res.unmet = text_format(fmt, ap);
    va_end(ap);
    if (c->is_server)
        error_line("client %u: %s", c->id, c->res.unmet ? c->res.unmet : "");
}

void conn_free(struct conn *c)
{
    if (c->res.kind == OUTCOME_CLOSED)
        stream_shutdown(c->stream); /* TLS close_notify after a clean close */
    if (c->end)
        c->end->ops->free(c->end);
    tap_free_all(c->taps);
    free(c->held);
    free(c->client_hs);
    free(c->timed_ping);
    free(c->res.close_reason);
    free(c->res.message);
    free(c->res.unmet);
    if (c->has_ws)
        ws_free(&c->ws);
    buf_free(&c->in);
    buf_free(&c->hs_out);
    stream_free(c->stream);
    free(c);
}

void conn_get_result(const struct conn *c, struct conn_result *res)
{
    const struct conn_ending *e = &c->res;
    memset(res, 0, sizeof(*res));
    res->kind = e->kind;
    res->closed_by_peer = e->closed_by_peer;
    res->close_code = e->close_code;
    res->sent_code = e->sent_code;
    res->input_failed = e->input_failed;
    snprintf(res->close_reason, sizeof(res->close_reason), "%s",
             e->close_reason ? e->close_reason : "");
    snprintf(res->message, sizeof(res->message), "%s", e->message ? e->message : "");
    snprintf(res->unmet, sizeof(res->unmet), "%s", e->unmet ? e->unmet : "");
    /* a text lost to a shortage of memory still ends with exit 7 */
    if (e->is_unmet && !e->unmet)
        snprintf(res->unmet, sizeof(res->unmet), "an expectation was not met");
    if (c->client_hs)
        res->hs = c->client_hs->answer;
}

void conn_verbose_head(const struct conn *c, char dir, const char *head, size_t len)
{
    if (c->env->opt->verbose && !c->env->opt->is_quiet)
        output_head(dir, head, len);
}


/* Bytes from the peer into the engine. */
static void conn_feed(struct conn *c, uint8_t *data, size_t len)
{
    bool was_open = c->ws.state == WS_STATE_OPEN;
    int rc = ws_feed(&c->ws, data, len);
    if (rc != 0)
        end_message_abort(c);
    if (rc != 0 && was_open && c->ws.state == WS_STATE_FAILED)
        tap_close(c->taps, true, c->ws.error.code, NULL, 0);
    if (rc != 0 && c->ws.state == WS_STATE_FAILED && c->res.kind == OUTCOME_NONE) {
        conn_set_outcome(c, OUTCOME_PROTOCOL, "%s", c->ws.error.reason);
        c->res.sent_code = c->ws.error.code;
    }
}

/* The WebSocket is open: the local end starts (a process, a connection). */
void conn_open_end(struct conn *c, const struct conn_request *req)
{
    tap_open(c->taps, req);
    char err[256] = "";
    if (!c->end->ops->open || c->end->ops->open(c->end, req, err, sizeof(err)) == 0)
        return;
    if (c->is_server)
        note(c->env->out, "client %u: %s", c->id, err);
    else
        conn_set_outcome(c, OUTCOME_IO, "%s", err);
    conn_close(c, WS_CLOSE_INTERNAL, err);
}


static bool end_takes(const struct conn *c)
{
    return c->phase != CONN_OPEN || end_can_take(c->end);
}

/* Feeds what the end takes: all of it, or compressed input a slice at a
 * time until the end is full. Returns the bytes fed; the rest waits in
 * c->in (feed_held_frames()). */
static size_t feed_what_end_takes(struct conn *c, uint8_t *data, size_t len)
{
    if (!ws_inflates(&c->ws)) {
        conn_feed(c, data, len);
        return len;
    }
    size_t used = 0;
    while (used < len && c->phase == CONN_OPEN && !ws_is_done(&c->ws) && end_takes(c)) {
        size_t n = len - used < INFLATE_SLICE ? len - used : INFLATE_SLICE;
        conn_feed(c, data + used, n);
        used += n;
    }
    /* a connection that ended or failed takes nothing more: the rest is dropped */
    return c->phase == CONN_OPEN && !ws_is_done(&c->ws) ? used : len;
}

/* Frames read but not yet fed: a client's that came with its handshake, or
 * compressed input that waits for the local end to take more. */
static bool has_held_frames(const struct conn *c)
{
    return c->phase == CONN_OPEN && buf_size(&c->in) && end_takes(c);
}

static void feed_held_frames(struct conn *c)
{
    if (!has_held_frames(c))
        return;
    buf_consume(&c->in, feed_what_end_takes(c, (uint8_t *)buf_head(&c->in), buf_size(&c->in)));
    if (!buf_size(&c->in))
        buf_free(&c->in);
}


/* A failed read or write: TLS failures are told apart from lost sockets. */
void conn_stream_failed(struct conn *c, enum conn_outcome kind)
{
    conn_finish(c, c->stream->is_tls_error ? OUTCOME_TLS : kind, "%s", c->stream->error);
    c->phase = CONN_DONE;
}


static void read_frames(struct conn *c)
{
    size_t room = c->env->rbuf_size;
    if (c->phase == CONN_OPEN && ws_inflates(&c->ws) && room > INFLATE_READ)
        room = INFLATE_READ;
    ssize_t n = stream_read(c->stream, c->env->rbuf, room);
    if (n == STREAM_AGAIN)
        return;
    if (n < 0) {
        conn_stream_failed(c, OUTCOME_LOST);
        return;
    }
    if (n == 0) {
        c->eof = true;
        if (c->phase == CONN_OPEN && !ws_is_done(&c->ws))
            conn_finish(c, OUTCOME_LOST, NULL);
        return;
    }
    size_t used = c->phase == CONN_OPEN ? feed_what_end_takes(c, c->env->rbuf, (size_t)n)
                                        : (size_t)n;
    if (used < (size_t)n && buf_append(&c->in, c->env->rbuf + used, (size_t)n - used) != 0) {
        conn_abort(c, OUTCOME_IO, "out of memory");
        return;
    }
    /* A peer still sending is alive: its close reply may be queued behind
     * what it sends (a large echo over a slow link). */
    if (c->phase == CONN_OPEN && c->ws.state == WS_STATE_CLOSE_SENT && c->close_wait_cap) {
        long next = conn_ms_from(c->env->opt->close_timeout);
        c->deadline = next < c->close_wait_cap ? next : c->close_wait_cap;
    }
    /* In CONN_DRAIN whatever still arrives is discarded. */
}

static struct buf *pending_output(struct conn *c)
{
    if (buf_size(&c->hs_out) || !c->has_ws)
        return &c->hs_out;
    return ws_output(&c->ws);
}

/* A stream still connecting (--tcp-listen dials without blocking the
 * loop): nothing moves until it is connected, and the handshake's time
 * starts then; a failure to connect ends the connection. Returns whether it
 * is connected. */
static bool is_connected(struct conn *c)
{
    if (!c->is_dialing)
        return true;
    if (c->phase == CONN_DONE)
        return false;
    int r = stream_connect(c->stream);
    if (r == STREAM_AGAIN) {
        c->deadline = c->stream->connect_deadline;
        return false;
    }
    if (r < 0) {
        conn_stream_failed(c, OUTCOME_LOST);
        return false;
    }
    c->is_dialing = false;
    c->deadline = conn_ms_from(c->env->opt->handshake_timeout);
    return true;
}

static void write_out(struct conn *c)
{
    if (!is_connected(c))
        return; /* the connection's first bytes start its handshake's time */
    struct buf *b = pending_output(c);
    while (buf_size(b)) {
        ssize_t n = stream_write(c->stream, buf_head(b), buf_size(b));
        if (n == STREAM_AGAIN)
            return;
        if (n <= 0) {
            conn_stream_failed(c, OUTCOME_LOST);
            return;
        }
        buf_consume(b, (size_t)n);
        c->is_output_resting = false;
        if (b == &c->hs_out && !buf_size(b))
            buf_free(b); /* never needed again */
        /* The waits for the peer run from when our last byte left, not from
         * when it was queued behind a large message (Autobahn 9.2.4). */
        if (c->phase == CONN_DRAIN)
            c->deadline = net_now_ms() + DRAIN_MS;
        else if (c->phase == CONN_OPEN && c->has_ws && c->ws.state == WS_STATE_CLOSE_SENT)
            start_close_wait(c);
        if (!buf_size(b))
            b = pending_output(c);
    }
}

static bool has_output(const struct conn *c)
{
    return buf_size(&c->hs_out) || (c->has_ws && buf_size(&c->ws.out));
}

/* Moves a connection on once its engine is done and its output is flushed. */
static void advance(struct conn *c)
{
    if (c->phase == CONN_OPEN && ws_is_done(&c->ws)) {
        if (c->ws.state == WS_STATE_CLOSED && c->res.kind == OUTCOME_NONE) {
            c->res.kind = OUTCOME_CLOSED;
            c->res.closed_by_peer = c->ws.closed_by_peer;
            c->res.close_code = c->ws.peer_close_code;
            c->res.sent_code = c->ws.sent_close_code;
        }
        conn_finish(c, OUTCOME_CLOSED, NULL);
        /* A server closes TCP first (RFC 6455 7.1.1); a failing client waits
         * for the server's answer a little longer. */
        if (c->ws.state == WS_STATE_FAILED)
            c->deadline = conn_ms_from(c->env->opt->close_timeout);
    }
    if (c->phase == CONN_DRAIN && !has_output(c) && c->res.kind == OUTCOME_CLOSED &&
        !c->is_half_closed && h2_is_stream(c->stream)) {
        /* RFC 8441 5: END_STREAM stands for the TCP close, and over HTTP/2 a
         * server may wait for ours before it sends its own */
        stream_shutdown(c->stream);
        c->is_half_closed = true;
    }
    if (c->phase == CONN_DRAIN && !has_output(c)) {
        /* A refusal: our FIN first, then what the client still sends is read
         * and dropped until its FIN, so that closing with unread data does not
         * turn into a reset that could destroy the error answer. */
        if (c->close_after_write && !c->eof && !c->is_half_closed) {
            stream_shutdown(c->stream);
            c->is_half_closed = true;
            c->deadline = net_now_ms() + DRAIN_MS;
        } else if ((c->is_server && !c->close_after_write) || c->eof) {
            c->phase = CONN_DONE;
        }
    }
}

/* --ping-interval: a ping every interval; no pong within --ping-timeout
 * means the peer or the path to it is gone. */
static void check_keepalive(struct conn *c, long now)
{
    const struct options *opt = c->env->opt;
    if (!conn_is_open(c))
        return;
    if (c->pong_deadline && now >= c->pong_deadline) {
        c->pong_deadline = 0;
        c->next_ping = 0;
        conn_set_outcome(c, OUTCOME_PING_TIMEOUT, "no pong within %g s", opt->ping_timeout);
        conn_close(c, WS_CLOSE_GOING_AWAY, "no pong");
        return;
    }
    if (c->next_ping && now >= c->next_ping) {
        static const char payload[] = "wsc keepalive";
        conn_send_ping(c, payload, sizeof(payload) - 1, false);
        if (!c->pong_deadline)
            c->pong_deadline = conn_ms_from(opt->ping_timeout);
        c->next_ping = conn_ms_from(opt->ping_interval);
    }
}

static void check_timer(struct conn *c, long now)
{
    check_keepalive(c, now);
    if (!c->deadline || now < c->deadline)
        return;
    c->deadline = 0;
    if (c->is_dialing) {
        is_connected(c); /* the stream says whether its time ran out */
        return;
    }
    const struct options *opt = c->env->opt;
    switch (c->phase) {
    case CONN_HANDSHAKE:
        if (!c->stream->is_secured)
            conn_finish(c, OUTCOME_TLS, "TLS: no TLS handshake within %g s", opt->handshake_timeout);
        else
            conn_finish(c, OUTCOME_HANDSHAKE, "no handshake %s within %g s",
                   c->is_server ? "request" : "answer", opt->handshake_timeout);
        c->phase = CONN_DONE;
        break;
    case CONN_OPEN:
        if (c->close_wait_cap && now >= c->close_wait_cap)
            conn_finish(c, OUTCOME_NO_CLOSE_REPLY, "no close reply within %g s, the peer sending "
                        "all along", opt->close_timeout * CLOSE_WAIT_ROUNDS);
        else
            conn_finish(c, OUTCOME_NO_CLOSE_REPLY, "no close reply within %g s",
                        opt->close_timeout);
        c->phase = CONN_DONE;
        break;
    default:
        c->phase = CONN_DONE; /* the peer kept the TCP connection open: close it */
    }
}

int conn_poll(const struct conn *c, short *events)
{
    if (c->phase == CONN_DONE || c->held)
        return -1; /* held: the request is answered when the end says */
    bool want_read = !c->eof && (c->phase != CONN_OPEN || buf_size(&c->ws.out) < CONN_HIGH_WATER);
    bool want_write = has_output(c);
    bool is_held = !end_takes(c);
    if (is_held)
        want_read = false;
    /* poll reports POLLHUP whatever was asked: a held connection with nothing
     * to write is left out, or the loop would spin until it is released */
    if (is_held && !want_write)
        return -1;
    *events = stream_poll_events(c->stream, want_read, want_write);
    return c->stream->fd;
}

long conn_next_deadline(const struct conn *c, long now)
{
    long next = -1;
    /* keepalive timers count only while check_keepalive() acts on them */
    bool keeps_alive = conn_is_open(c);
    long ds[4] = {c->deadline, keeps_alive ? c->next_ping : 0, keeps_alive ? c->pong_deadline : 0,
                  c->end ? end_deadline(c->end) : 0};
    for (size_t k = 0; k < 4; k++)
        if (ds[k] && (next < 0 || ds[k] < next))
            next = ds[k];
    if (c->phase != CONN_DONE && end_takes(c) && stream_pending(c->stream))
        return 0; /* TLS holds decrypted bytes: no poll event will announce them */
    if (has_held_frames(c))
        return 0;
    if (next < 0)
        return -1;
    return next > now ? next - now : 0;
}

void conn_service(struct conn *c, short revents)
{
    stream_ready(c->stream, revents);
    if (c->is_h2_preface || !is_connected(c))
        return;
    if (revents & (POLLIN | POLLHUP | POLLERR) || stream_pending(c->stream)) {
        if (c->phase == CONN_HANDSHAKE)
            conn_read_handshake(c);
        else if (c->phase != CONN_DONE && end_takes(c) &&
                 !(c->phase == CONN_OPEN && buf_size(&c->in)))
            read_frames(c); /* after the held frames: the order of the bytes is kept */
    }
    feed_held_frames(c);
    if (c->phase != CONN_DONE && has_output(c))
        write_out(c);
    if (c->phase != CONN_DONE)
        advance(c);
}

/* The engine's output buffer goes back once a whole turn has passed with
 * nothing written, so that an idle connection holds none; a connection that
 * writes every turn keeps it, rather than grow a new one each time. */
static void rest_output(struct conn *c)
{
    struct buf *out = c->has_ws ? ws_output(&c->ws) : NULL;
    if (!out || buf_size(out) || !out->cap)
        return;
    if (c->is_output_resting)
        buf_free(out);
    c->is_output_resting = true;
}

void conn_tick(struct conn *c, long now)
{
    check_timer(c, now);
    if (c->end && c->end->ops->on_tick)
        c->end->ops->on_tick(c->end, now);
    /* Data queued by the local end this turn goes out without waiting. */
    if (c->phase != CONN_DONE && has_output(c))
        write_out(c);
    if (c->phase != CONN_DONE)
        advance(c);
    if (c->phase == CONN_DONE)
        end_conn_ended(c);
    rest_output(c);
}

bool conn_is_finished(const struct conn *c)
{
    return c->phase == CONN_DONE && (!c->end || end_is_done(c->end));
}
