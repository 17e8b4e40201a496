/* SPDX-License-Identifier: MIT */
#include "replay.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void replay_init(struct replay *r, enum rec_from role, unsigned client, double speed)
{
    memset(r, 0, sizeof(*r));
    r->role = role;
    r->client = client;
    r->has_client = client != 0;
    r->speed = speed;
    r->missing_ms = REPLAY_DEFAULT_MISSING_MS;
    r->deadline_ms = -1;
}

void replay_free(struct replay *r)
{
    free(r->own);
    free(r->other);
    EVP_MD_CTX_free(r->md);
    memset(r, 0, sizeof(*r));
}

static bool is_ours(struct replay *r, const struct rec_event *ev)
{
    if (!r->has_client) {
        r->client = ev->client; /* the first conversation named */
        r->has_client = true;
    }
    return ev->client == r->client;
}

static bool is_message(const struct rec_event *ev)
{
    return (ev->type == REC_TEXT || ev->type == REC_BINARY || ev->type == REC_CLOSE) &&
           !ev->is_incomplete;
}

bool replay_is_own(struct replay *r, const struct rec_event *ev)
{
    return ev->type != REC_OPEN && is_ours(r, ev) && is_message(ev) && ev->from == r->role;
}

static struct replay_msg *push(struct replay_msg **list, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        struct replay_msg *l = realloc(*list, c * sizeof(**list));
        if (!l)
            return NULL;
        *list = l;
        *cap = c;
    }
    struct replay_msg *m = &(*list)[(*n)++];
    memset(m, 0, sizeof(*m));
    m->arrived_ms = -1;
    m->code = -1;
    return m;
}

