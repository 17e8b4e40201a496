/* SPDX-License-Identifier: MIT */
#include "output.h"

#include "console.h"
#include "json.h"
#include "jsonl.h"
#include "utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* stdout's buffer is written out at a message's end once it holds FLUSH_AT,
 * and before anything would take it past OUT_MAX: one read from the peer can
 * bring many messages, and a small buffer stays in the cache. */
#define FLUSH_AT (64 * 1024)
#define OUT_MAX (2 * FLUSH_AT)
/* A message is written only once complete, so that a broken one leaves
 * nothing behind; one larger than this streams out as it arrives. */
#define STREAM_AT (1024 * 1024)
/* --pretty holds a text message whole up to this size; larger ones are
 * shown as they are. */
#define PRETTY_MAX STREAM_AT
#define PREVIEW_BYTES 24 /* --trace: payload bytes shown */

/* Colours (SGR): one per direction and kind of event. */
#define SGR_RESET "\033[0m"
#define SGR_INCOMING "\033[1;32m" /* "< " before a received message, "<<" frames */
#define SGR_OUTGOING "\033[1;34m" /* ">>" frames */
#define SGR_TIME "\033[2m"        /* -T timestamps, hex dump offsets */
#define SGR_CONTROL "\033[35m"    /* pings, pongs, control frames */
#define SGR_NOTE "\033[36m"       /* wsc: notes on stderr */
#define SGR_ERROR "\033[1;31m"    /* wsc: errors */
#define SGR_JSON_KEY "\033[34m"
#define SGR_JSON_STRING "\033[32m"
#define SGR_JSON_NUMBER "\033[36m"
#define SGR_JSON_LITERAL "\033[35m"

/* The output that notes write out before themselves, and whether stderr
 * takes colour: notes and errors come from everywhere (main, the loop). */
static struct output *current;
static bool err_color;

static bool wants_color(enum tri color, int fd)
{
    if (color != TRI_AUTO)
        return color == TRI_YES;
    const char *no_color = getenv("NO_COLOR"); /* no-color.org: set and not empty */
    const char *term = getenv("TERM");
    if ((no_color && *no_color) || (term && !strcmp(term, "dumb")))
        return false;
    return isatty(fd);
}

void output_init(struct output *o, const struct options *opt)
{
    memset(o, 0, sizeof(*o));
    buf_init(&o->out, 0);
    buf_init(&o->pretty, PRETTY_MAX);
    buf_init(&o->held, 0);
    o->is_tty = isatty(STDOUT_FILENO);
    o->is_interactive = opt->interactive == TRI_YES ||
                        (opt->interactive == TRI_AUTO && isatty(STDIN_FILENO) && o->is_tty);
    o->is_quiet = opt->is_quiet;
    o->show_ping_pong = opt->show_ping_pong;
    o->is_trace = opt->is_trace;
    o->has_timestamps = opt->has_timestamps;
    o->is_jsonl = opt->is_jsonl;
    o->is_pretty = opt->is_pretty && !opt->is_jsonl;
    /* JSON lines are for programs: never coloured. */
    o->has_color = !o->is_jsonl && wants_color(opt->color, STDOUT_FILENO);
    o->has_color_err = wants_color(opt->color, STDERR_FILENO);
    o->binary = opt->binary_format;
    if (o->binary == BIN_AUTO)
        o->binary = o->is_tty ? BIN_HEX : BIN_RAW;
    /* what output_message_begin and _end add in a pipe: nothing */
    o->is_plain = !o->is_tty && !o->is_interactive && !o->is_jsonl && !o->has_timestamps &&
                  !o->is_pretty;
    current = o;
    err_color = o->has_color_err;
}

void output_free(struct output *o)
{
    buf_free(&o->out);
    buf_free(&o->pretty);
    buf_free(&o->held);
    if (current == o)
        current = NULL;
}

