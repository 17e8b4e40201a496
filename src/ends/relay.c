/* SPDX-License-Identifier: MIT */
/* relay: the local end of `-l PORT --to URL`. Each client that connects gets
 * a WebSocket of its own to the upstream (a client-role conn that this end
 * owns and drives: its descriptor, ticks and deadline are this end's), and
 * every message goes across whole with its type, frame by frame as it
 * streams. The client's 101 waits until the upstream has answered, so that
 * the upstream's choice of subprotocol is passed back; an upstream that
 * cannot be reached or refuses means 502 for the client. Closes cross with
 * their codes; each engine answers its own pings. Backpressure both ways:
 * each side is read only while the other can take more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/url.h"
#include "ends/end.h"
#include "io/net.h"
#include "io/tls.h"

#define RELAY_MAX_PROTOCOLS 16
#define RELAY_CLOSE_UPSTREAM_LOST 1014 /* bad gateway */

struct relay_end;

/* A message on its way from one side to the other. Each piece goes as a
 * frame, but the last piece received is held until the next one or the
 * end comes, so that a message that arrived in one piece leaves as one
 * frame (peers see the framing they sent, in the common case), and memory
 * holds one piece at most. */
struct crossing {
    bool in_message, is_first;
    enum ws_opcode op;
    struct buf held; /* owned */
};


/* The upstream connection's local end: what the upstream sends goes to the
 * client. */
struct relay_up {
    struct local_end base;
    struct relay_end *relay; /* the client's end, which owns the upstream */
    struct crossing msg;     /* the upstream's message on its way to the client */
};

struct relay_end {
    struct local_end base;
    const struct options *opt;
    struct conn_env env;  /* the client's, but with the upstream's request */
    struct url url;       /* the upstream, with the request's path */
    struct hs_client hs;
    char *protocols[RELAY_MAX_PROTOCOLS]; /* owned */
    char *headers[2];                     /* Cookie, Authorization lines; owned */
    char origin[512];
    struct net_dial dial; /* connecting to the upstream; owned */
    bool is_dialing;
    long connect_deadline;
    struct conn *up;      /* owned */
    char refusal[600];    /* the upstream failed before its conn existed */
    struct crossing msg;  /* the client's message on its way to the upstream */
};

/* ---- one message across, frame by frame ---- */

static void across_begin(struct crossing *x, enum ws_opcode op)
{
    x->in_message = true;
    x->is_first = true;
    x->op = op;
    buf_clear(&x->held);
}

static void send_held(struct conn *to, struct crossing *x, bool is_final)
{
    if (to && to->phase == CONN_OPEN)
        conn_send_frame(to, x->is_first ? x->op : WS_OP_CONT, is_final, buf_head(&x->held),
                        buf_size(&x->held));
    x->is_first = false;
    buf_clear(&x->held);
}

static void across_data(struct conn *to, struct crossing *x, const uint8_t *p, size_t len)
{
    if (!len || !x->in_message)
        return;
    if (buf_size(&x->held))
        send_held(to, x, false);
    if (buf_append(&x->held, p, len) != 0 && to)
        conn_close(to, WS_CLOSE_INTERNAL, "out of memory");
}

static void across_end(struct conn *to, struct crossing *x)
{
    if (!x->in_message)
        return;
    send_held(to, x, true);
    x->in_message = false;
    buf_free(&x->held); /* a large piece's memory is given back at once */
}

static void close_with(struct conn *to, unsigned code, const uint8_t *reason, size_t len)
{
    char r[WS_MAX_CONTROL];
    snprintf(r, sizeof(r), "%.*s", (int)(len < sizeof(r) - 3 ? len : sizeof(r) - 3),
             (const char *)reason);
    conn_close(to, code == WS_CLOSE_NO_STATUS || !ws_close_code_is_sendable(code) ? 0 : code, r);
}

/* ---- the upstream's end ---- */

static struct relay_up *up_of(struct local_end *e)
{
    return (struct relay_up *)e;
}

static struct conn *client_of(struct local_end *e)
{
    return up_of(e)->relay->base.conn;
}

static int up_open(struct local_end *e, const struct conn_request *req, char *err, size_t errlen)
{
    (void)req, (void)err, (void)errlen;
    conn_answer(client_of(e), 101, e->conn->client_hs->answer.subprotocol, NULL);
    return 0;
}

