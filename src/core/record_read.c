/* SPDX-License-Identifier: MIT */
/* The reader of recordings (record.h): a streaming parser of the JSON lines
 * the writer in record.c makes, in bounded memory per message. */
#include "record.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"

/* Parser states for one line (one JSON object, one level of nesting for
 * the opening's headers). */
enum {
    P_START,     /* before '{'; blank lines are skipped */
    P_OBJ_OPEN,  /* after '{': a member or '}' */
    P_KEY_START, /* after ',': a member */
    P_COLON,
    P_VALUE,
    P_STRING,      /* inside a string (key or value) */
    P_ESC,         /* after a backslash */
    P_UHEX,        /* \uXXXX */
    P_LOW_BS,      /* a high surrogate wants "\uDC00".. next: the backslash */
    P_LOW_U,       /* .. and the 'u' */
    P_SCALAR,      /* a number or literal */
    P_AFTER_VALUE, /* ',' or '}' */
    P_END,         /* after the object: the newline */
};

static int fail(struct rec_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct rec_reader *r, const char *fmt, ...)
{
    int n = snprintf(r->error, sizeof(r->error), "line %lu: ", r->line);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(r->error))
        vsnprintf(r->error + n, sizeof(r->error) - (size_t)n, fmt, ap);
    va_end(ap);
    r->has_error = true;
    return -1;
}

/* Raw bytes a "data" string may hold: base64 of max_message bytes. */
static size_t data_cap(uint64_t max_message)
{
    if (!max_message || max_message > SIZE_MAX / 2)
        return 0;
    return (size_t)(max_message / 3 + 2) * 4;
}

void rec_reader_init(struct rec_reader *r, uint64_t max_message)
{
    memset(r, 0, sizeof(*r));
    r->max_message = max_message;
    r->line = 1;
    buf_init(&r->ev.payload, 0);
    buf_init(&r->data, data_cap(max_message));
    buf_init(&r->sval, 4096);
    for (size_t i = 0; i < REC_MAX_PARTIAL; i++)
        buf_init(&r->partial[i].data, 0);
}

void rec_reader_free(struct rec_reader *r)
{
    buf_free(&r->ev.payload);
    buf_free(&r->data);
    buf_free(&r->sval);
    for (size_t i = 0; i < REC_MAX_PARTIAL; i++)
        buf_free(&r->partial[i].data);
}

const struct rec_event *rec_reader_event(const struct rec_reader *r)
{
    return &r->ev;
}

const char *rec_reader_error(const struct rec_reader *r)
{
    return r->has_error ? r->error : "";
}

static void begin_line(struct rec_reader *r)
{
    r->depth = 1;
    r->state = P_OBJ_OPEN;
    buf_clear(&r->data);
    r->type[0] = r->from[0] = r->encoding[0] = r->role[0] = 0;
    r->has_opcode = r->has_client = r->has_t = r->has_code = r->has_length = false;
    r->has_data = r->is_more = r->is_incompl = false;
    r->ev.url[0] = r->ev.subprotocol[0] = r->ev.extensions[0] = 0;
}

static bool key_is(const struct rec_reader *r, const char *name)
{
    return !strcmp(r->key, name);
}

/* The string about to start: a member name, or a value and where it goes. */
static void start_string(struct rec_reader *r, bool is_key)
{
    r->ret_state = is_key ? P_COLON : P_AFTER_VALUE;
    r->state = P_STRING;
    r->high = 0;
    if (!is_key && r->depth == 1 && (key_is(r, "data") || key_is(r, "reason"))) {
        buf_clear(&r->data);
        r->sink = &r->data;
        return;
    }
    buf_clear(&r->sval);
    r->sink = &r->sval;
}

static int sink_add(struct rec_reader *r, const void *p, size_t n)
{
    if (buf_append(r->sink, p, n) == 0)
        return 0;
    if (r->sink == &r->data)
        return fail(r, "the message is larger than --max-message (%" PRIu64 " bytes)",
                    r->max_message);
    return fail(r, "a value longer than %zu bytes", r->sval.max);
}

static int add_code_point(struct rec_reader *r, uint32_t cp)
{
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xC0 | cp >> 6);
        u[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xE0 | cp >> 12);
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xF0 | cp >> 18);
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return sink_add(r, u, n);
}

