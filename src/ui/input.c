/* SPDX-License-Identifier: MIT */
#include "input.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>


void input_init(struct input *in, int fd, const struct options *opt, input_send_fn send,
                void *ctx)
{
    memset(in, 0, sizeof(*in));
    in->fd = fd;
    in->mode = opt->input;
    in->chunk = opt->chunk;
    in->fragment = INPUT_FRAGMENT;
    /* without --chunk, -b streams (ssh as a ProxyCommand); with it, every
     * message holds exactly --chunk bytes */
    in->is_streaming = !opt->has_chunk;
    in->max_records = opt->is_one ? 1 : 0;
    in->send = send;
    in->ctx = ctx;
    buf_init(&in->pending, INPUT_FRAGMENT + INPUT_READ_SIZE);
    in->read_size = INPUT_READ_SIZE;
}

void input_set_relay(struct input *in, size_t fragment)
{
    in->fragment = fragment;
    in->is_streaming = true;
    in->is_lax = true;
}

void input_free(struct input *in)
{
    buf_free(&in->pending);
}

static bool is_full(const struct input *in)
{
    return in->max_records && in->record_no >= in->max_records;
}

void input_restart(struct input *in)
{
    if (in->in_message && in->mode != INPUT_BINARY)
        in->is_skipping = true; /* the rest of the line goes with it */
    in->in_message = false;
    in->message_len = 0;
    memset(&in->utf8, 0, sizeof(in->utf8));
}

/* Sends p as the next frame of the current record, already judged. */
static int emit(struct input *in, const uint8_t *p, size_t len, bool is_final)
{
    enum ws_opcode op = in->in_message                                     ? WS_OP_CONT
                        : in->mode != INPUT_BINARY && !in->is_binary_record ? WS_OP_TEXT
                                                                            : WS_OP_BINARY;
    if (in->send(in->ctx, op, is_final, p, len) != 0) {
        snprintf(in->error, sizeof(in->error), "cannot send: the connection is closing");
        return -1;
    }
    in->in_message = !is_final;
    if (is_final) {
        in->is_binary_record = false;
        in->record_no++;
        in->message_len = 0;
        memset(&in->utf8, 0, sizeof(in->utf8));
    } else {
        in->message_len += len;
    }
    return 0;
}

/* The bytes at the end of p that start a character not yet complete. */
static size_t incomplete_tail(const uint8_t *p, size_t len)
{
    for (size_t back = 1; back <= 3 && back <= len; back++) {
        uint8_t b = p[len - back];
        if ((b & 0xC0) == 0x80)
            continue; /* a continuation byte: look further back */
        size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
        return need > back ? back : 0;
    }
    return 0;
}

/* --exec's text: a record that is not UTF-8 leaves as a binary message,
 * never as an invalid text frame. A record already streaming as text when a
 * bad byte comes ends there, and its rest leaves as a binary message. */
static int send_lax_text(struct input *in, const uint8_t *p, size_t len, bool is_final)
{
    struct utf8_state st = in->utf8;
    size_t ok = utf8_validate(&st, p, len);
    bool is_valid = ok == len && (!is_final || utf8_is_complete(&st));
    if (is_valid || !in->in_message) {
        in->is_binary_record = !is_valid;
        in->utf8 = st;
        if (!is_valid)
            memset(&in->utf8, 0, sizeof(in->utf8));
        return emit(in, p, len, is_final);
    }
    /* Ends the text message before the bad sequence's first byte (pieces
     * start on a character boundary: see incomplete_tail). */
    size_t cut = ok;
    struct utf8_state head = {0};
    if (ok < len && (utf8_validate(&head, p, ok), !utf8_is_complete(&head)))
        while (cut > 0 && (p[--cut] & 0xC0) == 0x80) {
        }
    if (emit(in, p, cut, true) != 0)
        return -1;
    in->is_binary_record = true;
    memset(&in->utf8, 0, sizeof(in->utf8));
    return emit(in, p + cut, len - cut, is_final);
}

/* Sends p as the next frame of the current record; is_ascii: p is known to
 * be ASCII. */
