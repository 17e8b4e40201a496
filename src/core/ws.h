/* SPDX-License-Identifier: MIT */
/* ws: the sans-I/O WebSocket engine of RFC 6455, for both roles. Bytes from
 * the peer go in through ws_feed() and come out as events; frames to send are
 * encoded into an output buffer that the caller drains. It never touches a
 * socket, prints, sleeps or keeps global state. */
#ifndef WSC_WS_H
#define WSC_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "utf8.h"

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_NO_STATUS = 1005,
    WS_CLOSE_ABNORMAL = 1006,
    WS_CLOSE_INVALID_DATA = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_MANDATORY_EXT = 1010,
    WS_CLOSE_INTERNAL = 1011,
};

enum ws_role { WS_ROLE_CLIENT, WS_ROLE_SERVER };

enum ws_state {
    WS_STATE_OPEN,
    WS_STATE_CLOSE_SENT,     /* our close is out; the peer's has not come */
    WS_STATE_CLOSED,         /* both closes exchanged */
    WS_STATE_FAILED,         /* the peer broke the protocol; our close is out */
};

#define WS_MAX_CONTROL 125
#define WS_MAX_HEADER 14

struct ws_frame_header {
    bool is_final;
    uint8_t rsv;    /* RSV1..3 as bits 2..0 (0x4 is RSV1) */
    uint8_t opcode;
    bool has_mask;
    uint8_t mask[4];
    uint64_t len;
};

/* Callbacks; any may be NULL. Payload pointers are valid only during the call. */
struct ws_events {
    void *ctx;
    /* Every frame header, both ways (for traces). For outgoing frames the
     * preview is the payload before masking; for incoming ones, the first
     * bytes of the payload that had arrived with the header. */
    void (*frame)(void *ctx, bool is_outgoing, const struct ws_frame_header *h,
                  const uint8_t *preview, size_t preview_len);
    void (*message_begin)(void *ctx, enum ws_opcode op);
    /* Message payload as it streams in: unmasked, inflated, and for text
     * validated UTF-8 up to this point. */
    void (*message_data)(void *ctx, const uint8_t *p, size_t len);
    void (*message_end)(void *ctx);
    void (*ping)(void *ctx, const uint8_t *p, size_t len);
    void (*pong)(void *ctx, const uint8_t *p, size_t len);
    /* The peer's close frame; code is WS_CLOSE_NO_STATUS when it had none. */
    void (*close)(void *ctx, unsigned code, const uint8_t *reason, size_t len);
    /* A whole message that came in one frame, validated like message_data:
     * when set, such a message is given here at once instead of through
     * message_begin, message_data and message_end (which still carry every
     * other message). Last, so that positional initialisers stay valid. */
    void (*message)(void *ctx, enum ws_opcode op, const uint8_t *p, size_t len);
};

/* Fills p with n random bytes; returns 0 on success. Masking keys come from it. */
typedef int (*ws_random_fn)(void *ctx, uint8_t *p, size_t n);

struct ws_inflater; /* permessage-deflate receive side (deflate.h) */
struct ws_deflater; /* permessage-deflate send side */

struct ws_config {
    enum ws_role role;
    uint64_t max_message; /* 0: no limit */
    ws_random_fn random;
    void *random_ctx;
    struct ws_events events;
};

struct ws_error {
    unsigned code;     /* close code sent for it */
    char reason[160];  /* names the rule the peer broke */
};

struct ws_conn {
    struct ws_config cfg;
    enum ws_state state;
    bool closed_by_peer;        /* the peer's close came first */
    unsigned peer_close_code;   /* valid once the peer's close arrived */
    bool has_peer_close;
    unsigned sent_close_code;
    struct ws_error error;      /* valid in WS_STATE_FAILED */
    struct buf out;             /* encoded frames waiting to be written; owned */

    /* decoder */
    uint8_t hdr[WS_MAX_HEADER];
    size_t hdr_len;
    struct ws_frame_header frame;
    uint64_t frame_left;        /* payload bytes of this frame still to come */
    size_t mask_phase;          /* offset of the next payload byte mod 4 */
    uint8_t ctrl[WS_MAX_CONTROL];
    size_t ctrl_len;
    bool in_message;            /* a fragmented data message is open */
    bool is_text;
    bool is_compressed;
    uint64_t message_len;       /* delivered bytes of the open message */
    struct utf8_state utf8;

    /* extensions; NULL when not negotiated */
    struct ws_inflater *inflater;
    struct ws_deflater *deflater;

    /* encoder */
    bool sending_message;       /* our fragmented message is open */
    uint8_t rnd[64];           /* masking keys, refilled from cfg.random 16 at a time */
    size_t rnd_pos;
};

void ws_init(struct ws_conn *c, const struct ws_config *cfg);
void ws_free(struct ws_conn *c);

/* Feeds bytes from the peer. The buffer is unmasked in place. Returns 0, or
 * -1 when the peer broke the protocol: c->error says how, a close frame with
 * its code is queued, and later input is ignored. */
int ws_feed(struct ws_conn *c, uint8_t *p, size_t len);

/* Queues one frame of a data message: op is TEXT or BINARY for the first
 * frame, CONT for the rest; is_final ends the message. Returns -1 when no
 * data may be sent any more (our close is out) or memory is exhausted. */
int ws_send_frame(struct ws_conn *c, enum ws_opcode op, bool is_final, const void *p, size_t len);
int ws_send_message(struct ws_conn *c, enum ws_opcode op, const void *p, size_t len);
int ws_send_ping(struct ws_conn *c, const void *p, size_t len);
int ws_send_pong(struct ws_conn *c, const void *p, size_t len);
/* Starts the closing handshake; code 0 sends a close frame with no payload.
 * The reason is cut to fit a control frame. */
int ws_send_close(struct ws_conn *c, unsigned code, const char *reason, size_t len);
/* Queues a frame exactly as described, for testing peers: any opcode and RSV
 * bits, masked or not, whatever the state. */
int ws_send_raw(struct ws_conn *c, const struct ws_frame_header *h, const void *p);

/* True for codes an endpoint may put in a close frame (RFC 6455 7.4). */
bool ws_close_code_is_sendable(unsigned code);
/* A short description of a close code: "normal closure", "going away"... */
const char *ws_close_code_name(unsigned code);
const char *ws_opcode_name(unsigned op);

/* For extensions (deflate.c): fail the connection with a code and reason;
 * deliver plain message bytes (size limit, UTF-8 check, event); queue a data
 * frame whose RSV1 bit is decided by the caller. */
int ws_fail(struct ws_conn *c, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ws_deliver(struct ws_conn *c, const uint8_t *p, size_t len);
int ws_emit_data_frame(struct ws_conn *c, unsigned op, bool has_rsv1, bool is_final,
                       const void *p, size_t len);

/* Bytes to write to the peer. */
static inline struct buf *ws_output(struct ws_conn *c) { return &c->out; }
/* True when incoming messages may be compressed (permessage-deflate): a
 * few bytes fed may then deliver up to a thousand times as many. */
static inline bool ws_inflates(const struct ws_conn *c) { return c->inflater != NULL; }
/* True once nothing more will be sent or received at the WebSocket level. */
static inline bool ws_is_done(const struct ws_conn *c)
{
    return c->state == WS_STATE_CLOSED || c->state == WS_STATE_FAILED;
}

#endif
