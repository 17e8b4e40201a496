/* SPDX-License-Identifier: MIT */
/* jsonl: WebSocket events as JSON lines, the one formatter behind --jsonl
 * (output.c) and --record (record.c). Pure: it appends to a buf the caller
 * owns and writes out; a message's data can be added as it streams in, so
 * a large message is never held. The caller closes each object ('}' and a
 * newline), after adding what it wants ("incomplete", "more"). */
#ifndef WSC_JSONL_H
#define WSC_JSONL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ws.h"

/* The fields every event starts with:
 *   {"type":"text","opcode":1,"time":"...","client":3,"from":"server","t":120
 * "type" names the kind (text, binary, ping, pong, close; "frame" for other
 * opcodes); "opcode" is 0 for a message's continuation part (record.c). */
struct jsonl_head {
    enum ws_opcode op;
    bool is_continuation;
    const char *time; /* RFC 3339 UTC; NULL: left out */
    unsigned client;  /* 0: left out */
    const char *from; /* "client" or "server"; NULL: left out */
    int64_t t;        /* ms since the connection opened; <0: left out */
};

const char *jsonl_type_name(enum ws_opcode op);
int jsonl_head(struct buf *out, const struct jsonl_head *h);

/* A data field written as it streams: text as a JSON string (control
 * characters, DEL and C1 controls escaped as \u00XX; a byte that is not
 * part of valid UTF-8 becomes \ufffd, since a JSON string holds characters
 * only), or base64 with "encoding":"base64" before it. A UTF-8 character
 * or a base64 group split across calls is held (at most 3 bytes) until the
 * rest comes. */
struct jsonl_data {
    bool is_base64;
    uint8_t pend[4]; /* held bytes */
    size_t pend_len;
    uint64_t len; /* payload bytes added */
};

/* ,"data":"   or   ,"encoding":"base64","data":" */
int jsonl_data_begin(struct buf *out, struct jsonl_data *d, bool is_base64);
int jsonl_data_add(struct buf *out, struct jsonl_data *d, const uint8_t *p, size_t len);
/* Writes what is held, the closing quote and ,"length":N (the bytes added). */
int jsonl_data_end(struct buf *out, struct jsonl_data *d);

/* A whole payload (pings, pongs): text when it is UTF-8, else base64. */
int jsonl_payload(struct buf *out, const uint8_t *p, size_t len);
/* A close frame's fields: ,"code":N (code < 0: none),"reason":"...","length":N
 * where length is the frame's payload (2 + the reason, or 0). */
int jsonl_close(struct buf *out, int code, const uint8_t *reason, size_t len);
/* "escaped value", quotes included, for short strings (URLs, headers). */
int jsonl_string(struct buf *out, const uint8_t *p, size_t len);
/* ,"name":"escaped value" */
int jsonl_string_field(struct buf *out, const char *name, const uint8_t *p, size_t len);

#endif
