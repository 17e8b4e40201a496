/* SPDX-License-Identifier: MIT */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ends/end.h"
#include "io/h2.h"
#include "io/net.h"
#include "io/tls.h"
#include "io/waiter.h"
#include "ui/console.h"

/* One read from a peer. 64 KiB reads cost large messages 10 % more CPU and one
 * huge message 20 % (more socket reads); small messages gained nothing. */
#define READ_SIZE (256 * 1024)
#define ACCEPT_BATCH 64 /* clients accepted in one turn at most */

/* Listening with --http2: one client's HTTP/2 connection, whose streams
 * become connections of their own as their extended CONNECTs arrive. */
struct h2_client_session {
    struct h2_session *session; /* released when the connection ends */
    char name[80];              /* the client's address */
};

struct loop {
    const struct options *opt;
    struct output *out;
    struct conn_env env;
    struct conn_set set;        /* the connections; items owned */
    size_t cap;
    struct local_end *shared;   /* stdin or the console, feeding every connection; owned */
    struct stdout_hub hub;
    const struct end_plan *plan; /* borrowed */
    unsigned next_id;
    int interrupts;
    bool output_gone;           /* stdout failed: closing */
    long accept_resume;         /* out of descriptors: the listener rests until then */
    struct pollfd *fds;         /* this turn's wait set; owned */
    size_t fds_cap;
    struct h2_client_session *sessions; /* listening --http2: HTTP/2 connections; owned */
    size_t num_sessions, sessions_cap;
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
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -1;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A hangup ends the run as gracefully: ssh sends one to its ProxyCommand
     * as the session ends, and the peer must still see a close frame. */
    sigaction(SIGHUP, &sa, NULL);
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

/* ---- the connection list ---- */

static int add_conn(struct loop *l, struct conn *c)
{
    if (l->set.num == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct conn **grown = realloc(l->set.items, cap * sizeof(*grown));
        if (!grown)
            return -1;
        l->set.items = grown;
        l->cap = cap;
    }
    l->set.items[l->set.num++] = c;
    return 0;
}

/* A new connection with the local end the options ask for. */
static struct conn *new_conn(struct loop *l, struct stream *s, bool is_server, const char *name)
{
    struct conn *c = conn_new(&l->env, ++l->next_id, s, is_server, name);
    struct local_end *e = c ? end_for_options(l->opt, l->plan, &l->hub) : NULL;
    if (!e || add_conn(l, c) != 0) {
        if (e)
            e->ops->free(e);
        free(c);
        return NULL;
    }
    conn_set_end(c, e);
    if (end_plan_attach_taps(l->plan, c) != 0)
        conn_abort(c, OUTCOME_IO, "out of memory");
    return c;
}

static size_t count_clients(const struct loop *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->set.num; i++)
        n += !l->set.items[i]->close_after_write;
    return n;
}

/* ---- signals and a failing stdout ---- */

static void handle_signals(struct loop *l)
{
    char ch;
    while (read(sig_pipe[0], &ch, 1) == 1) {
        if (++l->interrupts >= 2) {
            for (size_t i = 0; i < l->set.num; i++)
                conn_abort(l->set.items[i], OUTCOME_INTERRUPTED, "interrupted");
            return;
        }
        /* Before the 101 there is no closing handshake to wait for: hang up. */
        size_t hung_up = 0;
        for (size_t i = 0; i < l->set.num; i++) {
            struct conn *c = l->set.items[i];
            if (c->phase != CONN_HANDSHAKE)
                continue;
            conn_abort(c, OUTCOME_INTERRUPTED, "interrupted during the opening handshake");
            hung_up++;
        }
        if (!l->opt->is_quiet)
            note(l->out, "%s",
                 !l->opt->is_listen && hung_up > 0 && hung_up == l->set.num
                     ? "interrupted during the opening handshake"
                     : "closing (interrupt again to quit at once)");
        conn_set_close_all(&l->set, l->opt->is_listen ? WS_CLOSE_GOING_AWAY : WS_CLOSE_NORMAL);
    }
}

/* stdout is gone (a closed pipe) or broken: stop printing, and finish the
 * closing handshake with 1001 so that the peer sees a clean goodbye and no
 * unread data turns our TCP close into a reset. */