static int sha256(const uint8_t *p, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    return EVP_Digest(p, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}

int replay_add(struct replay *r, const struct rec_event *ev)
{
    if (ev->type == REC_OPEN) {
        is_ours(r, ev);
        return 0;
    }
    if (!is_ours(r, ev) || !is_message(ev))
        return 0;
    bool is_own = ev->from == r->role;
    if (ev->type == REC_CLOSE && !is_own) {
        if (!r->num_own || r->own[r->num_own - 1].type != REC_CLOSE)
            r->other_closed_first = true;
        return 0; /* the peer's close is the engine's business */
    }
    struct replay_msg *m = is_own ? push(&r->own, &r->num_own, &r->cap_own)
                                  : push(&r->other, &r->num_other, &r->cap_other);
    if (!m)
        return -1;
    m->type = ev->type;
    m->t = ev->t > 0 ? ev->t : 0;
    m->len = buf_size(&ev->payload);
    m->line = ev->line;
    m->code = ev->code;
    m->awaits = is_own ? r->num_other : 0;
    if (!is_own && sha256(buf_head(&ev->payload), buf_size(&ev->payload), m->digest) != 0)
        return -1;
    return 0;
}

void replay_start(struct replay *r, int64_t now_ms)
{
    r->start_ms = now_ms;
    r->wait_since_ms = now_ms;
    r->last_sent_ms = -1;
    r->next_own = 0;
    r->received = 0;
}

/* now + the recorded gap from (rec_t, real_ms), divided by the speed. */
static int64_t after(const struct replay *r, int64_t real_ms, int64_t rec_t, int64_t t)
{
    if (r->speed <= 0 || t <= rec_t)
        return real_ms;
    return real_ms + (int64_t)((double)(t - rec_t) / r->speed);
}

/* When own message m may go: no sooner after any event it follows in the
 * recording than it did then. */
static int64_t due(const struct replay *r, const struct replay_msg *m)
{
    int64_t when = after(r, r->start_ms, 0, m->t);
    if (r->next_own > 0) {
        int64_t w = after(r, r->last_sent_ms, r->own[r->next_own - 1].t, m->t);
        when = w > when ? w : when;
    }
    if (m->awaits > 0) {
        const struct replay_msg *o = &r->other[m->awaits - 1];
        int64_t w = after(r, o->arrived_ms, o->t, m->t);
        when = w > when ? w : when;
    }
    return when;
}

enum replay_action replay_next(struct replay *r, int64_t now_ms, size_t *index)
{
    r->deadline_ms = -1;
    uint64_t need = r->next_own < r->num_own ? r->own[r->next_own].awaits : r->num_other;
    if (r->received < need) {
        r->deadline_ms = r->wait_since_ms + r->missing_ms;
        return now_ms >= r->deadline_ms ? REPLAY_MISSING : REPLAY_WAIT;
    }
    if (r->next_own == r->num_own)
        return REPLAY_DONE;
    const struct replay_msg *m = &r->own[r->next_own];
    int64_t when = due(r, m);
    if (now_ms < when) {
        r->deadline_ms = when;
        return REPLAY_WAIT;
    }
    *index = r->next_own;
    return m->type == REC_CLOSE ? REPLAY_CLOSE : REPLAY_SEND;
}

void replay_sent(struct replay *r, int64_t now_ms)
{
    if (r->next_own < r->num_own)
        r->next_own++;
    r->last_sent_ms = now_ms;
    r->wait_since_ms = now_ms; /* an awaited reply has its time from here */
}

int64_t replay_deadline(const struct replay *r)
{
    return r->deadline_ms;
}

void replay_describe_missing(const struct replay *r, char *out, size_t outlen)
{
    const char *side = r->role == REC_FROM_CLIENT ? "server" : "client";
    if (r->received >= r->num_other) {
        snprintf(out, outlen, "every recorded message came");
        return;
    }
    const struct replay_msg *m = &r->other[r->received];
    char wait[32];
    if (r->missing_ms % 1000)
        snprintf(wait, sizeof(wait), "%.3g s", (double)r->missing_ms / 1000.0);
    else
        snprintf(wait, sizeof(wait), "%ld s", r->missing_ms / 1000);
    snprintf(out, outlen, "message %zu of the %s (recording line %lu) did not come within %s",
             r->received + 1, side, m->line, wait);
}

void replay_rx_begin(struct replay *r, enum ws_opcode op)
{
    if (!r->md)
        r->md = EVP_MD_CTX_new();
    r->rx_op = op;
    r->rx_len = 0;
    r->rx_failed = !r->md || EVP_DigestInit_ex(r->md, EVP_sha256(), NULL) != 1;
}

void replay_rx_data(struct replay *r, const uint8_t *p, size_t len)
{
    r->rx_len += len;
    if (!r->rx_failed && EVP_DigestUpdate(r->md, p, len) != 1)
        r->rx_failed = true;
}

static const char *type_name(enum rec_type t)
{
    return t == REC_TEXT ? "text" : "binary";
}

bool replay_rx_end(struct replay *r, int64_t now_ms, char *out, size_t outlen)
{
    unsigned char digest[32];
    unsigned int n = 0;
    if (!r->rx_failed && (EVP_DigestFinal_ex(r->md, digest, &n) != 1 || n != 32))
        r->rx_failed = true;
    size_t k = r->received++;
    r->wait_since_ms = now_ms;
    enum rec_type type = r->rx_op == WS_OP_TEXT ? REC_TEXT : REC_BINARY;
    int w = snprintf(out, outlen, "differs from recording at message %zu: ", k + 1);
    char *rest = out + (w > 0 && (size_t)w < outlen ? w : 0);
    size_t restlen = outlen - (size_t)(rest - out);
    bool differs = true;
    if (k >= r->num_other) {
        snprintf(rest, restlen, "not in the recording (%s, %llu bytes)", type_name(type),
                 (unsigned long long)r->rx_len);
    } else {
        struct replay_msg *m = &r->other[k];
        m->arrived_ms = now_ms;
        if (m->type != type)
            snprintf(rest, restlen, "%s (%llu bytes), recorded %s (%llu bytes, line %lu)",
                     type_name(type), (unsigned long long)r->rx_len, type_name(m->type),
                     (unsigned long long)m->len, m->line);
        else if (m->len != r->rx_len)
            snprintf(rest, restlen, "%llu bytes, recorded %llu (line %lu)",
                     (unsigned long long)r->rx_len, (unsigned long long)m->len, m->line);
        else if (r->rx_failed || memcmp(digest, m->digest, 32))
            snprintf(rest, restlen, "other bytes than recorded (%llu bytes, line %lu)",
                     (unsigned long long)m->len, m->line);
        else
            differs = false;
    }
    if (differs)
        r->differences++;
    else if (outlen)
        out[0] = 0;
    return differs;
}
