/* SPDX-License-Identifier: MIT */
#include "commands.h"

#include "expect.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const command_names[] = {
    "/ping", "/pong",   "/close", "/fragment", "/binary", "/raw",
    "/to",   "/expect", "/sleep", "/help",     "/quit",   NULL,
};

const char *command_help(void)
{
    return "/ping [text]            send a ping; its pong shows the round-trip time\n"
           "/pong [text]            send an unsolicited pong\n"
           "/close [code [reason]]  start the closing handshake\n"
           "/fragment N text        send text as one message in N frames\n"
           "/binary HEX             send a binary message (hex digits, spaces allowed)\n"
           "/binary @FILE           send a file as one binary message\n"
           "/raw [op=N|name] [fin=0|1] [rsv=0-7] [mask=0|1] [hex=HEX | text]\n"
           "                        send one frame exactly as described (may break the\n"
           "                        connection: for testing servers)\n"
           "/to ID text|/command    listen mode: send text, or run a command, for ID only\n"
           "/expect [-t SEC] REGEX  wait (10 s unless -t says) for a message matching\n"
           "                        REGEX (POSIX extended; binary as lowercase hex); a\n"
           "                        match consumes the messages up to it\n"
           "/sleep SEC              pause before the next line (scripts)\n"
           "/help                   this list\n"
           "/quit                   close and exit\n"
           "//text                  send \"/text\"\n";
}

void command_init(struct command *c)
{
    memset(c, 0, sizeof(*c));
    buf_init(&c->data, 0);
}

void command_free(struct command *c)
{
    buf_free(&c->data);
}

/* The line is not NUL-terminated: quote parts of it with %.*s. */
static void set_error(struct command *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(struct command *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    c->kind = CMD_ERROR;
    vsnprintf(c->error, sizeof(c->error), fmt, ap);
    va_end(ap);
}

static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Reads a decimal number; returns the position after it or NULL. */
static const char *read_number(const char *p, const char *end, unsigned long max,
                               unsigned long *out)
{
    unsigned long v = 0;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > max)
            return NULL;
        p++;
    }
    if (p == start || (p < end && *p != ' ' && *p != '\t'))
        return NULL;
    *out = v;
    return p;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
        return (ch | 0x20) - 'a' + 10;
    return -1;
}

/* Hex digits with optional blanks and an optional 0x prefix. */
static int decode_hex(const char *p, const char *end, struct buf *out)
{
    int hi = -1;
    if (end - p >= 2 && p[0] == '0' && (p[1] | 0x20) == 'x')
        p += 2;
    for (; p < end; p++) {
        if (*p == ' ' || *p == '\t' || *p == ':')
            continue;
        int v = hexval(*p);
        if (v < 0)
            return -1;
        if (hi < 0) {
            hi = v;
            continue;
        }
        uint8_t byte = (uint8_t)(hi << 4 | v);
        if (buf_append(out, &byte, 1) != 0)
            return -1;
        hi = -1;
    }
    return hi < 0 ? 0 : -1;
}

/* Longest /sleep or /expect -t: a day, in decimal seconds (0.5, 10). */
#define MAX_WAIT_MS (86400L * 1000)

/* Reads decimal seconds (digits, an optional fraction to the millisecond)
 * ending at a blank or the end; returns the position after them or NULL. */
static const char *read_seconds(const char *p, const char *end, long *ms)
{
    long whole = 0, frac = 0, scale = 1000;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9') {
        whole = whole * 10 + (*p - '0');
        if (whole > MAX_WAIT_MS / 1000)
            return NULL;
        p++;
    }
    if (p < end && *p == '.') {
        p++;
        while (p < end && *p >= '0' && *p <= '9') {
            if (scale > 1) {
                scale /= 10;
                frac += (*p - '0') * scale;
            }
            p++;
        }
    }
    if (p == start || (p - start == 1 && *start == '.') || (p < end && *p != ' ' && *p != '\t'))
        return NULL;
    *ms = whole * 1000 + frac;
    return *ms <= MAX_WAIT_MS ? p : NULL;
}

static bool word_is(const char *w, size_t n, const char *name)
{
    return strlen(name) == n && !strncmp(w, name, n);
}

