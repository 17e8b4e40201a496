/* SPDX-License-Identifier: MIT */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/conf.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct tls_context {
    SSL_CTX *ctx;
    bool is_server;
    bool offers_h2;
    bool is_insecure;
    char *passphrase; /* owned copy for the callback */
};

static FILE *keylog;
/* tls_init_without_tls() ran: openssl.cnf has not been read. */
static bool is_config_skipped;

int tls_init_without_tls(void)
{
    /* Measured with callgrind: OpenSSL's default set-up on the first SHA-1
     * reads openssl.cnf and adds every legacy cipher and digest to its name
     * tables, 5.9 M instructions; without them the SHA-1 costs 0.7 M. */
    uint64_t opts = OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
                    OPENSSL_INIT_NO_ADD_ALL_DIGESTS | OPENSSL_INIT_NO_ATEXIT;
    if (OPENSSL_init_crypto(opts, NULL) != 1)
        return -1;
    is_config_skipped = true;
    return 0;
}

/* TLS after tls_init_without_tls(): the configuration is read now, as the
 * default set-up would have read it, so that its TLS policy applies. */
static void load_skipped_config(void)
{
    if (!is_config_skipped)
        return;
    is_config_skipped = false;
    CONF_modules_load_file(NULL, NULL,
                           CONF_MFLAGS_DEFAULT_SECTION | CONF_MFLAGS_IGNORE_MISSING_FILE);
    ERR_clear_error(); /* like the default set-up, a faulty file is not fatal */
}

/* SSLKEYLOGFILE: the NSS key log format, as curl and browsers write it. */
static void keylog_line(const SSL *ssl, const char *line)
{
    if (keylog) {
        fprintf(keylog, "%s\n", line);
        fflush(keylog);
    }
}

static int passphrase_cb(char *buf, int size, int rwflag, void *userdata)
{
    const char *p = userdata;
    if (!p)
        return 0;
    int n = (int)strlen(p);
    if (n >= size)
        return 0;
    memcpy(buf, p, (size_t)n);
    return n;
}

/* ALPN protocol lists in wire form: a length byte before each name. */
static const unsigned char ALPN_H1[] = "\x08http/1.1";
static const unsigned char ALPN_H2_H1[] = "\x02h2\x08http/1.1";

