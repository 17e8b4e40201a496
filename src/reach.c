/* SPDX-License-Identifier: MIT */
/* reach: a stream to a URL, directly or through a proxy, waiting or not
 * (see reach.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dial.h"
#include "h2.h"
#include "handshake.h"
#include "http.h"
#include "net.h"
#include "reach.h"
#include "tls.h"
#include "tunnel.h"

static const char *env_lookup(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

/* -v: a head that went to or came from the proxy, credentials hidden. */
static void show_head(const struct options *opt, char dir, const struct buf *b)
{
    if (opt->verbose && !opt->is_quiet)
        output_head(dir, (const char *)buf_head(b), buf_size(b));
}

/* How a tunnel's two ends are named in messages: where is the proxy,
 * target the server it is asked to reach. */
static void tunnel_names(const struct url *u, const struct proxy *px, char *where, size_t wlen,
                         char *target, size_t tlen)
{
    snprintf(where, wlen, "%s%s%s:%u", px->is_ipv6 ? "[" : "", px->host, px->is_ipv6 ? "]" : "",
             px->port);
    snprintf(target, tlen, "%s%s%s:%u", u->is_ipv6 ? "[" : "", u->host, u->is_ipv6 ? "]" : "",
             u->port);
}

/* The proxy's answer head to CONNECT: -v shows it, proxy.c judges it.
 * Returns 0 when the tunnel is open, or -1 with the reason in err. */
static int judge_tunnel(const struct options *opt, const struct proxy *px, const char *where,
                        const char *target, const struct buf *head, char *err, size_t errlen)
{
    char why[512];
    show_head(opt, '<', head);
    struct http_head h;
    http_parse_response((const char *)buf_head(head), buf_size(head), HTTP_MAX_HEAD, &h);
    if (proxy_check_response(&h, why, sizeof(why)) == 0)
        return 0;
    snprintf(err, errlen, "%.400s (CONNECT %.270s through proxy %.270s from %.20s)", why, target,
             where, px->source);
    return -1;
}

/* TCP to the proxy, then CONNECT to u's host and port, all within
 * --connect-timeout. Returns the socket of the open tunnel, or -1 with
 * the reason in err. */