static void parse_close(const char *p, const char *end, struct command *c)
{
    c->kind = CMD_CLOSE;
    c->code = WS_CLOSE_NORMAL;
    p = skip_blanks(p, end);
    c->text = p;
    c->len = 0;
    if (p == end)
        return;
    unsigned long code;
    const char *q = read_number(p, end, 65535, &code);
    if (!q) {
        set_error(c, "/close: '%.*s' is not a close code", (int)(end - p), p);
        return;
    }
    if (!ws_close_code_is_sendable((unsigned)code)) {
        char msg[32];
        snprintf(msg, sizeof(msg), "%lu", code);
        set_error(c, "/close: code %s may not be sent (RFC 6455 7.4: use 1000-1003, 1007-1014 "
                     "or 3000-4999)", msg);
        return;
    }
    c->code = (unsigned)code;
    q = skip_blanks(q, end);
    c->text = q;
    c->len = (size_t)(end - q);
    if (c->len > WS_MAX_CONTROL - 2)
        set_error(c, "/close: the reason is longer than 123 bytes");
}

static void parse_fragment(const char *p, const char *end, struct command *c)
{
    unsigned long n;
    p = skip_blanks(p, end);
    const char *q = read_number(p, end, 100000, &n);
    if (!q || n == 0) {
        set_error(c, "/fragment: usage: /fragment N text (N from 1 to 100000)");
        return;
    }
    q = skip_blanks(q, end);
    c->kind = CMD_FRAGMENT;
    c->count = (unsigned)n;
    c->text = q;
    c->len = (size_t)(end - q);
}

static void parse_binary(const char *p, const char *end, struct command *c)
{
    p = skip_blanks(p, end);
    if (p < end && *p == '@') {
        size_t n = (size_t)(end - p - 1);
        if (n == 0 || n >= sizeof(c->path)) {
            set_error(c, "/binary: bad file name");
            return;
        }
        memcpy(c->path, p + 1, n);
        c->path[n] = 0;
        c->kind = CMD_BINARY_FILE;
        return;
    }
    c->kind = CMD_BINARY;
    if (decode_hex(p, end, &c->data) != 0)
        set_error(c, "/binary: expected hex digits (or @FILE)");
}

static int raw_opcode(const char *v, size_t n, unsigned long *op)
{
    static const char *const names[] = {"cont", "text", "binary", NULL, NULL, NULL, NULL, NULL,
                                        "close", "ping", "pong"};
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i] && word_is(v, n, names[i])) {
            *op = i;
            return 0;
        }
    char *endp;
    char tmp[8];
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, v, n);
    tmp[n] = 0;
    *op = strtoul(tmp, &endp, 0);
    return *endp || *op > 15 ? -1 : 0;
}

static void parse_raw(const char *p, const char *end, struct command *c)
{
    c->kind = CMD_RAW;
    c->raw = (struct ws_frame_header){.is_final = true, .opcode = WS_OP_TEXT, .has_mask = true};
    bool has_payload = false;
    for (;;) {
        p = skip_blanks(p, end);
        const char *w = p;
        while (p < end && *p != ' ' && *p != '\t')
            p++;
        const char *eq = memchr(w, '=', (size_t)(p - w));
        if (w == p || !eq) {
            p = w; /* not a setting: the payload starts here */
            break;
        }
        size_t klen = (size_t)(eq - w), vlen = (size_t)(p - eq - 1);
        const char *v = eq + 1;
        unsigned long num;
        if (word_is(w, klen, "op")) {
            if (raw_opcode(v, vlen, &num) != 0) {
                set_error(c, "/raw: bad opcode '%.*s'", (int)vlen, v);
                return;
            }
            c->raw.opcode = (uint8_t)num;
        } else if (word_is(w, klen, "fin") || word_is(w, klen, "mask") ||
                   word_is(w, klen, "rsv")) {
            unsigned long max = word_is(w, klen, "rsv") ? 7 : 1;
            if (vlen != 1 || v[0] < '0' || (unsigned long)(v[0] - '0') > max) {
                set_error(c, "/raw: bad value in '%.*s'", (int)(p - w), w);
                return;
            }
            num = (unsigned long)(v[0] - '0');
            if (word_is(w, klen, "fin"))
                c->raw.is_final = num != 0;
            else if (word_is(w, klen, "mask"))
                c->raw.has_mask = num != 0;
            else
                c->raw.rsv = (uint8_t)num;
        } else if (word_is(w, klen, "hex")) {
            if (decode_hex(v, p, &c->data) != 0) {
                set_error(c, "/raw: bad hex payload");
                return;
            }
            has_payload = true;
        } else {
            p = w; /* not a setting: the text payload starts here */
            break;
        }
    }
    if (!has_payload && p < end && buf_append(&c->data, p, (size_t)(end - p)) != 0) {
        set_error(c, "/raw: out of memory");
        return;
    }
    c->raw.len = buf_size(&c->data);
}