static void up_begin(struct local_end *e, enum ws_opcode op)
{
    across_begin(&up_of(e)->msg, op);
}

static void up_data(struct local_end *e, const uint8_t *p, size_t len)
{
    across_data(client_of(e), &up_of(e)->msg, p, len);
}

/* A message cut short on one side is ended on the other (the close follows). */
static void up_message_end(struct local_end *e)
{
    across_end(client_of(e), &up_of(e)->msg);
}

static void up_peer_close(struct local_end *e, unsigned code, const uint8_t *reason, size_t len)
{
    close_with(client_of(e), code, reason, len);
}

static bool up_can_take(const struct local_end *e)
{
    const struct conn *client = ((const struct relay_up *)e)->relay->base.conn;
    return !conn_is_open(client) || conn_can_send(client);
}

static void up_conn_ended(struct local_end *e)
{
    struct conn *up = e->conn, *client = client_of(e);
    char why[700];
    if (client->held) {
        snprintf(why, sizeof(why), "upstream: %s",
                 up->res.message ? up->res.message : "the connection failed");
        conn_answer(client, 502, NULL, why);
    } else if (conn_is_open(client) && up->res.kind != OUTCOME_CLOSED) {
        conn_close(client, RELAY_CLOSE_UPSTREAM_LOST, "upstream lost");
    }
}

static void up_free(struct local_end *e)
{
    buf_free(&up_of(e)->msg.held);
    free(e);
}

static const struct local_end_ops up_ops = {
    .type = "upstream",
    .open = up_open,
    .message_begin = up_begin,
    .message_data = up_data,
    .message_end = up_message_end,
    .message_abort = up_message_end,
    .peer_close = up_peer_close,
    .can_take = up_can_take,
    .conn_ended = up_conn_ended,
    .free = up_free,
};

/* ---- the client's end ---- */

static struct relay_end *re_of(struct local_end *e)
{
    return (struct relay_end *)e;
}

/* The upstream URL for a request: --to's path without its trailing slash,
 * then the request's path; the two queries joined with '&'. */
static void join_target(struct url *u, const char *target, size_t len)
{
    char base[sizeof(u->path)], base_q[sizeof(u->path)] = "";
    snprintf(base, sizeof(base), "%s", u->path);
    char *q = strchr(base, '?');
    if (q) {
        snprintf(base_q, sizeof(base_q), "%s", q + 1);
        *q = 0;
    }
    size_t blen = strlen(base);
    if (blen && base[blen - 1] == '/')
        base[--blen] = 0;
    const char *rq = memchr(target, '?', len);
    size_t plen = rq ? (size_t)(rq - target) : len;
    const char *rquery = rq ? rq + 1 : "";
    int rqlen = rq ? (int)(len - plen - 1) : 0;
    snprintf(u->path, sizeof(u->path), "%s%.*s%s%s%s%.*s", base, (int)plen, target,
             *base_q || rqlen ? "?" : "", base_q, *base_q && rqlen ? "&" : "", rqlen, rquery);
    if (u->path[0] != '/') {
        memmove(u->path + 1, u->path, strlen(u->path) + 1 < sizeof(u->path) - 1
                                          ? strlen(u->path) + 1 : sizeof(u->path) - 2);
        u->path[0] = '/';
    }
}

static char *header_line(const struct http_head *h, const char *name)
{
    const struct http_header *v = http_find_header(h, name);
    if (!v)
        return NULL;
    size_t n = strlen(name) + 2 + v->value_len + 1;
    char *line = malloc(n);
    if (line)
        snprintf(line, n, "%s: %.*s", name, (int)v->value_len, v->value);
    return line;
}

/* The subprotocols the client offered, each header, comma-separated. */
static void offered_protocols(struct relay_end *x, const struct http_head *h)
{
    size_t n = 0;
    for (size_t i = 0; i < h->num_headers; i++) {
        const struct http_header *v = &h->headers[i];
        if (!http_equals(v->name, v->name_len, "Sec-WebSocket-Protocol"))
            continue;
        const char *p = v->value, *end = v->value + v->value_len;
        while (p < end && n < RELAY_MAX_PROTOCOLS) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            const char *stop = comma ? comma : end;
            while (p < stop && (*p == ' ' || *p == '\t'))
                p++;
            const char *last = stop;
            while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
                last--;
            if (last > p && (x->protocols[n] = strndup(p, (size_t)(last - p))))
                n++;
            p = comma ? comma + 1 : end;
        }
    }
    x->hs.subprotocols = (const char *const *)x->protocols;
    x->hs.num_subprotocols = n;
}

