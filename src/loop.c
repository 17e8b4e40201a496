/* SPDX-License-Identifier: MIT */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "commands.h"
#include "console.h"
#include "net.h"
#include "random.h"
#include "tls.h"

#define READ_SIZE (256 * 1024)
#define HIGH_WATER (1024 * 1024) /* bytes queued to a peer before we stop producing */
#define DRAIN_MS 2000            /* client: wait for the server's TCP close */
#define DEFLATE_MIN_SIZE 128     /* smaller single-frame messages are not worth zlib's time */
#define MAX_PEERS 1024 /* --max-clients is at most this */

enum phase {
    PHASE_HANDSHAKE, /* HTTP upgrade in progress */
    PHASE_OPEN,      /* the ws engine runs, until both closes are exchanged */
    PHASE_DRAIN,     /* WebSocket closed; flushing and waiting for the TCP close */
    PHASE_DONE,
};

struct loop;

/* One connection and everything it owns. */
struct peer {
    struct loop *loop;
    unsigned id;
    char name[80];
    struct stream *stream;      /* owned */
    enum phase phase;
    bool is_server;
    struct buf in;              /* handshake bytes received; owned */
    struct buf hs_out;          /* handshake bytes to send; owned */
    bool close_after_write;     /* a refused handshake: answer, then hang up */
    bool is_half_closed;        /* our side of the TCP connection is shut */
    struct ws_conn ws;          /* valid from PHASE_OPEN on */
    bool has_ws;
    struct buf echo;            /* --echo: the message being collected; owned */
    enum ws_opcode echo_op;
    long deadline;              /* ms; 0: none */
    long next_ping;             /* --ping-interval: when the next ping goes; 0: off */
    long pong_deadline;         /* a keepalive ping awaits its pong until then; 0: none */
    bool eof;
    struct loop_result res;
};

struct loop {
    const struct options *opt;
    struct output *out;
    struct input *in;
    struct hs_client *hs;       /* client role */
    struct peer *peers[MAX_PEERS];
    size_t num_peers;
    unsigned next_id;
    uint8_t *rbuf;              /* socket reads; owned */
    bool input_done;            /* stdin ended or is not ours */
    long wait_deadline;         /* -w: close when it passes */
    bool close_requested;       /* first Ctrl-C, or input finished */
    int interrupts;
    size_t messages_received;
    struct peer *showing;       /* the peer whose message is being printed, if any */
    bool is_interactive;        /* stdin is the console */
    bool output_gone;           /* stdout failed: closing */
    bool input_failed;          /* listen mode: stdin could not be sent */
    long accept_resume;         /* out of descriptors: the listener rests until then */
    struct command cmd;         /* the slash command being run; owned */
    long ping_sent_at;          /* /ping: when, for the round-trip time */
    uint8_t ping_payload[WS_MAX_CONTROL];
    size_t ping_len;
};

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    char c = (char)sig;
    if (write(sig_pipe[1], &c, 1) < 0) {
        /* the pipe is full: enough signals are pending already */
    }
    errno = saved;
}

