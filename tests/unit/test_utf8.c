/* SPDX-License-Identifier: MIT */
/* Unit tests for utf8.c: a table of valid and invalid sequences (RFC 3629
 * section 4 and Unicode table 3-7), the offset of the first bad byte, every
 * vector split at every offset and fed one byte at a time, the 8-byte ASCII
 * fast path with a bad byte at every position, an exhaustive comparison
 * with a plain reference validator, and utf8_sanitize. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "utf8.h"

/* Result of validating a whole input: the offset of the first bad byte
 * (len when none) and whether it ends on a character boundary. */
struct result {
    size_t bad;
    bool is_complete;
};

/* Feeds p[0, len) in pieces that end at the given cut offsets, each piece
 * copied into a heap buffer of exactly its size. */
static struct result feed_cuts(const uint8_t *p, size_t len, const size_t *cuts, size_t ncuts)
{
    struct utf8_state st = {0};
    size_t start = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        unsigned char *piece = tap_dup(p + start, end - start);
        size_t r = utf8_validate(&st, piece, end - start);
        free(piece);
        if (r > end - start)
            return (struct result){(size_t)-1, false}; /* out of range: a bug */
        if (r < end - start)
            return (struct result){start + r, false};
        start = end;
    }
    return (struct result){len, utf8_is_complete(&st)};
}

static struct result feed_whole(const uint8_t *p, size_t len)
{
    return feed_cuts(p, len, NULL, 0);
}

static struct result feed_split(const uint8_t *p, size_t len, size_t at)
{
    return feed_cuts(p, len, &at, 1);
}

static struct result feed_bytewise(const uint8_t *p, size_t len)
{
    size_t *cuts = malloc((len ? len : 1) * sizeof(*cuts));
    if (!cuts)
        abort();
    for (size_t i = 0; i < len; i++)
        cuts[i] = i;
    struct result r = feed_cuts(p, len, cuts, len);
    free(cuts);
    return r;
}

static bool same(struct result a, struct result b)
{
    return a.bad == b.bad && (a.bad != SIZE_MAX) && (a.is_complete == b.is_complete);
}

/* ---- the table ---- */

#define V(s) (const uint8_t *)(s), sizeof(s) - 1
#define OK SIZE_MAX /* expected offset: valid (the whole length) */

struct vector {
    const char *name;
    const uint8_t *p;
    size_t len;
    size_t bad;        /* offset of the first bad byte, or OK */
    bool is_complete;  /* for valid input: ends on a character boundary */
};

