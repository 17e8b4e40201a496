/* SPDX-License-Identifier: MIT */
/* conn: one WebSocket connection's life, in either role: the opening
 * handshake without blocking, the engine fed from the stream, frames written
 * back, the closing handshake and its timers. What the peer sends goes to
 * the connection's local end (ends/end.h) without knowing its kind; the end
 * sends back through conn_send_*(). Backpressure both ways: the peer is read
 * only while the end can take more, and an end produces only while
 * conn_can_send() holds. */
#ifndef WSC_CONN_H
#define WSC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/handshake.h"
#include "core/http.h"
#include "core/ws.h"
#include "io/stream.h"
#include "ui/options.h"
#include "ui/output.h"

/* Bytes queued to a peer before its end stops producing. The kernel's socket
 * buffer holds more beyond it: a larger queue adds memory, not speed. */
#define CONN_HIGH_WATER (128 * 1024)
#define CONN_TEXT_MAX 600 /* longest message or reason kept for a report */

/* How a connection ended; main turns this into a message and exit status. */
enum conn_outcome {
    OUTCOME_NONE,
    OUTCOME_CLOSED,        /* closing handshake completed */
    OUTCOME_LOST,          /* TCP ended without a close frame */
    OUTCOME_PROTOCOL,      /* the peer broke RFC 6455; we closed */
    OUTCOME_HANDSHAKE,     /* opening handshake refused or impossible */
    OUTCOME_REDIRECT,      /* 3xx: hs.location says where */
    OUTCOME_RETRY_VERSION, /* 426 naming a version we speak */
    OUTCOME_NO_CLOSE_REPLY,/* our close was not answered in time */
    OUTCOME_PING_TIMEOUT,  /* --ping-timeout passed without a pong */
    OUTCOME_TLS,           /* TLS handshake or certificate failure */
    OUTCOME_IO,            /* read/write error, stdin or stdout failure */
    OUTCOME_INTERRUPTED,   /* a second Ctrl-C */
};

/* How a connection ended, for main's report (conn_get_result copies it out). */
struct conn_result {
    enum conn_outcome kind;
    bool closed_by_peer;
    unsigned close_code;     /* the peer's close code (OUTCOME_CLOSED) */
    char close_reason[128];
    unsigned sent_code;      /* the code we sent */
    struct hs_result hs;     /* client: what the answer said, when the handshake failed */
    char message[CONN_TEXT_MAX]; /* what went wrong, for OUTCOME_* errors */
    bool input_failed;       /* the message is about stdin */
    bool was_closing;        /* we had started to close (end of input, Ctrl-C, /close) */
    char unmet[CONN_TEXT_MAX]; /* an expectation, script or replay not met: why (exit 7) */
};

/* The same, as a connection keeps it while it lives. Small, since a server
 * keeps one for every client: each text is allocated when it is said, and
 * is NULL until then (or when it was empty, or memory was short: the
 * outcome stands without its text). */
struct conn_ending {
    enum conn_outcome kind;
    bool closed_by_peer;
    bool input_failed;       /* the message is about stdin */
    bool is_unmet;           /* an expectation, script or replay was not met (exit 7) */
    unsigned close_code;     /* the peer's close code (OUTCOME_CLOSED) */
    unsigned sent_code;      /* the code we sent */
    char *close_reason;      /* the peer's, sanitised for printing; owned */
    char *message;           /* what went wrong; owned */
    char *unmet;             /* why the expectation was not met; owned */
};

/* Client role, from the request until the WebSocket is open, or until the
 * end when the handshake fails (main reads why: a redirect, a version to
 * retry): the request and what its answer said. */
struct conn_client_hs {
    struct hs_client req;    /* with its own nonce */
    struct hs_result answer;
};

/* What every connection of one run shares. */
struct conn_env {
    const struct options *opt;
    struct output *out;
    struct hs_client *hs; /* client role: the request to send */
    uint8_t *rbuf;        /* socket reads; owned by the loop */
    size_t rbuf_size;
};

/* What a server learnt from the request, for a local end that needs it
 * (--exec's environment). Valid during the open op only. */
struct conn_request {
    const struct http_head *head;
    const char *remote_addr; /* numeric, without brackets */
    unsigned remote_port;
    const char *local_addr;
    unsigned local_port;
    bool is_tls;
};

enum conn_phase {
    CONN_HANDSHAKE, /* HTTP upgrade in progress */
    CONN_OPEN,      /* the ws engine runs, until both closes are exchanged */
    CONN_DRAIN,     /* WebSocket closed; flushing and waiting for the TCP close */
    CONN_DONE,
};

/* A ping whose pong is timed (/ping), while it waits for the pong. */
struct conn_timed_ping {
    long sent_at; /* ms */
    size_t len;
    uint8_t payload[WS_MAX_CONTROL];
};

struct local_end;
struct conn_tap;