int loop_init_signals(void)
{
    if (pipe(sig_pipe) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
        fcntl(sig_pipe[i], F_SETFL, O_NONBLOCK);
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    net_set_interrupt_fd(sig_pipe[0]);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int loop_sleep(long ms)
{
    /* nothing to wait for but the signal pipe, which stays unread for the
     * next loop to see */
    if (net_wait(-1, 0, net_now_ms() + ms) < 0 && errno == EINTR)
        return -1;
    return 0;
}

static long ms_from(double seconds)
{
    return net_now_ms() + (long)(seconds * 1000.0);
}

static int random_bytes(void *ctx, uint8_t *p, size_t n)
{
    return random_fill(ctx, p, n);
}

static void end_peer(struct peer *p, enum end_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records how the connection ended (the first reason wins) and moves on to
 * flushing what is queued. */
static void end_peer(struct peer *p, enum end_kind kind, const char *fmt, ...)
{
    if (p->res.kind == END_NONE) {
        p->res.kind = kind;
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(p->res.message, sizeof(p->res.message), fmt, ap);
            va_end(ap);
        }
    }
    if (p->phase < PHASE_DRAIN) {
        p->phase = PHASE_DRAIN;
        p->deadline = net_now_ms() + DRAIN_MS;
    }
    if (p->loop->showing == p) {
        output_message_abort(p->loop->out); /* it will never be complete */
        p->loop->showing = NULL;
    }
}

/* ---- engine events ---- */

static void ev_frame(void *ctx, bool is_outgoing, const struct ws_frame_header *h,
                     const uint8_t *preview, size_t n)
{
    struct peer *p = ctx;
    output_frame(p->loop->out, is_outgoing, h, preview, n);
    /* the last frame of a message we sent compressed */
    unsigned long long wire, plain;
    if (is_outgoing && h->is_final && h->opcode < WS_OP_CLOSE && p->ws.deflater) {
        ws_deflate_last_sizes(&p->ws, true, &wire, &plain);
        if (wire != plain || (h->rsv & 0x4))
            output_deflate_sizes(p->loop->out, true, wire, plain);
    }
}

/* --echo answers instead of printing; --one prints the first message only. */
static bool shows_messages(const struct loop *l)
{
    return !l->opt->is_echo && !(l->opt->is_one && l->messages_received >= 1);
}

static void ev_begin(void *ctx, enum ws_opcode op)
{
    struct peer *p = ctx;
    if (p->loop->opt->is_echo) {
        buf_clear(&p->echo);
        p->echo_op = op;
    }
    if (shows_messages(p->loop)) {
        /* on a terminal, listen mode says which client a message is from */
        p->loop->out->source_id = p->is_server ? p->id : 0;
        output_message_begin(p->loop->out, op);
        p->loop->showing = p;
    }
}

static void ev_data(void *ctx, const uint8_t *data, size_t len)
{
    struct peer *p = ctx;
    if (p->loop->opt->is_echo && buf_append(&p->echo, data, len) != 0)
        ws_fail(&p->ws, WS_CLOSE_TOO_BIG, "message too large to echo");
    if (shows_messages(p->loop))
        output_message_data(p->loop->out, data, len);
}

static void start_close(struct peer *p, unsigned code, const char *reason);

static void ev_end(void *ctx)
{
    struct peer *p = ctx;
    struct loop *l = p->loop;
    if (l->opt->is_trace && p->ws.is_compressed) {
        unsigned long long wire, plain;
        ws_deflate_last_sizes(&p->ws, false, &wire, &plain);
        output_deflate_sizes(l->out, false, wire, plain);
    }
    if (l->opt->is_echo)
        ws_send_message(&p->ws, p->echo_op, buf_head(&p->echo), buf_size(&p->echo));
    if (shows_messages(l)) {
        output_message_end(l->out);
        l->showing = NULL;
    }
    l->messages_received++;
    if (l->opt->is_one && l->messages_received == 1)
        start_close(p, WS_CLOSE_NORMAL, NULL);
}

static void ev_ping(void *ctx, const uint8_t *data, size_t len)
{
    struct peer *p = ctx;
    output_control(p->loop->out, WS_OP_PING, data, len);
}

static void ev_pong(void *ctx, const uint8_t *data, size_t len)
{
    struct peer *p = ctx;
    struct loop *l = p->loop;
    p->pong_deadline = 0; /* any pong shows the peer is alive */
    if (l->ping_sent_at && len == l->ping_len && !memcmp(data, l->ping_payload, len)) {
        note(l->out, "pong after %ld ms", net_now_ms() - l->ping_sent_at);
        l->ping_sent_at = 0;
        return;
    }
    output_control(l->out, WS_OP_PONG, data, len);
}

static void ev_close(void *ctx, unsigned code, const uint8_t *reason, size_t len)
{
    struct peer *p = ctx;
    if (shows_messages(p->loop))
        output_close(p->loop->out, code, reason, len);
    p->res.close_code = code;
    if (len > sizeof(p->res.close_reason) - 1)
        len = sizeof(p->res.close_reason) - 1;
    if (len)
        memcpy(p->res.close_reason, reason, len);
    p->res.close_reason[len] = 0;
    utf8_sanitize(p->res.close_reason); /* printed on stderr */
}

static void open_engine(struct peer *p, enum ws_role role, const struct ws_deflate_params *dp)
{
    const struct options *opt = p->loop->opt;
    struct ws_config cfg = {
        .role = role,
        .max_message = opt->max_message,
        .random = random_bytes,
        .events = {.ctx = p, .message_begin = ev_begin, .message_data = ev_data,
                   .message_end = ev_end, .ping = ev_ping, .pong = ev_pong, .close = ev_close},
    };
    if (opt->is_trace)
        cfg.events.frame = ev_frame;
    ws_init(&p->ws, &cfg);
    p->has_ws = true;
    p->phase = PHASE_OPEN;
    p->deadline = 0;
    if (opt->ping_interval > 0)
        p->next_ping = ms_from(opt->ping_interval);
    if (dp && ws_deflate_enable(&p->ws, dp, role == WS_ROLE_CLIENT) != 0)
        end_peer(p, END_IO, "cannot initialise zlib");
    ws_deflate_set_min_size(&p->ws, DEFLATE_MIN_SIZE);
}

static void start_close(struct peer *p, unsigned code, const char *reason)
{
    if (!p->has_ws || p->ws.state != WS_STATE_OPEN)
        return;
    ws_send_close(&p->ws, code, reason, reason ? strlen(reason) : 0);
    p->res.sent_code = code;
    p->deadline = ms_from(p->loop->opt->close_timeout);
}

/* ---- peers ---- */

static struct peer *peer_new(struct loop *l, struct stream *s, bool is_server, const char *name)
{
    struct peer *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->loop = l;
    p->id = ++l->next_id;
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->stream = s;
    p->is_server = is_server;
    buf_init(&p->in, HTTP_MAX_HEAD + READ_SIZE);
    buf_init(&p->hs_out, 0);
    buf_init(&p->echo, l->opt->max_message ? l->opt->max_message : 0);
    return p;
}

static void peer_free(struct peer *p)
{
    if (p->res.kind == END_CLOSED)
        stream_shutdown(p->stream); /* TLS close_notify after a clean close */
    if (p->has_ws)
        ws_free(&p->ws);
    buf_free(&p->in);
    buf_free(&p->hs_out);
    buf_free(&p->echo);
    stream_free(p->stream);
    free(p);
}

static void verbose_head(const struct loop *l, char dir, const char *head, size_t len)
{
    if (l->opt->verbose && !l->opt->is_quiet)
        output_head(dir, head, len);
}

static void feed_engine(struct peer *p, uint8_t *data, size_t len)
{
    int rc = ws_feed(&p->ws, data, len);
    if (rc != 0 && p->loop->showing == p) {
        output_message_abort(p->loop->out);
        p->loop->showing = NULL;
    }
    if (rc != 0 && p->ws.state == WS_STATE_FAILED && p->res.kind == END_NONE) {
        p->res.kind = END_PROTOCOL;
        snprintf(p->res.message, sizeof(p->res.message), "%s", p->ws.error.reason);
        p->res.sent_code = p->ws.error.code;
    }
}

static void client_handshake_done(struct peer *p, size_t head_len)
{
    struct loop *l = p->loop;
    struct http_head h;
    verbose_head(l, '<', (const char *)buf_head(&p->in), head_len);
    http_parse_response((const char *)buf_head(&p->in), buf_size(&p->in), HTTP_MAX_HEAD, &h);
    if (hs_check_response(l->hs, &h, &p->res.hs) != 0) {
        enum end_kind k = p->res.hs.outcome == HS_REDIRECT        ? END_REDIRECT
                          : p->res.hs.outcome == HS_RETRY_VERSION ? END_RETRY_VERSION
                                                                  : END_HANDSHAKE;
        end_peer(p, k, "%s", p->res.hs.error);
        p->phase = PHASE_DONE;
        return;
    }
    if (l->opt->verbose && !l->opt->is_quiet) {
        if (p->res.hs.subprotocol[0])
            note(l->out, "subprotocol: %s", p->res.hs.subprotocol);
        if (p->res.hs.has_deflate) {
            const struct ws_deflate_params *d = &p->res.hs.deflate;
            note(l->out, "permessage-deflate: server_max_window_bits=%u client_max_window_bits=%u%s%s",
                 d->server_max_window_bits, d->client_max_window_bits,
                 d->server_no_context_takeover ? " server_no_context_takeover" : "",
                 d->client_no_context_takeover ? " client_no_context_takeover" : "");
        }
    }
    buf_consume(&p->in, head_len);
    open_engine(p, WS_ROLE_CLIENT, p->res.hs.has_deflate ? &p->res.hs.deflate : NULL);
    for (size_t i = 0; i < l->opt->num_execute; i++)
        ws_send_message(&p->ws, WS_OP_TEXT, l->opt->execute[i], strlen(l->opt->execute[i]));
    /* Frames that came in the same packet as the 101 are not lost. */
    if (buf_size(&p->in))
        feed_engine(p, (uint8_t *)buf_head(&p->in), buf_size(&p->in));
    buf_free(&p->in);
}

static void server_handshake_done(struct peer *p, size_t head_len)
{
    struct loop *l = p->loop;
    struct http_head h;
    http_parse_request((const char *)buf_head(&p->in), buf_size(&p->in), HTTP_MAX_HEAD, &h);
    verbose_head(l, '<', (const char *)buf_head(&p->in), head_len);
    struct hs_server srv = {
        .subprotocols = l->opt->subprotocols,
        .num_subprotocols = l->opt->num_subprotocols,
        .allow_deflate = !l->opt->no_deflate,
    };
    struct hs_server_result r;
    bool ok = hs_check_request(&srv, &h, &r) == 0;
    if (hs_build_response(&r, &p->hs_out) != 0) {
        end_peer(p, END_IO, "out of memory");
        return;
    }
    verbose_head(l, '>', (const char *)buf_head(&p->hs_out), buf_size(&p->hs_out));
    if (!ok) {
        note(l->out, "client %u refused: %s", p->id, r.error);
        p->close_after_write = true;
        end_peer(p, END_HANDSHAKE, "%s", r.error);
        return;
    }
    if (!l->opt->is_echo || l->opt->verbose)
        note(l->out, "client %u connected from %s", p->id, p->name);
    buf_consume(&p->in, head_len);
    open_engine(p, WS_ROLE_SERVER, r.has_deflate ? &r.deflate : NULL);
    /* Frames that came with the head stay in p->in until feed_early_frames(). */
}

/* Listen mode prints one message at a time: while one client's message is
 * being printed, the others are not read (their bytes wait in the kernel),
 * so that messages from different clients never mix on stdout. */
static bool is_held(const struct peer *p)
{
    const struct peer *owner = p->loop->showing;
    return owner && owner != p && p->phase == PHASE_OPEN;
}

/* A client's frames that arrived in the same read as its handshake. */
static bool has_early_frames(const struct peer *p)
{
    return p->is_server && p->phase == PHASE_OPEN && buf_size(&p->in) && !is_held(p);
}

static void feed_early_frames(struct peer *p)
{
    if (!has_early_frames(p))
        return;
    feed_engine(p, (uint8_t *)buf_head(&p->in), buf_size(&p->in));
    buf_free(&p->in);
}

static size_t count_clients(const struct loop *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->num_peers; i++)
        n += !l->peers[i]->close_after_write;
    return n;
}

/* Answers a client's handshake with an error status and hangs up. */
static void refuse_peer(struct peer *p, int status, const char *why)
{
    struct hs_server_result r = {.status = status};
    snprintf(r.error, sizeof(r.error), "%s", why);
    hs_build_response(&r, &p->hs_out);
    p->close_after_write = true;
    note(p->loop->out, "client %u refused: %s", p->id, why);
    end_peer(p, END_HANDSHAKE, "%s", why);
}

/* A failed read or write: TLS failures are told apart from lost sockets. */
static void stream_failed(struct peer *p, enum end_kind kind)
{
    end_peer(p, p->stream->is_tls_error ? END_TLS : kind, "%s", p->stream->error);
    p->phase = PHASE_DONE;
}

static void read_handshake(struct peer *p)
{
    uint8_t *dst = buf_reserve(&p->in, 4096);
    if (!dst) {
        end_peer(p, END_HANDSHAKE, "handshake answer larger than %d bytes", HTTP_MAX_HEAD);
        p->phase = PHASE_DONE;
        return;
    }
    ssize_t n = stream_read(p->stream, dst, 4096);
    if (n == STREAM_AGAIN)
        return;
    if (n < 0) {
        stream_failed(p, p->is_server ? END_LOST : END_HANDSHAKE);
        return;
    }
    if (n == 0) {
        end_peer(p, p->is_server ? END_LOST : END_HANDSHAKE,
                 "connection closed during the opening handshake");
        p->phase = PHASE_DONE;
        return;
    }
    buf_commit(&p->in, (size_t)n);
    struct http_head h;
    const char *data = (const char *)buf_head(&p->in);
    int r = p->is_server ? http_parse_request(data, buf_size(&p->in), HTTP_MAX_HEAD, &h)
                         : http_parse_response(data, buf_size(&p->in), HTTP_MAX_HEAD, &h);
    if (r == HTTP_INCOMPLETE)
        return;
    if (r < 0) {
        const char *what = r == HTTP_TOO_LARGE ? "larger than 16 KiB" : "not valid HTTP";
        if (p->is_server) {
            char why[64];
            snprintf(why, sizeof(why), "request head %s", what);
            refuse_peer(p, r == HTTP_TOO_LARGE ? 431 : 400, why);
        } else {
            size_t show = 0, len = buf_size(&p->in); /* the buffer has no NUL */
            while (show < len && show < 60 && data[show] != '\r' && data[show] != '\n')
                show++;
            end_peer(p, END_HANDSHAKE, "the server's answer is %s: \"%.*s\"", what, (int)show,
                     data);
            utf8_sanitize(p->res.message);
            p->phase = PHASE_DONE;
        }
        return;
    }
    if (p->is_server)
        server_handshake_done(p, (size_t)r);
    else
        client_handshake_done(p, (size_t)r);
}

static void read_frames(struct peer *p)
{
    struct loop *l = p->loop;
    ssize_t n = stream_read(p->stream, l->rbuf, READ_SIZE);
    if (n == STREAM_AGAIN)
        return;
    if (n < 0) {
        stream_failed(p, END_LOST);
        return;
    }
    if (n == 0) {
        p->eof = true;
        if (p->phase == PHASE_OPEN && !ws_is_done(&p->ws))
            end_peer(p, END_LOST, NULL);
        return;
    }
    if (p->phase == PHASE_OPEN)
        feed_engine(p, l->rbuf, (size_t)n);
    /* In PHASE_DRAIN whatever still arrives is discarded. */
}

static struct buf *pending_output(struct peer *p)
{
    if (buf_size(&p->hs_out) || !p->has_ws)
        return &p->hs_out;
    return ws_output(&p->ws);
}

static void write_out(struct peer *p)
{
    struct buf *b = pending_output(p);
    while (buf_size(b)) {
        ssize_t n = stream_write(p->stream, buf_head(b), buf_size(b));
        if (n == STREAM_AGAIN)
            return;
        if (n <= 0) {
            stream_failed(p, END_LOST);
            return;
        }
        buf_consume(b, (size_t)n);
        if (!buf_size(b))
            b = pending_output(p);
    }
}

static bool has_output(struct peer *p)
{
    return buf_size(&p->hs_out) || (p->has_ws && buf_size(ws_output(&p->ws)));
}

/* Moves a peer on once its engine is done and its output is flushed. */
static void advance(struct peer *p)
{
    if (p->phase == PHASE_OPEN && ws_is_done(&p->ws)) {
        if (p->ws.state == WS_STATE_CLOSED && p->res.kind == END_NONE) {
            p->res.kind = END_CLOSED;
            p->res.closed_by_peer = p->ws.closed_by_peer;
            p->res.close_code = p->ws.peer_close_code;
            p->res.sent_code = p->ws.sent_close_code;
        }
        end_peer(p, END_CLOSED, NULL);
        /* A server closes TCP first (RFC 6455 7.1.1); a failing client waits
         * for the server's answer a little longer. */
        if (p->ws.state == WS_STATE_FAILED)
            p->deadline = ms_from(p->loop->opt->close_timeout);
    }
    if (p->phase == PHASE_DRAIN && !has_output(p)) {
        /* A refusal: our FIN first, then what the client still sends is read
         * and dropped until its FIN, so that closing with unread data does not
         * turn into a reset that could destroy the error answer. */
        if (p->close_after_write && !p->eof && !p->is_half_closed) {
            stream_shutdown(p->stream);
            p->is_half_closed = true;
            p->deadline = net_now_ms() + DRAIN_MS;
        } else if ((p->is_server && !p->close_after_write) || p->eof) {
            p->phase = PHASE_DONE;
        }
    }
}

/* --ping-interval: a ping every interval; no pong within --ping-timeout
 * means the peer or the path to it is gone. */
static void check_keepalive(struct peer *p, long now)
{
    const struct options *opt = p->loop->opt;
    if (p->phase != PHASE_OPEN || p->ws.state != WS_STATE_OPEN)
        return;
    if (p->pong_deadline && now >= p->pong_deadline) {
        p->pong_deadline = 0;
        p->next_ping = 0;
        p->res.kind = END_PING_TIMEOUT;
        snprintf(p->res.message, sizeof(p->res.message), "no pong within %g s",
                 opt->ping_timeout);
        start_close(p, WS_CLOSE_GOING_AWAY, "no pong");
        return;
    }
    if (p->next_ping && now >= p->next_ping) {
        static const char payload[] = "wsc keepalive";
        ws_send_ping(&p->ws, payload, sizeof(payload) - 1);
        if (!p->pong_deadline)
            p->pong_deadline = ms_from(opt->ping_timeout);
        p->next_ping = ms_from(opt->ping_interval);
    }
}

static void check_timer(struct peer *p, long now)
{
    check_keepalive(p, now);
    if (!p->deadline || now < p->deadline)
        return;
    p->deadline = 0;
    switch (p->phase) {
    case PHASE_HANDSHAKE:
        if (!p->stream->is_secured)
            end_peer(p, END_TLS, "TLS: no TLS handshake within %g s",
                     p->loop->opt->handshake_timeout);
        else
            end_peer(p, END_HANDSHAKE, "no handshake %s within %g s",
                     p->is_server ? "request" : "answer", p->loop->opt->handshake_timeout);
        p->phase = PHASE_DONE;
        break;
    case PHASE_OPEN:
        end_peer(p, END_NO_CLOSE_REPLY, "no close reply within %g s",
                 p->loop->opt->close_timeout);
        p->phase = PHASE_DONE;
        break;
    default:
        p->phase = PHASE_DONE; /* the peer kept the TCP connection open: close it */
    }
}

/* ---- stdin ---- */

static int send_to_peers(void *ctx, enum ws_opcode op, bool is_final, const uint8_t *data,
                         size_t len)
{
    struct loop *l = ctx;
    int sent = 0;
    for (size_t i = 0; i < l->num_peers; i++) {
        struct peer *p = l->peers[i];
        if (p->phase == PHASE_OPEN && ws_send_frame(&p->ws, op, is_final, data, len) == 0)
            sent++;
    }
    return sent || l->opt->is_listen ? 0 : -1;
}

static bool input_allowed(const struct loop *l)
{
    if (l->input_done || l->close_requested || (!l->in && !l->is_interactive))
        return false;
    size_t open = 0;
    for (size_t i = 0; i < l->num_peers; i++) {
        struct peer *p = l->peers[i];
        if (p->phase != PHASE_OPEN)
            continue;
        if (buf_size(ws_output(&p->ws)) >= HIGH_WATER || p->ws.state != WS_STATE_OPEN)
            return false;
        open++;
    }
    return open > 0;
}

static void close_all(struct loop *l, unsigned code)
{
    l->close_requested = true;
    for (size_t i = 0; i < l->num_peers; i++)
        start_close(l->peers[i], code, NULL);
}

static void input_finished(struct loop *l)
{
    l->input_done = true;
    if (l->opt->is_listen)
        return; /* a server keeps serving without stdin */
    if (!l->opt->has_wait)
        close_all(l, WS_CLOSE_NORMAL);
    else if (l->opt->wait >= 0)
        l->wait_deadline = ms_from(l->opt->wait);
}

static void read_input(struct loop *l)
{
    if (l->is_interactive) {
        console_read();
        return;
    }
    if (input_read(l->in) != 0) {
        l->input_done = true;
        if (l->opt->is_listen) {
            /* one error for the server, not one per client */
            error_line("%s", l->in->error);
            l->input_failed = true;
            close_all(l, WS_CLOSE_NORMAL);
            return;
        }
        for (size_t i = 0; i < l->num_peers; i++) {
            struct peer *p = l->peers[i];
            if (p->res.kind == END_NONE) {
                p->res.kind = END_IO;
                p->res.input_failed = true;
                snprintf(p->res.message, sizeof(p->res.message), "%s", l->in->error);
            }
        }
        close_all(l, WS_CLOSE_NORMAL);
        return;
    }
    if (l->opt->is_one && l->in->record_no >= 1)
        l->input_done = true; /* -1: one message out; now wait for one in */
    if (l->in->is_eof)
        input_finished(l);
}

static void close_all(struct loop *l, unsigned code);

/* ---- the console's slash commands ---- */

typedef int (*peer_action)(struct loop *l, struct peer *p);

/* Runs an action on the open peers: every one, or the one /to names. */
static void for_open_peers(struct loop *l, unsigned only_id, peer_action act)
{
    size_t done = 0;
    for (size_t i = 0; i < l->num_peers; i++) {
        struct peer *p = l->peers[i];
        if (p->phase != PHASE_OPEN || (only_id && p->id != only_id))
            continue;
        if (act(l, p) != 0)
            note(l->out, "cannot send: the connection is closing");
        done++;
    }
    if (!done)
        note(l->out, only_id ? "no such client" : "no open connection");
}

static int act_text(struct loop *l, struct peer *p)
{
    return ws_send_message(&p->ws, WS_OP_TEXT, l->cmd.text, l->cmd.len);
}

static int act_binary(struct loop *l, struct peer *p)
{
    return ws_send_message(&p->ws, WS_OP_BINARY, buf_head(&l->cmd.data), buf_size(&l->cmd.data));
}

static int act_ping(struct loop *l, struct peer *p)
{
    memcpy(l->ping_payload, l->cmd.text, l->cmd.len);
    l->ping_len = l->cmd.len;
    l->ping_sent_at = net_now_ms();
    return ws_send_ping(&p->ws, l->cmd.text, l->cmd.len);
}

static int act_pong(struct loop *l, struct peer *p)
{
    return ws_send_pong(&p->ws, l->cmd.text, l->cmd.len);
}

static int act_close(struct loop *l, struct peer *p)
{
    char reason[WS_MAX_CONTROL];
    snprintf(reason, sizeof(reason), "%.*s", (int)l->cmd.len, l->cmd.text);
    start_close(p, l->cmd.code, reason);
    return 0;
}

/* One message as count frames: the data opcode first, then continuations,
 * FIN on the last. */
static int act_fragment(struct loop *l, struct peer *p)
{
    size_t n = l->cmd.count, len = l->cmd.len, off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t piece = len / n + (i < len % n ? 1 : 0);
        if (ws_send_frame(&p->ws, i ? WS_OP_CONT : WS_OP_TEXT, i + 1 == n,
                          l->cmd.text + off, piece) != 0)
            return -1;
        off += piece;
    }
    return 0;
}

