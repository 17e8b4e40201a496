/* wsc: options -> connect or listen -> loop -> exit status. The only place
 * that decides how the process ends. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "handshake.h"
#include "input.h"
#include "loop.h"
#include "net.h"
#include "options.h"
#include "output.h"
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
    EXIT_INTERRUPTED = 130,
};

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
static int report(const struct loop_result *r, const struct output *out)
{
    switch (r->kind) {
    case END_CLOSED: {
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
    case END_LOST:
        error_line("connection lost: 1006 (no close frame)%s%s", *r->message ? ": " : "",
                   r->message);
        return EXIT_ERROR;
    case END_PROTOCOL:
        error_line("protocol error by server: %s; closed with %u (%s)", r->message,
                   r->sent_code, ws_close_code_name(r->sent_code));
        return EXIT_PROTOCOL;
    case END_HANDSHAKE:
    case END_RETRY_VERSION:
        error_line("handshake failed: %s", r->message);
        return EXIT_HANDSHAKE;
    case END_REDIRECT:
        error_line("handshake failed: %s (use -L to follow)", r->message);
        return EXIT_HANDSHAKE;
    case END_NO_CLOSE_REPLY:
        error_line("the server did not answer our close: %s", r->message);
        return EXIT_ERROR;
    case END_PING_TIMEOUT:
        error_line("connection timed out: %s; closed with 1001", r->message);
        return EXIT_ERROR;
    case END_TLS:
        error_line("%s", r->message);
        return EXIT_CONNECT;
    case END_IO:
        if (out->failed && out->error_no == EPIPE)
            return EXIT_OK; /* the reader of our output left: a normal end for a pipe */
        error_line("%s", r->message);
        return EXIT_ERROR;
    case END_INTERRUPTED:
        return EXIT_INTERRUPTED;
    default:
        error_line("connection ended unexpectedly");
        return EXIT_ERROR;
    }
}

static int connect_url(const struct url *u, const struct options *opt, struct stream **s)
{
    char err[512];
    int fd = u->is_unix ? net_connect_unix(u->unix_path, err, sizeof(err))
                        : net_connect(u->host, u->port, opt->family,
                                      (int)(opt->connect_timeout * 1000), err, sizeof(err));
    if (fd < 0) {
        error_line("%s", err);
        return EXIT_CONNECT;
    }
    if (u->is_tls) {
        struct tls_options to = {
            .is_insecure = opt->is_insecure,
            .ca_file = opt->ca_file,
            .cert_file = opt->cert_file,
            .key_file = opt->key_file,
            .passphrase = opt->passphrase,
        };
        struct tls_context *ctx = tls_context_new(&to, err, sizeof(err));
        *s = ctx ? stream_new_tls(ctx, fd, u->host, err, sizeof(err)) : NULL;
        /* The context is reference-counted by OpenSSL: each SSL keeps it alive. */
        tls_context_free(ctx);
        if (!*s) {
            close(fd);
            error_line("%s", err);
            return EXIT_CONNECT;
        }
        return EXIT_OK;
    }
    *s = stream_new_plain(fd);
    if (!*s) {
        close(fd);
        error_line("out of memory");
        return EXIT_ERROR;
    }
    return EXIT_OK;
}

static int run_client(const struct options *opt, struct output *out)
{
    char err[512];
    struct url u;
    if (url_parse(opt->url, &u, err, sizeof(err)) != 0)
        return usage_error(err);
    struct hs_client hs = {
        .url = &u,
        .version = opt->version,
        .origin = opt->origin,
        .subprotocols = opt->subprotocols,
        .num_subprotocols = opt->num_subprotocols,
        .headers = opt->headers,
        .num_headers = opt->num_headers,
        .auth = u.userinfo[0] ? u.userinfo : NULL,
        .offer_deflate = !opt->no_deflate,
    };
    struct input in;
    bool uses_stdin = !opt->is_echo && !out->is_interactive;
    if (uses_stdin)
        input_init(&in, STDIN_FILENO, opt, NULL, NULL);
    struct loop_result res;
    int status;
    bool retried = false;
    for (;;) {
        uint8_t nonce[16];
        if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
            error_line("cannot get random bytes from OpenSSL");
            status = EXIT_ERROR;
            break;
        }
        hs_client_set_key(&hs, nonce);
        struct stream *s = NULL;
        status = connect_url(&u, opt, &s);
        if (status != EXIT_OK)
            break;
        loop_run_client(s, opt, &hs, uses_stdin ? &in : NULL, out, &res);
        /* RFC 6455 4.4: on 426, retry once with a version the server lists. */
        if (res.kind == END_RETRY_VERSION && !retried) {
            retried = true;
            note(out, "server wants WebSocket version %u; retrying", res.hs.retry_version);
            hs.version = res.hs.retry_version;
            continue;
        }
        status = report(&res, out);
        break;
    }
    if (uses_stdin)
        input_free(&in);
    return status;
}

static int run_server(const struct options *opt, struct output *out)
{
    char err[512];
    int lfd = net_listen(opt->bind, opt->listen_port, err, sizeof(err));
    if (lfd < 0) {
        error_line("%s", err);
        return EXIT_CONNECT;
    }
    char where[80];
    net_local_name(lfd, where, sizeof(where));
    /* With port 0 this line is the only way to learn the port: even -q says it. */
    if (opt->listen_port == 0)
        error_line("listening on %s", where);
    else
        note(out, "listening on %s", where);
    struct tls_context *tls = NULL;
    if (opt->cert_file) {
        struct tls_options to = {
            .is_server = true, .ca_file = opt->ca_file, .cert_file = opt->cert_file,
            .key_file = opt->key_file, .passphrase = opt->passphrase,
        };
        tls = tls_context_new(&to, err, sizeof(err));
        if (!tls) {
            close(lfd);
            error_line("%s", err);
            return EXIT_ERROR;
        }
    }
    int rc = loop_run_server(lfd, tls, opt, out);
    tls_context_free(tls);
    close(lfd);
    return rc == 0 ? EXIT_OK : EXIT_ERROR;
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
    if (loop_init_signals() != 0) {
        error_line("cannot set up signal handling: %s", strerror(errno));
        return EXIT_ERROR;
    }
    struct output out;
    output_init(&out, &opt);
    int status = opt.is_listen ? run_server(&opt, &out) : run_client(&opt, &out);
    output_flush(&out);
    output_free(&out);
    return status;
}
