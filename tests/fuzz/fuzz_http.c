/* SPDX-License-Identifier: MIT */
/* libFuzzer target for http.c: the input is parsed as a response head and
 * as a request head, with the default bound and with a bound taken from the
 * first byte. A complete head must lie inside the input and the bound, its
 * pieces must point inside it with trimmed values, parsing the head alone
 * must give the same answer, and a head cut short must be HTTP_INCOMPLETE
 * (a valid head arriving in pieces is never refused). The helpers run on
 * every header. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            __builtin_trap();                                                                  \
    } while (0)

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

static bool same_head(const struct http_head *a, const struct http_head *b, const char *abuf,
                      const char *bbuf)
{
    if (a->status != b->status || a->minor_version != b->minor_version ||
        a->num_headers != b->num_headers || a->method_len != b->method_len ||
        a->target_len != b->target_len || a->reason_len != b->reason_len)
        return false;
    if (a->method && (a->method - abuf != b->method - bbuf))
        return false;
    for (size_t i = 0; i < a->num_headers; i++)
        if (a->headers[i].name - abuf != b->headers[i].name - bbuf ||
            a->headers[i].name_len != b->headers[i].name_len ||
            a->headers[i].value - abuf != b->headers[i].value - bbuf ||
            a->headers[i].value_len != b->headers[i].value_len)
            return false;
    return true;
}

static void check_head(bool is_request, const char *buf, size_t len, size_t max, int rc,
                       const struct http_head *h)
{
    CHECK(rc == HTTP_INCOMPLETE || rc == HTTP_MALFORMED || rc == HTTP_TOO_LARGE || rc > 0);
    if (rc == HTTP_TOO_LARGE) {
        /* a head over max bytes, or one with more fields than the parser keeps */
        size_t lines = 0;
        for (size_t i = 0; i < len; i++)
            lines += buf[i] == '\n';
        CHECK(len >= max || lines > HTTP_MAX_HEADERS);
    }
    if (rc <= 0)
        return;
    size_t head = (size_t)rc;
    CHECK(head <= len && head <= max);
    CHECK(buf[head - 1] == '\n');
    CHECK(h->num_headers <= HTTP_MAX_HEADERS);
    if (is_request) {
        CHECK(h->method_len > 0 && inside(h->method, h->method_len, buf, head));
        CHECK(h->target_len > 0 && inside(h->target, h->target_len, buf, head));
    } else {
        CHECK(h->status >= 0 && h->status <= 999);
        CHECK(inside(h->reason, h->reason_len, buf, head));
    }
    CHECK(h->minor_version >= 0 && h->minor_version <= 9);
    for (size_t i = 0; i < h->num_headers; i++) {
        const struct http_header *hd = &h->headers[i];
        CHECK(hd->name_len > 0 && inside(hd->name, hd->name_len, buf, head));
        CHECK(inside(hd->value, hd->value_len, buf, head));
        CHECK(memchr(hd->name, ':', hd->name_len) == NULL);
        for (size_t k = 0; k < hd->value_len; k++)
            CHECK(hd->value[k] != '\r' && hd->value[k] != '\n' && hd->value[k] != 0);
        if (hd->value_len) {
            CHECK(hd->value[0] != ' ' && hd->value[0] != '\t');
            CHECK(hd->value[hd->value_len - 1] != ' ' && hd->value[hd->value_len - 1] != '\t');
        }
        /* the helpers, on names and values of every shape */
        char name[64];
        size_t n = hd->name_len < sizeof(name) - 1 ? hd->name_len : sizeof(name) - 1;
        memcpy(name, hd->name, n);
        name[n] = 0;
        const struct http_header *f = http_find_header(h, name);
        CHECK(f != NULL || n < hd->name_len || memchr(name, 0, n) != NULL);
        CHECK(http_count_header(h, name) <= h->num_headers);
        (void)http_has_token(hd->value, hd->value_len, "upgrade");
        (void)http_has_token(hd->value, hd->value_len, "websocket");
        (void)http_has_token(hd->value, hd->value_len, "13");
    }
    /* The head alone, in its own exact-size buffer, parses the same. */
    char *copy = malloc(head);
    if (!copy)
        abort();
    memcpy(copy, buf, head);
    struct http_head h2;
    int rc2 = is_request ? http_parse_request(copy, head, max, &h2)
                         : http_parse_response(copy, head, max, &h2);
    CHECK(rc2 == rc && same_head(h, &h2, buf, copy));
    free(copy);

    /* Cut short (one byte short, and at a point taken from the input), it
     * is incomplete: the caller must wait for more, not give up. */
    size_t cuts[2] = {head - 1, (size_t)(unsigned char)buf[0] % head};
    for (int i = 0; i < 2; i++) {
        size_t n = cuts[i];
        char *part = malloc(n ? n : 1);
        if (!part)
            abort();
        if (n)
            memcpy(part, buf, n);
        rc2 = is_request ? http_parse_request(part, n, max, &h2)
                         : http_parse_response(part, n, max, &h2);
        CHECK(rc2 == HTTP_INCOMPLETE);
        free(part);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    if (size)
        memcpy(buf, data, size);
    size_t small_max = size ? 1 + (size_t)(uint8_t)buf[0] * 4 : 1;
    const size_t maxes[2] = {HTTP_MAX_HEAD, small_max};
    for (int m = 0; m < 2; m++) {
        struct http_head h;
        int rc = http_parse_response(buf, size, maxes[m], &h);
        check_head(false, buf, size, maxes[m], rc, &h);
        rc = http_parse_request(buf, size, maxes[m], &h);
        check_head(true, buf, size, maxes[m], rc, &h);
    }
    (void)http_has_token(buf, size, "upgrade");
    free(buf);
    return 0;
}
