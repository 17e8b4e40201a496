/* SPDX-License-Identifier: MIT */
/* tap: what watches a connection without being its local end: the recorder
 * (--record) and the expectations (--until, --count). A tap sees both
 * directions: what the peer sends (the engine's events, before the local
 * end has them, so that an answer the end sends comes after its question)
 * and what is sent to it (conn_send_*, the engine's own pongs and close
 * replies). One ops table per kind; every op but free may be NULL. */
#ifndef WSC_TAP_H
#define WSC_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"

struct conn_tap;

struct conn_tap_ops {
    const char *type;
    /* The WebSocket is open (server: req tells the request; client: NULL). */
    void (*open)(struct conn_tap *t, const struct conn_request *req);
    /* is_sent: we send it; otherwise the peer sent it. */
    void (*message_begin)(struct conn_tap *t, bool is_sent, enum ws_opcode op);
    void (*message_data)(struct conn_tap *t, bool is_sent, const uint8_t *p, size_t len);
    void (*message_end)(struct conn_tap *t, bool is_sent);
    void (*message_abort)(struct conn_tap *t, bool is_sent);
    void (*control)(struct conn_tap *t, bool is_sent, enum ws_opcode op, const uint8_t *p,
                    size_t len);
    /* A close frame; code WS_CLOSE_NO_STATUS when it has none. */
    void (*close)(struct conn_tap *t, bool is_sent, unsigned code, const uint8_t *reason,
                  size_t len);
    /* The connection is over. */
    void (*ended)(struct conn_tap *t);
    void (*free)(struct conn_tap *t);
};

struct conn_tap {
    const struct conn_tap_ops *ops;
    struct conn *conn; /* borrowed */
    struct conn_tap *next;
};

/* Each call goes to every tap of the list, in order. */
void tap_open(struct conn_tap *t, const struct conn_request *req);
void tap_message_begin(struct conn_tap *t, bool is_sent, enum ws_opcode op);
void tap_message_data(struct conn_tap *t, bool is_sent, const uint8_t *p, size_t len);
void tap_message_end(struct conn_tap *t, bool is_sent);
void tap_message_abort(struct conn_tap *t, bool is_sent);
void tap_control(struct conn_tap *t, bool is_sent, enum ws_opcode op, const uint8_t *p,
                 size_t len);
void tap_close(struct conn_tap *t, bool is_sent, unsigned code, const uint8_t *reason,
               size_t len);
void tap_ended(struct conn_tap *t);
void tap_free_all(struct conn_tap *t);

/* The kinds, one file each. */
struct expect;
/* --until, --count: e (borrowed, shared by the run) is fed what the peer
 * sends; met, the connection closes with 1000; unmet at its end, exit 7. */
struct conn_tap *expect_tap_new(struct expect *e);
/* --record: both directions as JSON lines in the recorder's file. */
struct recorder;
struct conn_tap *record_tap_new(struct recorder *r);

#endif