/* Writes out all but a message still held back, when n more bytes would
 * take the buffer past OUT_MAX. */
static inline void make_room(struct output *o, size_t n)
{
    size_t size = buf_size(&o->out);
    if (size && size + n > OUT_MAX)
        output_flush(o);
}

/* At a message's end: a buffer that holds FLUSH_AT is written out. */
static inline void flush_when_full(struct output *o)
{
    if (buf_size(&o->out) >= FLUSH_AT)
        output_flush(o);
}

static inline void put(struct output *o, const void *p, size_t n)
{
    if (o->failed)
        return;
    make_room(o, n);
    if (buf_append(&o->out, p, n) != 0) {
        o->failed = true;
        o->error_no = ENOMEM;
        return;
    }
    if (o->is_open)
        o->open_len += n;
}

static inline void puts_(struct output *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_color(struct output *o, const char *sgr)
{
    if (o->has_color)
        puts_(o, sgr);
}

/* ---- text, escaped for a terminal or for JSON ---- */

static bool is_c1(uint8_t next)
{
    return next >= 0x80 && next <= 0x9F;
}

static void put_escape(struct output *o, uint8_t c)
{
    char esc[8];
    snprintf(esc, sizeof(esc), "\\x%02x", c);
    puts_(o, esc);
}

static bool needs_escape(uint8_t c)
{
    return (c < 0x20 && c != '\t' && c != '\n') || c == 0x7F;
}

/* On a terminal a peer must not be able to move the cursor or retitle the
 * window: C0 controls (but tab and newline), DEL and C1 controls (U+0080 to
 * U+009F, bytes C2 80-9F) are escaped. A C1 control may be split across
 * two chunks, so a trailing C2 waits for the next one. (JSON strings are
 * jsonl.c's.) */
static void put_text(struct output *o, const uint8_t *p, size_t len)
{
    if (o->style == TEXT_RAW) {
        put(o, p, len);
        return;
    }
    size_t i = 0;
    if (o->has_lead && len) {
        o->has_lead = false;
        if (is_c1(p[0])) {
            put_escape(o, p[0]);
            i = 1;
        } else {
            put(o, "\xc2", 1);
        }
    }
    size_t start = i;
    for (; i < len; i++) {
        uint8_t c = p[i];
        if (c == 0xC2) {
            if (i + 1 == len) {
                put(o, p + start, i - start);
                o->has_lead = true;
                return;
            }
            if (is_c1(p[i + 1])) {
                put(o, p + start, i - start);
                put_escape(o, p[i + 1]);
                start = ++i + 1;
            }
            continue;
        }
        if (needs_escape(c)) {
            put(o, p + start, i - start);
            put_escape(o, c);
            start = i + 1;
        }
    }
    put(o, p + start, len - start);
}

static void end_text(struct output *o)
{
    if (o->has_lead)
        put(o, "\xc2", 1);
    o->has_lead = false;
}

/* ---- binary ---- */

static void hex_line(struct output *o)
{
    char line[100];
    int n = snprintf(line, sizeof(line), "%08llx", (unsigned long long)(o->offset - o->line_len));
    put_color(o, SGR_TIME);
    put(o, line, (size_t)n);
    put_color(o, SGR_RESET);
    n = snprintf(line, sizeof(line), "  ");
    for (size_t i = 0; i < 16; i++) {
        if (i < o->line_len)
            n += snprintf(line + n, sizeof(line) - (size_t)n, "%02x ", o->line[i]);
        else
            n += snprintf(line + n, sizeof(line) - (size_t)n, "   ");
        if (i == 7)
            line[n++] = ' ';
    }
    line[n++] = ' ';
    line[n++] = '|';
    for (size_t i = 0; i < o->line_len; i++)
        line[n++] = o->line[i] >= 0x20 && o->line[i] < 0x7F ? (char)o->line[i] : '.';
    line[n++] = '|';
    line[n++] = '\n';
    put(o, line, (size_t)n);
    o->line_len = 0;
}

static void base64_group(struct output *o)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = o->b64_len;
    uint32_t v = (uint32_t)o->b64[0] << 16 | (n > 1 ? (uint32_t)o->b64[1] << 8 : 0) |
                 (n > 2 ? o->b64[2] : 0);
    char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], n > 1 ? tab[(v >> 6) & 63] : '=',
                 n > 2 ? tab[v & 63] : '='};
    put(o, q, 4);
    o->b64_len = 0;
}

