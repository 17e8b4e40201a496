/* SPDX-License-Identifier: MIT */
/* conn_internal: what conn.c (a connection's life once open) and opening.c
 * (its opening handshake) share, and nothing else includes. */
#ifndef WSC_CONN_INTERNAL_H
#define WSC_CONN_INTERNAL_H

#include "conn.h"

/* Milliseconds from now on net_now_ms's clock. */
long conn_ms_from(double seconds);
/* Records how the connection ended (the first reason wins) and moves on to
 * flushing what is queued. */
void conn_finish(struct conn *c, enum conn_outcome kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A failed read or write: TLS failures are told apart from lost sockets. */
void conn_stream_failed(struct conn *c, enum conn_outcome kind);
/* -v: a head sent ('>') or received ('<'). */
void conn_verbose_head(const struct conn *c, char dir, const char *head, size_t len);
/* The WebSocket is open: the engine starts (dp: the deflate agreed, or NULL). */
void conn_open_engine(struct conn *c, enum ws_role role, const struct ws_deflate_params *dp);
/* ... and then the local end (server: req tells the request). */
void conn_open_end(struct conn *c, const struct conn_request *req);
/* CONN_HANDSHAKE: the stream is readable (opening.c). */
void conn_read_handshake(struct conn *c);

#endif
