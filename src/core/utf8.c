/* SPDX-License-Identifier: MIT */
#include "utf8.h"

#include <string.h>

/* Sets the state for the continuation bytes a lead byte announces.
 * Returns false for bytes that never start a character: 80..C1 and F5..FF.
 * The narrowed first ranges exclude overlong forms (E0, F0), surrogates (ED)
 * and code points above U+10FFFF (F4). */
static bool start_sequence(struct utf8_state *st, uint8_t c)
{
    st->lo = 0x80;
    st->hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        st->need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        st->need = 2;
        if (c == 0xE0)
            st->lo = 0xA0;
        else if (c == 0xED)
            st->hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        st->need = 3;
        if (c == 0xF0)
            st->lo = 0x90;
        else if (c == 0xF4)
            st->hi = 0x8F;
    } else {
        return false;
    }
    return true;
}

#define HIGH_BITS UINT64_C(0x8080808080808080)

static uint64_t word_at(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w));
    return w;
}

/* Skips ASCII from p[i]: 32 bytes a step (four words ORed, one test), then
 * 8; most text on the wire is ASCII, and this is the whole cost of it. */
static size_t skip_ascii(const uint8_t *p, size_t i, size_t len)
{
    while (len - i >= 32 &&
           !((word_at(p + i) | word_at(p + i + 8) | word_at(p + i + 16) | word_at(p + i + 24)) &
             HIGH_BITS))
        i += 32;
    while (len - i >= 8 && !(word_at(p + i) & HIGH_BITS))
        i += 8;
    return i;
}

size_t utf8_ascii_len(const uint8_t *p, size_t len)
{
    size_t i = skip_ascii(p, 0, len);
    while (i < len && p[i] < 0x80)
        i++;
    return i;
}

size_t utf8_validate(struct utf8_state *st, const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (st->need == 0) {
            i = skip_ascii(p, i, len);
            if (i == len)
                break;
            uint8_t c = p[i];
            if (c < 0x80) {
                i++;
                continue;
            }
            if (!start_sequence(st, c))
                return i;
            i++;
            continue;
        }
        uint8_t c = p[i];
        if (c < st->lo || c > st->hi)
            return i;
        st->need--;
        st->lo = 0x80;
        st->hi = 0xBF;
        i++;
    }
    return len;
}

void utf8_sanitize(char *s)
{
    size_t i = 0, n = strlen(s);
    while (i < n) {
        uint8_t c = (uint8_t)s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7F)
                s[i] = '?';
            i++;
            continue;
        }
        /* one whole character, if it is valid and not a C1 control */
        struct utf8_state st = {0};
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        bool is_valid = len <= n - i && utf8_validate(&st, (const uint8_t *)s + i, len) == len &&
                        utf8_is_complete(&st) && !(c == 0xC2 && (uint8_t)s[i + 1] < 0xA0);
        if (!is_valid) {
            s[i++] = '?';
            continue;
        }
        i += len;
    }
}