/* Server side: our preference first (RFC 7301 3.2 leaves the choice to the
 * server); no common protocol goes on without ALPN, as before. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    const struct tls_context *t = arg;
    const unsigned char *ours = t->offers_h2 ? ALPN_H2_H1 : ALPN_H1;
    unsigned ours_len = (unsigned)(t->offers_h2 ? sizeof(ALPN_H2_H1) : sizeof(ALPN_H1)) - 1;
    unsigned char *chosen = NULL;
    if (SSL_select_next_proto(&chosen, outlen, ours, ours_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

static void ssl_error_text(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char detail[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, detail, sizeof(detail));
    ERR_clear_error();
    snprintf(err, errlen, "%s: %s", what, detail);
}

struct tls_context *tls_context_new(const struct tls_options *o, char *err, size_t errlen)
{
    struct tls_context *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->is_server = o->is_server;
    t->is_insecure = o->is_insecure;
    t->offers_h2 = o->offers_h2;
    load_skipped_config();
    t->ctx = SSL_CTX_new(o->is_server ? TLS_server_method() : TLS_client_method());
    if (!t->ctx) {
        ssl_error_text(err, errlen, "cannot create a TLS context");
        goto fail;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* A server holds many connections, most of them idle most of the time:
     * each gives its record buffers (33 KiB of heap, 17 KiB of it resident)
     * back whenever they are empty, instead of keeping them while it lives.
     * An idle client costs 15.6 KiB instead of 33; a record costs a malloc
     * and a free, lost in the noise of a round trip (bench/RESULTS.md). */
    if (o->is_server)
        SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
    const char *keylog_file = getenv("SSLKEYLOGFILE");
    if (keylog_file && *keylog_file && !keylog) {
        keylog = fopen(keylog_file, "ae");
        if (keylog)
            SSL_CTX_set_keylog_callback(t->ctx, keylog_line);
    }
    if (o->passphrase) {
        t->passphrase = strdup(o->passphrase);
        SSL_CTX_set_default_passwd_cb(t->ctx, passphrase_cb);
        SSL_CTX_set_default_passwd_cb_userdata(t->ctx, t->passphrase);
    }
    if (o->cert_file) {
        if (SSL_CTX_use_certificate_chain_file(t->ctx, o->cert_file) != 1) {
            ssl_error_text(err, errlen, "cannot load the certificate");
            goto fail;
        }
        const char *key = o->key_file ? o->key_file : o->cert_file;
        if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1) {
            ssl_error_text(err, errlen, "cannot load the private key");
            goto fail;
        }
        if (SSL_CTX_check_private_key(t->ctx) != 1) {
            ssl_error_text(err, errlen, "the private key does not match the certificate");
            goto fail;
        }
    } else if (o->is_server) {
        snprintf(err, errlen, "a TLS server needs --cert and --key");
        goto fail;
    }
    if (!o->is_server) {
        if (o->offers_h2)
            SSL_CTX_set_alpn_protos(t->ctx, ALPN_H2_H1, sizeof(ALPN_H2_H1) - 1);
        else
            SSL_CTX_set_alpn_protos(t->ctx, ALPN_H1, sizeof(ALPN_H1) - 1);
        if (o->ca_file) {
            if (SSL_CTX_load_verify_locations(t->ctx, o->ca_file, NULL) != 1) {
                ssl_error_text(err, errlen, "cannot load the CA file");
                goto fail;
            }
        } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
            ssl_error_text(err, errlen, "cannot load the system trust store");
            goto fail;
        }
        SSL_CTX_set_verify(t->ctx, o->is_insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    } else {
        /* only with --http2, so that HTTP/1.1 servers stay as they were */
        if (o->offers_h2)
            SSL_CTX_set_alpn_select_cb(t->ctx, alpn_select, t);
    }
    if (o->is_server && o->ca_file) {
        /* A listening server with --ca asks clients for a certificate. */
        if (SSL_CTX_load_verify_locations(t->ctx, o->ca_file, NULL) != 1) {
            ssl_error_text(err, errlen, "cannot load the CA file");
            goto fail;
        }
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return t;
fail:
    tls_context_free(t);
    return NULL;
}

void tls_context_free(struct tls_context *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t->passphrase);
    free(t);
}

/* Describes a failed TLS operation, with the verification verdict when the
 * certificate was the cause. A failure after the handshake is the
 * connection's, not the TLS set-up's. */
static void describe_failure(struct stream *s, SSL *ssl, int code)
{
    bool is_handshake = !s->is_secured;
    long verify = SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE ? X509_V_OK
                                                               : SSL_get_verify_result(ssl);
    unsigned long e = ERR_peek_error();
    s->is_tls_error = is_handshake;
    if (is_handshake && verify != X509_V_OK) {
        snprintf(s->error, sizeof(s->error), "TLS: certificate refused: %s",
                 X509_verify_cert_error_string(verify));
    } else if (e) {
        char detail[200];
        ERR_error_string_n(e, detail, sizeof(detail));
        snprintf(s->error, sizeof(s->error), "TLS: %s", detail);
    } else if (code == SSL_ERROR_SYSCALL && errno) {
        snprintf(s->error, sizeof(s->error), "TLS: %s", strerror(errno));
    } else {
        snprintf(s->error, sizeof(s->error), "TLS: the connection ended unexpectedly");
    }
    ERR_clear_error();
}

