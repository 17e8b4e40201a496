/* SPDX-License-Identifier: MIT */
/* utf8: incremental UTF-8 validation (RFC 3629) that stops at the first
 * invalid byte, even when a sequence is split across calls. Pure code. */
#ifndef WSC_UTF8_H
#define WSC_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Zero-initialise; UTF8_ACCEPT means "between characters". */
struct utf8_state {
    uint8_t need;   /* continuation bytes still expected */
    uint8_t lo, hi; /* allowed range of the next continuation byte */
};

/* Validates p[0, len) after what the state has seen. Returns len when every
 * byte fits, else the offset of the first byte that cannot be part of valid
 * UTF-8 (the state is then unspecified). */
size_t utf8_validate(struct utf8_state *st, const uint8_t *p, size_t len);

/* The length of p's ASCII prefix: text that needs no check between
 * characters (a caller may skip utf8_validate for it). */
size_t utf8_ascii_len(const uint8_t *p, size_t len);

/* True when the text seen so far ends on a character boundary. */
static inline bool utf8_is_complete(const struct utf8_state *st) { return st->need == 0; }

/* Makes peer text safe to print on a terminal, in place: C0 controls, DEL,
 * C1 controls (U+0080-U+009F) and bytes that are not valid UTF-8 become '?',
 * so that a peer cannot move the cursor or retitle the window. */
void utf8_sanitize(char *s);

#endif
