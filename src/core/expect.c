/* SPDX-License-Identifier: MIT */
#include "expect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- patterns ---- */

static locale_t match_locale(void)
{
    locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (!loc)
        loc = newlocale(LC_CTYPE_MASK, "C", (locale_t)0);
    return loc;
}

/* Regex libraries expand repetitions into copies of what they repeat
 * (GNU libc: x{2,300} is 300 copies, x++ copies x+), so a short pattern can
 * take gigabytes: (((x{99}){99}){99}), and the time to compile nested
 * repetitions grows with the square of that. So before regcomp sees a
 * pattern, this estimates its expanded size (at most EXPECT_MAX_WEIGHT),
 * allows repetitions nested at most EXPECT_MAX_NESTED_REPS deep and none
 * right after another (x+*, undefined in POSIX), and refuses
 * back-references, which POSIX EREs do not have and which make matching
 * exponential. Returns NULL or why. */
#define EXPECT_MAX_WEIGHT 20000UL
#define EXPECT_MAX_DEPTH 64
#define EXPECT_MAX_NESTED_REPS 3

static unsigned long saturate(unsigned long a, unsigned long b, bool is_product)
{
    unsigned long v = is_product ? (b && a > EXPECT_MAX_WEIGHT / b ? EXPECT_MAX_WEIGHT + 1 : a * b)
                                 : a + b;
    return v > EXPECT_MAX_WEIGHT ? EXPECT_MAX_WEIGHT + 1 : v;
}

/* The end of a bracket expression starting at p[i] == '['. */
static size_t skip_bracket(const char *p, size_t len, size_t i)
{
    i++;
    if (i < len && p[i] == '^')
        i++;
    if (i < len && p[i] == ']')
        i++;
    while (i < len && p[i] != ']') {
        if (p[i] == '[' && i + 1 < len && (p[i + 1] == ':' || p[i + 1] == '=' || p[i + 1] == '.')) {
            char close = p[i + 1];
            i += 2;
            while (i + 1 < len && !(p[i] == close && p[i + 1] == ']'))
                i++;
            i += 2;
            continue;
        }
        i++;
    }
    return i; /* at ']' (or len: regcomp will say it is unmatched) */
}

/* Reads an interval {m}, {m,}, {m,n} at p[i] == '{'; returns its largest
 * count (or m + 1 for "m or more") and sets *end after it; 0 when it is not
 * one (regcomp will judge). */
static unsigned long interval(const char *p, size_t len, size_t i, size_t *end)
{
    unsigned long m = 0, n = 0;
    bool has_comma = false, has_n = false;
    for (i++; i < len && p[i] != '}'; i++) {
        if (p[i] == ',' && !has_comma) {
            has_comma = true;
        } else if (p[i] >= '0' && p[i] <= '9') {
            unsigned long *v = has_comma ? &n : &m;
            *v = *v > EXPECT_MAX_WEIGHT ? *v : *v * 10 + (unsigned long)(p[i] - '0');
            has_n = has_n || has_comma;
        } else {
            return 0;
        }
    }
    if (i == len)
        return 0;
    *end = i + 1;
    unsigned long most = !has_comma ? m : has_n ? n : m + 1;
    return most > m ? most : m;
}

static const char *pattern_weight_error(const char *p, size_t len)
{
    /* per group level: the weight so far and of the last item, and how
     * deep repetitions nest inside (x+ is 1, (x+)* is 2) */
    unsigned long sum[EXPECT_MAX_DEPTH + 1], last[EXPECT_MAX_DEPTH + 1];
    unsigned reps[EXPECT_MAX_DEPTH + 1], last_reps[EXPECT_MAX_DEPTH + 1];
    size_t depth = 0;
    bool was_repetition = false;
    sum[0] = last[0] = 0;
    reps[0] = last_reps[0] = 0;
    for (size_t i = 0; i < len;) {
        unsigned long factor = 0, item = 1;
        unsigned item_reps = 0;
        size_t next = i + 1;
        switch (p[i]) {
        case '\\':
            if (i + 1 < len && p[i + 1] >= '1' && p[i + 1] <= '9')
                return "back-references are not part of POSIX extended expressions";
            next = i + 2;
            break;
        case '[': next = skip_bracket(p, len, i) + 1; break;
        case '(':
            if (depth == EXPECT_MAX_DEPTH)
                return "groups nest too deep";
            depth++;
            sum[depth] = last[depth] = 0;
            reps[depth] = last_reps[depth] = 0;
            was_repetition = false;
            i = next;
            continue;
        case ')':
            if (depth == 0)
                break; /* a literal ')' in an ERE */
            item = sum[depth] ? sum[depth] : 1;
            item_reps = reps[depth];
            depth--;
            break;
        case '|':
            last[depth] = 0;
            last_reps[depth] = 0;
            was_repetition = false;
            i = next;
            continue;
        case '*':
        case '?': factor = 1; break;
        case '+': factor = 2; break;
        case '{': factor = interval(p, len, i, &next); break;
        default: break;
        }
        if (factor) {
            /* POSIX leaves x** undefined; libraries nest them, at a cost
             * that doubles with each one */
            if (was_repetition)
                return "two repetitions in a row (x+* or x{2}{3})";
            if (++last_reps[depth] > EXPECT_MAX_NESTED_REPS)
                return "repetitions nest too deep";
            if (last_reps[depth] > reps[depth])
                reps[depth] = last_reps[depth];
            /* the repetition applies to the item before it */
            unsigned long grown = saturate(last[depth], factor, true);
            sum[depth] = saturate(sum[depth] - last[depth], grown, false);
            last[depth] = grown;
        } else {
            sum[depth] = saturate(sum[depth], item, false);
            last[depth] = item;
            last_reps[depth] = item_reps;
            if (item_reps > reps[depth])
                reps[depth] = item_reps;
        }
        was_repetition = factor != 0;
        if (sum[depth] > EXPECT_MAX_WEIGHT)
            return "the pattern expands too much (repetitions of repetitions)";
        i = next;
    }
    return NULL;
}