static const struct vector vectors[] = {
    /* valid */
    {"empty", V(""), OK, true},
    {"ASCII", V("Hello, world"), OK, true},
    {"NUL and DEL", V("\x00\x7f"), OK, true},
    {"U+0080 (smallest 2-byte)", V("\xc2\x80"), OK, true},
    {"U+07FF (largest 2-byte)", V("\xdf\xbf"), OK, true},
    {"U+0800 (smallest 3-byte, E0 A0)", V("\xe0\xa0\x80"), OK, true},
    {"U+0FFF", V("\xe0\xbf\xbf"), OK, true},
    {"U+1000 (E1)", V("\xe1\x80\x80"), OK, true},
    {"U+D7FF (last before surrogates, ED 9F)", V("\xed\x9f\xbf"), OK, true},
    {"U+E000 (first after surrogates)", V("\xee\x80\x80"), OK, true},
    {"U+FFFD", V("\xef\xbf\xbd"), OK, true},
    {"U+FFFF", V("\xef\xbf\xbf"), OK, true},
    {"U+10000 (smallest 4-byte, F0 90)", V("\xf0\x90\x80\x80"), OK, true},
    {"U+3FFFF (F0 BF)", V("\xf0\xbf\xbf\xbf"), OK, true},
    {"U+40000 (F1)", V("\xf1\x80\x80\x80"), OK, true},
    {"U+FFFFF (F3)", V("\xf3\xbf\xbf\xbf"), OK, true},
    {"U+100000 (F4 80)", V("\xf4\x80\x80\x80"), OK, true},
    {"U+10FFFF (largest, F4 8F)", V("\xf4\x8f\xbf\xbf"), OK, true},
    {"mixed text", V("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"), OK, true},
    {"Greek kosme", V("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"), OK, true},
    {"long ASCII then euro", V("0123456789abcdefghij\xe2\x82\xac"), OK, true},
    /* truncated at the end: valid so far, but not complete */
    {"truncated 2-byte", V("\xc3"), OK, false},
    {"truncated 3-byte after 1", V("\xe2"), OK, false},
    {"truncated 3-byte after 2", V("\xe2\x82"), OK, false},
    {"truncated 4-byte after 1", V("\xf0"), OK, false},
    {"truncated 4-byte after 2", V("\xf0\x9f"), OK, false},
    {"truncated 4-byte after 3", V("\xf0\x9f\x98"), OK, false},
    {"ASCII then truncated", V("abcdefghijklmnop\xf4\x8f\xbf"), OK, false},
    /* invalid */
    {"lone continuation 80", V("\x80"), 0, false},
    {"lone continuation BF", V("\xbf"), 0, false},
    {"continuation after ASCII", V("ab\x80"), 2, false},
    {"extra continuation after 2-byte", V("\xc3\xa9\xa9"), 2, false},
    {"overlong C0 80 (NUL)", V("\xc0\x80"), 0, false},
    {"overlong C0 AF ('/')", V("\xc0\xaf"), 0, false},
    {"overlong C1 BF", V("\xc1\xbf"), 0, false},
    {"overlong E0 80 80", V("\xe0\x80\x80"), 1, false},
    {"overlong E0 9F BF (U+07FF)", V("\xe0\x9f\xbf"), 1, false},
    {"overlong F0 80 80 80", V("\xf0\x80\x80\x80"), 1, false},
    {"overlong F0 8F BF BF (U+FFFF)", V("\xf0\x8f\xbf\xbf"), 1, false},
    {"surrogate ED A0 80 (U+D800)", V("\xed\xa0\x80"), 1, false},
    {"surrogate ED AF BF (U+DBFF)", V("\xed\xaf\xbf"), 1, false},
    {"surrogate ED B0 80 (U+DC00)", V("\xed\xb0\x80"), 1, false},
    {"surrogate ED BF BF (U+DFFF)", V("\xed\xbf\xbf"), 1, false},
    {"surrogate pair CESU-8", V("\xed\xa0\xbd\xed\xb8\x80"), 1, false},
    {"above U+10FFFF: F4 90 80 80", V("\xf4\x90\x80\x80"), 1, false},
    {"above U+10FFFF: F4 BF BF BF", V("\xf4\xbf\xbf\xbf"), 1, false},
    {"F5", V("\xf5\x80\x80\x80"), 0, false},
    {"F7 BF BF BF", V("\xf7\xbf\xbf\xbf"), 0, false},
    {"F8 (old 5-byte)", V("\xf8\x88\x80\x80\x80"), 0, false},
    {"FC (old 6-byte)", V("\xfc\x84\x80\x80\x80\x80"), 0, false},
    {"FE", V("\xfe"), 0, false},
    {"FF", V("\xff"), 0, false},
    {"2-byte cut by ASCII", V("\xc3" "A"), 1, false},
    {"3-byte cut by ASCII after 1", V("\xe2" "A"), 1, false},
    {"3-byte cut by ASCII after 2", V("\xe2\x82" "A"), 2, false},
    {"4-byte cut by ASCII after 3", V("\xf0\x9f\x98" "A"), 3, false},
    {"4-byte cut by a new lead", V("\xf0\x9f\xf0\x9f\x98\x80"), 2, false},
    {"truncated then long ASCII run (no fast path mid-sequence)",
     V("\xe2" "AAAAAAAAAAAAAAAAAAAA"), 1, false},
    {"bad byte after a long valid prefix", V("Hello-\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5-edited\xff"),
     24, false},
    {"Autobahn 6.3.1 (surrogate in the middle)",
     V("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"), 12, false},
    {"first of two bad bytes", V("ok\xc0\xff"), 2, false},
};

static void test_vector(const struct vector *v)
{
    struct result want = {v->bad == OK ? v->len : v->bad, v->bad == OK && v->is_complete};
    struct result got = feed_whole(v->p, v->len);
    if (!tap_ok(same(got, want), "utf8 %s: whole gives offset %zu, complete %d", v->name,
                want.bad, want.is_complete))
        tap_diag("got offset %zu, complete %d", got.bad, got.is_complete);

    size_t bad_at = SIZE_MAX;
    for (size_t at = 0; at <= v->len && bad_at == SIZE_MAX; at++)
        if (!same(feed_split(v->p, v->len, at), want))
            bad_at = at;
    if (!tap_ok(bad_at == SIZE_MAX, "utf8 %s: split in two at every offset", v->name)) {
        struct result r = feed_split(v->p, v->len, bad_at);
        tap_diag("split at %zu: got offset %zu, complete %d", bad_at, r.bad, r.is_complete);
    }

    got = feed_bytewise(v->p, v->len);
    if (!tap_ok(same(got, want), "utf8 %s: one byte at a time", v->name))
        tap_diag("got offset %zu, complete %d", got.bad, got.is_complete);
}

