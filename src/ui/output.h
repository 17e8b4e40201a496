/* SPDX-License-Identifier: MIT */
/* output: renders what arrives for a person or a pipe. Message bodies go to
 * stdout through one buffer, flushed once per loop turn and whenever it fills
 * (64 KiB); notes and errors go to stderr. Text is shown as is in a pipe and
 * with control characters escaped on a terminal; binary as a hex dump on a
 * terminal and raw bytes in a pipe, unless --binary-format says; --jsonl
 * makes every event one JSON line on stdout; --pretty re-indents JSON text.
 * Colour only where a person reads (a terminal, unless --color or NO_COLOR
 * say otherwise). */
#ifndef WSC_OUTPUT_H
#define WSC_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "jsonl.h"
#include "options.h"
#include "ws.h"

enum text_style {
    TEXT_RAW,     /* as is (a pipe) */
    TEXT_ESCAPED, /* control characters as \xNN (a terminal) */
};

struct output {
    struct buf out; /* stdout bytes not yet written; owned */
    bool is_tty;
    bool is_interactive; /* stdin is the console: prompt, "< " before messages */
    bool is_quiet;
    bool show_ping_pong;
    bool is_trace;
    bool has_timestamps; /* -T */
    bool is_jsonl;       /* --jsonl */
    bool is_pretty;      /* --pretty */
    bool is_plain;       /* a message is its bytes (and a newline after text), nothing more */
    bool has_color;      /* colour on stdout */
    bool has_color_err;  /* colour on stderr */
    enum binary_format binary;
    /* the message being shown */
    bool is_text;
    enum ws_opcode op;
    enum text_style style; /* how its text is written */
    bool has_lead;         /* a 0xC2 byte ended the last chunk (maybe a C1 control) */
    uint64_t offset;       /* bytes of the message so far (hex dump: put in lines) */
    uint8_t line[16];      /* hex dump: bytes of the unfinished line */
    size_t line_len;
    uint8_t b64[3]; /* base64: bytes waiting for a full group */
    size_t b64_len;
    struct buf pretty;  /* --pretty: the text being collected; owned */
    bool is_collecting; /* the message is going into pretty */
    struct buf held;    /* --jsonl: control events that came during the message; owned */
    struct jsonl_data jd; /* --jsonl: the data field of the message being received */
    unsigned source_id; /* listen mode: the client a message is from (0: none) */
    bool is_open;       /* a message is being received */
    size_t open_len;    /* its bytes at the end of out, not yet written */
    bool is_partial;    /* some of it was written already (a large message) */
    bool failed;        /* stdout is gone (EPIPE) or broken */
    int error_no;
};

void output_init(struct output *o, const struct options *opt);
void output_free(struct output *o);

void output_message_begin(struct output *o, enum ws_opcode op);
void output_message_data(struct output *o, const uint8_t *p, size_t len);
void output_message_end(struct output *o);
/* A whole message at once: the three calls above in one. */
void output_message(struct output *o, enum ws_opcode op, const uint8_t *p, size_t len);
/* The message being received will never be complete (the peer broke the
 * protocol or the connection was lost): drop what of it was not written,
 * or end its line if part of it was. */
void output_message_abort(struct output *o);
/* A ping or pong received: shown with -P (stderr, or a JSON line). */
void output_control(struct output *o, enum ws_opcode op, const uint8_t *p, size_t len);
/* The peer's close frame: a JSON line with --jsonl (otherwise the end of
 * the connection is reported by main). */
void output_close(struct output *o, unsigned code, const uint8_t *reason, size_t len);
void output_frame(struct output *o, bool is_outgoing, const struct ws_frame_header *h,
                  const uint8_t *preview, size_t preview_len);

/* --trace: the plain and compressed sizes of a compressed message. */
void output_deflate_sizes(struct output *o, bool is_outgoing, unsigned long long wire,
                          unsigned long long plain);

/* Writes what is buffered; returns -1 once stdout has failed. On a
 * terminal the prompt is hidden once around the whole write. */
int output_flush(struct output *o);
/* True when enough is buffered that a flush is due before reading more. */
bool output_wants_flush(const struct output *o);

/* -v: an HTTP head on stderr, each line after dir ('>' sent, '<' received),
 * with the values of Authorization and Proxy-Authorization hidden. */
void output_head(char dir, const char *head, size_t len);

/* The wall clock in RFC 3339 UTC, "2026-11-24T14:03:07.250Z" (--jsonl, --record). */
void output_utc_time(char *out, size_t outlen);

/* "wsc: ..." notes on stderr, silenced by -q; errors always shown. Both
 * write out the messages before them first, so that the order holds. */
void note(const struct output *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void error_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
