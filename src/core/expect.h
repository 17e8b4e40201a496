/* SPDX-License-Identifier: MIT */
/* expect: does what was received meet --until, --count or a script's
 * /expect? Pure bookkeeping fed the messages a connection receives, piece by
 * piece; the caller owns the clock (times are milliseconds it passes in) and
 * decides what an unmet expectation does to the run. */
#ifndef WSC_EXPECT_H
#define WSC_EXPECT_H

#include <locale.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ws.h"

/* /expect waits this long unless -t says otherwise. */
#define EXPECT_DEFAULT_WAIT_MS 10000
/* Bytes of the last message kept for the failure line (then "..."). */
#define EXPECT_LAST_MAX 64

/* A POSIX extended regular expression, matched anywhere in a subject (no
 * REG_NEWLINE: '.' matches a newline, ^ and $ anchor the whole message).
 * Compiled and matched in the C.UTF-8 locale whatever LANG says, so that a
 * script means the same everywhere: '.' is one character of text.
 * The subject is a byte range, not a C string: a NUL byte in a text message
 * (U+0000 is valid UTF-8) is part of it, so a pattern can still match what
 * follows; [^x] matches a NUL, '.' does not (GNU libc). Binary messages are
 * matched as lowercase hex ("00ff10"), where every byte can be named. */
struct expect_pattern {
    regex_t re;
    char *source; /* the pattern as given, NUL-terminated; owned */
    locale_t loc; /* C.UTF-8 (or C); (locale_t)0 when neither could be made */
    bool is_compiled;
};

/* Compiles src[0, len). A NUL inside it, an empty pattern or a regcomp error
 * gives -1 and says why in err ("bad pattern /x(/: ..."). */
int expect_pattern_compile(struct expect_pattern *p, const char *src, size_t len, char *err,
                           size_t errlen);
void expect_pattern_free(struct expect_pattern *p);
/* s[len] must be a NUL: the regex library may read up to it. */
bool expect_pattern_match(const struct expect_pattern *p, const uint8_t *s, size_t len);

/* One expectation of a sequence: a pattern and how long a wait for it lasts. */
struct expect_item {
    struct expect_pattern pat;
    long wait_ms; /* <0: no wait of its own (--until: only --timeout bounds it) */
    bool is_met;
    uint64_t met_by; /* the message (1-based, counted from the start) that met it */
};

/* A sequence of patterns met in order (a script's /expect lines, or the one
 * --until), and a message count (--count). Each message received is tested
 * against the first pattern not yet met; a match consumes every message up
 * to and including it, so the next pattern sees only later messages. A
 * script's patterns are all added before the run: a message that arrives
 * before the script reaches its /expect is tested then, which is what
 * "messages received since the previous match" means.
 *
 * Memory: the message being received is kept (as text, or as hex for
 * binary) only while a pattern is waiting, and at most hold_max bytes of it
 * (binary: 2 * hold_max hex digits). main passes --max-message, so every
 * message the engine accepts is matched whole; a longer one (--max-message
 * 0 and a message that does not fit in memory) is matched on what was kept. */
struct expect {
    struct expect_item *items; /* owned */
    size_t num_items, cap_items;
    size_t next;         /* first item not met */
    uint64_t count_goal; /* --count: 0 none */
    uint64_t hold_max;   /* see above; 0: no limit */
    /* counters */
    uint64_t received;       /* messages, from the start */
    uint64_t received_since; /* since the last match (what the next item has seen) */
    /* the message being received */
    bool in_message;
    bool is_text;
    bool is_truncated; /* more arrived than hold_max */
    uint64_t msg_len;
    struct buf subject;            /* text, or hex of binary; owned */
    uint8_t head[EXPECT_LAST_MAX]; /* the first bytes, for "last:" */
    size_t head_len;
    /* the last complete message, for the failure line */
    bool has_last;
    bool last_is_text;
    uint64_t last_len;
    uint8_t last[EXPECT_LAST_MAX];
    size_t last_size;
    /* the wait on items[next] */
    bool is_waiting;
    int64_t wait_start_ms;
    int64_t deadline_ms; /* <0: none */
};

void expect_init(struct expect *e, uint64_t hold_max);
void expect_free(struct expect *e);

/* Appends a pattern to the sequence; returns its index, or -1 (err says why). */
long expect_add(struct expect *e, const char *pattern, size_t len, long wait_ms, char *err,
                size_t errlen);
void expect_set_count(struct expect *e, uint64_t n);
/* True when the run has something to wait for: a pattern or a count. */
bool expect_is_active(const struct expect *e);

/* A data message received (text or binary; control frames are not messages). */
void expect_message_begin(struct expect *e, enum ws_opcode op);
void expect_message_data(struct expect *e, const uint8_t *p, size_t len);
/* Returns true when this message met the pattern that was waiting. */
bool expect_message_end(struct expect *e);
/* The message will never be complete: it does not count. */
void expect_message_abort(struct expect *e);

bool expect_item_is_met(const struct expect *e, size_t index);
/* Every pattern met and the count (if any) reached. */
bool expect_is_met(const struct expect *e);
/* --until with --count N: N messages came and the pattern met none of them. */
bool expect_count_exhausted(const struct expect *e);

/* Starts the wait on the first pattern not met (a script reaching /expect,
 * or --until when the connection opens): its deadline is now + its wait. */
void expect_wait_start(struct expect *e, int64_t now_ms);
/* The wait's deadline, or -1 when there is none (nothing waited on, or no
 * limit of its own). */
int64_t expect_deadline(const struct expect *e);
bool expect_has_expired(const struct expect *e, int64_t now_ms);

enum expect_cause {
    EXPECT_TIMED_OUT, /* the wait's own deadline, or --timeout */
    EXPECT_CLOSED,    /* the connection ended first */
};
/* One line (without "wsc: ") on why the expectation is not met, e.g.
 *   no message matched /"ok"/ in 10 s (3 received; last: {"status":"pending"})
 *   3 of 5 messages received in 2.5 s, before the connection ended (last: ...)
 * The pattern and the last message are shown bounded and with control
 * characters escaped. */
void expect_describe(const struct expect *e, enum expect_cause cause, int64_t now_ms, char *out,
                     size_t outlen);

/* Appends a bounded, printable form of p[0, len) to out: printable ASCII and
 * whole UTF-8 characters from U+00A0 on as they are, other bytes as \xNN,
 * cut at max bytes of input with "...". Used for patterns and messages. */
void expect_sanitize(char *out, size_t outlen, const uint8_t *p, size_t len, size_t max);

#endif