static void put_base64(struct output *o, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        o->b64[o->b64_len++] = p[i];
        if (o->b64_len == 3)
            base64_group(o);
    }
}

static void end_base64(struct output *o)
{
    if (o->b64_len)
        base64_group(o);
}

/* ---- time ---- */

/* -T: local wall-clock time to the millisecond, "14:03:07.250". */
static void local_time(char *out, size_t outlen)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, outlen, "%H:%M:%S", &tm);
    snprintf(out + n, outlen - n, ".%03ld", ts.tv_nsec / 1000000L);
}

/* --jsonl: UTC in RFC 3339 form, "2026-11-24T14:03:07.250Z". */
void output_utc_time(char *out, size_t outlen)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, outlen - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/* ---- JSON lines (formatted by jsonl.c) ---- */

/* After a jsonl_* call appended to o->out: what it added belongs to the
 * open message, and a failed append is a failed output. */
static void json_account(struct output *o, size_t before, int rc)
{
    if (rc != 0 && !o->failed) {
        o->failed = true;
        o->error_no = ENOMEM;
    }
    if (o->is_open)
        o->open_len += buf_size(&o->out) - before;
}

static int json_head(struct output *o, struct buf *dst, enum ws_opcode op)
{
    char t[40];
    output_utc_time(t, sizeof(t));
    struct jsonl_head h = {.op = op, .time = t, .client = o->source_id, .t = -1};
    return jsonl_head(dst, &h);
}

static void release_held(struct output *o)
{
    if (buf_size(&o->held))
        put(o, buf_head(&o->held), buf_size(&o->held));
    buf_clear(&o->held);
}

/* A ping, pong or close as a JSON line. One arriving inside a message
 * (RFC 6455 5.4 lets control frames interleave) must not land in the
 * middle of that message's line: it is written to o->held, which follows
 * the message out when it ends. */
static void control_event(struct output *o, enum ws_opcode op, const uint8_t *p, size_t len,
                          int code)
{
    if (o->failed)
        return;
    struct buf *dst = o->is_open ? &o->held : &o->out;
    int rc = json_head(o, dst, op);
    /* A close reason is UTF-8 (the engine checked, RFC 6455 7.1.6). */
    rc |= op == WS_OP_CLOSE ? jsonl_close(dst, code, p, len) : jsonl_payload(dst, p, len);
    rc |= buf_append(dst, "}\n", 2);
    if (rc != 0) {
        o->failed = true;
        o->error_no = ENOMEM;
    }
}

/* ---- messages ---- */

void output_message_begin(struct output *o, enum ws_opcode op)
{
    o->is_text = op == WS_OP_TEXT;
    o->op = op;
    o->offset = 0;
    o->line_len = 0;
    o->b64_len = 0;
    o->has_lead = false;
    o->is_open = true;
    o->open_len = 0;
    o->is_partial = false;
    o->is_collecting = false;
    if (o->is_jsonl) {
        if (o->failed)
            return;
        size_t before = buf_size(&o->out);
        int rc = json_head(o, &o->out, op);
        rc |= jsonl_data_begin(&o->out, &o->jd, !o->is_text);
        json_account(o, before, rc);
        return;
    }
    o->style = o->is_tty ? TEXT_ESCAPED : TEXT_RAW;
    if (o->has_timestamps) {
        char t[32];
        local_time(t, sizeof(t));
        put_color(o, SGR_TIME);
        puts_(o, t);
        put_color(o, SGR_RESET);
        puts_(o, " ");
    }
    if ((o->source_id && o->is_tty) || o->is_interactive) {
        char label[32] = "";
        if (o->source_id && o->is_tty)
            snprintf(label, sizeof(label), "[%u] ", o->source_id);
        put_color(o, SGR_INCOMING);
        puts_(o, label);
        if (o->is_interactive)
            puts_(o, "<");
        put_color(o, SGR_RESET);
        if (o->is_interactive)
            puts_(o, " ");
    }
    if (o->is_pretty && o->is_text) {
        buf_clear(&o->pretty);
        o->is_collecting = true;
    }
}