static void stop_dial(struct relay_end *x)
{
    if (x->dial.fd >= 0)
        close(x->dial.fd);
    x->dial.fd = -1;
    net_dial_free(&x->dial);
    x->is_dialing = false;
}

static void refuse(struct relay_end *x, const char *why)
{
    snprintf(x->refusal, sizeof(x->refusal), "upstream: %s", why);
}

static bool relay_hold_answer(struct local_end *e, const struct http_head *h)
{
    struct relay_end *x = re_of(e);
    char err[512];
    join_target(&x->url, h->target, h->target_len);
    const struct http_header *origin = http_find_header(h, "Origin");
    if (origin) {
        snprintf(x->origin, sizeof(x->origin), "%.*s", (int)origin->value_len, origin->value);
        x->hs.origin = x->origin;
    }
    size_t n = 0;
    if ((x->headers[n] = header_line(h, "Cookie")))
        n++;
    if ((x->headers[n] = header_line(h, "Authorization")))
        n++;
    else if (x->url.userinfo[0])
        x->hs.auth = x->url.userinfo;
    x->hs.headers = (const char *const *)x->headers;
    x->hs.num_headers = n;
    offered_protocols(x, h);
    x->env = *e->conn->env;
    x->env.hs = &x->hs;
    if (x->url.is_unix) {
        x->dial.fd = net_connect_unix(x->url.unix_path, err, sizeof(err));
        if (x->dial.fd < 0)
            refuse(x, err);
        else
            net_set_nonblocking(x->dial.fd);
        x->is_dialing = x->dial.fd >= 0;
    } else if (net_dial_start(&x->dial, x->url.host, x->url.port, x->opt->family, err,
                              sizeof(err)) != 0) {
        refuse(x, err);
    } else {
        x->is_dialing = true;
    }
    x->connect_deadline = net_now_ms() + (long)(x->opt->connect_timeout * 1000.0);
    return true;
}

/* Connected: the upstream WebSocket starts with its opening request. */
static void start_upstream(struct relay_end *x, int fd)
{
    char err[512];
    struct stream *s = NULL;
    if (x->url.is_tls) {
        struct tls_options to = {.is_insecure = x->opt->is_insecure, .ca_file = x->opt->ca_file};
        struct tls_context *ctx = tls_context_new(&to, err, sizeof(err));
        s = ctx ? stream_new_tls(ctx, fd, x->url.host, err, sizeof(err)) : NULL;
        tls_context_free(ctx);
    } else {
        s = stream_new_plain(fd);
        snprintf(err, sizeof(err), "out of memory");
    }
    struct relay_up *u = s ? calloc(1, sizeof(*u)) : NULL;
    x->up = u ? conn_new(&x->env, x->base.conn->id, s, false, "upstream") : NULL;
    if (!x->up) {
        free(u);
        if (s)
            stream_free(s);
        else
            close(fd);
        refuse(x, err);
        return;
    }
    u->base.ops = &up_ops;
    u->relay = x;
    buf_init(&u->msg.held, 0);
    conn_set_end(x->up, &u->base);
    conn_start_client(x->up);
}

static size_t relay_poll_fds(struct local_end *e, struct pollfd *fds, size_t max)
{
    struct relay_end *x = re_of(e);
    (void)max;
    short events = 0;
    if (x->is_dialing)
        fds[0] = (struct pollfd){.fd = x->dial.fd, .events = POLLOUT};
    else if (x->up)
        fds[0] = (struct pollfd){.fd = conn_poll(x->up, &events), .events = events};
    else
        return 0;
    return 1;
}

static void relay_on_ready(struct local_end *e, const struct pollfd *fds, size_t n)
{
    struct relay_end *x = re_of(e);
    char err[512];
    if (n < 1)
        return;
    if (x->is_dialing && fds[0].revents) {
        int r = x->url.is_unix ? 1 : net_dial_step(&x->dial, err, sizeof(err));
        if (r < 0) {
            stop_dial(x);
            refuse(x, err);
        } else if (r > 0) {
            int fd = x->dial.fd;
            x->dial.fd = -1; /* the stream owns it now */
            x->is_dialing = false;
            start_upstream(x, fd);
        }
    } else if (x->up && fds[0].fd >= 0) {
        conn_service(x->up, fds[0].revents);
    }
}

