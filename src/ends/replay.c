/* SPDX-License-Identifier: MIT */
/* replay: --replay FILE as a local end, in either role. It sends the
 * recording's messages of the side wsc plays, each after as many of the
 * peer's messages as in the recording and the recorded gap (core/replay.c
 * keeps that schedule), reads each payload from the file as it goes (a
 * second pass, so memory holds one message at most), prints what the peer
 * sends (an inner stdout end) and reports what differs from the recording. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/record.h"
#include "core/replay.h"
#include "ends/end.h"
#include "io/net.h"

/* A recording read event by event. */
struct rec_file {
    FILE *f;
    struct rec_reader rd;
    uint8_t chunk[65536];
    size_t at, len;
    bool is_eof;
};

static int rec_file_open(struct rec_file *rf, const char *path, uint64_t max_message, char *err,
                         size_t errlen)
{
    memset(rf, 0, sizeof(*rf));
    rec_reader_init(&rf->rd, max_message);
    rf->f = fopen(path, "rbe");
    if (!rf->f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void rec_file_close(struct rec_file *rf)
{
    if (rf->f)
        fclose(rf->f);
    rf->f = NULL;
    rec_reader_free(&rf->rd);
}

/* 1: rec_reader_event(&rf->rd) holds the next event; 0: the file ended;
 * -1: err says why. */
static int rec_file_next(struct rec_file *rf, const char *path, char *err, size_t errlen)
{
    for (;;) {
        enum rec_result r;
        if (rf->at < rf->len) {
            size_t used = 0;
            r = rec_reader_feed(&rf->rd, rf->chunk + rf->at, rf->len - rf->at, &used);
            rf->at += used;
        } else if (rf->is_eof) {
            r = rec_reader_finish(&rf->rd);
            if (r == REC_DONE)
                return 0;
        } else {
            rf->at = 0;
            rf->len = fread(rf->chunk, 1, sizeof(rf->chunk), rf->f);
            if (rf->len == 0 && ferror(rf->f)) {
                snprintf(err, errlen, "%s: %s", path, strerror(errno));
                return -1;
            }
            rf->is_eof = rf->len == 0;
            continue;
        }
        if (r == REC_EVENT)
            return 1;
        if (r == REC_ERROR) {
            snprintf(err, errlen, "%s: %s", path, rec_reader_error(&rf->rd));
            return -1;
        }
    }
}

int replay_end_load(struct replay *r, const struct options *opt, char *err, size_t errlen)
{
    replay_init(r, opt->is_listen ? REC_FROM_SERVER : REC_FROM_CLIENT, opt->replay_client,
                opt->replay_speed);
    if (opt->timeout > 0)
        r->missing_ms = (long)(opt->timeout * 1000.0);
    struct rec_file rf;
    int rc = rec_file_open(&rf, opt->replay, opt->max_message, err, errlen);
    bool has_open = false;
    while (rc == 0) {
        int got = rec_file_next(&rf, opt->replay, err, errlen);
        if (got <= 0) {
            rc = got;
            break;
        }
        const struct rec_event *ev = rec_reader_event(&rf.rd);
        has_open |= ev->type == REC_OPEN;
        if (replay_add(r, ev) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    rec_file_close(&rf);
    if (rc == 0 && !has_open) {
        snprintf(err, errlen, "%s: not a recording (no \"open\" line)", opt->replay);
        rc = -1;
    } else if (rc == 0 && r->has_client && opt->replay_client && !r->num_own && !r->num_other) {
        snprintf(err, errlen, "%s: no client %u in the recording", opt->replay,
                 opt->replay_client);
        rc = -1;
    }
    return rc;
}

struct replay_end {
    struct local_end base;
    struct local_end *print; /* what the peer sends is printed; owned */
    const struct options *opt;
    struct replay r;
    struct rec_file payloads; /* the second pass: our side's messages */
    bool is_finished;         /* everything sent (and the close, if ours) */
    bool has_failed;          /* missing, --strict difference, or a bad file */
};

static struct replay_end *re_of(struct local_end *e)
{
    return (struct replay_end *)e;
}

static void fail(struct replay_end *x, const char *why)
{
    conn_fail_expectation(x->base.conn, "%s", why);
    x->has_failed = true;
    conn_close(x->base.conn, WS_CLOSE_NORMAL, NULL);
}

/* The next event of our side from the file: the payload of own[i]. */
static const struct rec_event *next_own(struct replay_end *x)
{
    char err[300];
    for (;;) {
        int got = rec_file_next(&x->payloads, x->opt->replay, err, sizeof(err));
        if (got < 0) {
            fail(x, err);
            return NULL;
        }
        if (got == 0) {
            fail(x, "the recording changed while it was replayed");
            return NULL;
        }
        const struct rec_event *ev = rec_reader_event(&x->payloads.rd);
        if (replay_is_own(&x->r, ev))
            return ev;
    }
}

static void step(struct replay_end *x, long now)
{
    struct conn *c = x->base.conn;
    char why[400];
    size_t i;
    while (!x->is_finished && !x->has_failed && conn_can_send(c)) {
        enum replay_action a = replay_next(&x->r, now, &i);
        const struct rec_event *ev = NULL;
        if ((a == REPLAY_SEND || a == REPLAY_CLOSE) && !(ev = next_own(x)))
            return;
        switch (a) {
        case REPLAY_SEND:
            conn_send_message(c, ev->type == REC_TEXT ? WS_OP_TEXT : WS_OP_BINARY,
                              buf_head(&ev->payload), buf_size(&ev->payload));
            replay_sent(&x->r, now);
            break;
        case REPLAY_CLOSE: {
            char reason[WS_MAX_CONTROL];
            size_t len = buf_size(&ev->payload) < sizeof(reason) - 3 ? buf_size(&ev->payload)
                                                                     : sizeof(reason) - 3;
            memcpy(reason, buf_head(&ev->payload), len);
            reason[len] = 0;
            conn_close(c, ev->code < 0 ? 0 : (unsigned)ev->code, reason);
            replay_sent(&x->r, now);
            x->is_finished = true;
            return;
        }
        case REPLAY_WAIT: return;
        case REPLAY_DONE:
            x->is_finished = true;
            if (!x->r.other_closed_first)
                conn_close(c, WS_CLOSE_NORMAL, NULL);
            return;
        case REPLAY_MISSING:
            replay_describe_missing(&x->r, why, sizeof(why));
            fail(x, why);
            return;
        }
    }
}

static int re_open(struct local_end *e, const struct conn_request *req, char *err,
                   size_t errlen)
{
    struct replay_end *x = re_of(e);
    x->print->conn = e->conn; /* the inner end prints for this connection */
    if (x->print->ops->open && x->print->ops->open(x->print, req, err, errlen) != 0)
        return -1;
    if (rec_file_open(&x->payloads, x->opt->replay, x->opt->max_message, err, errlen) != 0)
        return -1;
    replay_start(&x->r, net_now_ms());
    step(x, net_now_ms());
    return 0;
}

static void re_begin(struct local_end *e, enum ws_opcode op)
{
    struct replay_end *x = re_of(e);
    x->print->ops->message_begin(x->print, op);
    replay_rx_begin(&x->r, op);
}

static void re_data(struct local_end *e, const uint8_t *p, size_t len)
{
    struct replay_end *x = re_of(e);
    x->print->ops->message_data(x->print, p, len);
    replay_rx_data(&x->r, p, len);
}

static void re_message_end(struct local_end *e)
{
    struct replay_end *x = re_of(e);
    struct conn *c = e->conn;
    char why[400];
    x->print->ops->message_end(x->print);
    if (replay_rx_end(&x->r, net_now_ms(), why, sizeof(why))) {
        if (x->opt->is_strict)
            fail(x, why);
        else if (c->is_server)
            error_line("client %u: %s", c->id, why);
        else
            error_line("%s", why);
    }
    step(x, net_now_ms());
}

static void re_abort(struct local_end *e)
{
    struct replay_end *x = re_of(e);
    x->print->ops->message_abort(x->print);
}

static void re_control(struct local_end *e, enum ws_opcode op, const uint8_t *p, size_t len)
{
    struct replay_end *x = re_of(e);
    x->print->ops->control(x->print, op, p, len);
}

static void re_peer_close(struct local_end *e, unsigned code, const uint8_t *reason, size_t len)
{
    struct replay_end *x = re_of(e);
    x->print->ops->peer_close(x->print, code, reason, len);
}

static bool re_can_take(const struct local_end *e)
{
    return end_can_take(((const struct replay_end *)e)->print);
}

static long re_deadline(const struct local_end *e)
{
    const struct replay_end *x = (const struct replay_end *)e;
    if (x->is_finished || x->has_failed || !e->conn || !conn_is_open(e->conn))
        return 0;
    int64_t at = replay_deadline(&x->r);
    return at > 0 ? (long)at : 0;
}

static void re_on_tick(struct local_end *e, long now)
{
    if (conn_is_open(e->conn))
        step(re_of(e), now);
}

static void re_conn_ended(struct local_end *e)
{
    struct replay_end *x = re_of(e);
    struct conn *c = e->conn;
    x->print->ops->conn_ended(x->print);
    if (x->has_failed || !c->has_ws)
        return;
    char why[400];
    const char *when = c->is_run_over ? "--timeout passed" : "the connection ended";
    if (x->r.received < x->r.num_other) {
        replay_describe_missing(&x->r, why, sizeof(why));
        conn_fail_expectation(c, "%s: %s", when, why);
    } else if (!x->is_finished) {
        conn_fail_expectation(c, "%s before the replay ended (%zu of %zu messages sent)", when,
                              x->r.next_own, x->r.num_own);
    }
}

static void re_free(struct local_end *e)
{
    struct replay_end *x = re_of(e);
    x->print->ops->free(x->print);
    rec_file_close(&x->payloads);
    replay_free(&x->r);
    free(x);
}

static const struct local_end_ops replay_ops = {
    .type = "replay",
    .open = re_open,
    .message_begin = re_begin,
    .message_data = re_data,
    .message_end = re_message_end,
    .message_abort = re_abort,
    .control = re_control,
    .peer_close = re_peer_close,
    .can_take = re_can_take,
    .deadline = re_deadline,
    .on_tick = re_on_tick,
    .conn_ended = re_conn_ended,
    .free = re_free,
};

struct local_end *replay_end_new(const struct options *opt, struct stdout_hub *hub)
{
    struct replay_end *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->base.ops = &replay_ops;
    x->opt = opt;
    char err[400];
    x->print = print_end_new(hub);
    if (!x->print || replay_end_load(&x->r, opt, err, sizeof(err)) != 0) {
        if (x->print)
            x->print->ops->free(x->print);
        else
            error_line("out of memory");
        if (x->print)
            error_line("--replay: %s", err);
        replay_free(&x->r);
        free(x);
        return NULL;
    }
    return &x->base;
}
