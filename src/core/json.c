/* SPDX-License-Identifier: MIT */
#include "json.h"

#include <stdbool.h>
#include <string.h>

/* One pass over the text: validating only (emit NULL) or emitting too. */
struct parser {
    const char *p;
    const char *end;
    unsigned depth;
    unsigned indent;
    json_emit_fn emit;
    void *ctx;
};

static void out(struct parser *ps, enum json_token kind, const char *p, size_t len)
{
    if (ps->emit)
        ps->emit(ps->ctx, kind, p, len);
}

static void newline(struct parser *ps)
{
    static const char spaces[] = "                                ";
    if (!ps->emit)
        return;
    out(ps, JSON_SPACE, "\n", 1);
    size_t n = (size_t)ps->depth * ps->indent;
    while (n) {
        size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
        out(ps, JSON_SPACE, spaces, k);
        n -= k;
    }
}

/* RFC 8259 2: insignificant whitespace is space, tab, LF and CR. */
static void skip_space(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 8259 7: control characters must be escaped; the escapes are
 * \" \\ \/ \b \f \n \r \t and \uXXXX. */
static int parse_string(struct parser *ps, enum json_token kind)
{
    const char *start = ps->p++;
    while (ps->p < ps->end) {
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            out(ps, kind, start, (size_t)(ps->p - start));
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            ps->p++;
            continue;
        }
        if (ps->end - ps->p < 2)
            return -1;
        char e = ps->p[1];
        if (e == 'u') {
            if (ps->end - ps->p < 6)
                return -1;
            for (int i = 2; i < 6; i++)
                if (!is_hex(ps->p[i]))
                    return -1;
            ps->p += 6;
        } else if (e && strchr("\"\\/bfnrt", e)) {
            ps->p += 2;
        } else {
            return -1;
        }
    }
    return -1;
}

static const char *digits(const char *p, const char *end)
{
    while (p < end && is_digit(*p))
        p++;
    return p;
}

/* RFC 8259 6: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(struct parser *ps)
{
    const char *start = ps->p, *p = ps->p, *end = ps->end;
    if (p < end && *p == '-')
        p++;
    if (p == end || !is_digit(*p))
        return -1;
    p = *p == '0' ? p + 1 : digits(p, end);
    if (p < end && *p == '.') {
        const char *q = digits(p + 1, end);
        if (q == p + 1)
            return -1;
        p = q;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        const char *q = digits(p, end);
        if (q == p)
            return -1;
        p = q;
    }
    ps->p = p;
    out(ps, JSON_NUMBER, start, (size_t)(p - start));
    return 0;
}

static int parse_literal(struct parser *ps)
{
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(ps->end - ps->p) >= n && !memcmp(ps->p, words[i], n)) {
            out(ps, JSON_LITERAL, ps->p, n);
            ps->p += n;
            return 0;
        }
    }
    return -1;
}

static int parse_value(struct parser *ps);

/* An object or an array: open is '{' or '['. */
static int parse_container(struct parser *ps, char open)
{
    char close = open == '{' ? '}' : ']';
    if (ps->depth >= JSON_MAX_DEPTH)
        return -1;
    out(ps, JSON_PUNCT, &open, 1);
    ps->p++;
    ps->depth++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        out(ps, JSON_PUNCT, &close, 1);
        return 0;
    }
    for (;;) {
        newline(ps);
        if (open == '{') {
            if (ps->p == ps->end || *ps->p != '"' || parse_string(ps, JSON_KEY) != 0)
                return -1;
            skip_space(ps);
            if (ps->p == ps->end || *ps->p != ':')
                return -1;
            ps->p++;
            out(ps, JSON_PUNCT, ":", 1);
            out(ps, JSON_SPACE, " ", 1);
            skip_space(ps);
        }
        if (parse_value(ps) != 0)
            return -1;
        skip_space(ps);
        if (ps->p == ps->end)
            return -1;
        if (*ps->p == ',') {
            ps->p++;
            out(ps, JSON_PUNCT, ",", 1);
            skip_space(ps);
            continue;
        }
        if (*ps->p != close)
            return -1;
        ps->p++;
        ps->depth--;
        newline(ps);
        out(ps, JSON_PUNCT, &close, 1);
        return 0;
    }
}

static int parse_value(struct parser *ps)
{
    if (ps->p == ps->end)
        return -1;
    switch (*ps->p) {
    case '{':
    case '[': return parse_container(ps, *ps->p);
    case '"': return parse_string(ps, JSON_STRING);
    case 't':
    case 'f':
    case 'n': return parse_literal(ps);
    default: return parse_number(ps);
    }
}

static int run(const char *p, size_t len, unsigned indent, json_emit_fn emit, void *ctx)
{
    struct parser ps = {.p = p, .end = p + len, .indent = indent, .emit = emit, .ctx = ctx};
    skip_space(&ps);
    if (parse_value(&ps) != 0)
        return -1;
    skip_space(&ps);
    return ps.p == ps.end ? 0 : -1;
}

int json_validate(const char *p, size_t len)
{
    return run(p, len, 0, NULL, NULL);
}

int json_pretty(const char *p, size_t len, unsigned indent, json_emit_fn emit, void *ctx)
{
    if (run(p, len, indent, NULL, NULL) != 0)
        return -1;
    return run(p, len, indent, emit, ctx);
}