struct conn {
    struct conn_env *env;
    unsigned id;
    struct stream *stream;      /* owned */
    struct local_end *end;      /* owned; NULL until conn_set_end */
    enum conn_phase phase;
    bool is_server;
    bool is_dialing;            /* the stream is still connecting (--tcp-listen); stays set
                                   when it never connected */
    struct conn_client_hs *client_hs; /* client role, during the handshake; owned */
    struct buf in;              /* handshake bytes received; owned; freed once used */
    struct buf hs_out;          /* handshake bytes to send; owned; freed once sent */
    bool close_after_write;     /* a refused handshake: answer, then hang up */
    bool is_half_closed;        /* our side of the TCP connection is shut */
    struct ws_conn ws;          /* valid from CONN_OPEN on */
    bool has_ws;
    long deadline;              /* ms; 0: none */
    long close_wait_cap;        /* ms: the peer's bytes push the wait for its close reply
                                   (deadline) no further; 0: not waiting */
    long next_ping;             /* --ping-interval: when the next ping goes; 0: off */
    long pong_deadline;         /* a keepalive ping awaits its pong until then; 0: none */
    struct conn_timed_ping *timed_ping; /* owned; NULL: none waits */
    bool eof;
    bool is_closing;            /* we asked to close (end of input, Ctrl-C, /close) */
    bool has_told_end;          /* the end has heard that the connection is over */
    bool is_h2_preface;         /* listening: the client speaks HTTP/2; see conn_take_h2 */
    bool is_sending_message;    /* a message we send is between its first and last frame */
    bool is_run_over;           /* --timeout passed: the close is the run's end */
    bool is_output_resting;     /* nothing written since the last turn: see rest_output */
    struct hs_server_result *held; /* server: the answer the local end holds back; owned */
    struct conn_tap *taps;      /* what watches the connection (taps/tap.h); owned */
    struct conn_ending res;
    char name[];                /* the peer's address, for notes */
};

struct conn *conn_new(struct conn_env *env, unsigned id, struct stream *s, bool is_server,
                      const char *name);
/* Frees the connection and its local end. */
void conn_free(struct conn *c);
/* How the connection ended, for the report. */
void conn_get_result(const struct conn *c, struct conn_result *res);
/* Gives the connection its local end (owned from now on). */
void conn_set_end(struct conn *c, struct local_end *e);

/* Adds a tap, which sees both directions from now on (owned from now on). */
void conn_add_tap(struct conn *c, struct conn_tap *t);

/* Client role: queues the opening request, with a fresh nonce. */
int conn_start_client(struct conn *c);
/* Server role: refuses the client with an HTTP status and hangs up. */
void conn_refuse(struct conn *c, int status, const char *why);

/* Server role: the local end held the answer to the request (its
 * hold_answer op); it gives it now. status 101 accepts, with the subprotocol
 * the end chose (NULL or "": none); anything else refuses with why. */
void conn_answer(struct conn *c, int status, const char *subprotocol, const char *why);

/* The descriptor to wait on (-1: none this turn) and its poll events. */
int conn_poll(const struct conn *c, short *events);
/* The socket is ready (revents from the wait; 0 when only time passed). */
void conn_service(struct conn *c, short revents);
/* Timers, queued output and moving on to the next phase; once per turn. */
void conn_tick(struct conn *c, long now);
/* The earliest deadline of the connection and its end (ms; -1: none; 0 when
 * work is waiting that no poll event will announce). */
long conn_next_deadline(const struct conn *c, long now);
/* Both the connection and its local end are over: it may be freed. */
bool conn_is_finished(const struct conn *c);
/* Listening with --http2: the client sent the HTTP/2 preface, so this is
 * no WebSocket but a session of them. Gives the stream and the bytes read
 * so far (in early) to the caller, and leaves the connection to be freed. */
struct stream *conn_take_h2(struct conn *c, struct buf *early);

/* For local ends. */
bool conn_is_open(const struct conn *c);  /* data may be sent */
bool conn_can_send(const struct conn *c); /* open and below the high-water mark */
size_t conn_queued(const struct conn *c);  /* bytes of frames not yet written to the peer */
int conn_send_frame(struct conn *c, enum ws_opcode op, bool is_final, const void *p, size_t len);
int conn_send_message(struct conn *c, enum ws_opcode op, const void *p, size_t len);
/* A ping whose pong is timed (is_timed: say the round-trip time). */
int conn_send_ping(struct conn *c, const void *p, size_t len, bool is_timed);
int conn_send_pong(struct conn *c, const void *p, size_t len);
int conn_send_raw(struct conn *c, const struct ws_frame_header *h, const void *p);
/* Starts the closing handshake (none before the 101 or after it started). */
void conn_close(struct conn *c, unsigned code, const char *reason);
/* Records how the connection ended, if nothing was recorded yet. */
void conn_set_outcome(struct conn *c, enum conn_outcome kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An expectation, the script or the replay was not met (the first reason
 * wins; exit status 7); listening, the line is said at once. */
void conn_fail_expectation(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Ends the connection at once (interrupted, or its end failed beyond a close). */
void conn_abort(struct conn *c, enum conn_outcome kind, const char *why);

/* Random bytes for masks and nonces. */
int conn_random(void *ctx, uint8_t *p, size_t n);

#endif
