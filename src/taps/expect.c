/* SPDX-License-Identifier: MIT */
/* expect tap: --until and --count, fed what the peer sends. Met, the
 * connection closes with 1000 (exit 0); the connection ending first, by
 * either side or by --timeout, leaves the expectation unmet (exit 7). The
 * bookkeeping is core/expect.c's; this file only joins it to a connection. */
#include <stdlib.h>

#include "core/expect.h"
#include "io/net.h"
#include "taps/tap.h"

struct expect_tap {
    struct conn_tap base;
    struct expect *e; /* borrowed: the run's */
};

static struct expect *exp_of(struct conn_tap *t)
{
    return ((struct expect_tap *)t)->e;
}

static void unmet(struct conn_tap *t, enum expect_cause cause)
{
    char why[600];
    expect_describe(exp_of(t), cause, net_now_ms(), why, sizeof(why));
    conn_fail_expectation(t->conn, "%s", why);
}

static void et_open(struct conn_tap *t, const struct conn_request *req)
{
    (void)req;
    expect_wait_start(exp_of(t), net_now_ms());
}

static void et_begin(struct conn_tap *t, bool is_sent, enum ws_opcode op)
{
    if (!is_sent)
        expect_message_begin(exp_of(t), op);
}

static void et_data(struct conn_tap *t, bool is_sent, const uint8_t *p, size_t len)
{
    if (!is_sent)
        expect_message_data(exp_of(t), p, len);
}

static void et_end(struct conn_tap *t, bool is_sent)
{
    struct expect *e = exp_of(t);
    if (is_sent || !e->in_message)
        return;
    expect_message_end(e);
    if (expect_is_met(e)) {
        conn_close(t->conn, WS_CLOSE_NORMAL, NULL);
    } else if (expect_count_exhausted(e)) {
        unmet(t, EXPECT_CLOSED);
        conn_close(t->conn, WS_CLOSE_NORMAL, NULL);
    }
}

static void et_abort(struct conn_tap *t, bool is_sent)
{
    if (!is_sent)
        expect_message_abort(exp_of(t));
}

static void et_ended(struct conn_tap *t)
{
    struct expect *e = exp_of(t);
    if (expect_is_active(e) && !expect_is_met(e))
        unmet(t, t->conn->is_run_over ? EXPECT_TIMED_OUT : EXPECT_CLOSED);
}

static void et_free(struct conn_tap *t)
{
    free(t);
}

static const struct conn_tap_ops expect_tap_ops = {
    .type = "expect",
    .open = et_open,
    .message_begin = et_begin,
    .message_data = et_data,
    .message_end = et_end,
    .message_abort = et_abort,
    .ended = et_ended,
    .free = et_free,
};

struct conn_tap *expect_tap_new(struct expect *e)
{
    struct expect_tap *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->base.ops = &expect_tap_ops;
    x->e = e;
    return &x->base;
}
