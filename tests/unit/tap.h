/* SPDX-License-Identifier: MIT */
/* tap: a minimal Test Anything Protocol emitter for the unit tests, plus
 * helpers that copy inputs into exact-size heap buffers so that ASan turns
 * any over-read into a crash. */
#ifndef WSC_TAP_H
#define WSC_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count;
static int tap_failed;

__attribute__((format(printf, 2, 3))) static inline int tap_ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", cond ? "ok" : "not ok", ++tap_count);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!cond)
        tap_failed++;
    return cond;
}

__attribute__((format(printf, 1, 2))) static inline void tap_diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("# ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static inline int tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

/* A heap copy of exactly len bytes (len 0 gives a 1-byte allocation that
 * must not be read). The caller frees it. */
static inline unsigned char *tap_dup(const void *p, size_t len)
{
    unsigned char *q = malloc(len ? len : 1);
    if (!q)
        abort();
    if (len)
        memcpy(q, p, len);
    return q;
}

#endif