static void parse_sleep(const char *p, const char *end, struct command *c)
{
    p = skip_blanks(p, end);
    const char *q = read_seconds(p, end, &c->wait_ms);
    if (!q || skip_blanks(q, end) != end) {
        set_error(c, "/sleep: usage: /sleep SEC (decimal seconds, at most 86400)");
        return;
    }
    c->kind = CMD_SLEEP;
}

/* "/expect [-t SEC] REGEX": the rest of the line is the pattern. */
static void parse_expect(const char *p, const char *end, struct command *c)
{
    c->wait_ms = EXPECT_DEFAULT_WAIT_MS;
    p = skip_blanks(p, end);
    bool has_t = end - p >= 2 && p[0] == '-' && p[1] == 't' &&
                 (end - p == 2 || p[2] == ' ' || p[2] == '\t');
    if (has_t) {
        const char *q = read_seconds(skip_blanks(p + 2, end), end, &c->wait_ms);
        if (!q) {
            set_error(c, "/expect: -t wants decimal seconds (at most 86400)");
            return;
        }
        p = skip_blanks(q, end);
    }
    if (p == end) {
        set_error(c, "/expect: usage: /expect [-t SEC] REGEX");
        return;
    }
    struct expect_pattern pat;
    char why[sizeof(c->error) - 20];
    if (expect_pattern_compile(&pat, p, (size_t)(end - p), why, sizeof(why)) != 0) {
        set_error(c, "/expect: %s", why);
        return;
    }
    expect_pattern_free(&pat);
    c->kind = CMD_EXPECT;
    c->text = p;
    c->len = (size_t)(end - p);
}

void command_parse(const char *line, size_t len, struct command *c)
{
    buf_clear(&c->data);
    c->error[0] = 0;
    c->wait_ms = 0;
    c->text = line;
    c->len = len;
    const char *end = line + len;
    if (len == 0 || line[0] != '/') {
        c->kind = CMD_TEXT;
        return;
    }
    if (len >= 2 && line[1] == '/') {
        c->kind = CMD_TEXT; /* "//x" sends "/x" */
        c->text = line + 1;
        c->len = len - 1;
        return;
    }
    const char *w = line;
    const char *p = w;
    while (p < end && *p != ' ' && *p != '\t')
        p++;
    size_t n = (size_t)(p - w);
    const char *arg = skip_blanks(p, end);
    if (word_is(w, n, "/ping") || word_is(w, n, "/pong")) {
        c->kind = w[2] == 'i' ? CMD_PING : CMD_PONG;
        c->text = arg;
        c->len = (size_t)(end - arg);
        if (c->len > WS_MAX_CONTROL)
            set_error(c, "%s: control frame payloads are at most 125 bytes",
                      c->kind == CMD_PING ? "/ping" : "/pong");
    } else if (word_is(w, n, "/close")) {
        parse_close(p, end, c);
    } else if (word_is(w, n, "/fragment")) {
        parse_fragment(p, end, c);
    } else if (word_is(w, n, "/binary")) {
        parse_binary(p, end, c);
    } else if (word_is(w, n, "/raw")) {
        parse_raw(p, end, c);
    } else if (word_is(w, n, "/to")) {
        unsigned long id;
        const char *q = read_number(arg, end, 1u << 30, &id);
        if (!q) {
            set_error(c, "/to: usage: /to ID text");
            return;
        }
        c->kind = CMD_TO;
        c->target = (unsigned)id;
        c->text = skip_blanks(q, end);
        c->len = (size_t)(end - c->text);
    } else if (word_is(w, n, "/expect")) {
        parse_expect(p, end, c);
    } else if (word_is(w, n, "/sleep")) {
        parse_sleep(p, end, c);
    } else if (word_is(w, n, "/help") || word_is(w, n, "/?")) {
        c->kind = CMD_HELP;
    } else if (word_is(w, n, "/quit") || word_is(w, n, "/exit")) {
        c->kind = CMD_QUIT;
    } else {
        char name[40];
        snprintf(name, sizeof(name), "%.*s", (int)(n < 30 ? n : 30), w);
        set_error(c, "unknown command %s (try /help; start a line with // to send a leading /)",
                  name);
    }
}
