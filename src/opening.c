/* SPDX-License-Identifier: MIT */
/* opening: the opening handshake of a connection, both roles and both HTTP
 * versions: the client's request and the check of the answer (RFC 6455 4.1,
 * RFC 8441 5), the server's checks, who may come in, the answer (held back
 * while a relay's upstream answers), and a client that turns out to speak
 * HTTP/2. Everything before CONN_OPEN; conn.c runs the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "conn_internal.h"
#include "ends/end.h"
#include "io/h2.h"
#include "io/net.h"
#include "taps/tap.h"

#define HS_READ_SIZE 4096 /* handshake bytes read at a time */

int conn_start_client(struct conn *c)
{
    uint8_t nonce[16];
    c->client_hs = calloc(1, sizeof(*c->client_hs));
    if (!c->client_hs) {
        conn_abort(c, OUTCOME_IO, "out of memory");
        return -1;
    }
    struct hs_client *req = &c->client_hs->req;
    *req = *c->env->hs;
    if (h2_is_stream(c->stream)) {
        /* RFC 8441: the extended CONNECT went with the stream; -v shows it */
        struct buf text;
        buf_init(&text, 0);
        h2_request_text(c->stream, &text);
        conn_verbose_head(c, '>', (const char *)buf_head(&text), buf_size(&text));
        buf_free(&text);
        return 0;
    }
    if (conn_random(NULL, nonce, sizeof(nonce)) != 0) {
        conn_abort(c, OUTCOME_IO, "cannot get random bytes");
        return -1;
    }
    hs_client_set_key(req, nonce);
    if (hs_build_request(req, &c->hs_out) != 0) {
        conn_abort(c, OUTCOME_HANDSHAKE, "request too large");
        return -1;
    }
    conn_verbose_head(c, '>', (const char *)buf_head(&c->hs_out), buf_size(&c->hs_out));
    return 0;
}

/* The answer was judged (rc from hs_check_response*); its head_len bytes in
 * c->in are done with. */
static void client_handshake_checked(struct conn *c, int rc, size_t head_len)
{
    const struct options *opt = c->env->opt;
    const struct hs_result *a = &c->client_hs->answer;
    if (rc != 0) {
        enum conn_outcome k = a->outcome == HS_REDIRECT ? OUTCOME_REDIRECT
                              : a->outcome == HS_RETRY_VERSION ? OUTCOME_RETRY_VERSION
                                                               : OUTCOME_HANDSHAKE;
        conn_finish(c, k, "%s", a->error);
        c->phase = CONN_DONE;
        return;
    }
    if (opt->verbose && !opt->is_quiet) {
        if (a->subprotocol[0])
            note(c->env->out, "subprotocol: %s", a->subprotocol);
        if (a->has_deflate) {
            const struct ws_deflate_params *d = &a->deflate;
            note(c->env->out,
                 "permessage-deflate: server_max_window_bits=%u client_max_window_bits=%u%s%s",
                 d->server_max_window_bits, d->client_max_window_bits,
                 d->server_no_context_takeover ? " server_no_context_takeover" : "",
                 d->client_no_context_takeover ? " client_no_context_takeover" : "");
        }
    }
    buf_consume(&c->in, head_len);
    conn_open_engine(c, WS_ROLE_CLIENT, a->has_deflate ? &a->deflate : NULL);
    conn_open_end(c, NULL);
    /* the end and the taps have read the handshake: it is done with */
    free(c->client_hs);
    c->client_hs = NULL;
    for (size_t i = 0; i < opt->num_execute; i++)
        conn_send_message(c, WS_OP_TEXT, opt->execute[i], strlen(opt->execute[i]));
    /* Frames that came in the same packet as the 101 stay in c->in until
     * feed_held_frames(), a slice at a time when they may be compressed. */
    if (!buf_size(&c->in) || c->phase != CONN_OPEN)
        buf_free(&c->in);
}

static void client_handshake_done(struct conn *c, size_t head_len)
{
    struct http_head h;
    conn_verbose_head(c, '<', (const char *)buf_head(&c->in), head_len);
    http_parse_response((const char *)buf_head(&c->in), buf_size(&c->in), HTTP_MAX_HEAD, &h);
    struct conn_client_hs *hs = c->client_hs;
    client_handshake_checked(c, hs_check_response(&hs->req, &h, &hs->answer), head_len);
}

