/* SPDX-License-Identifier: MIT */
/* replay: the schedule of --replay. From a recording's events it keeps, for
 * the side wsc plays, when each of its messages may go (after as many of
 * the other side's messages as in the recording, and the recorded gap,
 * divided by --replay-speed), and for the other side a digest of each
 * message, to say which received message differs. Pure: the caller reads
 * the recording (twice: once to build this, once to stream its own
 * messages' payloads), sends, and owns the clock. Memory: a few dozen bytes
 * per message, whatever their size. */
#ifndef WSC_REPLAY_H
#define WSC_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "ws.h"

/* How long a message the recording awaits may take, unless --timeout. */
#define REPLAY_DEFAULT_MISSING_MS 10000

struct replay_msg {
    enum rec_type type; /* REC_TEXT, REC_BINARY, or REC_CLOSE (own side only) */
    int64_t t;          /* ms in the recording (0 when it had none) */
    uint64_t len;
    uint64_t awaits;          /* own: the other side's messages that came before it */
    unsigned char digest[32]; /* other side: SHA-256 of the payload */
    int code;                 /* close: -1 none */
    unsigned long line;
    int64_t arrived_ms; /* other side: when it came in this run; -1 not yet */
};

struct replay {
    enum rec_from role; /* the side wsc plays */
    unsigned client;    /* the recorded client replayed (listen recordings) */
    bool has_client;    /* client chosen (by --replay-client or the first seen) */
    double speed;       /* gaps are divided by it; 0: no gaps */
    long missing_ms;
    struct replay_msg *own, *other; /* owned */
    size_t num_own, num_other, cap_own, cap_other;
    bool other_closed_first; /* the recording's other side closed first */
    /* the run */
    int64_t start_ms;
    size_t next_own;
    int64_t last_sent_ms;
    size_t received; /* the other side's messages so far */
    int64_t wait_since_ms;
    int64_t deadline_ms;
    unsigned long differences;
    /* the message being received */
    void *md; /* EVP_MD_CTX; owned */
    enum ws_opcode rx_op;
    uint64_t rx_len;
    bool rx_failed;
};

/* client: 0 replays the first client the recording names (or the only
 * conversation of a client-role recording). */
void replay_init(struct replay *r, enum rec_from role, unsigned client, double speed);
void replay_free(struct replay *r);
/* True for the events of the conversation being replayed that wsc sends:
 * the same test picks the payloads on the second read of the file. */
bool replay_is_own(struct replay *r, const struct rec_event *ev);
/* Adds one event of the recording, in file order; returns 0 or -1 (no
 * memory). Pings, pongs, incomplete messages and other clients are left out. */
int replay_add(struct replay *r, const struct rec_event *ev);

enum replay_action {
    REPLAY_SEND,    /* send own message *index (its payload from the file), then replay_sent() */
    REPLAY_CLOSE,   /* send the recorded close (own[*index].code, reason from the file) */
    REPLAY_WAIT,    /* nothing before replay_deadline() or a message */
    REPLAY_DONE,    /* every message sent and received */
    REPLAY_MISSING, /* an awaited message did not come in time: exit 7 */
};

void replay_start(struct replay *r, int64_t now_ms);
enum replay_action replay_next(struct replay *r, int64_t now_ms, size_t *index);
void replay_sent(struct replay *r, int64_t now_ms);
int64_t replay_deadline(const struct replay *r);
/* "message 3 of the server (line 12) did not come within 10 s" */
void replay_describe_missing(const struct replay *r, char *out, size_t outlen);

/* A message received from the peer, as it streams. replay_rx_end returns
 * true when it differs from the recording, with the reason in out:
 * "differs from recording at message N: ..." */
void replay_rx_begin(struct replay *r, enum ws_opcode op);
void replay_rx_data(struct replay *r, const uint8_t *p, size_t len);
bool replay_rx_end(struct replay *r, int64_t now_ms, char *out, size_t outlen);

#endif
