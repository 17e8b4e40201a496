/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the JSON pretty-printer (--pretty shows peer text
 * through it). Invariants: validation and printing agree; printing fails
 * without output; the pretty form of valid JSON is valid and prints again
 * to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            __builtin_trap();                                                                  \
    } while (0)

struct sink {
    char *p;
    size_t len, cap;
};

static void collect(void *ctx, enum json_token kind, const char *p, size_t len)
{
    struct sink *s = ctx;
    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2 + 16;
        s->p = realloc(s->p, s->cap);
        CHECK(s->p != NULL);
    }
    memcpy(s->p + s->len, p, len);
    s->len += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1); /* exact size: ASan catches over-reads */
    CHECK(copy != NULL);
    if (size)
        memcpy(copy, data, size);
    struct sink once = {0}, twice = {0};
    int valid = json_validate(copy, size);
    int printed = json_pretty(copy, size, 2, collect, &once);
    CHECK(valid == printed);
    if (printed == 0) {
        CHECK(json_pretty(once.p, once.len, 2, collect, &twice) == 0);
        CHECK(once.len == twice.len && (once.len == 0 || !memcmp(once.p, twice.p, once.len)));
    } else {
        CHECK(once.len == 0);
    }
    free(once.p);
    free(twice.p);
    free(copy);
    return 0;
}