static int open_tunnel(const struct url *u, const struct proxy *px, const struct options *opt,
                       const struct output *out, char *err, size_t errlen)
{
    long start = net_now_ms();
    int timeout = (int)(opt->connect_timeout * 1000);
    char where[300], target[300], why[512];
    tunnel_names(u, px, where, sizeof(where), target, sizeof(target));
    if (opt->verbose)
        note(out, "connecting to %s through proxy %s (from %s)", target, where, px->source);
    int fd = net_connect(px->host, px->port, opt->family, timeout, why, sizeof(why));
    if (fd < 0) {
        snprintf(err, errlen, "proxy %s (from %s): %s", where, px->source, why);
        return -1;
    }
    struct buf req, head;
    buf_init(&req, 0);
    buf_init(&head, HTTP_MAX_HEAD + 1);
    int rc = proxy_build_connect(px, u, &req);
    if (rc != 0) {
        snprintf(err, errlen, "out of memory");
    } else {
        show_head(opt, '>', &req);
        long left = timeout > 0 ? timeout - (net_now_ms() - start) : 0;
        rc = tunnel_exchange(fd, &req, timeout > 0 && left < 1 ? 1 : (int)left, &head, why,
                             sizeof(why));
        if (rc != 0)
            snprintf(err, errlen, "proxy %s (from %s): %s", where, px->source, why);
    }
    if (rc == 0)
        rc = judge_tunnel(opt, px, where, target, &head, err, errlen);
    buf_free(&req);
    buf_free(&head);
    if (rc != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The socket for u: a Unix socket, a tunnel through the proxy that
 * --proxy or the environment names, or a direct TCP connection. */
static int open_socket(const struct url *u, const struct options *opt, const struct output *out,
                       char *err, size_t errlen)
{
    if (u->is_unix)
        return net_connect_unix(u->unix_path, err, errlen);
    struct proxy px;
    int use = proxy_choose(u, opt->proxy, env_lookup, NULL, &px, err, errlen);
    if (use < 0)
        return -1;
    if (use)
        return open_tunnel(u, &px, opt, out, err, errlen);
    return net_connect(u->host, u->port, opt->family, (int)(opt->connect_timeout * 1000), err,
                       errlen);
}

/* A client's TLS settings; each connection has its own context. */
static struct tls_context *new_tls_context(const struct options *opt, bool offers_h2, char *err,
                                           size_t errlen)
{
    struct tls_options to = {
        .is_insecure = opt->is_insecure,
        .ca_file = opt->ca_file,
        .cert_file = opt->cert_file,
        .key_file = opt->key_file,
        .passphrase = opt->passphrase,
        .offers_h2 = offers_h2,
    };
    return tls_context_new(&to, err, errlen);
}

enum reach_result reach_connect(const struct url *u, const struct options *opt,
                                const struct output *out, bool offers_h2, struct stream **s)
{
    char err[1024];
    int fd = open_socket(u, opt, out, err, sizeof(err));
    if (fd < 0 && net_was_interrupted()) {
        error_line("interrupted while connecting");
        return REACH_INTERRUPTED;
    }
    if (fd < 0) {
        error_line("%s", err);
        return REACH_FAILED;
    }
    if (u->is_tls) {
        struct tls_context *ctx = new_tls_context(opt, offers_h2, err, sizeof(err));
        *s = ctx ? stream_new_tls(ctx, fd, u->host, err, sizeof(err)) : NULL;
        /* The context is reference-counted by OpenSSL: each SSL keeps it alive. */
        tls_context_free(ctx);
        if (!*s) {
            close(fd);
            error_line("%s", err);
            return REACH_FAILED;
        }
        return REACH_OK;
    }
    *s = stream_new_plain(fd);
    if (!*s) {
        close(fd);
        error_line("out of memory");
        return REACH_NO_MEMORY;
    }
    return REACH_OK;
}

static int check_tunnel(void *ctx, const struct buf *head, char *err, size_t errlen)
{
    const struct reach_dialer *d = ctx;
    return judge_tunnel(d->opt, &d->px, d->where, d->target, head, err, errlen);
}

/* A stream to d->url that is still connecting, so that the loop goes on
 * serving the other clients while it does: directly or through the proxy,
 * then TLS for wss. Only the name's lookup may block (a Unix socket
 * connects at once). Returns NULL after saying why. */
static struct stream *start_dial(struct reach_dialer *d, bool offers_h2)
{
    const struct url *u = d->url;
    const struct options *opt = d->opt;
    char err[1024], prefix[400];
    if (u->is_unix) {
        struct stream *s = NULL;
        return reach_connect(u, opt, d->out, offers_h2, &s) == REACH_OK ? s : NULL;
    }
    struct dial_options o = {
        .host = u->host, .port = u->port, .family = opt->family,
        .timeout_ms = (int)(opt->connect_timeout * 1000), .tls_host = u->host,
    };
    struct buf req;
    buf_init(&req, 0);
    int use = proxy_choose(u, opt->proxy, env_lookup, NULL, &d->px, err, sizeof(err));
    if (use < 0)
        goto fail;
    if (use) {
        tunnel_names(u, &d->px, d->where, sizeof(d->where), d->target, sizeof(d->target));
        if (opt->verbose)
            note(d->out, "connecting to %s through proxy %s (from %s)", d->target, d->where,
                 d->px.source);
        if (proxy_build_connect(&d->px, u, &req) != 0) {
            snprintf(err, sizeof(err), "out of memory");
            goto fail;
        }
        show_head(opt, '>', &req);
        snprintf(prefix, sizeof(prefix), "proxy %s (from %s): ", d->where, d->px.source);
        o.host = d->px.host;
        o.port = d->px.port;
        o.error_prefix = prefix;
        o.proxy_request = &req;
        o.check = check_tunnel;
        o.check_ctx = d;
    }
    if (u->is_tls && !(o.tls = new_tls_context(opt, offers_h2, err, sizeof(err))))
        goto fail;
    struct stream *s = dial_stream_new(&o, err, sizeof(err));
    buf_free(&req);
    if (!s)
        error_line("%s", err);
    return s;
fail:
    buf_free(&req);
    error_line("%s", err);
    return NULL;
}

void reach_dialer_forget_session(struct reach_dialer *d)
{
    if (d->session)
        h2_client_keep(d->session, false);
    d->session = NULL;
}

struct stream *reach_dial(void *ctx)
{
    struct reach_dialer *d = ctx;
    char err[512];
    if (d->session && !h2_session_is_usable(d->session)) {
        if (!strncmp(h2_session_error(d->session), "the server", 10) && d->opt->http == HTTP_2)
            d->uses_h2 = false; /* no RFC 8441 there: HTTP/1.1 from now on */
        reach_dialer_forget_session(d);
    }
    if (d->session) {
        struct stream *s = h2_client_open_stream(d->session, d->hs, err, sizeof(err));
        if (s)
            return s;
        reach_dialer_forget_session(d);
    }
    struct stream *s = NULL;
    bool is_h2 = d->uses_h2 && (d->url->is_tls || d->opt->http == HTTP_2_PRIOR);
    if (!(s = start_dial(d, is_h2)))
        return NULL;
    if (!is_h2)
        return s;
    if (!(s = h2_client_open(s, d->url->is_tls, d->hs, err, sizeof(err)))) {
        error_line("%s", err);
        return NULL;
    }
    d->session = h2_stream_session(s);
    h2_client_keep(d->session, true);
    return s;
}