/* ---- the 8-byte ASCII fast path ---- */

/* A bad byte at every position 0..40 of a 48-byte ASCII run: the offset
 * must be exact whether it falls inside a word, on its edge or in the tail. */
/* Runs long enough for every step of the ASCII fast path (32 bytes, then
 * 8, then one) to meet the bad byte. */
#define RUN_LAST 100
#define RUN_LEN 112

static void test_fast_path(void)
{
    static const uint8_t bad_bytes[] = {0x80, 0xbf, 0xc0, 0xc1, 0xf5, 0xff};
    for (size_t b = 0; b < sizeof(bad_bytes); b++) {
        size_t wrong = 0, first_wrong = SIZE_MAX;
        for (size_t pos = 0; pos <= RUN_LAST; pos++) {
            for (size_t total = pos + 1; total <= RUN_LEN; total += 7) {
                uint8_t s[RUN_LEN];
                memset(s, 'a', sizeof(s));
                s[pos] = bad_bytes[b];
                struct result r = feed_whole(s, total);
                struct result want = {pos, false};
                if (!same(r, want)) {
                    wrong++;
                    if (first_wrong == SIZE_MAX)
                        first_wrong = pos;
                }
                /* and split at every offset */
                for (size_t at = 0; at <= total; at++)
                    if (!same(feed_split(s, total, at), want))
                        wrong++;
            }
        }
        if (!tap_ok(wrong == 0, "utf8 fast path: bad byte 0x%02x at every position 0..%d of an "
                                "ASCII run gives its offset",
                    bad_bytes[b], RUN_LAST))
            tap_diag("%zu wrong results, first at position %zu", wrong, first_wrong);
    }

    /* A valid multi-byte character at every position is accepted; a
     * truncated one at the end is accepted but incomplete. */
    size_t wrong = 0;
    for (size_t pos = 0; pos <= RUN_LAST; pos++) {
        uint8_t s[RUN_LEN];
        memset(s, 'a', sizeof(s));
        memcpy(s + pos, "\xf0\x9f\x98\x80", 4);
        if (!same(feed_whole(s, sizeof(s)), (struct result){sizeof(s), true}))
            wrong++;
        if (!same(feed_whole(s, pos + 3), (struct result){pos + 3, false}))
            wrong++;
        /* the character's second byte made invalid: the offset is pos + 1 */
        s[pos + 1] = 'a';
        if (!same(feed_whole(s, sizeof(s)), (struct result){pos + 1, false}))
            wrong++;
    }
    tap_ok(wrong == 0, "utf8 fast path: a 4-byte character at every position 0..%d of an ASCII run",
           RUN_LAST);

    /* A long valid run of ASCII, fed after an unfinished sequence, must fail
     * at its first byte: the fast path may only run between characters. */
    {
        struct utf8_state st = {0};
        unsigned char *a = tap_dup("\xe2\x82", 2);
        unsigned char *b = tap_dup("ABCDEFGHIJKLMNOPQRSTUVWX", 24);
        size_t r1 = utf8_validate(&st, a, 2);
        size_t r2 = utf8_validate(&st, b, 24);
        tap_ok(r1 == 2 && r2 == 0,
               "utf8 fast path: ASCII run after an unfinished sequence fails at offset 0 (got %zu, %zu)",
               r1, r2);
        free(a);
        free(b);
    }

    /* A megabyte of ASCII with the bad byte at the very end. */
    {
        size_t n = 1 << 20;
        uint8_t *s = malloc(n);
        if (!s)
            abort();
        memset(s, 'x', n);
        s[n - 1] = 0xff;
        struct result r = feed_whole(s, n);
        tap_ok(r.bad == n - 1, "utf8 fast path: 1 MiB of ASCII then 0xFF gives offset %zu (got %zu)",
               n - 1, r.bad);
        s[n - 1] = 'x';
        r = feed_whole(s, n);
        tap_ok(r.bad == n && r.is_complete, "utf8 fast path: 1 MiB of ASCII is valid");
        free(s);
    }
}