static void output_gone(struct loop *l)
{
    l->output_gone = true;
    for (size_t i = 0; i < l->set.num; i++)
        conn_set_outcome(l->set.items[i], OUTCOME_IO, "cannot write output: %s",
                         strerror(l->out->error_no));
    conn_set_close_all(&l->set, WS_CLOSE_GOING_AWAY);
}

/* ---- the loop ---- */

static int loop_init(struct loop *l, const struct options *opt, const struct end_plan *plan,
                     struct output *out, struct input *in)
{
    memset(l, 0, sizeof(*l));
    l->opt = opt;
    l->plan = plan;
    l->set.run_deadline = plan ? plan->deadline : 0;
    l->out = out;
    l->hub = (struct stdout_hub){.opt = opt, .out = out};
    l->env = (struct conn_env){.opt = opt, .out = out, .rbuf_size = READ_SIZE};
    l->env.rbuf = malloc(READ_SIZE);
    if (!l->env.rbuf)
        return -1;
    bool is_interactive = out->is_interactive && end_uses_stdio(opt);
    if (is_interactive)
        l->shared = prompt_end_new(&l->set, opt, &l->hub);
    else if (in)
        l->shared = pipe_end_new(in, &l->set, opt);
    else
        l->set.is_input_done = true;
    return (is_interactive || in) && !l->shared ? -1 : 0;
}

static void sweep_sessions(struct loop *l, bool is_all);

static void loop_free(struct loop *l)
{
    for (size_t i = 0; i < l->set.num; i++)
        conn_free(l->set.items[i]);
    free(l->set.items);
    sweep_sessions(l, true);
    free(l->sessions);
    if (l->shared)
        l->shared->ops->free(l->shared);
    free(l->env.rbuf);
    free(l->fds);
    waiter_free();
}

