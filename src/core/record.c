/* SPDX-License-Identifier: MIT */
/* The writer of recordings (record.h): each event a JSON line, a large message
 * streamed out in parts; the reader is record_read.c. */
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

const char *rec_from_name(enum rec_from from)
{
    return from == REC_FROM_CLIENT ? "client" : from == REC_FROM_SERVER ? "server" : NULL;
}

static int puts_(struct buf *out, const char *s)
{
    return buf_append(out, s, strlen(s));
}

void rec_writer_init(struct rec_writer *w, bool has_secrets)
{
    memset(w, 0, sizeof(*w));
    buf_init(&w->out, 0);
    w->has_secrets = has_secrets;
}

void rec_writer_free(struct rec_writer *w)
{
    buf_free(&w->out);
    w->open = NULL;
}

void rec_stream_init(struct rec_stream *s, unsigned client, enum rec_from from)
{
    memset(s, 0, sizeof(*s));
    s->client = client;
    s->from = from;
}

bool rec_writer_wants_write(const struct rec_writer *w)
{
    return buf_size(&w->out) && (!w->open || buf_size(&w->out) >= REC_WRITE_AT);
}

static int head(struct rec_writer *w, const struct rec_stream *s, enum ws_opcode op,
                bool is_continuation, const struct rec_stamp *st)
{
    struct jsonl_head h = {.op = op,
                           .is_continuation = is_continuation,
                           .time = st->time,
                           .client = s->client,
                           .from = rec_from_name(s->from),
                           .t = st->t};
    return jsonl_head(&w->out, &h);
}

/* Ends the open line as a part ("more":true); its message goes on in a
 * later line. Bytes of a character or base64 group not yet written are
 * carried over, so that each line's data stands on its own. */
static int split(struct rec_writer *w)
{
    struct rec_stream *s = w->open;
    if (!s)
        return 0;
    w->open = NULL;
    s->carry_len = s->jd.pend_len;
    memcpy(s->carry, s->jd.pend, s->carry_len);
    s->jd.len -= s->jd.pend_len;
    s->jd.pend_len = 0;
    s->has_part = true;
    int rc = jsonl_data_end(&w->out, &s->jd);
    rc |= puts_(&w->out, ",\"more\":true}\n");
    return rc ? -1 : 0;
}

/* Makes s's line the open one, continuing its message in a new line when
 * another line was written since. */
static int take_line(struct rec_writer *w, struct rec_stream *s, const struct rec_stamp *st)
{
    if (w->open == s)
        return 0;
    int rc = split(w);
    rc |= head(w, s, s->op, true, st);
    rc |= jsonl_data_begin(&w->out, &s->jd, s->op != WS_OP_TEXT);
    memcpy(s->jd.pend, s->carry, s->carry_len);
    s->jd.pend_len = s->carry_len;
    s->jd.len = s->carry_len;
    s->carry_len = 0;
    w->open = s;
    return rc ? -1 : 0;
}

static int end_line(struct rec_writer *w, struct rec_stream *s, const char *tail,
                    const struct rec_stamp *st)
{
    if (!s->in_message)
        return 0;
    int rc = take_line(w, s, st);
    rc |= jsonl_data_end(&w->out, &s->jd);
    rc |= puts_(&w->out, tail);
    w->open = NULL;
    s->in_message = false;
    return rc ? -1 : 0;
}

int rec_message_begin(struct rec_writer *w, struct rec_stream *s, enum ws_opcode op,
                      const struct rec_stamp *st)
{
    int rc = 0;
    if (s->in_message) /* a message left unfinished: it never will be */
        rc |= end_line(w, s, ",\"incomplete\":true}\n", st);
    rc |= split(w);
    s->in_message = true;
    s->op = op;
    s->has_part = false;
    s->carry_len = 0;
    rc |= head(w, s, op, false, st);
    rc |= jsonl_data_begin(&w->out, &s->jd, op != WS_OP_TEXT);
    w->open = s;
    return rc ? -1 : 0;
}

int rec_message_data(struct rec_writer *w, struct rec_stream *s, const uint8_t *p, size_t len,
                     const struct rec_stamp *st)
{
    if (!s->in_message)
        return 0;
    int rc = take_line(w, s, st);
    rc |= jsonl_data_add(&w->out, &s->jd, p, len);
    return rc ? -1 : 0;
}

