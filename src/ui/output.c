#include "output.h"

#include "console.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define FLUSH_AT (256 * 1024)
/* A message is written only once complete, so that a broken one leaves
 * nothing behind; one larger than this streams out as it arrives. */
#define STREAM_AT (1024 * 1024)

void output_init(struct output *o, const struct options *opt)
{
    memset(o, 0, sizeof(*o));
    buf_init(&o->out, 0);
    o->is_tty = isatty(STDOUT_FILENO);
    o->is_interactive = opt->interactive == TRI_YES ||
                        (opt->interactive == TRI_AUTO && isatty(STDIN_FILENO) && o->is_tty);
    o->is_quiet = opt->is_quiet;
    o->show_ping_pong = opt->show_ping_pong;
    o->is_trace = opt->is_trace;
    o->binary = opt->binary_format;
    if (o->binary == BIN_AUTO)
        o->binary = o->is_tty ? BIN_HEX : BIN_RAW;
}

void output_free(struct output *o)
{
    buf_free(&o->out);
}

static void put(struct output *o, const void *p, size_t n)
{
    if (o->failed)
        return;
    if (buf_append(&o->out, p, n) != 0) {
        o->failed = true;
        o->error_no = ENOMEM;
        return;
    }
    if (o->is_open)
        o->open_len += n;
}

static void puts_(struct output *o, const char *s)
{
    put(o, s, strlen(s));
}

/* On a terminal a peer must not be able to move the cursor or retitle the
 * window: C0 controls (but tab and newline), DEL and C1 are escaped. */
static void put_text_escaped(struct output *o, const uint8_t *p, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        bool is_c1 = c == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F;
        if ((c >= 0x20 && c != 0x7F && !is_c1) || c == '\t' || c == '\n')
            continue;
        put(o, p + start, i - start);
        char esc[8];
        snprintf(esc, sizeof(esc), "\\x%02x", is_c1 ? p[i + 1] : c);
        puts_(o, esc);
        if (is_c1)
            i++;
        start = i + 1;
    }
    put(o, p + start, len - start);
}

static void hex_line(struct output *o)
{
    char line[100];
    int n = snprintf(line, sizeof(line), "%08llx  ",
                     (unsigned long long)(o->offset - o->line_len));
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

void output_message_begin(struct output *o, enum ws_opcode op)
{
    o->is_text = op == WS_OP_TEXT;
    o->offset = 0;
    o->line_len = 0;
    o->b64_len = 0;
    o->is_open = true;
    o->open_len = 0;
    o->is_partial = false;
    if (o->source_id && o->is_tty) {
        char label[24];
        snprintf(label, sizeof(label), "[%u] ", o->source_id);
        puts_(o, label);
    }
    if (o->is_interactive)
        puts_(o, "< ");
}

void output_message_data(struct output *o, const uint8_t *p, size_t len)
{
    if (o->is_text) {
        if (o->is_tty)
            put_text_escaped(o, p, len);
        else
            put(o, p, len);
        return;
    }
    switch (o->binary) {
    case BIN_HEX:
        for (size_t i = 0; i < len; i++) {
            o->line[o->line_len++] = p[i];
            o->offset++;
            if (o->line_len == 16)
                hex_line(o);
        }
        break;
    case BIN_BASE64:
        put_base64(o, p, len);
        break;
    default:
        put(o, p, len);
    }
}

void output_message_abort(struct output *o)
{
    if (!o->is_open)
        return;
    if (!o->is_partial)
        buf_drop_tail(&o->out, o->open_len);
    else if (o->is_text || o->binary != BIN_RAW)
        puts_(o, "\n");
    o->is_open = false;
    o->open_len = 0;
}

void output_message_end(struct output *o)
{
    o->is_open = false; /* what follows completes it: nothing more to hold back */
    o->open_len = 0;
    if (o->is_text) {
        puts_(o, "\n");
    } else if (o->binary == BIN_HEX) {
        if (o->line_len || o->offset == 0)
            hex_line(o);
    } else if (o->binary == BIN_BASE64) {
        if (o->b64_len)
            base64_group(o);
        puts_(o, "\n");
    }
    if (o->is_tty)
        output_flush(o);
}

void output_control(struct output *o, enum ws_opcode op, const uint8_t *p, size_t len)
{
    if (!o->show_ping_pong || o->is_quiet)
        return;
    output_flush(o);
    console_hide();
    fprintf(stderr, "wsc: %s received (%zu bytes)%s%.*s\n", op == WS_OP_PING ? "ping" : "pong",
            len, len ? ": " : "", (int)len, (const char *)p);
    console_show();
}

void output_frame(struct output *o, bool is_outgoing, const struct ws_frame_header *h,
                  const uint8_t *preview, size_t preview_len)
{
    char pv[3 * 24 + 1] = "";
    size_t n = preview_len < 24 ? preview_len : 24;
    for (size_t i = 0; i < n; i++)
        snprintf(pv + 3 * i, sizeof(pv) - 3 * i, "%02x ", preview[i]);
    output_flush(o);
    console_hide();
    fprintf(stderr, "wsc: %s %s fin=%d rsv=%d%d%d %s len=%llu%s%s\n", is_outgoing ? ">>" : "<<",
            ws_opcode_name(h->opcode), h->is_final, (h->rsv >> 2) & 1, (h->rsv >> 1) & 1,
            h->rsv & 1, h->has_mask ? "masked" : "unmasked", (unsigned long long)h->len,
            n ? " " : "", pv);
    console_show();
}

bool output_wants_flush(const struct output *o)
{
    return buf_size(&o->out) >= FLUSH_AT;
}

int output_flush(struct output *o)
{
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
    if (hides)
        console_show();
    return o->failed ? -1 : 0;
}

void note(const struct output *o, const char *fmt, ...)
{
    if (o && o->is_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    console_hide();
    fputs("wsc: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    console_show();
    va_end(ap);
}

void error_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    console_hide();
    fputs("wsc: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    console_show();
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