/* RFC 8441: over HTTP/2 the answer is the stream's header list. */
static void client_handshake_h2(struct conn *c)
{
    struct http_head h;
    enum h2_response r = h2_stream_response(c->stream, &h);
    if (r == H2_WAIT)
        return;
    if (r == H2_NO_WEBSOCKETS)
        c->client_hs->answer.outcome = HS_NO_H2;
    if (r != H2_READY) {
        conn_stream_failed(c, OUTCOME_HANDSHAKE);
        return;
    }
    if (c->env->opt->verbose && !c->env->opt->is_quiet) {
        struct buf text;
        buf_init(&text, 0);
        hs_fields_format(h.headers, h.num_headers, &text);
        note(c->env->out, "HTTP/2 stream %d", (int)h2_stream_id(c->stream));
        conn_verbose_head(c, '<', (const char *)buf_head(&text), buf_size(&text));
        buf_free(&text);
    }
    struct conn_client_hs *hs = c->client_hs;
    client_handshake_checked(c, hs_check_response_h2(&hs->req, &h, &hs->answer), 0);
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
    conn_finish(c, OUTCOME_HANDSHAKE, "%s", r->error);
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
    conn_open_engine(c, WS_ROLE_SERVER, r->has_deflate ? &r->deflate : NULL);
    if (c->phase == CONN_OPEN)
        conn_open_end(c, &req);
}

/* Answers the request (h points into c->in): the 101 and the engine, or
 * the refusal in r. */
static void server_answer(struct conn *c, const struct http_head *h, struct hs_server_result *r,
                          bool ok, size_t head_len)
{
    if (hs_build_response(r, &c->hs_out) != 0) {
        conn_finish(c, OUTCOME_IO, "out of memory");
        return;
    }
    conn_verbose_head(c, '>', (const char *)buf_head(&c->hs_out), buf_size(&c->hs_out));
    if (!ok) {
        refused(c, r);
        return;
    }
    open_server(c, h, r, ""); /* h points into c->in: before the head is consumed */
    buf_consume(&c->in, head_len);
    /* Frames that came with the head stay in c->in until feed_held_frames(). */
    if (!buf_size(&c->in))
        buf_free(&c->in);
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
        conn_finish(c, OUTCOME_IO, "out of memory");
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
    conn_verbose_head(c, '<', (const char *)buf_head(&c->in), head_len);
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
        conn_stream_failed(c, OUTCOME_HANDSHAKE);
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
        conn_stream_failed(c, OUTCOME_HANDSHAKE);
        return;
    }
    if (opt->verbose && !opt->is_quiet) {
        struct buf text;
        buf_init(&text, 0);
        hs_fields_format(h.headers, h.num_headers, &text);
        note(c->env->out, "client %u: HTTP/2 stream %d", c->id, (int)h2_stream_id(c->stream));
        conn_verbose_head(c, '<', (const char *)buf_head(&text), buf_size(&text));
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
        conn_verbose_head(c, '>', (const char *)buf_head(&text), buf_size(&text));
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
        conn_finish(c, OUTCOME_HANDSHAKE, "%s", why);
        c->phase = CONN_DONE; /* the answer ends the stream by itself */
        return;
    }
    hs_build_response(&r, &c->hs_out);
    conn_finish(c, OUTCOME_HANDSHAKE, "%s", why);
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
    conn_finish(c, OUTCOME_HANDSHAKE, "the server's answer is %s: \"%.*s\"", what, (int)show, data);
    if (c->res.message)
        utf8_sanitize(c->res.message);
    c->phase = CONN_DONE;
}

void conn_read_handshake(struct conn *c)
{
    if (h2_is_stream(c->stream)) {
        if (c->is_server)
            server_handshake_h2(c);
        else
            client_handshake_h2(c);
        return;
    }
    /* Read into the loop's buffer: c->in keeps what arrived, not room for
     * more, as heads are small and a slow client may hold one for long. */
    size_t room = c->env->rbuf_size < HS_READ_SIZE ? c->env->rbuf_size : HS_READ_SIZE;
    ssize_t n = stream_read(c->stream, c->env->rbuf, room);
    if (n == STREAM_AGAIN)
        return;
    if (n < 0) {
        conn_stream_failed(c, c->is_server ? OUTCOME_LOST : OUTCOME_HANDSHAKE);
        return;
    }
    if (n == 0) {
        conn_finish(c, c->is_server ? OUTCOME_LOST : OUTCOME_HANDSHAKE,
               "connection closed during the opening handshake");
        c->phase = CONN_DONE;
        return;
    }
    if (buf_append(&c->in, c->env->rbuf, (size_t)n) != 0) {
        conn_finish(c, OUTCOME_HANDSHAKE, "handshake answer larger than %d bytes", HTTP_MAX_HEAD);
        c->phase = CONN_DONE;
        return;
    }
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