int expect_pattern_compile(struct expect_pattern *p, const char *src, size_t len, char *err,
                           size_t errlen)
{
    memset(p, 0, sizeof(*p));
    char shown[96];
    expect_sanitize(shown, sizeof(shown), (const uint8_t *)src, len, 60);
    if (len == 0) {
        snprintf(err, errlen, "empty pattern");
        return -1;
    }
    if (memchr(src, 0, len)) {
        snprintf(err, errlen, "bad pattern /%s/: a NUL byte cannot be part of a pattern", shown);
        return -1;
    }
    const char *why = pattern_weight_error(src, len);
    if (why) {
        snprintf(err, errlen, "bad pattern /%s/: %s", shown, why);
        return -1;
    }
    p->source = malloc(len + 1);
    if (!p->source) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(p->source, src, len);
    p->source[len] = 0;
    p->loc = match_locale();
    locale_t old = p->loc ? uselocale(p->loc) : (locale_t)0;
    int rc = regcomp(&p->re, p->source, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char reason[128];
        regerror(rc, &p->re, reason, sizeof(reason));
        snprintf(err, errlen, "bad pattern /%s/: %s", shown, reason);
    }
    if (old)
        uselocale(old);
    if (rc != 0) {
        expect_pattern_free(p);
        return -1;
    }
    p->is_compiled = true;
    return 0;
}

void expect_pattern_free(struct expect_pattern *p)
{
    if (p->is_compiled)
        regfree(&p->re);
    if (p->loc)
        freelocale(p->loc);
    free(p->source);
    memset(p, 0, sizeof(*p));
}

bool expect_pattern_match(const struct expect_pattern *p, const uint8_t *s, size_t len)
{
    if (!p->is_compiled)
        return false;
    locale_t old = p->loc ? uselocale(p->loc) : (locale_t)0;
    int rc;
#ifdef REG_STARTEND
    /* The subject is s[0, len), NULs included. */
    regmatch_t m[1] = {{.rm_so = 0, .rm_eo = (regoff_t)len}};
    rc = regexec(&p->re, (const char *)s, 1, m, REG_STARTEND);
#else
    /* Without REG_STARTEND (musl) the subject ends at its first NUL. */
    (void)len;
    rc = regexec(&p->re, (const char *)s, 0, NULL, 0);
#endif
    if (old)
        uselocale(old);
    return rc == 0;
}

/* ---- printable forms ---- */

/* Length of the whole UTF-8 character at p, 0 when it is not one or is a
 * C1 control (U+0080-U+009F) that a terminal would obey. */
static size_t utf8_char(const uint8_t *p, size_t len)
{
    uint8_t c = p[0];
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3Fu);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp < 0xA0)
        return 0;
    return n;
}

