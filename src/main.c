/* SPDX-License-Identifier: MIT */
/* wsc: options -> connect or listen -> loop -> exit status. The only place
 * that decides how the process ends. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "h2.h"
#include "handshake.h"
#include "input.h"
#include "ends/end.h"
#include "ends/plan.h"
#include "loop.h"
#include "net.h"
#include "options.h"
#include "output.h"
#include "proxy.h"
#include "random.h"
#include "reach.h"
#include "stream.h"
#include "tls.h"
#include "url.h"

enum exit_status {
    EXIT_OK = 0,
    EXIT_ERROR = 1,
    EXIT_USAGE = 2,
    EXIT_CONNECT = 3,
    EXIT_HANDSHAKE = 4,
    EXIT_PROTOCOL = 5,
    EXIT_PEER_CODE = 6,
    EXIT_EXPECTATION = 7,
    EXIT_INTERRUPTED = 130,
};

/* Descriptors wsc keeps for itself: stdio, the signal pipe, the listener, a
 * terminal, with room to spare. */
#define FDS_OWN 16

static int usage_error(const char *msg)
{
    error_line("%s", msg);
    fprintf(stderr, "Try 'wsc --help' for more information.\n");
    return EXIT_USAGE;
}

static bool is_normal_code(unsigned code)
{
    return code == 1000 || code == 1001 || code == 1005;
}

/* Prints how the connection ended and chooses the exit status. */
static int report(const struct conn_result *r, const struct output *out)
{
    if (r->unmet[0]) {
        error_line("%s", r->unmet);
        return EXIT_EXPECTATION;
    }
    switch (r->kind) {
    case OUTCOME_CLOSED: {
        unsigned code = r->close_code;
        const char *q = *r->close_reason ? " \"" : "", *qe = *r->close_reason ? "\"" : "";
        bool is_ok = is_normal_code(code) || (!r->closed_by_peer && code == r->sent_code);
        if (is_ok)
            note(out, "%s: %u (%s)%s%s%s", r->closed_by_peer ? "closed by server" : "closed",
                 code, ws_close_code_name(code), q, r->close_reason, qe);
        else
            error_line("%s: %u (%s)%s%s%s", r->closed_by_peer ? "closed by server" : "closed",
                       code, ws_close_code_name(code), q, r->close_reason, qe);
        if (r->input_failed)
            return EXIT_ERROR;
        return is_ok ? EXIT_OK : EXIT_PEER_CODE;
    }
    case OUTCOME_LOST:
        error_line("connection lost: 1006 (no close frame)%s%s", *r->message ? ": " : "",
                   r->message);
        return EXIT_ERROR;
    case OUTCOME_PROTOCOL:
        error_line("protocol error by server: %s; closed with %u (%s)", r->message,
                   r->sent_code, ws_close_code_name(r->sent_code));
        return EXIT_PROTOCOL;
    case OUTCOME_HANDSHAKE:
    case OUTCOME_RETRY_VERSION:
        error_line("handshake failed: %s", r->message);
        return EXIT_HANDSHAKE;
    case OUTCOME_REDIRECT:
        error_line("handshake failed: %s (use -L to follow)", r->message);
        return EXIT_HANDSHAKE;
    case OUTCOME_NO_CLOSE_REPLY:
        error_line("the server did not answer our close: %s", r->message);
        return EXIT_ERROR;
    case OUTCOME_PING_TIMEOUT:
        error_line("connection timed out: %s; closed with 1001", r->message);
        return EXIT_ERROR;
    case OUTCOME_TLS:
        error_line("%s", r->message);
        return EXIT_CONNECT;
    case OUTCOME_IO:
        if (out->failed && out->error_no == EPIPE)
            return EXIT_OK; /* the reader of our output left: a normal end for a pipe */
        error_line("%s", r->message);
        return EXIT_ERROR;
    case OUTCOME_INTERRUPTED:
        return EXIT_INTERRUPTED;
    default:
        error_line("connection ended unexpectedly");
        return EXIT_ERROR;
    }
}