/* The collected text could not be held for --pretty: show it as it is. */
static void stop_collecting(struct output *o)
{
    o->is_collecting = false;
    put_text(o, buf_head(&o->pretty), buf_size(&o->pretty));
    buf_clear(&o->pretty);
}

void output_message_data(struct output *o, const uint8_t *p, size_t len)
{
    o->offset += len;
    if (o->is_collecting) {
        if (buf_append(&o->pretty, p, len) == 0)
            return;
        stop_collecting(o);
    }
    if (o->is_jsonl) {
        if (o->failed)
            return;
        make_room(o, len);
        size_t before = buf_size(&o->out);
        json_account(o, before, jsonl_data_add(&o->out, &o->jd, p, len));
        return;
    }
    if (o->is_text) {
        put_text(o, p, len);
        return;
    }
    switch (o->binary) {
    case BIN_HEX:
        o->offset -= len; /* counted byte by byte into lines */
        for (size_t i = 0; i < len; i++) {
            o->line[o->line_len++] = p[i];
            o->offset++;
            if (o->line_len == 16)
                hex_line(o);
        }
        break;
    case BIN_BASE64: put_base64(o, p, len); break;
    default: put(o, p, len);
    }
}

static void pretty_token(void *ctx, enum json_token kind, const char *p, size_t len)
{
    struct output *o = ctx;
    static const char *const sgr[] = {
        [JSON_KEY] = SGR_JSON_KEY,
        [JSON_STRING] = SGR_JSON_STRING,
        [JSON_NUMBER] = SGR_JSON_NUMBER,
        [JSON_LITERAL] = SGR_JSON_LITERAL,
    };
    const char *color = o->has_color ? sgr[kind] : NULL;
    if (color)
        puts_(o, color);
    put_text(o, (const uint8_t *)p, len);
    if (color)
        puts_(o, SGR_RESET);
}

static void end_pretty(struct output *o)
{
    o->is_collecting = false;
    const char *text = (const char *)buf_head(&o->pretty);
    if (json_pretty(text, buf_size(&o->pretty), 2, pretty_token, o) != 0)
        put_text(o, buf_head(&o->pretty), buf_size(&o->pretty)); /* not JSON: as is */
    buf_clear(&o->pretty);
}

static void end_message(struct output *o)
{
    o->is_open = false; /* what follows completes it: nothing more to hold back */
    o->open_len = 0;
    if (o->is_jsonl) {
        if (!o->failed) {
            int rc = jsonl_data_end(&o->out, &o->jd);
            json_account(o, 0, rc | buf_append(&o->out, "}\n", 2));
        }
        release_held(o);
        return;
    }
    if (o->is_collecting)
        end_pretty(o);
    if (o->is_text) {
        end_text(o);
        puts_(o, "\n");
    } else if (o->binary == BIN_HEX) {
        if (o->line_len || o->offset == 0)
            hex_line(o);
    } else if (o->binary == BIN_BASE64) {
        end_base64(o);
        puts_(o, "\n");
    }
}

void output_message_end(struct output *o)
{
    end_message(o);
    flush_when_full(o);
}

