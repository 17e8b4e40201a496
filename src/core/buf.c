/* SPDX-License-Identifier: MIT */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max ? max : SIZE_MAX;
}

void buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b, b->max);
}

void buf_clear(struct buf *b)
{
    b->off = b->len = 0;
}

uint8_t *buf_reserve_more(struct buf *b, size_t n)
{
    if (b->off == b->len)
        b->off = b->len = 0;
    if (b->data && b->cap - b->len >= n)
        return b->data + b->len;
    size_t used = b->len - b->off;
    if (n > b->max || used > b->max - n)
        return NULL;
    /* Slide the data down when that alone makes room and is cheap. */
    if (b->off > 0 && b->cap - used >= n && used <= b->cap / 2) {
        memmove(b->data, b->data + b->off, used);
        b->off = 0;
        b->len = used;
        return b->data + b->len;
    }
    size_t need = used + n;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max)
        cap = b->max;
    uint8_t *p = malloc(cap);
    if (!p)
        return NULL;
    if (used)
        memcpy(p, b->data + b->off, used);
    free(b->data);
    b->data = p;
    b->cap = cap;
    b->off = 0;
    b->len = used;
    return b->data + b->len;
}

int buf_append_more(struct buf *b, const void *p, size_t n)
{
    uint8_t *dst = buf_reserve_more(b, n);
    if (!dst)
        return -1;
    if (n)
        memcpy(dst, p, n);
    b->len += n;
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

void buf_compact(struct buf *b)
{
    size_t used = b->len - b->off;
    if (!used || used >= b->off)
        return;
    memmove(b->data, b->data + b->off, used);
    b->off = 0;
    b->len = used;
}

void buf_drop_tail(struct buf *b, size_t n)
{
    b->len = n < b->len - b->off ? b->len - n : b->off;
}