/* ---- exhaustive comparison with a reference ---- */

/* Unicode 15, table 3-7 (well-formed UTF-8 byte sequences), written out as
 * ranges: the reference against which the DFA is checked. */
struct row {
    uint8_t lead_lo, lead_hi;
    uint8_t lo[3], hi[3];
    int n; /* continuation bytes */
};
static const struct row table37[] = {
    {0x00, 0x7f, {0}, {0}, 0},
    {0xc2, 0xdf, {0x80}, {0xbf}, 1},
    {0xe0, 0xe0, {0xa0, 0x80}, {0xbf, 0xbf}, 2},
    {0xe1, 0xec, {0x80, 0x80}, {0xbf, 0xbf}, 2},
    {0xed, 0xed, {0x80, 0x80}, {0x9f, 0xbf}, 2},
    {0xee, 0xef, {0x80, 0x80}, {0xbf, 0xbf}, 2},
    {0xf0, 0xf0, {0x90, 0x80, 0x80}, {0xbf, 0xbf, 0xbf}, 3},
    {0xf1, 0xf3, {0x80, 0x80, 0x80}, {0xbf, 0xbf, 0xbf}, 3},
    {0xf4, 0xf4, {0x80, 0x80, 0x80}, {0x8f, 0xbf, 0xbf}, 3},
};

static struct result reference(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        const struct row *r = NULL;
        for (size_t k = 0; k < sizeof(table37) / sizeof(table37[0]); k++)
            if (p[i] >= table37[k].lead_lo && p[i] <= table37[k].lead_hi)
                r = &table37[k];
        if (!r)
            return (struct result){i, false};
        i++;
        for (int k = 0; k < r->n; k++, i++) {
            if (i == len)
                return (struct result){len, false};
            if (p[i] < r->lo[k] || p[i] > r->hi[k])
                return (struct result){i, false};
        }
    }
    return (struct result){len, true};
}

static void test_exhaustive(void)
{
    size_t wrong = 0;
    uint8_t s[4];
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (uint8_t)a;
        if (!same(feed_whole(s, 1), reference(s, 1)))
            wrong++;
    }
    tap_ok(wrong == 0, "utf8: all 256 one-byte inputs agree with Unicode table 3-7 (%zu differ)",
           wrong);

    wrong = 0;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++) {
            s[0] = (uint8_t)a;
            s[1] = (uint8_t)b;
            if (!same(feed_whole(s, 2), reference(s, 2)))
                wrong++;
        }
    tap_ok(wrong == 0, "utf8: all 65536 two-byte inputs agree with Unicode table 3-7 (%zu differ)",
           wrong);

    /* Three and four bytes: every lead byte from C0 up, with the following
     * bytes drawn from the boundary values of every range. */
    static const uint8_t edges[] = {0x00, 0x41, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x9f,
                                    0xa0, 0xbe, 0xbf, 0xc0, 0xc2, 0xe0, 0xf0, 0xff};
    size_t ne = sizeof(edges);
    wrong = 0;
    size_t tried = 0;
    for (unsigned a = 0xc0; a < 256; a++)
        for (size_t b = 0; b < ne; b++)
            for (size_t c = 0; c < ne; c++)
                for (size_t d = 0; d < ne; d++) {
                    s[0] = (uint8_t)a;
                    s[1] = edges[b];
                    s[2] = edges[c];
                    s[3] = edges[d];
                    for (size_t n = 3; n <= 4; n++) {
                        struct result want = reference(s, n);
                        tried++;
                        if (!same(feed_whole(s, n), want) || !same(feed_bytewise(s, n), want))
                            wrong++;
                    }
                }
    tap_ok(wrong == 0, "utf8: %zu three- and four-byte inputs agree with Unicode table 3-7 "
                       "(%zu differ)",
           tried, wrong);
}

/* ---- utf8_sanitize: peer text made safe for a terminal ---- */

