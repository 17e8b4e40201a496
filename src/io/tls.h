/* SPDX-License-Identifier: MIT */
/* tls: OpenSSL behind the stream interface. Verification is on by default
 * (system trust store, SSL_CERT_FILE and SSL_CERT_DIR honoured, or --ca),
 * with SNI, host name or IP address checks, ALPN http/1.1 (and h2 when
 * asked) and TLS 1.2 at least. The handshake runs inside the first reads and writes, so the poll
 * loop drives it like any other I/O. Knows nothing of WebSocket. */
#ifndef WSC_TLS_H
#define WSC_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "stream.h"

struct tls_options {
    bool is_server;
    bool is_insecure;       /* -k: no certificate verification */
    const char *ca_file;    /* --ca */
    const char *cert_file;  /* --cert (a server's certificate when listening) */
    const char *key_file;   /* --key */
    const char *passphrase; /* --passphrase */
    bool offers_h2;         /* --http2: client offers ALPN h2 first; a server chooses it */
};

struct tls_context;

/* For a session that starts without TLS (ws://, or listening without --cert):
 * sets OpenSSL up only for what the opening handshake needs, SHA-1 and
 * base64, without reading openssl.cnf or building the tables and the random
 * generator that TLS needs. Call it before any other OpenSSL call. Should TLS
 * come later after all (a redirect to wss://), tls_context_new() reads
 * openssl.cnf then, so the system's policy still applies. Returns -1 when
 * OpenSSL cannot be initialised. */
int tls_init_without_tls(void);

/* Returns NULL with a one-line reason in err. */
struct tls_context *tls_context_new(const struct tls_options *o, char *err, size_t errlen);
void tls_context_free(struct tls_context *ctx);
/* A TLS stream over a connected socket. host is the name to verify and send
 * as SNI (client side; an IP address is checked against the certificate's
 * IP entries). */
struct stream *stream_new_tls(struct tls_context *ctx, int fd, const char *host, char *err,
                              size_t errlen);

/* Drives the handshake without reading or writing application data: 0 once
 * done, STREAM_AGAIN (poll with stream_poll_events) or STREAM_ERROR. */
int tls_handshake(struct stream *s);
/* Whether ALPN chose h2 (RFC 9113 3.2); false before the handshake ends. */
bool tls_is_h2(const struct stream *s);

#endif
