/* SPDX-License-Identifier: MIT */
/* record: --record files, written and read. A recording is JSON lines in
 * the --jsonl shape (jsonl.c) plus "from" (the side that sent it) and "t"
 * (ms since the connection opened); its first line is the opening. The
 * writer streams a message into its line as it arrives; the reader turns a
 * file back into events in bounded memory. Pure: the caller moves the bytes
 * to and from the file and owns the clock.
 *
 * Lines (one JSON object each, in the order things happened):
 *   {"type":"open","time":T,["client":N,]"t":0,"url":U,"role":"client",
 *    "request":{"Origin":...},"response":{"Sec-WebSocket-Protocol":...}}
 *   {"type":"text","opcode":1,"time":T,["client":N,]"from":"server","t":12,
 *    "data":"...","length":5}                      (binary: "encoding":"base64")
 *   {"type":"ping"|"pong",...,"data":...,"length":N}
 *   {"type":"close",...,"code":1000,"reason":"...","length":N}
 * At most one line is open at a time. When something else must be written
 * while a message's line is open (a control frame inside it, the other
 * direction, another client), that line ends as a part, with "more":true,
 * and the message goes on later in a line with "opcode":0; "length" counts
 * the bytes of each line. A message cut short ends with "incomplete":true. */
#ifndef WSC_RECORD_H
#define WSC_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "jsonl.h"
#include "ws.h"

enum rec_from { REC_FROM_NONE, REC_FROM_CLIENT, REC_FROM_SERVER };

const char *rec_from_name(enum rec_from from); /* "client", "server" or NULL */

/* When an event happened: the wall clock for "time" (RFC 3339 UTC; NULL:
 * left out) and ms since the connection opened. */
struct rec_stamp {
    const char *time;
    int64_t t;
};

/* ---- writer ---- */

/* One direction of one connection; owned by the caller (one per side). */
struct rec_stream {
    unsigned client; /* listen mode: the client's id; 0 otherwise */
    enum rec_from from;
    bool in_message;
    enum ws_opcode op;
    bool has_part; /* a part of the message was written: the rest continues */
    struct jsonl_data jd;
    uint8_t carry[4]; /* bytes held across a part's end (a split character) */
    size_t carry_len;
};

struct rec_writer {
    struct buf out;          /* bytes for the file, not yet written; owned */
    struct rec_stream *open; /* the stream whose line is open; NULL when none */
    bool has_secrets;        /* --record-secrets: header values as they are */
};

/* Unwritten bytes beyond this go to the file even mid-line. */
#define REC_WRITE_AT (64 * 1024)

void rec_writer_init(struct rec_writer *w, bool has_secrets);
void rec_writer_free(struct rec_writer *w);
void rec_stream_init(struct rec_stream *s, unsigned client, enum rec_from from);
/* True when out should be written now: it ends a line (so a killed wsc
 * leaves whole lines), or a long line has grown past REC_WRITE_AT. */
bool rec_writer_wants_write(const struct rec_writer *w);

struct rec_header {
    const char *name;
    const char *value;
};
/* The opening. Only the headers that matter to a replay are kept:
 * request Origin, Sec-WebSocket-Protocol, Sec-WebSocket-Extensions,
 * Authorization, Cookie; response Sec-WebSocket-Protocol,
 * Sec-WebSocket-Extensions, Set-Cookie. Credentials (Authorization,
 * Proxy-Authorization, Cookie, Set-Cookie) are "***" unless has_secrets. */
struct rec_open {
    const char *url;
    enum rec_from role; /* the side wsc played */
    const struct rec_header *request;
    size_t num_request;
    const struct rec_header *response;
    size_t num_response;
};
int rec_write_open(struct rec_writer *w, const struct rec_open *o, unsigned client,
                   const struct rec_stamp *st);

/* A data message, as it streams; every call returns 0 or -1 (no memory). */
int rec_message_begin(struct rec_writer *w, struct rec_stream *s, enum ws_opcode op,
                      const struct rec_stamp *st);
int rec_message_data(struct rec_writer *w, struct rec_stream *s, const uint8_t *p, size_t len,
                     const struct rec_stamp *st);