/* Room for n more descriptors in this turn's wait set. */
static struct pollfd *reserve_fds(struct loop *l, size_t used, size_t n)
{
    if (used + n > l->fds_cap) {
        size_t cap = (used + n) * 2;
        struct pollfd *grown = realloc(l->fds, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        l->fds = grown;
        l->fds_cap = cap;
    }
    return l->fds + used;
}

static size_t end_fds(struct local_end *e, struct pollfd *fds)
{
    if (!e || !e->ops->poll_fds)
        return 0;
    size_t n = e->ops->poll_fds(e, fds, END_MAX_FDS);
    return n > END_MAX_FDS ? END_MAX_FDS : n;
}

static void end_ready(struct local_end *e, const struct pollfd *fds, size_t n)
{
    if (e && e->ops->on_ready && n)
        e->ops->on_ready(e, fds, n);
}

static long earliest(long a, long b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static long next_timeout(const struct loop *l, long now)
{
    long next = -1;
    for (size_t i = 0; i < l->set.num; i++)
        next = earliest(next, conn_next_deadline(l->set.items[i], now));
    long at[4] = {l->set.wait_deadline, end_deadline(l->shared),
                  l->accept_resume > now ? l->accept_resume : 0, l->set.run_deadline};
    for (size_t k = 0; k < 4; k++)
        if (at[k])
            next = earliest(next, at[k] > now ? at[k] - now : 0);
    return next;
}

/* ---- HTTP/2 sessions (listening with --http2) ---- */

/* A connection that began with the HTTP/2 preface becomes a session. */
static void start_session(struct loop *l, struct conn *c)
{
    struct buf early;
    char err[256];
    struct stream *s = conn_take_h2(c, &early);
    if (l->num_sessions == l->sessions_cap) {
        size_t cap = l->sessions_cap ? l->sessions_cap * 2 : 8;
        struct h2_client_session *grown = realloc(l->sessions, cap * sizeof(*grown));
        if (!grown) {
            stream_free(s);
            buf_free(&early);
            return;
        }
        l->sessions = grown;
        l->sessions_cap = cap;
    }
    struct h2_session *h = h2_server_new(s, buf_head(&early), buf_size(&early), err, sizeof(err));
    buf_free(&early);
    if (!h) {
        note(l->out, "client %u: %s", c->id, err);
        return;
    }
    struct h2_client_session *cs = &l->sessions[l->num_sessions++];
    cs->session = h;
    snprintf(cs->name, sizeof(cs->name), "%s", c->name);
    if (l->opt->verbose)
        note(l->out, "client %u from %s speaks HTTP/2", c->id, c->name);
}

/* Each extended CONNECT that arrived is a new connection. */
static void accept_streams(struct loop *l, struct h2_client_session *cs)
{
    struct stream *st;
    while ((st = h2_server_accept(cs->session))) {
        struct conn *c = l->set.is_closing ? NULL : new_conn(l, st, true, cs->name);
        if (!c) {
            stream_free(st);
            continue;
        }
        if (count_clients(l) > l->opt->max_clients)
            conn_refuse(c, 503, "too many clients (--max-clients)");
    }
}

/* Sessions whose connection is over are released (each ends with its
 * last stream). */
static void sweep_sessions(struct loop *l, bool is_all)
{
    size_t kept = 0;
    for (size_t i = 0; i < l->num_sessions; i++) {
        struct h2_client_session *cs = &l->sessions[i];
        if (is_all || h2_session_is_done(cs->session))
            h2_server_release(cs->session);
        else
            l->sessions[kept++] = *cs;
    }
    l->num_sessions = kept;
}

/* Where each part of the wait set starts. */
struct wait_set {
    size_t shared, shared_n, listener, conns;
};

/* --tcp-listen: a local client gets its own WebSocket to the URL, whose
 * local end is the accepted socket. */
static void accept_local(struct loop *l, const struct loop_listener *ls, int fd,
                         const char *name)
{
    struct local_end *e = accepted_end_new(l->opt, fd, name);
    struct stream *s = e ? ls->dial(ls->dial_ctx) : NULL;
    struct conn *c = s ? conn_new(&l->env, ++l->next_id, s, false, name) : NULL;
    if (!c || add_conn(l, c) != 0) {
        if (e)
            e->ops->free(e); /* the local client sees its connection closed */
        else
            close(fd);
        if (s)
            stream_free(s);
        free(c);
        return;
    }
    conn_set_end(c, e);
    if (end_plan_attach_taps(l->plan, c) != 0)
        conn_abort(c, OUTCOME_IO, "out of memory");
    if (!l->opt->is_quiet)
        note(l->out, "connection %u from %s", c->id, name);
    conn_start_client(c);
}

/* Accepts one client; false when none is waiting. clients: how many are
 * served (a refused one is not), kept up to date. */
static bool accept_client(struct loop *l, const struct loop_listener *ls, long now,
                          size_t *clients)
{
    char name[80], err[256];
    int fd = net_accept(ls->fd, name, sizeof(name));
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE)
            l->accept_resume = now + 100; /* the client waits in the backlog */
        return false;
    }
    if (ls->dial) {
        accept_local(l, ls, fd, name);
        return true;
    }
    struct stream *s = ls->tls ? stream_new_tls(ls->tls, fd, NULL, err, sizeof(err))
                               : stream_new_plain(fd);
    if (!s) {
        close(fd);
        return true;
    }
    struct conn *c = new_conn(l, s, true, name);
    if (!c) {
        stream_free(s);
        return true;
    }
    if (++*clients > l->opt->max_clients) {
        conn_refuse(c, 503, "too many clients (--max-clients)");
        --*clients;
    }
    return true;
}

/* A burst of clients is taken in a few turns, not one turn each. */
static void accept_clients(struct loop *l, const struct loop_listener *ls, long now)
{
    size_t clients = count_clients(l);
    for (int i = 0; i < ACCEPT_BATCH && !l->set.is_closing; i++)
        if (!accept_client(l, ls, now, &clients))
            break;
}