/* Copies a short string value into a field of fixed size. */
static int copy_value(struct rec_reader *r, char *dst, size_t dstlen)
{
    size_t n = buf_size(&r->sval);
    if (n >= dstlen || memchr(buf_head(&r->sval), 0, n))
        return fail(r, "\"%s\" is too long or holds a NUL", r->key);
    memcpy(dst, buf_head(&r->sval), n);
    dst[n] = 0;
    return 0;
}

static int string_done(struct rec_reader *r)
{
    r->state = r->ret_state;
    if (r->ret_state == P_COLON) { /* a member name */
        char *key = r->depth == 1 ? r->key : r->key2;
        size_t max = r->depth == 1 ? sizeof(r->key) : sizeof(r->key2);
        size_t n = buf_size(&r->sval);
        if (n >= max || memchr(buf_head(&r->sval), 0, n))
            n = 0; /* not a name we know: "" */
        memcpy(key, buf_head(&r->sval), n);
        key[n] = 0;
        return 0;
    }
    if (r->depth == 2) {
        /* the response's headers that a replay uses */
        if (!key_is(r, "response"))
            return 0;
        if (!strcasecmp(r->key2, "Sec-WebSocket-Protocol"))
            return copy_value(r, r->ev.subprotocol, sizeof(r->ev.subprotocol));
        if (!strcasecmp(r->key2, "Sec-WebSocket-Extensions"))
            return copy_value(r, r->ev.extensions, sizeof(r->ev.extensions));
        return 0;
    }
    if (key_is(r, "data") || key_is(r, "reason")) {
        r->has_data = true;
        return 0;
    }
    if (key_is(r, "type"))
        return copy_value(r, r->type, sizeof(r->type));
    if (key_is(r, "from"))
        return copy_value(r, r->from, sizeof(r->from));
    if (key_is(r, "encoding"))
        return copy_value(r, r->encoding, sizeof(r->encoding));
    if (key_is(r, "role"))
        return copy_value(r, r->role, sizeof(r->role));
    if (key_is(r, "url"))
        return copy_value(r, r->ev.url, sizeof(r->ev.url));
    return 0;
}

