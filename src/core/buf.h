/* SPDX-License-Identifier: MIT */
/* buf: the one growable byte buffer of wsc, with a hard cap on growth.
 * Data lives in data[off, len); consuming from the front is O(1) and the
 * space is reclaimed when the buffer empties or needs room. No I/O here. */
#ifndef WSC_BUF_H
#define WSC_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *data; /* owned */
    size_t off;    /* first unconsumed byte */
    size_t len;    /* end of the data */
    size_t cap;    /* allocated size */
    size_t max;    /* growth cap; 0 means SIZE_MAX */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);

/* Make room for n more bytes; returns a pointer to the free space or NULL
 * when that would exceed the cap or memory is exhausted. */
uint8_t *buf_reserve(struct buf *b, size_t n);
/* Mark n bytes of the reserved space as written. */
void buf_commit(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *p, size_t n);
void buf_consume(struct buf *b, size_t n);
/* Removes the last n bytes. */
void buf_drop_tail(struct buf *b, size_t n);
void buf_clear(struct buf *b);

/* Never NULL, so that memcpy(dst, buf_head(b), 0) stays defined. */
static inline const uint8_t *buf_head(const struct buf *b)
{
    return b->data ? b->data + b->off : (const uint8_t *)"";
}
static inline size_t buf_size(const struct buf *b) { return b->len - b->off; }

#endif