static const struct {
    const char *in, *out;
} sanitize_vectors[] = {
    {"", ""},
    {"hello, world", "hello, world"},
    {"a\x1b[2Jb", "a?[2Jb"},                   /* ESC: a C0 control */
    {"\x01\t\n\r\x1f", "?????"},               /* every C0 control */
    {"del\x7f", "del?"},                       /* DEL */
    {"\xc2\x80", "??"},                        /* U+0080, a C1 control */
    {"\xc2\x9b" "31m", "??31m"},               /* U+009B, CSI */
    {"\xc2\x9f", "??"},                        /* U+009F, the last C1 control */
    {"\xc2\xa0", "\xc2\xa0"},                  /* U+00A0 is printable */
    {"caf\xc3\xa9", "caf\xc3\xa9"},
    {"\xe2\x82\xac 5", "\xe2\x82\xac 5"},
    {"\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!"},
    {"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"},  /* U+10FFFF */
    {"\xff", "?"},
    {"a\x80" "b", "a?b"},                      /* lone continuation */
    {"\xc0\xaf", "??"},                        /* overlong */
    {"\xed\xa0\x80", "???"},                   /* surrogate */
    {"\xf4\x90\x80\x80", "????"},              /* above U+10FFFF */
    {"\xe2\x82", "??"},                        /* truncated at the end */
    {"\xe2\x82" "A", "??A"},                   /* truncated before ASCII */
    {"\xf0\x9f\x98", "???"},
    {"ok\xc3", "ok?"},
};

static bool is_safe_text(const uint8_t *p, size_t len)
{
    struct utf8_state st = {0};
    if (utf8_validate(&st, p, len) != len || !utf8_is_complete(&st))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return false;
        if (p[i] == 0xc2 && i + 1 < len && p[i + 1] < 0xa0)
            return false;
    }
    return true;
}

static void test_sanitize(void)
{
    for (size_t i = 0; i < sizeof(sanitize_vectors) / sizeof(sanitize_vectors[0]); i++) {
        size_t len = strlen(sanitize_vectors[i].in);
        char *s = (char *)tap_dup(sanitize_vectors[i].in, len + 1);
        utf8_sanitize(s);
        char shown[64] = "";
        for (size_t k = 0; k < len && k < 12; k++) {
            uint8_t c = (uint8_t)sanitize_vectors[i].in[k];
            size_t at = strlen(shown);
            snprintf(shown + at, sizeof(shown) - at, c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
        }
        if (!tap_ok(strcmp(s, sanitize_vectors[i].out) == 0, "utf8_sanitize: '%s'", shown)) {
            tap_diag("got:");
            for (size_t k = 0; s[k]; k++)
                tap_diag("  %02x", (uint8_t)s[k]);
        }
        free(s);
    }

    /* Every string of one to three bytes (the third from the edges of every
     * range): the length is kept, what was safe is untouched, and the
     * result is valid UTF-8 without C0 or C1 controls. */
    static const uint8_t edges[] = {0x01, 0x1b, 0x20, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
                                    0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xf0, 0xf4, 0xff};
    size_t wrong = 0, tried = 0;
    for (unsigned a = 1; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t c = 0; c <= sizeof(edges); c++) {
                if (b == 0 && c > 0)
                    continue;
                char in[4] = {(char)a, (char)b, c ? (char)edges[c - 1] : 0, 0};
                size_t len = strlen(in);
                char *s = (char *)tap_dup(in, len + 1);
                utf8_sanitize(s);
                tried++;
                bool was_safe = is_safe_text((const uint8_t *)in, len);
                if (strlen(s) != len || !is_safe_text((const uint8_t *)s, len) ||
                    (was_safe && memcmp(s, in, len) != 0))
                    wrong++;
                free(s);
            }
    tap_ok(wrong == 0, "utf8_sanitize: %zu short strings keep their length, safe ones are "
                       "untouched, all come out safe (%zu wrong)",
           tried, wrong);
}

/* utf8_ascii_len: the offset of the first byte with the high bit set, at
 * every position of every length up to RUN_LEN (each step of the scan). */
static void test_ascii_len(void)
{
    size_t wrong = 0;
    for (size_t total = 0; total <= RUN_LEN; total++) {
        for (size_t pos = 0; pos <= total; pos++) {
            uint8_t *s = malloc(total ? total : 1);
            if (!s)
                abort();
            memset(s, 'a', total);
            if (pos < total)
                s[pos] = pos % 2 ? 0x80 : 0xff;
            wrong += utf8_ascii_len(s, total) != pos;
            free(s);
        }
    }
    tap_ok(wrong == 0, "utf8_ascii_len: a high byte at every position of every length 0..%d",
           RUN_LEN);
}

int main(void)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
        test_vector(&vectors[i]);
    test_fast_path();
    test_ascii_len();
    test_exhaustive();
    test_sanitize();
    return tap_done();
}