static int scalar_done(struct rec_reader *r)
{
    r->scalar[r->scalar_len] = 0;
    const char *s = r->scalar;
    r->state = P_AFTER_VALUE;
    bool is_true = !strcmp(s, "true");
    if (is_true || !strcmp(s, "false") || !strcmp(s, "null")) {
        if (r->depth == 1 && key_is(r, "more"))
            r->is_more = is_true;
        else if (r->depth == 1 && key_is(r, "incomplete"))
            r->is_incompl = is_true;
        return 0;
    }
    char *end;
    errno = 0;
    (void)strtod(s, &end);
    if (end == s || *end || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
        return fail(r, "bad value '%s'", s);
    if (r->depth != 1)
        return 0;
    struct {
        const char *name;
        bool *has;
        int64_t *v;
    } ints[] = {
        {"opcode", &r->has_opcode, &r->opcode},
        {"client", &r->has_client, &r->client},
        {"t", &r->has_t, &r->t},
        {"code", &r->has_code, &r->code},
        {"length", &r->has_length, &r->length},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (!key_is(r, ints[i].name))
            continue;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || *end)
            return fail(r, "\"%s\" is not an integer", r->key);
        /* milliseconds since the opening: -1 stands for "none" once read */
        if (ints[i].v == &r->t && v < 0)
            return fail(r, "\"t\" is negative");
        *ints[i].has = true;
        *ints[i].v = v;
    }
    return 0;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

static int escape_done(struct rec_reader *r)
{
    uint32_t cp = r->uhex;
    if (r->high) {
        if (cp < 0xDC00 || cp > 0xDFFF)
            return fail(r, "a lone surrogate in a \\u escape");
        cp = 0x10000 + ((r->high - 0xD800) << 10) + (cp - 0xDC00);
        r->high = 0;
    } else if (cp >= 0xD800 && cp <= 0xDBFF) {
        r->high = cp;
        r->state = P_LOW_BS;
        return 0;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return fail(r, "a lone surrogate in a \\u escape");
    }
    r->state = P_STRING;
    return add_code_point(r, cp);
}

static int finish_line(struct rec_reader *r);

/* One byte of the line; returns 0, 1 when an event is ready, -1. */
static int step(struct rec_reader *r, uint8_t c)
{
    bool is_space = c == ' ' || c == '\t' || c == '\r';
    if (c == '\n' && r->state != P_START && r->state != P_END && r->state != P_SCALAR)
        return fail(r, "the line ends inside its object");
    switch (r->state) {
    case P_START:
        if (is_space)
            return 0;
        if (c == '\n') {
            r->line++; /* a blank line */
            return 0;
        }
        if (c != '{')
            return fail(r, "expected a JSON object");
        begin_line(r);
        return 0;
    case P_OBJ_OPEN:
    case P_KEY_START:
        if (is_space)
            return 0;
        if (c == '"') {
            start_string(r, true);
            return 0;
        }
        if (c == '}' && r->state == P_OBJ_OPEN)
            break; /* an empty object: as after a value */
        return fail(r, "expected a member name");
    case P_COLON:
        if (is_space)
            return 0;
        if (c != ':')
            return fail(r, "expected ':'");
        r->state = P_VALUE;
        return 0;
    case P_VALUE:
        if (is_space)
            return 0;
        if (c == '"') {
            start_string(r, false);
            return 0;
        }
        if (c == '{') {
            if (r->depth != 1)
                return fail(r, "objects nest too deep");
            r->depth = 2;
            r->state = P_OBJ_OPEN;
            return 0;
        }
        if (c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) {
            r->scalar_len = 0;
            r->state = P_SCALAR;
            return step(r, c);
        }
        return fail(r, "unexpected '%c'", c >= 0x20 && c < 0x7F ? c : '?');
    case P_STRING:
        if (c == '"')
            return string_done(r);
        if (c == '\\') {
            r->state = P_ESC;
            return 0;
        }
        if (c < 0x20)
            return fail(r, "a control character inside a string");
        return sink_add(r, &c, 1);
    case P_ESC: {
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *e = c ? strchr(from, c) : NULL;
        if (c == 'u') {
            r->uhex = 0;
            r->uhex_len = 0;
            r->state = P_UHEX;
            return 0;
        }
        if (!e)
            return fail(r, "a bad escape in a string");
        r->state = P_STRING;
        return sink_add(r, &to[e - from], 1);
    }
    case P_UHEX: {
        int v = hexval(c);
        if (v < 0)
            return fail(r, "a bad \\u escape");
        r->uhex = r->uhex << 4 | (uint32_t)v;
        if (++r->uhex_len < 4)
            return 0;
        return escape_done(r);
    }
    case P_LOW_BS:
    case P_LOW_U:
        if (c != (r->state == P_LOW_BS ? '\\' : 'u'))
            return fail(r, "a lone surrogate in a \\u escape");
        if (r->state == P_LOW_BS) {
            r->state = P_LOW_U;
        } else {
            r->uhex = 0;
            r->uhex_len = 0;
            r->state = P_UHEX;
        }
        return 0;
    case P_SCALAR:
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            c == '.' || c == '+' || c == '-') {
            if (r->scalar_len + 1 >= sizeof(r->scalar))
                return fail(r, "a number or literal too long");
            r->scalar[r->scalar_len++] = (char)c;
            return 0;
        }
        if (scalar_done(r) != 0)
            return -1;
        return step(r, c);
    case P_AFTER_VALUE:
        if (is_space)
            return 0;
        if (c == ',') {
            r->state = P_KEY_START;
            return 0;
        }
        if (c == '}')
            break;
        return fail(r, "expected ',' or '}'");
    case P_END:
        if (is_space)
            return 0;
        if (c != '\n')
            return fail(r, "more after the object");
        r->state = P_START;
        int rc = finish_line(r);
        r->line++;
        return rc;
    }
    /* '}' */
    if (r->depth == 2) {
        r->depth = 1;
        r->state = P_AFTER_VALUE;
    } else {
        r->state = P_END;
    }
    return 0;
}

/* RFC 4648 base64, padded, decoded in place. */
static int base64_decode(struct rec_reader *r, struct buf *b)
{
    uint8_t *p = b->data ? b->data + b->off : NULL;
    size_t n = buf_size(b), out = 0;
    if (n % 4)
        return fail(r, "base64 data is not a multiple of 4 characters");
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (size_t k = 0; k < 4; k++) {
            uint8_t c = p[i + k];
            int d = c >= 'A' && c <= 'Z'   ? c - 'A'
                    : c >= 'a' && c <= 'z' ? c - 'a' + 26
                    : c >= '0' && c <= '9' ? c - '0' + 52
                    : c == '+'             ? 62
                    : c == '/'             ? 63
                                           : -1;
            if (c == '=' && i + 4 == n && k >= 2 && (k == 3 || p[i + 3] == '=')) {
                pad++;
                d = 0;
            } else if (d < 0 || pad) {
                return fail(r, "bad base64 data");
            }
            v = v << 6 | (uint32_t)d;
        }
        p[out++] = (uint8_t)(v >> 16);
        if (pad < 2)
            p[out++] = (uint8_t)(v >> 8);
        if (pad < 1)
            p[out++] = (uint8_t)v;
    }
    buf_drop_tail(b, n - out);
    return 0;
}