static long relay_deadline(const struct local_end *e)
{
    const struct relay_end *x = (const struct relay_end *)e;
    if (x->refusal[0])
        return net_now_ms();
    if (x->is_dialing)
        return x->connect_deadline;
    if (!x->up)
        return 0;
    long now = net_now_ms(), in = conn_next_deadline(x->up, now);
    return in < 0 ? 0 : now + in;
}

static void relay_on_tick(struct local_end *e, long now)
{
    struct relay_end *x = re_of(e);
    if (x->is_dialing && now >= x->connect_deadline) {
        stop_dial(x);
        char why[100];
        snprintf(why, sizeof(why), "no connection within %g s", x->opt->connect_timeout);
        refuse(x, why);
    }
    if (x->refusal[0] && e->conn->held) {
        conn_answer(e->conn, 502, NULL, x->refusal);
        x->refusal[0] = 0;
    }
    if (x->up)
        conn_tick(x->up, now);
}

static void relay_begin(struct local_end *e, enum ws_opcode op)
{
    across_begin(&re_of(e)->msg, op);
}

static void relay_data(struct local_end *e, const uint8_t *p, size_t len)
{
    struct relay_end *x = re_of(e);
    across_data(x->up, &x->msg, p, len);
}

static void relay_message_end(struct local_end *e)
{
    struct relay_end *x = re_of(e);
    across_end(x->up, &x->msg);
}

static void relay_peer_close(struct local_end *e, unsigned code, const uint8_t *reason,
                             size_t len)
{
    struct relay_end *x = re_of(e);
    if (x->up)
        close_with(x->up, code, reason, len);
}

static bool relay_can_take(const struct local_end *e)
{
    const struct relay_end *x = (const struct relay_end *)e;
    return !x->up || !conn_is_open(x->up) || conn_can_send(x->up);
}

/* The client's connection is over: so is the upstream's. */
static void relay_conn_ended(struct local_end *e)
{
    struct relay_end *x = re_of(e);
    stop_dial(x);
    if (!x->up)
        return;
    if (x->up->phase == CONN_HANDSHAKE)
        conn_abort(x->up, OUTCOME_LOST, "the client left");
    else if (conn_is_open(x->up) && e->conn->res.kind != OUTCOME_CLOSED)
        conn_close(x->up, WS_CLOSE_GOING_AWAY, "client lost");
}

static bool relay_is_done(const struct local_end *e)
{
    const struct relay_end *x = (const struct relay_end *)e;
    return !x->is_dialing && (!x->up || conn_is_finished(x->up));
}

static void relay_free(struct local_end *e)
{
    struct relay_end *x = re_of(e);
    if (x->up)
        conn_free(x->up);
    stop_dial(x);
    for (size_t i = 0; i < RELAY_MAX_PROTOCOLS; i++)
        free(x->protocols[i]);
    free(x->headers[0]);
    free(x->headers[1]);
    buf_free(&x->msg.held);
    free(x);
}

static const struct local_end_ops relay_ops = {
    .type = "relay",
    .hold_answer = relay_hold_answer,
    .message_begin = relay_begin,
    .message_data = relay_data,
    .message_end = relay_message_end,
    .message_abort = relay_message_end,
    .peer_close = relay_peer_close,
    .can_take = relay_can_take,
    .poll_fds = relay_poll_fds,
    .on_ready = relay_on_ready,
    .deadline = relay_deadline,
    .on_tick = relay_on_tick,
    .conn_ended = relay_conn_ended,
    .is_done = relay_is_done,
    .free = relay_free,
};

struct local_end *relay_end_new(const struct options *opt)
{
    struct relay_end *x = calloc(1, sizeof(*x));
    char err[512];
    if (!x)
        return NULL;
    x->base.ops = &relay_ops;
    x->opt = opt;
    x->dial.fd = -1;
    buf_init(&x->msg.held, 0);
    if (url_parse(opt->to, &x->url, err, sizeof(err)) != 0) {
        free(x); /* checked before listening: not reached */
        return NULL;
    }
    x->hs = (struct hs_client){.url = &x->url, .version = 13, .offer_deflate = !opt->no_deflate};
    return &x->base;
}
