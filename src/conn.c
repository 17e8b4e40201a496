/* SPDX-License-Identifier: MIT */
#include "conn.h"

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

static long ms_from(double seconds)
{
    return net_now_ms() + (long)(seconds * 1000.0);
}

int conn_random(void *ctx, uint8_t *p, size_t n)
{
    return random_fill(ctx, p, n);
}

static void record(struct conn *c, enum conn_outcome kind, const char *fmt, va_list ap)
{
    if (c->res.kind != OUTCOME_NONE)
        return;
    c->res.kind = kind;
    if (fmt)
        vsnprintf(c->res.message, sizeof(c->res.message), fmt, ap);
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

static void finish(struct conn *c, enum conn_outcome kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records how the connection ended (the first reason wins) and moves on to
 * flushing what is queued. */
static void finish(struct conn *c, enum conn_outcome kind, const char *fmt, ...)
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
    finish(c, kind, "%s", why);
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
    if (c->ping_sent_at && len == c->ping_len && !memcmp(data, c->ping_payload, len)) {
        note(c->env->out, "pong after %ld ms", net_now_ms() - c->ping_sent_at);
        c->ping_sent_at = 0;
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
    if (len > sizeof(c->res.close_reason) - 1)
        len = sizeof(c->res.close_reason) - 1;
    if (len)
        memcpy(c->res.close_reason, reason, len);
    c->res.close_reason[len] = 0;
    utf8_sanitize(c->res.close_reason); /* printed on stderr */
}

static void open_engine(struct conn *c, enum ws_role role, const struct ws_deflate_params *dp)
{
    const struct options *opt = c->env->opt;
    struct ws_config cfg = {
        .role = role,
        .max_message = opt->max_message,
        .random = conn_random,
        .events = {.ctx = c, .message_begin = ev_begin, .message_data = ev_data,
                   .message_end = ev_end, .ping = ev_ping, .pong = ev_pong, .close = ev_close},
    };
    if (opt->is_trace)
        cfg.events.frame = ev_frame;
    ws_init(&c->ws, &cfg);
    c->has_ws = true;
    c->phase = CONN_OPEN;
    c->deadline = 0;
    if (opt->ping_interval > 0)
        c->next_ping = ms_from(opt->ping_interval);
    if (dp && ws_deflate_enable(&c->ws, dp, role == WS_ROLE_CLIENT) != 0)
        finish(c, OUTCOME_IO, "cannot initialise zlib");
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

int conn_send_frame(struct conn *c, enum ws_opcode op, bool is_final, const void *p, size_t len)
{
    if (c->phase != CONN_OPEN || ws_send_frame(&c->ws, op, is_final, p, len) != 0)
        return -1;
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
        if (len > sizeof(c->ping_payload))
            len = sizeof(c->ping_payload);
        memcpy(c->ping_payload, p, len);
        c->ping_len = len;
        c->ping_sent_at = net_now_ms();
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

void conn_close(struct conn *c, unsigned code, const char *reason)
{
    c->is_closing = true;
    if (!c->has_ws || c->ws.state != WS_STATE_OPEN)
        return;
    size_t len = reason ? strlen(reason) : 0;
    ws_send_close(&c->ws, code, reason, len);
    tap_close(c->taps, true, code ? code : WS_CLOSE_NO_STATUS, (const uint8_t *)reason, len);
    c->res.sent_code = code;
    c->deadline = ms_from(c->env->opt->close_timeout);
}

/* ---- life ---- */

struct conn *conn_new(struct conn_env *env, unsigned id, struct stream *s, bool is_server,
                      const char *name)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->env = env;
    c->id = id;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->stream = s;
    c->is_server = is_server;
    buf_init(&c->in, HTTP_MAX_HEAD + env->rbuf_size);
    buf_init(&c->hs_out, 0);
    c->deadline = ms_from(env->opt->handshake_timeout);
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
    if (c->res.unmet[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->res.unmet, sizeof(c->res.unmet), fmt, ap);
    va_end(ap);
    if (c->is_server)
        error_line("client %u: %s", c->id, c->res.unmet);
}

void conn_free(struct conn *c)
{
    if (c->res.kind == OUTCOME_CLOSED)
        stream_shutdown(c->stream); /* TLS close_notify after a clean close */
    if (c->end)
        c->end->ops->free(c->end);
    tap_free_all(c->taps);
    free(c->held);
    if (c->has_ws)
        ws_free(&c->ws);
    buf_free(&c->in);
    buf_free(&c->hs_out);
    stream_free(c->stream);
    free(c);
}

static void verbose_head(const struct conn *c, char dir, const char *head, size_t len)
{
    if (c->env->opt->verbose && !c->env->opt->is_quiet)
        output_head(dir, head, len);
}

int conn_start_client(struct conn *c)
{
    uint8_t nonce[16];
    c->hs = *c->env->hs;
    if (h2_is_stream(c->stream)) {
        /* RFC 8441: the extended CONNECT went with the stream; -v shows it */
        struct buf text;
        buf_init(&text, 0);
        h2_request_text(c->stream, &text);
        verbose_head(c, '>', (const char *)buf_head(&text), buf_size(&text));
        buf_free(&text);
        return 0;
    }
    if (conn_random(NULL, nonce, sizeof(nonce)) != 0) {
        conn_abort(c, OUTCOME_IO, "cannot get random bytes");
        return -1;
    }
    hs_client_set_key(&c->hs, nonce);
    if (hs_build_request(&c->hs, &c->hs_out) != 0) {
        conn_abort(c, OUTCOME_HANDSHAKE, "request too large");
        return -1;
    }
    verbose_head(c, '>', (const char *)buf_head(&c->hs_out), buf_size(&c->hs_out));
    return 0;
}

static void feed_engine(struct conn *c, uint8_t *data, size_t len)
{
    bool was_open = c->ws.state == WS_STATE_OPEN;
    int rc = ws_feed(&c->ws, data, len);
    if (rc != 0)
        end_message_abort(c);
    if (rc != 0 && was_open && c->ws.state == WS_STATE_FAILED)
        tap_close(c->taps, true, c->ws.error.code, NULL, 0);
    if (rc != 0 && c->ws.state == WS_STATE_FAILED && c->res.kind == OUTCOME_NONE) {
        c->res.kind = OUTCOME_PROTOCOL;
        snprintf(c->res.message, sizeof(c->res.message), "%s", c->ws.error.reason);
        c->res.sent_code = c->ws.error.code;
    }
}

/* The WebSocket is open: the local end starts (a process, a connection). */
static void open_end(struct conn *c, const struct conn_request *req)
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

/* The answer was judged (rc from hs_check_response*); its head_len bytes in
 * c->in are done with. */
static void client_handshake_checked(struct conn *c, int rc, size_t head_len)
{
    const struct options *opt = c->env->opt;
    if (rc != 0) {
        enum conn_outcome k = c->res.hs.outcome == HS_REDIRECT ? OUTCOME_REDIRECT
                              : c->res.hs.outcome == HS_RETRY_VERSION ? OUTCOME_RETRY_VERSION
                                                                      : OUTCOME_HANDSHAKE;
        finish(c, k, "%s", c->res.hs.error);
        c->phase = CONN_DONE;
        return;
    }
    if (opt->verbose && !opt->is_quiet) {
        if (c->res.hs.subprotocol[0])
            note(c->env->out, "subprotocol: %s", c->res.hs.subprotocol);
        if (c->res.hs.has_deflate) {
            const struct ws_deflate_params *d = &c->res.hs.deflate;
            note(c->env->out,
                 "permessage-deflate: server_max_window_bits=%u client_max_window_bits=%u%s%s",
                 d->server_max_window_bits, d->client_max_window_bits,
                 d->server_no_context_takeover ? " server_no_context_takeover" : "",
                 d->client_no_context_takeover ? " client_no_context_takeover" : "");
        }
    }
    buf_consume(&c->in, head_len);
    open_engine(c, WS_ROLE_CLIENT, c->res.hs.has_deflate ? &c->res.hs.deflate : NULL);
    open_end(c, NULL);
    for (size_t i = 0; i < opt->num_execute; i++)
        conn_send_message(c, WS_OP_TEXT, opt->execute[i], strlen(opt->execute[i]));
    /* Frames that came in the same packet as the 101 are not lost. */
    if (buf_size(&c->in) && c->phase == CONN_OPEN)
        feed_engine(c, (uint8_t *)buf_head(&c->in), buf_size(&c->in));
    buf_free(&c->in);
}

static void client_handshake_done(struct conn *c, size_t head_len)
{
    struct http_head h;
    verbose_head(c, '<', (const char *)buf_head(&c->in), head_len);
    http_parse_response((const char *)buf_head(&c->in), buf_size(&c->in), HTTP_MAX_HEAD, &h);
    client_handshake_checked(c, hs_check_response(&c->hs, &h, &c->res.hs), head_len);
}

static void stream_failed(struct conn *c, enum conn_outcome kind);

/* RFC 8441: over HTTP/2 the answer is the stream's header list. */
static void client_handshake_h2(struct conn *c)
{
    struct http_head h;
    enum h2_response r = h2_stream_response(c->stream, &h);
    if (r == H2_WAIT)
        return;
    if (r == H2_NO_WEBSOCKETS)
        c->res.hs.outcome = HS_NO_H2;
    if (r != H2_READY) {
        stream_failed(c, OUTCOME_HANDSHAKE);
        return;
    }
    if (c->env->opt->verbose && !c->env->opt->is_quiet) {
        struct buf text;
        buf_init(&text, 0);
        hs_fields_format(h.headers, h.num_headers, &text);
        note(c->env->out, "HTTP/2 stream %d", (int)h2_stream_id(c->stream));
        verbose_head(c, '<', (const char *)buf_head(&text), buf_size(&text));
        buf_free(&text);
    }
    client_handshake_checked(c, hs_check_response_h2(&c->hs, &h, &c->res.hs), 0);
}

/* Listening with a bridge or --auth: who may open a WebSocket here. */
static int check_access(struct conn *c, const struct http_head *h, char *why, size_t whylen)
{
    const struct options *opt = c->env->opt;
    if (opt->auth && !hs_has_basic_auth(h, opt->auth)) {
        snprintf(why, whylen, "missing or wrong credentials (--auth)");
        return 401;
    }
    bool is_bridge = opt->exec_cmd || opt->forward;
    if (is_bridge && !hs_origin_allowed(h, opt->allow_origins, opt->num_allow_origins,
                                        opt->cert_file != NULL)) {
        const struct http_header *o = http_find_header(h, "Origin");
        snprintf(why, whylen, "cross-site request from Origin %.*s (--allow-origin)",
                 (int)(o->value_len > 100 ? 100 : o->value_len), o->value);
        utf8_sanitize(why);
        return 403;
    }
    return 0;
}

static void refused(struct conn *c, const struct hs_server_result *r)
{
    note(c->env->out, "client %u refused: %s", c->id, r->error);
    c->close_after_write = true;
    finish(c, OUTCOME_HANDSHAKE, "%s", r->error);
}

/* The request was accepted: the engine starts, then the local end, which
 * may want the request (--exec's environment). via: how it came, for -v. */
static void open_server(struct conn *c, const struct http_head *h,
                        const struct hs_server_result *r, const char *via)
{
    const struct options *opt = c->env->opt;
    char remote[64], local[64];
    struct conn_request req = {.head = h, .remote_addr = remote, .local_addr = local,
                               .is_tls = opt->cert_file != NULL};
    net_address(c->stream->fd, true, remote, sizeof(remote), &req.remote_port);
    net_address(c->stream->fd, false, local, sizeof(local), &req.local_port);
    if (!opt->is_echo || opt->verbose)
        note(c->env->out, "client %u connected from %s%s", c->id, c->name, via);
    open_engine(c, WS_ROLE_SERVER, r->has_deflate ? &r->deflate : NULL);
    if (c->phase == CONN_OPEN)
        open_end(c, &req);
}

/* Answers the request (h points into c->in): the 101 and the engine, or
 * the refusal in r. */
static void server_answer(struct conn *c, const struct http_head *h, struct hs_server_result *r,
                          bool ok, size_t head_len)
{
    if (hs_build_response(r, &c->hs_out) != 0) {
        finish(c, OUTCOME_IO, "out of memory");
        return;
    }
    verbose_head(c, '>', (const char *)buf_head(&c->hs_out), buf_size(&c->hs_out));
    if (!ok) {
        refused(c, r);
        return;
    }
    open_server(c, h, r, ""); /* h points into c->in: before the head is consumed */
    buf_consume(&c->in, head_len);
    /* Frames that came with the head stay in c->in until feed_early_frames(). */
}

/* The request's checks: RFC 6455 4.2.1 (over HTTP/2, RFC 8441 5), then who
 * may come in. False with r->status and r->error for a refusal. */
static bool judge_request(struct conn *c, const struct http_head *h, bool is_h2,
                          struct hs_server_result *r)
{
    const struct options *opt = c->env->opt;
    struct hs_server srv = {
        .subprotocols = opt->subprotocols,
        .num_subprotocols = opt->num_subprotocols,
        .allow_deflate = !opt->no_deflate,
    };
    int rc = is_h2 ? hs_check_request_h2(&srv, h, r) : hs_check_request(&srv, h, r);
    if (rc != 0)
        return false;
    int status = check_access(c, h, r->error, sizeof(r->error));
    if (status)
        r->status = status;
    return status == 0;
}

/* The local end may hold the answer back (the relay, until its upstream has
 * answered): the request stays in c->in and nothing more is read. */
static bool hold_answer(struct conn *c, const struct http_head *h, struct hs_server_result *r)
{
    if (!c->end->ops->hold_answer || !c->end->ops->hold_answer(c->end, h))
        return false;
    c->held = malloc(sizeof(*c->held));
    if (!c->held) {
        finish(c, OUTCOME_IO, "out of memory");
        return true;
    }
    *c->held = *r;
    c->deadline = 0; /* the end bounds its own wait */
    return true;
}

static void server_handshake_done(struct conn *c, size_t head_len)
{
    struct http_head h;
    http_parse_request((const char *)buf_head(&c->in), buf_size(&c->in), HTTP_MAX_HEAD, &h);
    verbose_head(c, '<', (const char *)buf_head(&c->in), head_len);
    struct hs_server_result r;
    bool ok = judge_request(c, &h, false, &r);
    if (ok && hold_answer(c, &h, &r))
        return;
    server_answer(c, &h, &r, ok, head_len);
}

static int respond_h2(struct conn *c, const struct hs_server_result *r, bool ok);
static void server_answer_h2(struct conn *c, const struct http_head *h,
                             const struct hs_server_result *r, bool ok);

void conn_answer(struct conn *c, int status, const char *subprotocol, const char *why)
{
    if (!c->held || c->phase != CONN_HANDSHAKE)
        return;
    struct hs_server_result r = *c->held;
    free(c->held);
    c->held = NULL;
    struct http_head h;
    if (h2_is_stream(c->stream) && h2_stream_request(c->stream, &h) != 0) {
        stream_failed(c, OUTCOME_HANDSHAKE);
        return;
    }
    int head_len = h2_is_stream(c->stream) ? 0 : http_parse_request((const char *)buf_head(&c->in), buf_size(&c->in),
                                      HTTP_MAX_HEAD, &h);
    if (status == 101 && c->is_closing) { /* the run ended while the answer was held */
        status = 503;
        why = "the server is closing";
    }
    bool ok = status == 101;
    if (ok) {
        snprintf(r.subprotocol, sizeof(r.subprotocol), "%s", subprotocol ? subprotocol : "");
    } else {
        r.status = status;
        snprintf(r.error, sizeof(r.error), "%s", why ? why : http_status_text(status));
    }
    if (h2_is_stream(c->stream))
        server_answer_h2(c, &h, &r, ok);
    else
        server_answer(c, &h, &r, ok, (size_t)head_len);
}

/* RFC 8441 5: over HTTP/2 the request is the stream's header list, and a
 * 200 without Sec-WebSocket-Accept answers it. */
static void server_handshake_h2(struct conn *c)
{
    const struct options *opt = c->env->opt;
    struct http_head h;
    if (c->held)
        return; /* the local end holds the answer back */
    if (h2_stream_request(c->stream, &h) != 0) {
        stream_failed(c, OUTCOME_HANDSHAKE);
        return;
    }
    if (opt->verbose && !opt->is_quiet) {
        struct buf text;
        buf_init(&text, 0);
        hs_fields_format(h.headers, h.num_headers, &text);
        note(c->env->out, "client %u: HTTP/2 stream %d", c->id, (int)h2_stream_id(c->stream));
        verbose_head(c, '<', (const char *)buf_head(&text), buf_size(&text));
        buf_free(&text);
    }
    struct hs_server_result r;
    bool ok = judge_request(c, &h, true, &r);
    if (ok && hold_answer(c, &h, &r))
        return;
    server_answer_h2(c, &h, &r, ok);
}

/* The answer to an extended CONNECT, and on 200 the WebSocket opens. */
static void server_answer_h2(struct conn *c, const struct http_head *h,
                             const struct hs_server_result *r, bool ok)
{
    if (respond_h2(c, r, ok) != 0) {
        conn_abort(c, OUTCOME_IO, "cannot answer the HTTP/2 request");
        return;
    }
    if (!ok) {
        refused(c, r);
        c->phase = CONN_DONE; /* the answer ends the stream by itself */
        return;
    }
    char via[40];
    snprintf(via, sizeof(via), " (HTTP/2 stream %d)", (int)h2_stream_id(c->stream));
    open_server(c, h, r, via);
}

struct stream *conn_take_h2(struct conn *c, struct buf *early)
{
    struct stream *s = c->stream;
    *early = c->in;
    buf_init(&c->in, 0);
    c->stream = stream_new_plain(-1); /* a placeholder that closes nothing */
    c->phase = CONN_DONE;
    return s;
}

static bool end_takes(const struct conn *c)
{
    return c->phase != CONN_OPEN || end_can_take(c->end);
}

/* A client's frames that arrived in the same read as its handshake. */
static bool has_early_frames(const struct conn *c)
{
    return c->is_server && c->phase == CONN_OPEN && buf_size(&c->in) && end_takes(c);
}

static void feed_early_frames(struct conn *c)
{
    if (!has_early_frames(c))
        return;
    feed_engine(c, (uint8_t *)buf_head(&c->in), buf_size(&c->in));
    buf_free(&c->in);
}

/* Over HTTP/2 an answer is a header list, and a refusal ends the stream. */
static int respond_h2(struct conn *c, const struct hs_server_result *r, bool ok)
{
    struct hs_fields *f = malloc(sizeof(*f));
    int rc = !f || hs_build_response_h2(r, f) != 0 ||
                     h2_stream_respond(c->stream, f, ok ? NULL : r->error) != 0
                 ? -1
                 : 0;
    if (rc == 0 && c->env->opt->verbose && !c->env->opt->is_quiet) {
        struct buf text;
        buf_init(&text, 0);
        hs_fields_format(f->fields, f->num, &text);
        verbose_head(c, '>', (const char *)buf_head(&text), buf_size(&text));
        buf_free(&text);
    }
    free(f);
    return rc;
}

void conn_refuse(struct conn *c, int status, const char *why)
{
    struct hs_server_result r = {.status = status};
    snprintf(r.error, sizeof(r.error), "%s", why);
    c->close_after_write = true;
    note(c->env->out, "client %u refused: %s", c->id, why);
    if (h2_is_stream(c->stream)) {
        respond_h2(c, &r, false);
        finish(c, OUTCOME_HANDSHAKE, "%s", why);
        c->phase = CONN_DONE; /* the answer ends the stream by itself */
        return;
    }
    hs_build_response(&r, &c->hs_out);
    finish(c, OUTCOME_HANDSHAKE, "%s", why);
}

/* A failed read or write: TLS failures are told apart from lost sockets. */
static void stream_failed(struct conn *c, enum conn_outcome kind)
{
    finish(c, c->stream->is_tls_error ? OUTCOME_TLS : kind, "%s", c->stream->error);
    c->phase = CONN_DONE;
}

static void bad_head(struct conn *c, int r)
{
    const char *what = r == HTTP_TOO_LARGE ? "larger than 16 KiB" : "not valid HTTP";
    if (c->is_server) {
        char why[64];
        snprintf(why, sizeof(why), "request head %s", what);
        conn_refuse(c, r == HTTP_TOO_LARGE ? 431 : 400, why);
        return;
    }
    const char *data = (const char *)buf_head(&c->in);
    size_t show = 0, len = buf_size(&c->in); /* the buffer has no NUL */
    while (show < len && show < 60 && data[show] != '\r' && data[show] != '\n')
        show++;
    finish(c, OUTCOME_HANDSHAKE, "the server's answer is %s: \"%.*s\"", what, (int)show, data);
    utf8_sanitize(c->res.message);
    c->phase = CONN_DONE;
}

static void read_handshake(struct conn *c)
{
    if (h2_is_stream(c->stream)) {
        if (c->is_server)
            server_handshake_h2(c);
        else
            client_handshake_h2(c);
        return;
    }
    uint8_t *dst = buf_reserve(&c->in, 4096);
    if (!dst) {
        finish(c, OUTCOME_HANDSHAKE, "handshake answer larger than %d bytes", HTTP_MAX_HEAD);
        c->phase = CONN_DONE;
        return;
    }
    ssize_t n = stream_read(c->stream, dst, 4096);
    if (n == STREAM_AGAIN)
        return;
    if (n < 0) {
        stream_failed(c, c->is_server ? OUTCOME_LOST : OUTCOME_HANDSHAKE);
        return;
    }
    if (n == 0) {
        finish(c, c->is_server ? OUTCOME_LOST : OUTCOME_HANDSHAKE,
               "connection closed during the opening handshake");
        c->phase = CONN_DONE;
        return;
    }
    buf_commit(&c->in, (size_t)n);
    struct http_head h;
    const char *data = (const char *)buf_head(&c->in);
    int r = c->is_server ? http_parse_request(data, buf_size(&c->in), HTTP_MAX_HEAD, &h)
                         : http_parse_response(data, buf_size(&c->in), HTTP_MAX_HEAD, &h);
    if (c->is_server && c->env->opt->http != HTTP_1_1) {
        int m = h2_preface_match(buf_head(&c->in), buf_size(&c->in));
        if (m == 0)
            return; /* too short to tell HTTP/2 from HTTP/1.1 */
        if (m == 1) {
            c->is_h2_preface = true; /* the loop turns it into an HTTP/2 session */
            return;
        }
    }
    if (r == HTTP_INCOMPLETE)
        return;
    if (r < 0)
        bad_head(c, r);
    else if (c->is_server)
        server_handshake_done(c, (size_t)r);
    else
        client_handshake_done(c, (size_t)r);
}

static void read_frames(struct conn *c)
{
    ssize_t n = stream_read(c->stream, c->env->rbuf, c->env->rbuf_size);
    if (n == STREAM_AGAIN)
        return;
    if (n < 0) {
        stream_failed(c, OUTCOME_LOST);
        return;
    }
    if (n == 0) {
        c->eof = true;
        if (c->phase == CONN_OPEN && !ws_is_done(&c->ws))
            finish(c, OUTCOME_LOST, NULL);
        return;
    }
    if (c->phase == CONN_OPEN)
        feed_engine(c, c->env->rbuf, (size_t)n);
    /* In CONN_DRAIN whatever still arrives is discarded. */
}

static struct buf *pending_output(struct conn *c)
{
    if (buf_size(&c->hs_out) || !c->has_ws)
        return &c->hs_out;
    return ws_output(&c->ws);
}

static void write_out(struct conn *c)
{
    struct buf *b = pending_output(c);
    while (buf_size(b)) {
        ssize_t n = stream_write(c->stream, buf_head(b), buf_size(b));
        if (n == STREAM_AGAIN)
            return;
        if (n <= 0) {
            stream_failed(c, OUTCOME_LOST);
            return;
        }
        buf_consume(b, (size_t)n);
        /* The waits for the peer run from when our last byte left, not from
         * when it was queued behind a large message (Autobahn 9.2.4). */
        if (c->phase == CONN_DRAIN)
            c->deadline = net_now_ms() + DRAIN_MS;
        else if (c->phase == CONN_OPEN && c->has_ws && c->ws.state == WS_STATE_CLOSE_SENT)
            c->deadline = ms_from(c->env->opt->close_timeout);
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
        finish(c, OUTCOME_CLOSED, NULL);
        /* A server closes TCP first (RFC 6455 7.1.1); a failing client waits
         * for the server's answer a little longer. */
        if (c->ws.state == WS_STATE_FAILED)
            c->deadline = ms_from(c->env->opt->close_timeout);
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
            c->pong_deadline = ms_from(opt->ping_timeout);
        c->next_ping = ms_from(opt->ping_interval);
    }
}

static void check_timer(struct conn *c, long now)
{
    check_keepalive(c, now);
    if (!c->deadline || now < c->deadline)
        return;
    c->deadline = 0;
    const struct options *opt = c->env->opt;
    switch (c->phase) {
    case CONN_HANDSHAKE:
        if (!c->stream->is_secured)
            finish(c, OUTCOME_TLS, "TLS: no TLS handshake within %g s", opt->handshake_timeout);
        else
            finish(c, OUTCOME_HANDSHAKE, "no handshake %s within %g s",
                   c->is_server ? "request" : "answer", opt->handshake_timeout);
        c->phase = CONN_DONE;
        break;
    case CONN_OPEN:
        finish(c, OUTCOME_NO_CLOSE_REPLY, "no close reply within %g s", opt->close_timeout);
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
    if (has_early_frames(c))
        return 0;
    if (next < 0)
        return -1;
    return next > now ? next - now : 0;
}

void conn_service(struct conn *c, short revents)
{
    stream_ready(c->stream, revents);
    if (c->is_h2_preface)
        return;
    if (revents & (POLLIN | POLLHUP | POLLERR) || stream_pending(c->stream)) {
        if (c->phase == CONN_HANDSHAKE)
            read_handshake(c);
        else if (c->phase != CONN_DONE && end_takes(c))
            read_frames(c);
    }
    feed_early_frames(c);
    if (c->phase != CONN_DONE && has_output(c))
        write_out(c);
    if (c->phase != CONN_DONE)
        advance(c);
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
}

bool conn_is_finished(const struct conn *c)
{
    return c->phase == CONN_DONE && (!c->end || end_is_done(c->end));
}