static void swap_bufs(struct buf *a, struct buf *b)
{
    struct buf t = *a;
    *a = *b;
    *b = t;
}

static struct rec_partial *find_partial(struct rec_reader *r, unsigned client, enum rec_from from)
{
    for (size_t i = 0; i < REC_MAX_PARTIAL; i++)
        if (r->partial[i].is_used && r->partial[i].client == client && r->partial[i].from == from)
            return &r->partial[i];
    return NULL;
}

static bool fits(const struct rec_reader *r, uint64_t n)
{
    return !r->max_message || n <= r->max_message;
}

/* The event's payload: this line's data, moved rather than copied. */
static void take_data(struct rec_reader *r, struct buf *from)
{
    size_t max = r->data.max;
    swap_bufs(&r->ev.payload, from);
    buf_clear(from);
    from->max = from == &r->data ? max : SIZE_MAX;
    r->ev.payload.max = SIZE_MAX;
}

static int message_line(struct rec_reader *r, enum rec_type type, enum rec_from from,
                        unsigned client)
{
    bool is_cont = r->has_opcode && r->opcode == 0;
    int64_t want = type == REC_TEXT ? WS_OP_TEXT : WS_OP_BINARY;
    if (r->has_opcode && !is_cont && r->opcode != want)
        return fail(r, "opcode %" PRId64 " for a %s message", r->opcode, r->type);
    struct rec_partial *part = find_partial(r, client, from);
    if (!is_cont) {
        if (part)
            return fail(r, "a new message before the one at line %lu ended", part->line);
        r->ev.t = r->has_t ? r->t : -1;
        if (!r->is_more || r->is_incompl) {
            take_data(r, &r->data);
            return 1;
        }
        for (size_t i = 0; i < REC_MAX_PARTIAL && !part; i++)
            if (!r->partial[i].is_used)
                part = &r->partial[i];
        if (!part)
            return fail(r, "more than %d messages in parts at once", REC_MAX_PARTIAL);
        part->is_used = true;
        part->client = client;
        part->from = from;
        part->type = type;
        part->t = r->ev.t;
        part->line = r->line;
        buf_clear(&part->data);
        swap_bufs(&part->data, &r->data);
        r->data.max = part->data.max;
        part->data.max = SIZE_MAX; /* bounded by fits() */
        return 0;
    }
    if (!part)
        return fail(r, "a continuation (opcode 0) of no message");
    if (part->type != type)
        return fail(r, "a %s continuation of a %s message", r->type,
                    part->type == REC_TEXT ? "text" : "binary");
    if (!fits(r, (uint64_t)buf_size(&part->data) + buf_size(&r->data)))
        return fail(r, "the message is larger than --max-message (%" PRIu64 " bytes)",
                    r->max_message);
    if (buf_append(&part->data, buf_head(&r->data), buf_size(&r->data)) != 0)
        return fail(r, "out of memory");
    if (r->is_more && !r->is_incompl)
        return 0;
    r->ev.t = part->t;
    r->ev.line = part->line;
    take_data(r, &part->data);
    part->is_used = false;
    return 1;
}