/* One turn: wait, then serve whatever is ready. Returns -1 on a fatal error. */
static int loop_turn(struct loop *l, const struct loop_listener *ls)
{
    int lfd = ls ? ls->fd : -1;
    long now = net_now_ms();
    /* First, as it may fail and queue a close that the wait set must include. */
    if (output_flush(l->out) != 0 && !l->output_gone)
        output_gone(l);
    if (l->set.is_closing && l->set.num == 0)
        return 0; /* a server with no client left to close: done */
    size_t nconn = l->set.num, nfds = 0, nsess = l->num_sessions;
    size_t per_conn[nconn ? nconn : 1];
    struct pollfd *f =
        reserve_fds(l, 0, 2 + END_MAX_FDS + nconn * (1 + END_MAX_FDS) + nsess);
    if (!f)
        return -1;
    f[nfds++] = (struct pollfd){.fd = sig_pipe[0], .events = POLLIN};
    struct wait_set w = {.shared = nfds};
    w.shared_n = end_fds(l->shared, f + nfds);
    nfds += w.shared_n;
    bool accepts = lfd >= 0 && !l->set.is_closing && now >= l->accept_resume;
    w.listener = nfds;
    f[nfds++] = (struct pollfd){.fd = accepts ? lfd : -1, .events = POLLIN};
    w.conns = nfds;
    for (size_t i = 0; i < nconn; i++) {
        struct conn *c = l->set.items[i];
        short events = 0;
        int fd = conn_poll(c, &events);
        f[nfds++] = (struct pollfd){.fd = fd, .events = events};
        per_conn[i] = end_fds(c->end, f + nfds);
        nfds += per_conn[i];
    }
    size_t first_session = nfds;
    for (size_t i = 0; i < nsess; i++) {
        struct h2_session *h = l->sessions[i].session;
        f[nfds++] = (struct pollfd){.fd = h2_session_fd(h), .events = h2_session_poll_events(h)};
    }

    int r = waiter_wait(f, nfds, (int)next_timeout(l, now));
    if (r < 0 && errno != EINTR)
        return -1;
    if (r < 0)
        for (size_t i = 0; i < nfds; i++)
            f[i].revents = 0;
    now = net_now_ms();
    if (f[0].revents)
        handle_signals(l);
    size_t at = w.conns;
    for (size_t i = 0; i < nconn; i++) {
        struct conn *c = l->set.items[i];
        conn_service(c, f[at].revents);
        end_ready(c->end, f + at + 1, per_conn[i]);
        at += 1 + per_conn[i];
    }
    for (size_t i = 0; i < nsess; i++) {
        h2_session_ready(l->sessions[i].session, f[first_session + i].revents);
        accept_streams(l, &l->sessions[i]);
    }
    end_ready(l->shared, f + w.shared, w.shared_n);
    /* A signal handled above may have begun the end: no new client then. */
    if (accepts && !l->set.is_closing && f[w.listener].revents)
        accept_clients(l, ls, now);
    if (l->set.wait_deadline && now >= l->set.wait_deadline) {
        l->set.wait_deadline = 0;
        conn_set_close_all(&l->set, WS_CLOSE_NORMAL);
    }
    if (l->set.run_deadline && now >= l->set.run_deadline) {
        l->set.run_deadline = 0;
        conn_set_run_over(&l->set, l->opt);
    }
    if (l->shared && l->shared->ops->on_tick)
        l->shared->ops->on_tick(l->shared, now);
    for (size_t i = 0; i < l->set.num; i++)
        conn_tick(l->set.items[i], now);
    return 0;
}

void loop_run_client(struct stream *s, const struct options *opt, const struct end_plan *plan,
                     struct hs_client *hs, struct input *in, struct output *out,
                     struct conn_result *res)
{
    struct loop l;
    memset(res, 0, sizeof(*res));
    int rc = loop_init(&l, opt, plan, out, in);
    l.env.hs = hs;
    struct conn *c = rc == 0 ? new_conn(&l, s, false, "server") : NULL;
    if (!c) {
        loop_free(&l);
        stream_free(s);
        res->kind = OUTCOME_IO;
        snprintf(res->message, sizeof(res->message), "out of memory");
        return;
    }
    conn_start_client(c);
    while (!conn_is_finished(c)) {
        if (loop_turn(&l, NULL) != 0) {
            char why[300];
            snprintf(why, sizeof(why), "poll: %s", strerror(errno));
            conn_abort(c, OUTCOME_IO, why);
        }
    }
    output_message_abort(out); /* a message cut off by the end of the connection */
    output_flush(out);
    conn_get_result(c, res);
    res->was_closing = l.set.is_closing || c->is_closing || l.interrupts > 0;
    if (res->kind == OUTCOME_NONE)
        res->kind = OUTCOME_LOST;
    if (c->has_ws && res->kind == OUTCOME_PROTOCOL)
        res->sent_code = c->ws.error.code;
    loop_free(&l);
}