void output_message(struct output *o, enum ws_opcode op, const uint8_t *p, size_t len)
{
    bool is_text = op == WS_OP_TEXT;
    if (o->is_plain && !o->is_open && !o->failed && (is_text || o->binary == BIN_RAW)) {
        /* the message and its newline in one copy */
        size_t n = len + is_text;
        make_room(o, n);
        uint8_t *dst = buf_reserve(&o->out, n);
        if (!dst) {
            o->failed = true;
            o->error_no = ENOMEM;
            return;
        }
        if (len)
            memcpy(dst, p, len);
        if (is_text)
            dst[len] = '\n';
        buf_commit(&o->out, n);
        flush_when_full(o);
        return;
    }
    output_message_begin(o, op);
    if (len)
        output_message_data(o, p, len);
    output_message_end(o);
}

void output_message_abort(struct output *o)
{
    if (!o->is_open)
        return;
    o->is_collecting = false;
    buf_clear(&o->pretty);
    if (!o->is_partial) {
        buf_drop_tail(&o->out, o->open_len);
    } else if (o->is_jsonl) {
        o->is_open = false;
        if (!o->failed) {
            int rc = jsonl_data_end(&o->out, &o->jd);
            static const char tail[] = ",\"incomplete\":true}\n";
            rc |= buf_append(&o->out, tail, sizeof(tail) - 1);
            json_account(o, 0, rc);
        }
    } else if (o->is_text || o->binary != BIN_RAW) {
        o->is_open = false;
        puts_(o, "\n");
    }
    o->is_open = false;
    o->open_len = 0;
    if (o->is_jsonl)
        release_held(o);
}

/* ---- control frames, close, traces (stderr unless --jsonl) ---- */

static void err_color_on(const struct output *o, const char *sgr)
{
    if (o->has_color_err)
        fputs(sgr, stderr);
}

/* Peer bytes on one stderr line: printable ASCII as is, the rest as \xNN. */
static void print_escaped(FILE *f, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\\')
            fputc(p[i], f);
        else
            fprintf(f, "\\x%02x", p[i]);
    }
}

void output_control(struct output *o, enum ws_opcode op, const uint8_t *p, size_t len)
{
    if (!o->show_ping_pong)
        return;
    if (o->is_jsonl) {
        control_event(o, op, p, len, -1);
        return;
    }
    if (o->is_quiet)
        return;
    console_hide();
    output_flush(o);
    err_color_on(o, SGR_CONTROL);
    fputs("wsc: ", stderr);
    if (o->has_timestamps) {
        char t[32];
        local_time(t, sizeof(t));
        fprintf(stderr, "%s ", t);
    }
    fprintf(stderr, "%s received (%zu bytes)%s", op == WS_OP_PING ? "ping" : "pong", len,
            len ? ": " : "");
    print_escaped(stderr, p, len);
    err_color_on(o, SGR_RESET);
    fputc('\n', stderr);
    console_show();
}

void output_close(struct output *o, unsigned code, const uint8_t *reason, size_t len)
{
    if (!o->is_jsonl)
        return;
    /* 1005: the frame had no status code (RFC 6455 7.1.5). */
    control_event(o, WS_OP_CLOSE, reason, len, code == 1005 ? -1 : (int)code);
}