static bool is_unexpected_eof(int code)
{
    unsigned long e = ERR_peek_error();
    if (code == SSL_ERROR_SYSCALL)
        return !e && errno == 0;
    return code == SSL_ERROR_SSL && ERR_GET_LIB(e) == ERR_LIB_SSL &&
           ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

/* Maps an SSL result to the stream convention. */
static ssize_t finish(struct stream *s, SSL *ssl, int ok, size_t n, bool is_read)
{
    s->read_wants_write = s->write_wants_read = false;
    /* once finished, for good: after a fatal error OpenSSL says it is not */
    if (SSL_is_init_finished(ssl))
        s->is_secured = true;
    if (ok)
        return (ssize_t)n;
    int code = SSL_get_error(ssl, 0);
    switch (code) {
    case SSL_ERROR_WANT_READ:
        if (!is_read)
            s->write_wants_read = true;
        return STREAM_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        if (is_read)
            s->read_wants_write = true;
        return STREAM_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default:
        /* After the handshake a TCP close without close_notify is the end of
         * the stream: the WebSocket close handshake, not TLS, tells a clean
         * end from a cut. During it, the TLS set-up failed. */
        if (is_read && s->is_secured && is_unexpected_eof(code)) {
            ERR_clear_error();
            return 0;
        }
        describe_failure(s, ssl, code);
        return STREAM_ERROR;
    }
}

static ssize_t tls_read(struct stream *s, void *p, size_t n)
{
    size_t got = 0;
    errno = 0;
    int ok = SSL_read_ex(s->impl, p, n, &got);
    return finish(s, s->impl, ok, got, true);
}

static ssize_t tls_write(struct stream *s, const void *p, size_t n)
{
    size_t done = 0;
    errno = 0;
    int ok = SSL_write_ex(s->impl, p, n, &done);
    return finish(s, s->impl, ok, done, false);
}

static size_t tls_pending(struct stream *s)
{
    return (size_t)SSL_pending(s->impl);
}

static void tls_shutdown(struct stream *s)
{
    if (SSL_is_init_finished(s->impl))
        SSL_shutdown(s->impl);
    ERR_clear_error();
}

static void tls_free(struct stream *s)
{
    SSL_free(s->impl);
}

int tls_handshake(struct stream *s)
{
    errno = 0;
    int ok = SSL_do_handshake(s->impl) == 1;
    ssize_t r = finish(s, s->impl, ok, 0, false);
    if (r == STREAM_AGAIN) {
        /* a handshake may wait on either direction, whichever it named */
        bool wants_write = SSL_want_write((SSL *)s->impl);
        s->write_wants_read = !wants_write;
        s->read_wants_write = wants_write;
    }
    return r < 0 ? (int)r : 0;
}

bool tls_is_h2(const struct stream *s)
{
    const unsigned char *p = NULL;
    unsigned n = 0;
    SSL_get0_alpn_selected(s->impl, &p, &n);
    return n == 2 && memcmp(p, "h2", 2) == 0;
}

static const struct stream_ops tls_ops = {
    tls_read, tls_write, tls_pending, tls_shutdown, tls_free, NULL, NULL, NULL,
};

struct stream *stream_new_tls(struct tls_context *t, int fd, const char *host, char *err,
                              size_t errlen)
{
    SSL *ssl = SSL_new(t->ctx);
    struct stream *s = ssl ? calloc(1, sizeof(*s)) : NULL;
    if (!s || SSL_set_fd(ssl, fd) != 1) {
        ssl_error_text(err, errlen, "cannot start TLS");
        SSL_free(ssl);
        free(s);
        return NULL;
    }
    if (t->is_server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        unsigned char addr[16];
        bool is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
        /* RFC 6066 3: SNI carries host names only, never IP addresses. */
        if (!is_ip)
            SSL_set_tlsext_host_name(ssl, host);
        if (!t->is_insecure) {
            X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
            int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
                           : X509_VERIFY_PARAM_set1_host(vp, host, 0);
            if (ok != 1) {
                ssl_error_text(err, errlen, "cannot set the host name to verify");
                SSL_free(ssl);
                free(s);
                return NULL;
            }
        }
    }
    s->ops = &tls_ops;
    s->fd = fd;
    s->impl = ssl;
    return s;
}