void expect_sanitize(char *out, size_t outlen, const uint8_t *p, size_t len, size_t max)
{
    if (outlen == 0)
        return;
    size_t at = 0, i = 0;
    size_t limit = len < max ? len : max;
    out[0] = 0;
    while (i < limit) {
        char piece[8];
        size_t n = 1;
        if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\\') {
            piece[0] = (char)p[i];
            piece[1] = 0;
        } else if (p[i] == '\\') {
            strcpy(piece, "\\\\");
        } else if ((n = utf8_char(p + i, len - i)) > 0) {
            if (i + n > limit)
                break; /* not half a character */
            memcpy(piece, p + i, n);
            piece[n] = 0;
        } else {
            n = 1;
            snprintf(piece, sizeof(piece), "\\x%02x", p[i]);
        }
        size_t k = strlen(piece);
        if (at + k + 4 > outlen) /* keep room for "..." */
            break;
        memcpy(out + at, piece, k);
        at += k;
        i += n;
    }
    if (i < len && at + 4 <= outlen) {
        memcpy(out + at, "...", 3);
        at += 3;
    }
    out[at] = 0;
}

/* ---- the sequence ---- */

void expect_init(struct expect *e, uint64_t hold_max)
{
    memset(e, 0, sizeof(*e));
    e->hold_max = hold_max;
    buf_init(&e->subject, 0);
    e->deadline_ms = -1;
}

void expect_free(struct expect *e)
{
    for (size_t i = 0; i < e->num_items; i++)
        expect_pattern_free(&e->items[i].pat);
    free(e->items);
    buf_free(&e->subject);
    memset(e, 0, sizeof(*e));
}

long expect_add(struct expect *e, const char *pattern, size_t len, long wait_ms, char *err,
                size_t errlen)
{
    if (e->num_items == e->cap_items) {
        size_t cap = e->cap_items ? 2 * e->cap_items : 4;
        struct expect_item *items = realloc(e->items, cap * sizeof(*items));
        if (!items) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        e->items = items;
        e->cap_items = cap;
    }
    struct expect_item *it = &e->items[e->num_items];
    memset(it, 0, sizeof(*it));
    if (expect_pattern_compile(&it->pat, pattern, len, err, errlen) != 0)
        return -1;
    it->wait_ms = wait_ms;
    return (long)e->num_items++;
}

void expect_set_count(struct expect *e, uint64_t n)
{
    e->count_goal = n;
}

bool expect_is_active(const struct expect *e)
{
    return e->num_items > 0 || e->count_goal > 0;
}

static bool is_matching(const struct expect *e)
{
    return e->next < e->num_items;
}

void expect_message_begin(struct expect *e, enum ws_opcode op)
{
    e->in_message = true;
    e->is_text = op == WS_OP_TEXT;
    e->is_truncated = false;
    e->msg_len = 0;
    e->head_len = 0;
    buf_clear(&e->subject);
}

/* Appends to the subject, stopping (and marking it truncated) at the bound. */
static void keep(struct expect *e, const uint8_t *p, size_t len, uint64_t max)
{
    if (e->is_truncated)
        return;
    uint64_t room = max ? max - buf_size(&e->subject) : UINT64_MAX;
    if (len > room) {
        len = (size_t)room;
        e->is_truncated = true;
    }
    if (len && buf_append(&e->subject, p, len) != 0)
        e->is_truncated = true;
}

void expect_message_data(struct expect *e, const uint8_t *p, size_t len)
{
    if (!e->in_message)
        return;
    e->msg_len += len;
    if (e->head_len < EXPECT_LAST_MAX) {
        size_t n = EXPECT_LAST_MAX - e->head_len < len ? EXPECT_LAST_MAX - e->head_len : len;
        memcpy(e->head + e->head_len, p, n);
        e->head_len += n;
    }
    if (!is_matching(e))
        return; /* nothing to match: only counted */
    if (e->is_text) {
        keep(e, p, len, e->hold_max);
        return;
    }
    static const char digits[] = "0123456789abcdef";
    uint64_t max = e->hold_max ? 2 * e->hold_max : 0;
    while (len && !e->is_truncated) {
        uint8_t hex[512];
        size_t n = len < sizeof(hex) / 2 ? len : sizeof(hex) / 2;
        for (size_t i = 0; i < n; i++) {
            hex[2 * i] = (uint8_t)digits[p[i] >> 4];
            hex[2 * i + 1] = (uint8_t)digits[p[i] & 15];
        }
        keep(e, hex, 2 * n, max);
        p += n;
        len -= n;
    }
}

/* regexec takes a C string: the subject gets a NUL after it (with
 * REG_STARTEND the match still covers NULs inside it). */
static bool subject_matches(struct expect *e, const struct expect_pattern *pat)
{
    if (buf_append(&e->subject, "", 1) != 0)
        return false;
    bool is_match = expect_pattern_match(pat, buf_head(&e->subject), buf_size(&e->subject) - 1);
    buf_drop_tail(&e->subject, 1);
    return is_match;
}