void output_frame(struct output *o, bool is_outgoing, const struct ws_frame_header *h,
                  const uint8_t *preview, size_t preview_len)
{
    char pv[3 * PREVIEW_BYTES + 8] = "";
    size_t n = preview_len < PREVIEW_BYTES ? preview_len : PREVIEW_BYTES;
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(pv + at, sizeof(pv) - at, " %02x", preview[i]);
    if (h->len > n)
        snprintf(pv + at, sizeof(pv) - at, " ...");
    char t[32] = "";
    if (o->has_timestamps) {
        local_time(t, sizeof(t) - 1);
        strcat(t, " ");
    }
    console_hide();
    output_flush(o);
    fprintf(stderr, "wsc: %s", t);
    err_color_on(o, is_outgoing ? SGR_OUTGOING : SGR_INCOMING);
    fputs(is_outgoing ? ">>" : "<<", stderr);
    err_color_on(o, SGR_RESET);
    fputc(' ', stderr);
    err_color_on(o, h->opcode >= 8 ? SGR_CONTROL : "");
    fputs(ws_opcode_name(h->opcode), stderr);
    err_color_on(o, h->opcode >= 8 ? SGR_RESET : "");
    fprintf(stderr, " fin=%d rsv=%d%d%d %s len=%llu%s\n", h->is_final, (h->rsv >> 2) & 1,
            (h->rsv >> 1) & 1, h->rsv & 1, h->has_mask ? "masked" : "unmasked",
            (unsigned long long)h->len, pv);
    console_show();
}

/* ---- writing ---- */

bool output_wants_flush(const struct output *o)
{
    return buf_size(&o->out) >= FLUSH_AT;
}

int output_flush(struct output *o)
{
    console_tick(); /* once per loop turn: resumed after Ctrl-Z, or resized */
    size_t hold = o->is_open && !o->is_partial && o->open_len < STREAM_AT ? o->open_len : 0;
    if (o->is_open && !hold && o->open_len) {
        o->is_partial = true; /* a large message: it streams from now on */
        o->open_len = 0;
    }
    bool hides = buf_size(&o->out) > hold && console_is_active();
    if (hides)
        console_hide();
    while (!o->failed && buf_size(&o->out) > hold) {
        ssize_t n = write(STDOUT_FILENO, buf_head(&o->out), buf_size(&o->out) - hold);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            /* stdout was left non-blocking by someone else: wait for it */
            usleep(1000);
            continue;
        }
        if (n <= 0) {
            o->failed = true;
            o->error_no = n < 0 ? errno : EIO;
            break;
        }
        buf_consume(&o->out, (size_t)n);
    }
    if (o->failed)
        buf_clear(&o->out);
    buf_compact(&o->out); /* the part of a message held back */
    if (hides)
        console_show();
    return o->failed ? -1 : 0;
}

static void vline(bool is_error, const char *fmt, va_list ap)
{
    console_hide();
    if (current)
        output_flush(current); /* messages that came first are shown first */
    if (err_color)
        fputs(is_error ? SGR_ERROR : SGR_NOTE, stderr);
    fputs("wsc: ", stderr);
    vfprintf(stderr, fmt, ap);
    if (err_color)
        fputs(SGR_RESET, stderr);
    fputc('\n', stderr);
    console_show();
}

void note(const struct output *o, const char *fmt, ...)
{
    if (o && o->is_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vline(false, fmt, ap);
    va_end(ap);
}

void error_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(true, fmt, ap);
    va_end(ap);
}

/* Credentials never reach the screen: their values are replaced. */
static bool is_secret_header(const char *p, size_t n)
{
    static const char *const names[] = {"Authorization:", "Proxy-Authorization:"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t k = strlen(names[i]);
        if (n >= k && !strncasecmp(p, names[i], k))
            return true;
    }
    return false;
}

void output_head(char dir, const char *head, size_t len)
{
    const char *p = head, *end = head + len;
    console_hide();
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n == 0)
            break;
        if (is_secret_header(p, n))
            fprintf(stderr, "%c %.*s (hidden)\n", dir, (int)(strchr(p, ':') - p + 1), p);
        else
            fprintf(stderr, "%c %.*s\n", dir, (int)n, p);
        p = nl ? nl + 1 : end;
    }
    console_show();
}

void output_deflate_sizes(struct output *o, bool is_outgoing, unsigned long long wire,
                          unsigned long long plain)
{
    console_hide();
    output_flush(o);
    fprintf(stderr, "wsc: %s message: %llu bytes, %llu compressed (permessage-deflate)\n",
            is_outgoing ? ">>" : "<<", plain, wire);
    console_show();
}
