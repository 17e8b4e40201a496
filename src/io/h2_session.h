/* SPDX-License-Identifier: MIT */
/* h2_session: what h2.c (the connection) and h2_stream.c (the WebSockets
 * on its streams) share; nothing else includes it. */
#ifndef WSC_H2_SESSION_H
#define WSC_H2_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

#include "h2.h"

#define STREAM_WINDOW (1 << 20)        /* what one stream may send us unread */

/* One HTTP/2 connection. Freed when its last stream is freed and no one
 * holds it: a listener (server) until it releases it, a client that keeps
 * it for more streams until it lets go. */
struct h2_session {
    nghttp2_session *ng;
    struct stream *transport; /* owned */
    bool is_server;
    bool is_tls;
    bool is_alpn_checked;
    bool has_settings;     /* the peer's first SETTINGS came */
    bool has_ping_sent;    /* client: the PING that bounds the wait for more SETTINGS */
    bool has_ping_ack;     /* ... and its answer came */
    bool is_eof;           /* the transport ended */
    bool is_dead;          /* no stream can go on; error says why */
    bool is_broken;        /* the transport failed: nothing more to send */
    bool is_no_websockets; /* dead because the peer has no RFC 8441 */
    bool has_goaway;
    uint32_t goaway_code;
    bool is_released;      /* server: the listener let go */
    bool is_kept;          /* client: kept for more streams (--tcp-listen) */
    char error[256];
    char detail[160];      /* nghttp2's last word on an error */
    struct buf out;        /* session bytes the transport did not take yet; owned */
    struct h2_stream *streams; /* every stream not yet freed, newest first */
};

/* One WebSocket. Owned by its struct stream (impl); the session links it
 * while both live. */
struct h2_stream {
    struct h2_session *h;
    struct h2_stream *next;
    struct stream *self;
    int32_t id;                /* 0 until submitted */
    struct hs_fields *request; /* client: to send; server: received; owned */
    struct hs_fields *answer;  /* client: received; owned */
    bool is_submitted;         /* client: the request went out */
    bool is_head_done;         /* the peer's head (request or answer) is complete */
    bool is_accepted;          /* server: handed to the listener */
    bool is_responded;         /* server: the answer went out */
    bool is_too_large;         /* the peer's head did not fit */
    struct buf in;             /* DATA received, not yet read; owned */
    struct buf out;            /* bytes to send as DATA; owned */
    bool is_deferred;          /* the data source waits for bytes */
    bool wants_end;            /* END_STREAM once out is sent */
    bool is_remote_ended;      /* END_STREAM came */
    bool is_closed;            /* nghttp2 is done with it */
    uint32_t close_code;
    bool is_reset_by_us;       /* nghttp2 or we sent its RST_STREAM */
    bool is_end_sent;          /* our END_STREAM went out */
    bool is_orphan;            /* its caller let go before our END_STREAM went out */
    bool caller_wants_read;
    bool has_news;             /* something a read must report came */
    const char *body;          /* server: an error answer's content; borrowed */
    size_t body_len;
};

/* the connection (h2.c) */
struct h2_session *h2_session_new(struct stream *transport, bool is_server, bool is_tls,
                                  char *err, size_t errlen);
void h2_session_free(struct h2_session *h);
/* Ends every stream of h with a reason (printf format). */
void h2_session_fail(struct h2_session *h, bool is_no_websockets, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Everything that can move now, both ways. */
void h2_pump(struct h2_session *h);
/* Session bytes to the transport until it would block. */
void h2_send_all(struct h2_session *h);
/* Client: the requests that wait for the server's SETTINGS. */
void h2_submit_waiting(struct h2_session *h);
short h2_session_events(struct h2_session *h);
bool h2_has_accepted(const struct h2_session *h);

/* its streams (h2_stream.c) */
struct h2_stream *h2_stream_new(struct h2_session *h);
void h2_stream_destroy(struct h2_stream *st);
void h2_submit_request(struct h2_session *h, struct h2_stream *st);
/* Streams whose WebSocket is over and whose END_STREAM went out, but whose
 * peer has not ended its side (a proxy may never do so): each counts
 * against SETTINGS_MAX_CONCURRENT_STREAMS while it lasts. The newest
 * LINGER_MAX are left to the peer; older ones are told they need not
 * (RST_STREAM NO_ERROR, RFC 9113 8.1), by then long forwarded. */
#define LINGER_MAX 16
void h2_release_lingering(struct h2_session *h);
/* Frees a stream whose caller let go once nghttp2 is done with it. */
void h2_stream_drop_orphan(struct h2_session *h, struct h2_stream *st);

#endif