int rec_message_end(struct rec_writer *w, struct rec_stream *s, const struct rec_stamp *st);
/* The message will never be complete: its line says "incomplete":true. */
int rec_message_abort(struct rec_writer *w, struct rec_stream *s, const struct rec_stamp *st);
/* A ping or pong. */
int rec_control(struct rec_writer *w, struct rec_stream *s, enum ws_opcode op, const uint8_t *p,
                size_t len, const struct rec_stamp *st);
/* A close frame; code WS_CLOSE_NO_STATUS (1005) when it had none. */
int rec_close(struct rec_writer *w, struct rec_stream *s, unsigned code, const uint8_t *reason,
              size_t len, const struct rec_stamp *st);

/* ---- reader ---- */

enum rec_type { REC_OPEN, REC_TEXT, REC_BINARY, REC_PING, REC_PONG, REC_CLOSE };

struct rec_event {
    enum rec_type type;
    enum rec_from from; /* REC_FROM_NONE for the opening */
    unsigned client;    /* 0: none */
    int64_t t;          /* ms; -1 when the line had none */
    unsigned long line; /* where the event starts (a message's first part) */
    struct buf payload; /* the message, ping or pong data, or a close's reason; owned */
    int code;           /* close: -1 when the frame had no status */
    bool is_incomplete; /* a message that was cut short */
    /* REC_OPEN */
    enum rec_from role;
    char url[2048];
    char subprotocol[256]; /* the response's Sec-WebSocket-Protocol */
    char extensions[512];  /* the response's Sec-WebSocket-Extensions */
};

/* Messages open in parts at once (one per client and direction). */
#define REC_MAX_PARTIAL 64

struct rec_partial {
    bool is_used;
    unsigned client;
    enum rec_from from;
    enum rec_type type;
    int64_t t;
    unsigned long line;
    struct buf data; /* owned */
};

enum rec_result {
    REC_MORE,  /* every byte used; feed more (or finish at the end of the file) */
    REC_EVENT, /* rec_reader_event() holds an event */
    REC_ERROR, /* rec_reader_error() says why, with the line number */
    REC_DONE,  /* finish: the file ended */
};

struct rec_reader {
    uint64_t max_message; /* 0: no limit */
    unsigned long line;   /* the line being read (1-based) */
    bool has_error;
    char error[200];
    bool was_cut; /* the file ended inside a line or a message */
    struct rec_event ev;
    struct rec_partial partial[REC_MAX_PARTIAL];
    /* the line being parsed (see record.c) */
    int state, ret_state;
    int depth;
    bool is_line_empty;
    char key[32], key2[40]; /* member names at depth 1 and 2; "" when too long */
    size_t key_len;
    char scalar[48]; /* a number or literal being read */
    size_t scalar_len;
    uint32_t uhex, high; /* a \u escape, and a high surrogate before it */
    int uhex_len;
    struct buf *sink; /* where the string's bytes go; NULL: dropped */
    size_t sink_max;
    struct buf data; /* this line's "data" or "reason"; owned */
    struct buf sval; /* a short string value; owned */
    /* the fields of the line */
    char type[16], from[16], encoding[16], role[16];
    bool has_opcode, has_client, has_t, has_code, has_length, has_data, is_more, is_incompl;
    int64_t opcode, client, t, code, length;
};

void rec_reader_init(struct rec_reader *r, uint64_t max_message);
void rec_reader_free(struct rec_reader *r);
/* Reads p[0, len) until an event is complete (REC_EVENT, *used bytes used),
 * all is used (REC_MORE) or the text is not a recording (REC_ERROR). The
 * event stays valid until the next call. */
enum rec_result rec_reader_feed(struct rec_reader *r, const uint8_t *p, size_t len, size_t *used);
/* At the end of the file: an event for a last line without its newline, or
 * REC_DONE. A line or message that a killed wsc left unfinished is dropped
 * and was_cut says so. */
enum rec_result rec_reader_finish(struct rec_reader *r);
const struct rec_event *rec_reader_event(const struct rec_reader *r);
const char *rec_reader_error(const struct rec_reader *r);

#endif