/* --tcp-listen: how one local client's WebSocket ended. */
static void report_local_end(struct loop *l, struct conn *c)
{
    const struct conn_ending *r = &c->res;
    /* as when wsc connects for itself, even with -q */
    if (c->is_dialing && r->kind != OUTCOME_INTERRUPTED) {
        error_line("connection %u: %s", c->id, r->message ? r->message : "cannot connect");
        return;
    }
    if (l->opt->is_quiet)
        return;
    if (r->kind == OUTCOME_CLOSED)
        note(l->out, "connection %u closed: %u (%s)%s%s%s", c->id, r->close_code,
             ws_close_code_name(r->close_code), r->close_reason ? " \"" : "",
             r->close_reason ? r->close_reason : "", r->close_reason ? "\"" : "");
    else
        note(l->out, "connection %u ended: %s", c->id,
             r->message ? r->message : "connection lost (no close frame)");
}

static void report_server_end(struct loop *l, struct conn *c)
{
    if (!c->is_server) {
        report_local_end(l, c);
        return;
    }
    if (c->close_after_write)
        return; /* a refusal was reported when it was sent */
    const struct conn_ending *r = &c->res;
    const char *message = r->message ? r->message : "";
    const char *reason = r->close_reason ? r->close_reason : "";
    bool is_chatty = !l->opt->is_echo || l->opt->verbose;
    if (!c->has_ws) {
        /* a silent or slow client, a failed TLS handshake, a port scan */
        if (is_chatty)
            note(l->out, "client %u from %s did not complete the handshake: %s", c->id, c->name,
                 r->message ? r->message : "connection closed");
        return;
    }
    switch (r->kind) {
    case OUTCOME_CLOSED:
        if (is_chatty)
            note(l->out, "client %u %s: %u (%s)%s%s%s", c->id,
                 r->closed_by_peer ? "closed" : "closed by us", r->close_code,
                 ws_close_code_name(r->close_code), *reason ? " \"" : "", reason,
                 *reason ? "\"" : "");
        break;
    case OUTCOME_PROTOCOL:
        note(l->out, "client %u broke the protocol: %s; closed with %u", c->id, message,
             r->sent_code);
        break;
    default:
        if (is_chatty)
            note(l->out, "client %u disconnected%s%s", c->id, *message ? ": " : "", message);
    }
}

/* Frees the connections that are over. */
static void sweep(struct loop *l)
{
    size_t kept = 0;
    for (size_t i = 0; i < l->set.num; i++) {
        struct conn *c = l->set.items[i];
        if (c->is_h2_preface) {
            start_session(l, c);
            conn_free(c);
        } else if (conn_is_finished(c)) {
            l->set.has_unmet |= c->res.is_unmet;
            report_server_end(l, c);
            conn_free(c);
        } else {
            l->set.items[kept++] = c;
        }
    }
    l->set.num = kept;
}

enum server_end loop_run_server(const struct loop_listener *ls, const struct options *opt,
                                const struct end_plan *plan, struct hs_client *hs,
                                struct output *out)
{
    struct loop l;
    struct input in;
    /* A server in the background must not read a tty: stdin is read only
     * when messages are printed and typed here. */
    bool uses_stdin = end_uses_stdio(opt) && !out->is_interactive;
    if (uses_stdin)
        input_init(&in, STDIN_FILENO, opt, NULL, NULL);
    int rc = loop_init(&l, opt, plan, out, uses_stdin ? &in : NULL);
    l.env.hs = hs;
    if (rc != 0)
        error_line("out of memory");
    while (rc == 0 && !(l.set.is_closing && l.set.num == 0) && l.interrupts < 2) {
        rc = loop_turn(&l, ls);
        if (rc != 0)
            error_line("poll: %s", strerror(errno));
        sweep(&l);
        sweep_sessions(&l, false);
    }
    bool input_failed = l.set.input_failed, has_unmet = l.set.has_unmet;
    int interrupts = l.interrupts;
    loop_free(&l);
    if (uses_stdin)
        input_free(&in);
    if (rc != 0 || input_failed)
        return SERVER_FAILED;
    return interrupts >= 2 ? SERVER_INTERRUPTED : has_unmet ? SERVER_UNMET : SERVER_OK;
}