bool expect_message_end(struct expect *e)
{
    if (!e->in_message)
        return false;
    e->in_message = false;
    e->received++;
    e->received_since++;
    e->has_last = true;
    e->last_is_text = e->is_text;
    e->last_len = e->msg_len;
    memcpy(e->last, e->head, e->head_len);
    e->last_size = e->head_len;
    bool is_match = false;
    if (is_matching(e) && subject_matches(e, &e->items[e->next].pat)) {
        struct expect_item *it = &e->items[e->next++];
        it->is_met = true;
        it->met_by = e->received;
        e->received_since = 0;
        e->is_waiting = false;
        e->deadline_ms = -1;
        is_match = true;
    }
    buf_clear(&e->subject);
    return is_match;
}

void expect_message_abort(struct expect *e)
{
    e->in_message = false;
    buf_clear(&e->subject);
}

bool expect_item_is_met(const struct expect *e, size_t index)
{
    return index < e->num_items && e->items[index].is_met;
}

bool expect_is_met(const struct expect *e)
{
    return e->next == e->num_items && (!e->count_goal || e->received >= e->count_goal);
}

bool expect_count_exhausted(const struct expect *e)
{
    return e->count_goal && e->received >= e->count_goal && is_matching(e);
}

void expect_wait_start(struct expect *e, int64_t now_ms)
{
    e->is_waiting = true;
    e->wait_start_ms = now_ms;
    long wait = is_matching(e) ? e->items[e->next].wait_ms : -1;
    e->deadline_ms = wait >= 0 ? now_ms + wait : -1;
}

int64_t expect_deadline(const struct expect *e)
{
    return e->is_waiting && is_matching(e) ? e->deadline_ms : -1;
}

bool expect_has_expired(const struct expect *e, int64_t now_ms)
{
    int64_t d = expect_deadline(e);
    return d >= 0 && now_ms >= d;
}

/* "10 s", "2.5 s", "0.25 s" */
static void seconds(char *out, size_t outlen, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    if (ms % 1000 == 0)
        snprintf(out, outlen, "%lld s", (long long)(ms / 1000));
    else
        snprintf(out, outlen, "%.3g s", (double)ms / 1000.0);
}

static void describe_last(const struct expect *e, char *out, size_t outlen)
{
    if (!e->has_last) {
        out[0] = 0;
        return;
    }
    char shown[4 * EXPECT_LAST_MAX + 8];
    if (e->last_is_text) {
        expect_sanitize(shown, sizeof(shown), e->last, e->last_size, 48);
    } else {
        size_t n = e->last_size < 16 ? e->last_size : 16;
        size_t at = 0;
        strcpy(shown, "binary ");
        at = strlen(shown);
        for (size_t i = 0; i < n; i++)
            at += (size_t)snprintf(shown + at, sizeof(shown) - at, "%02x", e->last[i]);
        if (e->last_len > n)
            snprintf(shown + at, sizeof(shown) - at, "...");
    }
    if (e->last_len > 48 || !e->last_is_text)
        snprintf(out, outlen, "last: %s (%llu bytes)", shown, (unsigned long long)e->last_len);
    else
        snprintf(out, outlen, "last: %s", shown);
}

void expect_describe(const struct expect *e, enum expect_cause cause, int64_t now_ms, char *out,
                     size_t outlen)
{
    char took[32], when[80], last[4 * EXPECT_LAST_MAX + 64];
    seconds(took, sizeof(took), e->is_waiting ? now_ms - e->wait_start_ms : 0);
    if (cause == EXPECT_CLOSED)
        snprintf(when, sizeof(when), "in %s, before the connection ended", took);
    else
        snprintf(when, sizeof(when), "in %s", took);
    describe_last(e, last, sizeof(last));
    if (is_matching(e)) {
        char pat[160];
        const char *src = e->items[e->next].pat.source;
        expect_sanitize(pat, sizeof(pat), (const uint8_t *)src, strlen(src), 100);
        if (expect_count_exhausted(e)) {
            snprintf(out, outlen, "no message matched /%s/ in the first %llu messages%s%s%s", pat,
                     (unsigned long long)e->count_goal, *last ? " (" : "", last, *last ? ")" : "");
            return;
        }
        unsigned long long n = e->received_since;
        if (*last)
            snprintf(out, outlen, "no message matched /%s/ %s (%llu received; %s)", pat, when, n,
                     last);
        else
            snprintf(out, outlen, "no message matched /%s/ %s (none received)", pat, when);
        return;
    }
    if (e->count_goal && e->received < e->count_goal) {
        snprintf(out, outlen, "%llu of %llu messages received %s%s%s%s",
                 (unsigned long long)e->received, (unsigned long long)e->count_goal, when,
                 *last ? " (" : "", last, *last ? ")" : "");
        return;
    }
    snprintf(out, outlen, "every expectation was met");
}