int rec_message_end(struct rec_writer *w, struct rec_stream *s, const struct rec_stamp *st)
{
    return end_line(w, s, "}\n", st);
}

int rec_message_abort(struct rec_writer *w, struct rec_stream *s, const struct rec_stamp *st)
{
    return end_line(w, s, ",\"incomplete\":true}\n", st);
}

int rec_control(struct rec_writer *w, struct rec_stream *s, enum ws_opcode op, const uint8_t *p,
                size_t len, const struct rec_stamp *st)
{
    int rc = split(w);
    rc |= head(w, s, op, false, st);
    rc |= jsonl_payload(&w->out, p, len);
    rc |= puts_(&w->out, "}\n");
    return rc ? -1 : 0;
}

int rec_close(struct rec_writer *w, struct rec_stream *s, unsigned code, const uint8_t *reason,
              size_t len, const struct rec_stamp *st)
{
    int rc = split(w);
    rc |= head(w, s, WS_OP_CLOSE, false, st);
    rc |= jsonl_close(&w->out, code == WS_CLOSE_NO_STATUS ? -1 : (int)code, reason, len);
    rc |= puts_(&w->out, "}\n");
    return rc ? -1 : 0;
}

/* The headers of an opening that matter to a replay, by side. */
static const char *const request_names[] = {
    "Origin", "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions", "Authorization", "Cookie",
    NULL};
static const char *const response_names[] = {"Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions",
                                             "Set-Cookie", NULL};

static bool is_secret(const char *name)
{
    return !strcasecmp(name, "Authorization") || !strcasecmp(name, "Proxy-Authorization") ||
           !strcasecmp(name, "Cookie") || !strcasecmp(name, "Set-Cookie");
}

static int header_object(struct rec_writer *w, const char *field, const char *const *names,
                         const struct rec_header *h, size_t n)
{
    int rc = buf_append(&w->out, ",\"", 2);
    rc |= puts_(&w->out, field);
    rc |= puts_(&w->out, "\":{");
    bool is_first = true;
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL;
        for (size_t k = 0; names[k]; k++)
            if (!strcasecmp(h[i].name, names[k]))
                name = names[k];
        if (!name || !h[i].value)
            continue;
        const char *value = is_secret(name) && !w->has_secrets ? "***" : h[i].value;
        if (!is_first)
            rc |= buf_append(&w->out, ",", 1);
        is_first = false;
        rc |= jsonl_string(&w->out, (const uint8_t *)name, strlen(name));
        rc |= buf_append(&w->out, ":", 1);
        rc |= jsonl_string(&w->out, (const uint8_t *)value, strlen(value));
    }
    rc |= buf_append(&w->out, "}", 1);
    return rc ? -1 : 0;
}

int rec_write_open(struct rec_writer *w, const struct rec_open *o, unsigned client,
                   const struct rec_stamp *st)
{
    int rc = split(w);
    char s[80];
    rc |= puts_(&w->out, "{\"type\":\"open\"");
    if (st->time) {
        rc |= puts_(&w->out, ",\"time\":");
        rc |= jsonl_string(&w->out, (const uint8_t *)st->time, strlen(st->time));
    }
    if (client) {
        snprintf(s, sizeof(s), ",\"client\":%u", client);
        rc |= puts_(&w->out, s);
    }
    snprintf(s, sizeof(s), ",\"t\":%" PRId64, st->t);
    rc |= puts_(&w->out, s);
    const char *url = o->url ? o->url : "";
    rc |= jsonl_string_field(&w->out, "url", (const uint8_t *)url, strlen(url));
    const char *role = rec_from_name(o->role);
    if (role) {
        snprintf(s, sizeof(s), ",\"role\":\"%s\"", role);
        rc |= puts_(&w->out, s);
    }
    rc |= header_object(w, "request", request_names, o->request, o->num_request);
    rc |= header_object(w, "response", response_names, o->response, o->num_response);
    rc |= puts_(&w->out, "}\n");
    return rc ? -1 : 0;
}
