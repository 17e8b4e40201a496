/* SPDX-License-Identifier: MIT */
/* h2: WebSockets over HTTP/2 (RFC 8441). One HTTP/2 session, libnghttp2
 * used sans-I/O (bytes in through mem_recv, bytes out through mem_send),
 * over a plain or TLS stream, and each WebSocket as a stream of its own on
 * top of it, so that the engine above sees bytes as over TCP. Flow control
 * follows the reader: a stream's WINDOW_UPDATE goes out only as its bytes
 * are read. Knows nothing of WebSocket framing; the handshake's header
 * lists are core/handshake's. */
#ifndef WSC_H2_H
#define WSC_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/handshake.h"
#include "core/http.h"
#include "stream.h"

/* Client: a session over transport (owned from now on, also on failure),
 * whose one stream will carry the extended CONNECT for c once the server's
 * SETTINGS allow it (RFC 8441 3). Over TLS, ALPN must choose h2. Returns
 * the stream, or NULL with a one-line reason in err. */
struct stream *h2_client_open(struct stream *transport, bool is_tls, const struct hs_client *c,
                              char *err, size_t errlen);

/* --tcp-listen: more WebSockets on one connection (RFC 8441's reason to
 * be). The session of a client stream; kept (is_kept) it outlives its
 * streams until let go, so that the next one can use it. */
struct h2_session *h2_stream_session(const struct stream *s);
void h2_client_keep(struct h2_session *h, bool is_kept);
/* Whether new streams can still go on h. */
bool h2_session_is_usable(const struct h2_session *h);
/* A new stream of h for the extended CONNECT of c, or NULL with err. */
struct stream *h2_client_open_stream(struct h2_session *h, const struct hs_client *c, char *err,
                                     size_t errlen);

/* Whether s is a stream of an HTTP/2 session. */
bool h2_is_stream(const struct stream *s);
/* The HTTP/2 stream id; 0 until the request is sent. */
int32_t h2_stream_id(const struct stream *s);
/* The request's header list as "name: value" lines, for -v. */
int h2_request_text(const struct stream *s, struct buf *out);

enum h2_response {
    H2_WAIT = 0,           /* no answer yet: poll */
    H2_READY = 1,          /* the answer is in the head */
    H2_FAILED = -1,        /* s->error says why */
    H2_NO_WEBSOCKETS = -2, /* the server does not speak HTTP/2 or allow extended CONNECT:
                              s->error says which; HTTP/1.1 may work */
};

/* Client: the answer to the extended CONNECT. h's headers are the answer's
 * fields, pseudo-headers included; they point into s, valid while it
 * lives. */
enum h2_response h2_stream_response(struct stream *s, struct http_head *h);

/* ---- listening ---- */

/* The first bytes of an HTTP/2 connection with prior knowledge
 * (RFC 9113 3.4). */
#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24

/* Whether the first len bytes received could begin the preface (1: it is
 * complete, 0: too short to tell, -1: not HTTP/2). */
int h2_preface_match(const uint8_t *p, size_t len);

struct h2_session;

/* Server: a session over transport (owned from now on, also on failure)
 * that allows extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL = 1).
 * early: bytes already read from transport (the preface), fed first. */
struct h2_session *h2_server_new(struct stream *transport, const uint8_t *early,
                                 size_t early_len, char *err, size_t errlen);
/* The next stream whose request head has arrived, or NULL. The caller owns
 * it; the session lives until its last stream and h2_server_release. */
struct stream *h2_server_accept(struct h2_session *h);
/* The accepted stream's request head, as for h2_stream_response. */
int h2_stream_request(struct stream *s, struct http_head *h);
/* Answers an accepted stream with fields (a 200 keeps it open for the
 * WebSocket, another status ends it with body as its content). */
int h2_stream_respond(struct stream *s, const struct hs_fields *fields, const char *body);
/* The listener's end of the session: it ends with its last stream. */
void h2_server_release(struct h2_session *h);
/* For the listener's poll: the socket, events, and the same after the poll. */
int h2_session_fd(const struct h2_session *h);
short h2_session_poll_events(struct h2_session *h);
void h2_session_ready(struct h2_session *h, short revents);
/* Whether the connection is over and no stream is left to accept. */
bool h2_session_is_done(const struct h2_session *h);
/* Why it ended, if it failed. */
const char *h2_session_error(const struct h2_session *h);

#endif
