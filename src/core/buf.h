/* SPDX-License-Identifier: MIT */
/* buf: the one growable byte buffer of wsc, with a hard cap on growth.
 * Data lives in data[off, len); consuming from the front is O(1) and the
 * space is reclaimed when the buffer empties or needs room. No I/O here. */
#ifndef WSC_BUF_H
#define WSC_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct buf {
    uint8_t *data; /* owned */
    size_t off;    /* first unconsumed byte */
    size_t len;    /* end of the data */
    size_t cap;    /* allocated size */
    size_t max;    /* growth cap; 0 means SIZE_MAX */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);

/* The slow paths of buf_reserve and buf_append: the buffer must grow, slide
 * or start (called by them only). */
uint8_t *buf_reserve_more(struct buf *b, size_t n);
int buf_append_more(struct buf *b, const void *p, size_t n);

/* Make room for n more bytes; returns a pointer to the free space or NULL
 * when that would exceed the cap or memory is exhausted. Inline: the data
 * path calls it for every frame and line, and there is room nearly always. */
static inline uint8_t *buf_reserve(struct buf *b, size_t n)
{
    if (b->off == b->len)
        b->off = b->len = 0;
    if (b->data && b->cap - b->len >= n)
        return b->data + b->len;
    return buf_reserve_more(b, n);
}
/* Mark n bytes of the reserved space as written. */
static inline void buf_commit(struct buf *b, size_t n) { b->len += n; }
static inline int buf_append(struct buf *b, const void *p, size_t n)
{
    if (b->data && b->cap - b->len >= n) {
        if (n)
            memcpy(b->data + b->len, p, n);
        b->len += n;
        return 0;
    }
    return buf_append_more(b, p, n);
}
void buf_consume(struct buf *b, size_t n);
/* After a consume: moves what remains to the front when it is smaller than
 * the consumed space before it (the move costs no more than what was
 * consumed), so that a buffer that keeps a little back does not walk to its
 * end and then move much more. */
void buf_compact(struct buf *b);
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