static int send_piece(struct input *in, const uint8_t *p, size_t len, bool is_final,
                      bool is_ascii)
{
    if (is_full(in))
        return 0; /* -1: the rest of stdin is not sent */
    bool is_text = in->mode != INPUT_BINARY && !in->is_binary_record;
    if (is_text && in->is_lax)
        return send_lax_text(in, p, len, is_final);
    /* ASCII after a whole character is valid, and leaves the state whole */
    if (is_text && !(is_ascii && utf8_is_complete(&in->utf8))) {
        size_t ok = utf8_validate(&in->utf8, p, len);
        if (ok < len || (is_final && !utf8_is_complete(&in->utf8))) {
            snprintf(in->error, sizeof(in->error),
                     "input record %llu is not valid UTF-8 (use -b to send binary)",
                     (unsigned long long)in->record_no + 1);
            return -1;
        }
    }
    return emit(in, p, len, is_final);
}

/* How far past a record's start drain()'s ASCII scan looks: about a read. */
#define ASCII_AHEAD (64 * 1024)

/* Sends complete records from pending, and a fragment when it grew large. */
static int drain(struct input *in)
{
    const uint8_t *p = buf_head(&in->pending);
    size_t len = buf_size(&in->pending), used = 0;
    if (in->mode == INPUT_BINARY) {
        while (len - used > 0) {
            size_t left_in_message = in->chunk - (size_t)in->message_len;
            size_t n = len - used;
            if (n >= left_in_message) {
                if (send_piece(in, p + used, left_in_message, true, false) != 0)
                    return -1;
                used += left_in_message;
            } else if (in->is_streaming) {
                if (send_piece(in, p + used, n, true, false) != 0)
                    return -1;
                used += n;
            } else if (n >= in->fragment) {
                if (send_piece(in, p + used, n, false, false) != 0)
                    return -1;
                used += n;
            } else {
                break;
            }
        }
    } else {
        char delim = in->mode == INPUT_NUL ? '\0' : '\n';
        if (in->is_skipping) {
            const uint8_t *end = memchr(p, delim, len);
            used = end ? (size_t)(end - p) + 1 : len;
            in->is_skipping = end == NULL;
        }
        /* p[used, ascii_end) is known to be ASCII: one pass over a read's
         * worth of records, so that most lines need no UTF-8 check of their
         * own. It looks ASCII_AHEAD ahead at most: a long unfinished record
         * is not scanned again at every read. */
        size_t ascii_end = 0;
        for (;;) {
            const uint8_t *end = memchr(p + used, delim, len - used);
            if (!end)
                break;
            size_t n = (size_t)(end - (p + used));
            if (ascii_end <= used) {
                size_t ahead = len - used < ASCII_AHEAD ? len - used : ASCII_AHEAD;
                ascii_end = used + utf8_ascii_len(p + used, n > ahead ? n : ahead);
            }
            if (send_piece(in, p + used, n, true, used + n <= ascii_end) != 0)
                return -1;
            used = (size_t)(end - p) + 1;
        }
        if (len - used >= in->fragment) {
            size_t n = len - used;
            if (in->is_lax) /* a text fragment ends on a character boundary */
                n -= incomplete_tail(p + used, n);
            if (send_piece(in, p + used, n, false, false) != 0)
                return -1;
            used += n;
        }
    }
    buf_consume(&in->pending, used);
    buf_compact(&in->pending); /* the start of the next record */
    return 0;
}

int input_read(struct input *in)
{
    size_t want = in->read_size && in->read_size < INPUT_READ_SIZE ? in->read_size
                                                                 : INPUT_READ_SIZE;
    uint8_t *dst = buf_reserve(&in->pending, want);
    if (!dst) {
        snprintf(in->error, sizeof(in->error), "out of memory reading input");
        return -1;
    }
    ssize_t n = read(in->fd, dst, want);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n < 0) {
        in->error_no = errno;
        snprintf(in->error, sizeof(in->error), "cannot read input: %s", strerror(errno));
        return -1;
    }
    if (n == 0)
        return input_end(in);
    buf_commit(&in->pending, (size_t)n);
    return drain(in);
}

void input_give_back(struct input *in)
{
    if (!buf_size(&in->pending))
        buf_free(&in->pending);
}

int input_end(struct input *in)
{
    in->is_eof = true;
    if (in->is_skipping)
        buf_clear(&in->pending);
    /* The last record may lack its delimiter; an open message must end. */
    size_t rest = buf_size(&in->pending);
    if (rest || in->in_message) {
        int r = send_piece(in, buf_head(&in->pending), rest, true, false);
        buf_clear(&in->pending);
        return r;
    }
    return 0;
}