static int finish_line(struct rec_reader *r)
{
    struct rec_event *ev = &r->ev;
    if (!*r->type)
        return fail(r, "no \"type\"");
    ev->line = r->line;
    ev->client = 0;
    if (r->has_client) {
        if (r->client < 0 || r->client > UINT_MAX)
            return fail(r, "bad \"client\"");
        ev->client = (unsigned)r->client;
    }
    ev->t = r->has_t ? r->t : -1;
    ev->code = -1;
    ev->is_incomplete = r->is_incompl;
    buf_clear(&ev->payload);
    if (!strcmp(r->type, "open")) {
        ev->type = REC_OPEN;
        ev->from = REC_FROM_NONE;
        ev->role = !strcmp(r->role, "client")   ? REC_FROM_CLIENT
                   : !strcmp(r->role, "server") ? REC_FROM_SERVER
                                                : REC_FROM_NONE;
        return 1;
    }
    static const struct {
        const char *name;
        enum rec_type type;
    } types[] = {{"text", REC_TEXT},
                 {"binary", REC_BINARY},
                 {"ping", REC_PING},
                 {"pong", REC_PONG},
                 {"close", REC_CLOSE}};
    size_t k = 0;
    while (k < sizeof(types) / sizeof(types[0]) && strcmp(r->type, types[k].name))
        k++;
    if (k == sizeof(types) / sizeof(types[0]))
        return 0; /* another kind of line (a later version's): skipped */
    ev->type = types[k].type;
    ev->from = !strcmp(r->from, "client")   ? REC_FROM_CLIENT
               : !strcmp(r->from, "server") ? REC_FROM_SERVER
                                            : REC_FROM_NONE;
    if (ev->from == REC_FROM_NONE)
        return fail(r, "\"from\" is not \"client\" or \"server\"");
    if (!strcmp(r->encoding, "base64")) {
        if (base64_decode(r, &r->data) != 0)
            return -1;
    } else if (*r->encoding) {
        return fail(r, "unknown encoding \"%s\"", r->encoding);
    }
    if (ev->type == REC_CLOSE) {
        if (r->has_code && (r->code < 0 || r->code > 65535))
            return fail(r, "bad close code");
        if (buf_size(&r->data) > WS_MAX_CONTROL - 2)
            return fail(r, "a close reason longer than 123 bytes");
        ev->code = r->has_code ? (int)r->code : -1;
        take_data(r, &r->data);
        return 1;
    }
    if (r->has_length && (r->length < 0 || (uint64_t)r->length != buf_size(&r->data)))
        return fail(r, "\"length\" is %" PRId64 " but the data holds %zu bytes", r->length,
                    buf_size(&r->data));
    if (ev->type == REC_PING || ev->type == REC_PONG) {
        if (buf_size(&r->data) > WS_MAX_CONTROL)
            return fail(r, "a %s payload longer than 125 bytes", r->type);
        take_data(r, &r->data);
        return 1;
    }
    if (!fits(r, buf_size(&r->data)))
        return fail(r, "the message is larger than --max-message (%" PRIu64 " bytes)",
                    r->max_message);
    int rc = message_line(r, ev->type, ev->from, ev->client);
    if (rc == 1 && ev->type == REC_TEXT && !ev->is_incomplete) {
        struct utf8_state st = {0};
        size_t n = buf_size(&ev->payload);
        if (utf8_validate(&st, buf_head(&ev->payload), n) != n || !utf8_is_complete(&st))
            return fail(r, "the text message (line %lu) is not valid UTF-8", ev->line);
    }
    return rc;
}

enum rec_result rec_reader_feed(struct rec_reader *r, const uint8_t *p, size_t len, size_t *used)
{
    size_t i = 0;
    if (r->has_error) {
        *used = 0;
        return REC_ERROR;
    }
    while (i < len) {
        if (r->state == P_STRING) {
            /* the bulk of a recording: plain string bytes, taken in runs */
            size_t k = i;
            while (k < len && p[k] != '"' && p[k] != '\\' && p[k] >= 0x20)
                k++;
            if (k > i && sink_add(r, p + i, k - i) != 0) {
                *used = k;
                return REC_ERROR;
            }
            i = k;
            if (i == len)
                break;
        }
        int rc = step(r, p[i++]);
        if (rc != 0) {
            *used = i;
            return rc < 0 ? REC_ERROR : REC_EVENT;
        }
    }
    *used = len;
    return REC_MORE;
}

static bool has_partial(const struct rec_reader *r)
{
    for (size_t i = 0; i < REC_MAX_PARTIAL; i++)
        if (r->partial[i].is_used)
            return true;
    return false;
}

enum rec_result rec_reader_finish(struct rec_reader *r)
{
    if (r->has_error)
        return REC_ERROR;
    if (r->state == P_SCALAR || r->state == P_END) {
        if (r->state == P_SCALAR) {
            /* only a value that ends the object can end the file */
            r->was_cut = true;
            r->state = P_START;
            return REC_DONE;
        }
        r->state = P_START;
        int rc = finish_line(r);
        if (rc != 0)
            return rc < 0 ? REC_ERROR : REC_EVENT;
    }
    if (r->state != P_START || has_partial(r))
        r->was_cut = true;
    r->state = P_START;
    for (size_t i = 0; i < REC_MAX_PARTIAL; i++)
        r->partial[i].is_used = false;
    return REC_DONE;
}