static int exit_for_reach(enum reach_result r)
{
    switch (r) {
    case REACH_OK:
        return EXIT_OK;
    case REACH_FAILED:
        return EXIT_CONNECT;
    case REACH_INTERRUPTED:
        return EXIT_INTERRUPTED;
    case REACH_NO_MEMORY:
        break;
    }
    return EXIT_ERROR;
}

/* -L: the URLs visited so far, for loop detection. */
struct redirects {
    char **seen; /* owned, with each string */
    size_t num;
    unsigned hops;
};

static bool redirects_add(struct redirects *r, const char *url)
{
    char **grown = realloc(r->seen, (r->num + 1) * sizeof(*grown));
    if (!grown)
        return false;
    r->seen = grown;
    if (!(r->seen[r->num] = strdup(url)))
        return false;
    r->num++;
    return true;
}

static void redirects_free(struct redirects *r)
{
    for (size_t i = 0; i < r->num; i++)
        free(r->seen[i]);
    free(r->seen);
}

static bool is_followed_status(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Moves u to where a 3xx answer points, or says why not and returns the
 * exit status. The request stays a GET whatever the code: an upgrade has
 * no body to drop. */
static int follow_redirect(const struct options *opt, const struct output *out,
                           const struct hs_result *r, struct url *u, struct redirects *rd)
{
    char err[512], to[4400];
    if (!is_followed_status(r->status)) {
        error_line("handshake failed: %s; -L follows 301, 302, 303, 307 and 308 only",
                   r->error);
        return EXIT_HANDSHAKE;
    }
    if (rd->hops >= opt->max_redirects) {
        error_line("handshake failed: too many redirects (--max-redirects %u); the next was "
                   "to %.400s", opt->max_redirects, r->location);
        return EXIT_HANDSHAKE;
    }
    struct url next;
    if (url_resolve(u, r->location, &next, err, sizeof(err)) != 0) {
        error_line("handshake failed: cannot follow the redirect: %s", err);
        return EXIT_HANDSHAKE;
    }
    url_format(&next, to, sizeof(to));
    /* A server must not reach a local socket by naming it in a Location. */
    if (next.is_unix && !u->is_unix) {
        error_line("handshake failed: will not follow a redirect to a Unix socket (%.400s)", to);
        return EXIT_HANDSHAKE;
    }
    for (size_t i = 0; i < rd->num; i++) {
        if (!strcmp(rd->seen[i], to)) {
            error_line("handshake failed: redirect loop: %s was visited before", to);
            return EXIT_HANDSHAKE;
        }
    }
    if (!redirects_add(rd, to)) {
        error_line("out of memory");
        return EXIT_ERROR;
    }
    rd->hops++;
    note(out, "redirected (%d) to %s", r->status, to);
    *u = next;
    return EXIT_OK;
}

static bool is_same_origin(const struct url *a, const struct url *b)
{
    return a->is_tls == b->is_tls && a->is_unix == b->is_unix && a->port == b->port &&
           !strcasecmp(a->host, b->host) && !strcmp(a->unix_path, b->unix_path);
}

/* Basic credentials for u: --auth first, then the URL's user info. Those
 * of the first URL go only to its own origin (scheme, host and port), so
 * that a redirect cannot send them elsewhere, as curl does. */
static const char *auth_for(const struct options *opt, const struct url *first,
                            const struct url *u)
{
    bool is_same = is_same_origin(first, u);
    if (opt->auth && is_same)
        return opt->auth;
    if (u->userinfo[0])
        return u->userinfo;
    return is_same && first->userinfo[0] ? first->userinfo : NULL;
}

/* --reconnect: the ends worth another try. Refusals and protocol errors
 * would only repeat; a close we started means the work is done. */
static bool is_reconnectable(const struct conn_result *r)
{
    if (r->was_closing)
        return false;
    switch (r->kind) {
    case OUTCOME_LOST:
    case OUTCOME_PING_TIMEOUT:
    case OUTCOME_NO_CLOSE_REPLY:
        return true;
    case OUTCOME_CLOSED:
        /* going away, internal error, service restart, try again later, bad gateway */
        return r->close_code == 1001 || (r->close_code >= 1011 && r->close_code <= 1014);
    default:
        return false;
    }
}

/* Waits before reconnection number `attempt` (1, 2, ...): 0.5 s doubling up
 * to 30 s. Returns -1 when interrupted. */
static int reconnect_wait(unsigned attempt, const struct output *out)
{
    long ms = 500;
    for (unsigned i = 1; i < attempt && ms < 30000; i++)
        ms *= 2;
    if (ms > 30000)
        ms = 30000;
    note(out, "reconnecting in %.1f s (attempt %u)", ms / 1000.0, attempt);
    if (loop_sleep(ms) == 0)
        return 0;
    error_line("interrupted while waiting to reconnect");
    return -1;
}

static int exit_for(enum server_end end)
{
    return end == SERVER_INTERRUPTED ? EXIT_INTERRUPTED
           : end == SERVER_FAILED    ? EXIT_ERROR
           : end == SERVER_UNMET     ? EXIT_EXPECTATION
                                     : EXIT_OK;
}

/* The listening socket of -l or --tcp-listen; says where it listens. */
static int open_listener(const char *addr, unsigned port, bool is_unix, const struct output *out)
{
    char err[512], where[300];
    int lfd = is_unix ? net_listen_unix(addr, err, sizeof(err))
                      : net_listen(addr, port, err, sizeof(err));
    if (lfd < 0) {
        error_line("%s", err);
        return -1;
    }
    if (is_unix)
        snprintf(where, sizeof(where), "%s", addr);
    else
        net_local_name(lfd, where, sizeof(where));
    /* With port 0 this line is the only way to learn the port: even -q says it. */
    if (port == 0 && !is_unix)
        error_line("listening on %s", where);
    else
        note(out, "listening on %s", where);
    return lfd;
}

/* --tcp-listen, --unix-listen: each local client gets its own WebSocket to u. */
static int run_tcp_listen(const struct url *u, struct hs_client *hs, const struct options *opt,
                          const struct end_plan *plan, struct output *out)
{
    int lfd = open_listener(opt->tcp_listen_addr, opt->tcp_listen_port, opt->tcp_listen_is_unix,
                            out);
    if (lfd < 0)
        return EXIT_CONNECT;
    struct reach_dialer d = {.url = u, .opt = opt, .out = out, .hs = hs,
                         .uses_h2 = opt->http != HTTP_1_1};
    struct loop_listener ls = {.fd = lfd, .dial = reach_dial, .dial_ctx = &d};
    enum server_end end = loop_run_server(&ls, opt, plan, hs, out);
    reach_dialer_forget_session(&d);
    close(lfd);
    if (opt->tcp_listen_is_unix)
        unlink(opt->tcp_listen_addr);
    return exit_for(end);
}

static int run_client(const struct options *opt, const struct end_plan *plan, struct output *out)
{
    char err[512];
    struct url u;
    if (url_parse(opt->url, &u, err, sizeof(err)) != 0)
        return usage_error(err);
    struct proxy px;
    if (opt->proxy && *opt->proxy && proxy_parse(opt->proxy, &px, err, sizeof(err)) != 0) {
        char msg[600];
        snprintf(msg, sizeof(msg), "--proxy: %s", err);
        return usage_error(msg);
    }
    /* No TLS in sight: OpenSSL only hashes the handshake key. */
    if (!u.is_tls && !opt->cert_file && !opt->key_file && !opt->ca_file &&
        tls_init_without_tls() != 0) {
        error_line("cannot initialise OpenSSL");
        return EXIT_ERROR;
    }
    const struct url first = u;
    struct redirects rd = {0};
    char first_url[4400];
    url_format(&u, first_url, sizeof(first_url));
    if (!redirects_add(&rd, first_url)) {
        error_line("out of memory");
        return EXIT_ERROR;
    }
    struct hs_client hs = {
        .url = &u,
        .version = opt->version,
        .origin = opt->origin,
        .subprotocols = opt->subprotocols,
        .num_subprotocols = opt->num_subprotocols,
        .headers = opt->headers,
        .num_headers = opt->num_headers,
        .auth = auth_for(opt, &first, &u),
        .offer_deflate = !opt->no_deflate,
    };
    if (opt->has_tcp_listen) {
        redirects_free(&rd);
        return run_tcp_listen(&u, &hs, opt, plan, out);
    }
    struct input in;
    bool uses_stdin = end_uses_stdio(opt) && !out->is_interactive;
    if (uses_stdin)
        input_init(&in, STDIN_FILENO, opt, NULL, NULL);
    struct conn_result res;
    int status;
    bool retried = false;
    bool uses_h2 = opt->http != HTTP_1_1;
    if (opt->http == HTTP_2 && !u.is_tls && opt->verbose && !opt->is_quiet)
        note(out, "--http2: ws:// has no ALPN to offer h2 by; HTTP/1.1 "
                  "(--http2-prior-knowledge speaks h2c)");
    unsigned attempts = 0; /* reconnections since the last open connection */
    for (;;) {
        struct stream *s = NULL;
        bool is_h2 = uses_h2 && (u.is_tls || opt->http == HTTP_2_PRIOR);
        status = exit_for_reach(reach_connect(&u, opt, out, is_h2, &s));
        if (status == EXIT_OK && is_h2 && !(s = h2_client_open(s, u.is_tls, &hs, err,
                                                                 sizeof(err)))) {
            error_line("%s", err);
            status = EXIT_ERROR;
        }
        if (status == EXIT_CONNECT && opt->has_reconnect && attempts > 0 &&
            (!opt->reconnect_tries || attempts < opt->reconnect_tries)) {
            if (reconnect_wait(++attempts, out) != 0) {
                status = EXIT_INTERRUPTED;
                break;
            }
            continue;
        }
        if (status != EXIT_OK)
            break;
        loop_run_client(s, opt, plan, &hs, uses_stdin ? &in : NULL, out, &res);
        if (res.kind != OUTCOME_HANDSHAKE && res.kind != OUTCOME_TLS)
            attempts = 0; /* it was open: the backoff starts again */
        if (opt->has_reconnect && is_reconnectable(&res) &&
            (!opt->reconnect_tries || attempts < opt->reconnect_tries)) {
            report(&res, out);
            if (uses_stdin)
                input_restart(&in); /* a record cut off mid-message starts over */
            if (reconnect_wait(++attempts, out) != 0) {
                status = EXIT_INTERRUPTED;
                break;
            }
            continue;
        }
        /* --http2: a server without RFC 8441 gets HTTP/1.1 on a new connection. */
        if (res.kind == OUTCOME_HANDSHAKE && res.hs.outcome == HS_NO_H2 && opt->http == HTTP_2) {
            uses_h2 = false;
            if (opt->verbose && !opt->is_quiet)
                note(out, "%s; HTTP/1.1 on a new connection", res.message);
            continue;
        }
        /* RFC 6455 4.4: on 426, retry once with a version the server lists. */
        if (res.kind == OUTCOME_RETRY_VERSION && !retried) {
            retried = true;
            note(out, "server wants WebSocket version %u; retrying", res.hs.retry_version);
            hs.version = res.hs.retry_version;
            continue;
        }
        if (res.kind == OUTCOME_REDIRECT && opt->follow_redirects) {
            status = follow_redirect(opt, out, &res.hs, &u, &rd);
            if (status != EXIT_OK)
                break;
            hs.auth = auth_for(opt, &first, &u);
            hs.version = opt->version;
            retried = false;
            continue;
        }
        status = report(&res, out);
        break;
    }
    redirects_free(&rd);
    if (uses_stdin)
        input_free(&in);
    return status;
}

static int run_server(const struct options *opt, const struct end_plan *plan, struct output *out)
{
    char err[512];
    struct tls_context *tls = NULL;
    if (!opt->cert_file && tls_init_without_tls() != 0) {
        error_line("cannot initialise OpenSSL");
        return EXIT_ERROR;
    }
    if (opt->cert_file) {
        struct tls_options to = {
            .is_server = true, .offers_h2 = opt->http != HTTP_1_1, .ca_file = opt->ca_file,
            .cert_file = opt->cert_file,
            .key_file = opt->key_file, .passphrase = opt->passphrase,
        };
        tls = tls_context_new(&to, err, sizeof(err));
        if (!tls) {
            error_line("%s", err);
            return EXIT_CONNECT;
        }
    }
    int lfd = open_listener(opt->bind, opt->listen_port, false, out);
    if (lfd < 0) {
        tls_context_free(tls);
        return EXIT_CONNECT;
    }
    struct loop_listener ls = {.fd = lfd, .tls = tls};
    enum server_end end = loop_run_server(&ls, opt, plan, NULL, out);
    tls_context_free(tls);
    close(lfd);
    return exit_for(end);
}

/* --timeout bounds the whole run, connecting included; --until and --count
 * keep receiving after the end of input, as -w -1 does. */
static void limit_run(struct options *opt)
{
    if (opt->timeout > 0 && (opt->connect_timeout <= 0 || opt->connect_timeout > opt->timeout))
        opt->connect_timeout = opt->timeout;
    if (opt->timeout > 0 &&
        (opt->handshake_timeout <= 0 || opt->handshake_timeout > opt->timeout))
        opt->handshake_timeout = opt->timeout;
    if ((opt->until || opt->count) && !opt->has_wait) {
        opt->has_wait = true;
        opt->wait = -1;
    }
}

int main(int argc, char **argv)
{
    struct options opt;
    char err[512];
    switch (options_parse(argc, argv, &opt, err, sizeof(err))) {
    case OPTIONS_EXIT_OK:
        return EXIT_OK;
    case OPTIONS_USAGE:
        return usage_error(err);
    case OPTIONS_RUN:
        break;
    }
    /* Listen mode holds a descriptor per client: take all the system allows.
     * Only a number asked for is held to it: with the default, a low limit
     * means clients wait in the backlog while the descriptors are in use. */
    unsigned long fd_limit = net_raise_fd_limit();
    if (opt.is_listen && opt.has_max_clients && fd_limit &&
        (fd_limit <= FDS_OWN || opt.max_clients > fd_limit - FDS_OWN)) {
        snprintf(err, sizeof(err), "--max-clients: %u is more than this process may open "
                 "(%lu descriptors, %d of them wsc's own); raise the hard limit (ulimit -Hn)",
                 opt.max_clients, fd_limit, FDS_OWN);
        return usage_error(err);
    }
    if (loop_init_signals() != 0) {
        error_line("cannot set up signal handling: %s", strerror(errno));
        return EXIT_ERROR;
    }
    struct end_plan plan;
    int status = end_plan_load(&plan, &opt, err, sizeof(err));
    if (status != EXIT_OK) {
        end_plan_free(&plan);
        error_line("%s", err);
        return status;
    }
    limit_run(&opt);
    struct output out;
    output_init(&out, &opt);
    status = opt.is_listen ? run_server(&opt, &plan, &out) : run_client(&opt, &plan, &out);
    end_plan_free(&plan);
    /* What the loop could not write in its last turn fails here: a pipe
     * whose reader left is a normal end, anything else (a full disk) not. */
    if (output_flush(&out) != 0 && out.error_no != EPIPE && status == EXIT_OK) {
        error_line("cannot write output: %s", strerror(out.error_no));
        status = EXIT_ERROR;
    }
    output_free(&out);
    return status;
}