static int act_raw(struct loop *l, struct peer *p)
{
    struct ws_frame_header h = l->cmd.raw;
    if (h.has_mask && random_bytes(NULL, h.mask, 4) != 0)
        return -1;
    return ws_send_raw(&p->ws, &h, buf_head(&l->cmd.data));
}

static int read_file(const char *path, struct buf *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (;;) {
        uint8_t *dst = buf_reserve(out, 65536);
        if (!dst) {
            snprintf(err, errlen, "%s: too large", path);
            rc = -1;
            break;
        }
        size_t n = fread(dst, 1, 65536, f);
        buf_commit(out, n);
        if (n < 65536)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    return rc;
}

static void input_finished(struct loop *l);

static void on_console_line(void *ctx, const char *line)
{
    struct loop *l = ctx;
    if (!line) {
        input_finished(l); /* Ctrl-D closes like the end of a pipe */
        return;
    }
    if (l->close_requested || l->input_done || !*line)
        return; /* lines pasted after /quit, and empty lines, send nothing */
    struct command *c = &l->cmd;
    command_parse(line, strlen(line), c);
    unsigned only = 0; /* listen mode: the one client /to names */
    if (c->kind == CMD_TO) {
        /* "/to ID text" sends text, "/to ID /cmd ..." runs a command, for that client */
        only = c->target;
        command_parse(c->text, c->len, c);
        if (c->kind == CMD_TO || c->kind == CMD_HELP || c->kind == CMD_QUIT) {
            note(l->out, "/to takes a message or /ping, /pong, /close, /fragment, /binary, /raw");
            return;
        }
    }
    char err[sizeof(c->path) + 100];
    switch (c->kind) {
    case CMD_TEXT: {
        struct utf8_state st = {0};
        if (utf8_validate(&st, (const uint8_t *)c->text, c->len) < c->len ||
            !utf8_is_complete(&st)) {
            note(l->out, "not sent: the line is not valid UTF-8");
            break;
        }
        for_open_peers(l, only, act_text);
        break;
    }
    case CMD_TO: break; /* turned into its command above */
    case CMD_PING: for_open_peers(l, only, act_ping); break;
    case CMD_PONG: for_open_peers(l, only, act_pong); break;
    case CMD_CLOSE: for_open_peers(l, only, act_close); break;
    case CMD_FRAGMENT: for_open_peers(l, only, act_fragment); break;
    case CMD_BINARY: for_open_peers(l, only, act_binary); break;
    case CMD_BINARY_FILE:
        buf_free(&c->data);
        buf_init(&c->data, l->opt->max_message);
        if (read_file(c->path, &c->data, err, sizeof(err)) != 0)
            note(l->out, "not sent: %s", err);
        else
            for_open_peers(l, only, act_binary);
        break;
    case CMD_RAW: for_open_peers(l, only, act_raw); break;
    case CMD_HELP:
        console_hide();
        output_flush(l->out);
        fputs(command_help(), stdout);
        fflush(stdout);
        console_show();
        break;
    case CMD_QUIT:
        console_finish(); /* no prompt while the closing handshake runs */
        close_all(l, WS_CLOSE_NORMAL);
        break;
    case CMD_ERROR: note(l->out, "%s", c->error); break;
    }
}

static void handle_signals(struct loop *l)
{
    char c;
    while (read(sig_pipe[0], &c, 1) == 1) {
        if (++l->interrupts >= 2) {
            for (size_t i = 0; i < l->num_peers; i++) {
                end_peer(l->peers[i], END_INTERRUPTED, "interrupted");
                l->peers[i]->phase = PHASE_DONE;
            }
            return;
        }
        /* Before the 101 there is no closing handshake to wait for: hang up. */
        size_t hung_up = 0;
        for (size_t i = 0; i < l->num_peers; i++) {
            struct peer *p = l->peers[i];
            if (p->phase != PHASE_HANDSHAKE)
                continue;
            end_peer(p, END_INTERRUPTED, "interrupted during the opening handshake");
            p->phase = PHASE_DONE;
            hung_up++;
        }
        if (!l->opt->is_quiet)
            note(l->out, "%s", !l->opt->is_listen && hung_up == l->num_peers
                                   ? "interrupted during the opening handshake"
                                   : "closing (interrupt again to quit at once)");
        close_all(l, l->opt->is_listen ? WS_CLOSE_GOING_AWAY : WS_CLOSE_NORMAL);
    }
}

/* stdout is gone (a closed pipe) or broken: stop printing, and finish the
 * closing handshake with 1001 so that the peer sees a clean goodbye and no
 * unread data turns our TCP close into a reset. */
static void output_gone(struct loop *l)
{
    l->output_gone = true;
    for (size_t i = 0; i < l->num_peers; i++) {
        struct peer *p = l->peers[i];
        if (p->res.kind == END_NONE) {
            p->res.kind = END_IO;
            snprintf(p->res.message, sizeof(p->res.message), "cannot write output: %s",
                     strerror(l->out->error_no));
        }
    }
    close_all(l, WS_CLOSE_GOING_AWAY);
}

/* ---- the loop ---- */

static void loop_init(struct loop *l, const struct options *opt, struct output *out,
                      struct input *in)
{
    memset(l, 0, sizeof(*l));
    l->opt = opt;
    l->out = out;
    l->in = in;
    command_init(&l->cmd);
    l->is_interactive = out->is_interactive && !opt->is_echo;
    l->input_done = in == NULL && !l->is_interactive;
    if (l->is_interactive)
        console_start(opt->is_listen ? "" : "> ", on_console_line, l);
}

static void loop_free(struct loop *l)
{
    if (l->is_interactive)
        console_stop();
    command_free(&l->cmd);
    free(l->rbuf);
}

static void add_peer_fds(struct loop *l, struct pollfd *fds, size_t *nfds)
{
    for (size_t i = 0; i < l->num_peers; i++) {
        struct peer *p = l->peers[i];
        bool want_read = p->phase != PHASE_DONE && !p->eof &&
                         (p->phase != PHASE_OPEN || buf_size(ws_output(&p->ws)) < HIGH_WATER);
        bool want_write = has_output(p);
        if (is_held(p))
            want_read = false;
        /* poll reports POLLHUP whatever was asked: a held peer with nothing to
         * write is left out, or the loop would spin until it is released */
        bool is_polled = want_read || want_write || !is_held(p);
        fds[*nfds] = (struct pollfd){.fd = is_polled ? p->stream->fd : -1,
                                     .events = stream_poll_events(p->stream, want_read,
                                                                  want_write)};
        (*nfds)++;
    }
}

static long next_timeout(const struct loop *l, long now)
{
    long next = -1;
    for (size_t i = 0; i < l->num_peers; i++) {
        const struct peer *p = l->peers[i];
        /* keepalive timers count only while check_keepalive() acts on them */
        bool keeps_alive = p->phase == PHASE_OPEN && p->ws.state == WS_STATE_OPEN;
        long ds[3] = {p->deadline, keeps_alive ? p->next_ping : 0,
                      keeps_alive ? p->pong_deadline : 0};
        for (size_t k = 0; k < 3; k++)
            if (ds[k] && (next < 0 || ds[k] < next))
                next = ds[k];
    }
    if (l->wait_deadline && (next < 0 || l->wait_deadline < next))
        next = l->wait_deadline;
    if (l->accept_resume > now && (next < 0 || l->accept_resume < next))
        next = l->accept_resume;
    for (size_t i = 0; i < l->num_peers; i++) {
        const struct peer *p = l->peers[i];
        if (p->phase != PHASE_DONE && !is_held(p) && stream_pending(p->stream))
            return 0; /* TLS holds decrypted bytes: no poll event will announce them */
        if (has_early_frames(p))
            return 0;
    }
    if (next < 0)
        return -1;
    return next > now ? next - now : 0;
}

static void service_peer(struct peer *p, short revents)
{
    if (revents & (POLLIN | POLLHUP | POLLERR) || stream_pending(p->stream)) {
        if (p->phase == PHASE_HANDSHAKE)
            read_handshake(p);
        else if (p->phase != PHASE_DONE && !is_held(p))
            read_frames(p);
    }
    feed_early_frames(p);
    if (p->phase != PHASE_DONE && has_output(p))
        write_out(p);
    if (p->phase != PHASE_DONE)
        advance(p);
}

/* One turn: poll, then service whatever is ready. Returns -1 on a fatal error. */
static int loop_turn(struct loop *l, int lfd, struct tls_context *tls)
{
    long now = net_now_ms();
    /* First, as it may fail and queue a close that the poll set must include. */
    if (output_flush(l->out) != 0 && !l->output_gone)
        output_gone(l);
    if (l->close_requested && l->num_peers == 0)
        return 0; /* a server with no client left to close: done */
    struct pollfd fds[MAX_PEERS + 3]; /* peers, signals, stdin, listener */
    size_t nfds = 0;
    fds[nfds++] = (struct pollfd){.fd = sig_pipe[0], .events = POLLIN};
    bool reads_input = input_allowed(l);
    fds[nfds++] = (struct pollfd){.fd = reads_input ? STDIN_FILENO : -1, .events = POLLIN};
    bool accepts = lfd >= 0 && l->num_peers < MAX_PEERS && !l->close_requested &&
                   now >= l->accept_resume;
    fds[nfds++] = (struct pollfd){.fd = accepts ? lfd : -1, .events = POLLIN};
    size_t first_peer = nfds;
    add_peer_fds(l, fds, &nfds);

    int r = poll(fds, (nfds_t)nfds, (int)next_timeout(l, now));
    if (r < 0 && errno != EINTR)
        return -1;
    now = net_now_ms();
    if (r > 0 && fds[0].revents)
        handle_signals(l);
    size_t count = l->num_peers;
    for (size_t i = 0; i < count; i++)
        service_peer(l->peers[i], r > 0 ? fds[first_peer + i].revents : 0);
    /* A signal or a peer's close handled above may have ended the input. */
    if (r > 0 && fds[1].revents && input_allowed(l))
        read_input(l);
    /* A signal handled above may have begun the end: no new client then. */
    if (accepts && !l->close_requested && r > 0 && fds[2].revents) {
        char name[80];
        int fd = net_accept(lfd, name, sizeof(name));
        char err[256];
        struct stream *s = fd < 0 ? NULL
                           : tls  ? stream_new_tls(tls, fd, NULL, err, sizeof(err))
                                  : stream_new_plain(fd);
        struct peer *p = s ? peer_new(l, s, true, name) : NULL;
        if (p) {
            p->deadline = ms_from(l->opt->handshake_timeout);
            l->peers[l->num_peers++] = p;
            if (count_clients(l) > l->opt->max_clients)
                refuse_peer(p, 503, "too many clients (--max-clients)");
        } else if (s) {
            stream_free(s);
        } else if (fd >= 0) {
            close(fd);
        } else if (errno == EMFILE || errno == ENFILE) {
            /* the client waits in the backlog; polling again at once would spin */
            l->accept_resume = now + 100;
        }
    }
    if (l->wait_deadline && now >= l->wait_deadline) {
        l->wait_deadline = 0;
        close_all(l, WS_CLOSE_NORMAL);
    }
    for (size_t i = 0; i < l->num_peers; i++) {
        check_timer(l->peers[i], now);
        /* Data queued by stdin or echo this turn goes out without waiting. */
        if (l->peers[i]->phase != PHASE_DONE && has_output(l->peers[i]))
            write_out(l->peers[i]);
        if (l->peers[i]->phase != PHASE_DONE)
            advance(l->peers[i]);
    }
    return 0;
}

void loop_run_client(struct stream *s, const struct options *opt, struct hs_client *hs,
                     struct input *in, struct output *out, struct loop_result *res)
{
    struct loop l;
    loop_init(&l, opt, out, in);
    l.hs = hs;
    memset(res, 0, sizeof(*res));
    l.rbuf = malloc(READ_SIZE);
    struct peer *p = l.rbuf ? peer_new(&l, s, false, "server") : NULL;
    if (!p) {
        loop_free(&l);
        stream_free(s);
        res->kind = END_IO;
        snprintf(res->message, sizeof(res->message), "out of memory");
        return;
    }
    l.peers[l.num_peers++] = p;
    if (in) {
        in->send = send_to_peers;
        /* cppcheck-suppress autoVariables ; cleared before this function returns */
        in->ctx = &l;
    }
    p->deadline = ms_from(opt->handshake_timeout);
    if (hs_build_request(hs, &p->hs_out) != 0) {
        end_peer(p, END_HANDSHAKE, "request too large");
        p->phase = PHASE_DONE;
    }
    verbose_head(&l, '>', (const char *)buf_head(&p->hs_out), buf_size(&p->hs_out));
    while (p->phase != PHASE_DONE) {
        if (loop_turn(&l, -1, NULL) != 0) {
            end_peer(p, END_IO, "poll: %s", strerror(errno));
            break;
        }
    }
    output_message_abort(out); /* a message cut off by the end of the connection */
    output_flush(out);
    *res = p->res;
    res->was_closing = l.close_requested || l.interrupts > 0;
    if (res->kind == END_NONE)
        res->kind = END_LOST;
    if (p->has_ws && res->kind == END_PROTOCOL)
        res->sent_code = p->ws.error.code;
    if (in) {
        in->send = NULL; /* the input outlives this loop: no pointer to it stays */
        in->ctx = NULL;
    }
    peer_free(p);
    loop_free(&l);
}

static void report_server_end(struct loop *l, struct peer *p)
{
    if (!p->is_server || p->close_after_write)
        return; /* a refusal was reported when it was sent */
    const struct loop_result *r = &p->res;
    if (!p->has_ws) {
        /* a silent or slow client, a failed TLS handshake, a port scan */
        if (!l->opt->is_echo || l->opt->verbose)
            note(l->out, "client %u from %s did not complete the handshake: %s", p->id, p->name,
                 *r->message ? r->message : "connection closed");
        return;
    }
    switch (r->kind) {
    case END_CLOSED:
        if (!l->opt->is_echo || l->opt->verbose)
            note(l->out, "client %u %s: %u (%s)%s%s%s", p->id,
                 r->closed_by_peer ? "closed" : "closed by us", r->close_code,
                 ws_close_code_name(r->close_code), *r->close_reason ? " \"" : "",
                 r->close_reason, *r->close_reason ? "\"" : "");
        break;
    case END_PROTOCOL:
        note(l->out, "client %u broke the protocol: %s; closed with %u", p->id, r->message,
             r->sent_code);
        break;
    default:
        if (!l->opt->is_echo || l->opt->verbose)
            note(l->out, "client %u disconnected%s%s", p->id, *r->message ? ": " : "",
                 r->message);
    }
}

enum server_end loop_run_server(int lfd, struct tls_context *tls, const struct options *opt,
                                struct output *out)
{
    struct loop l;
    struct input in;
    /* --echo leaves stdin alone: a server in the background must not read a tty. */
    bool uses_stdin = !opt->is_echo && !out->is_interactive;
    if (uses_stdin) {
        input_init(&in, STDIN_FILENO, opt, send_to_peers, &l);
    }
    loop_init(&l, opt, out, uses_stdin ? &in : NULL);
    l.rbuf = malloc(READ_SIZE);
    int rc = 0;
    if (!l.rbuf) {
        error_line("out of memory");
        rc = -1;
    }
    while (rc == 0 && !(l.close_requested && l.num_peers == 0) && l.interrupts < 2) {
        rc = loop_turn(&l, lfd, tls);
        if (rc != 0)
            error_line("poll: %s", strerror(errno));
        size_t kept = 0;
        for (size_t i = 0; i < l.num_peers; i++) {
            struct peer *p = l.peers[i];
            if (p->phase == PHASE_DONE) {
                report_server_end(&l, p);
                peer_free(p);
            } else {
                l.peers[kept++] = p;
            }
        }
        l.num_peers = kept;
    }
    for (size_t i = 0; i < l.num_peers; i++)
        peer_free(l.peers[i]);
    if (uses_stdin)
        input_free(&in);
    loop_free(&l);
    if (rc != 0 || l.input_failed)
        return SERVER_FAILED;
    return l.interrupts >= 2 ? SERVER_INTERRUPTED : SERVER_OK;
}
