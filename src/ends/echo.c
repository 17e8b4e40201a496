/* SPDX-License-Identifier: MIT */
/* echo: the local end of --echo, answering every message with an identical
 * one (type and payload). Only the message being collected is held; the
 * engine's --max-message bounds it. */
#include <stdlib.h>

#include "ends/end.h"

struct echo_end {
    struct local_end base;
    struct buf message; /* the message being collected; owned */
    enum ws_opcode op;
};

static void echo_begin(struct local_end *e, enum ws_opcode op)
{
    struct echo_end *x = (struct echo_end *)e;
    buf_clear(&x->message);
    x->op = op;
}

static void echo_data(struct local_end *e, const uint8_t *p, size_t len)
{
    struct echo_end *x = (struct echo_end *)e;
    if (buf_append(&x->message, p, len) != 0)
        conn_close(e->conn, WS_CLOSE_TOO_BIG, "message too large to echo");
}

static void echo_message_end(struct local_end *e)
{
    struct echo_end *x = (struct echo_end *)e;
    conn_send_message(e->conn, x->op, buf_head(&x->message), buf_size(&x->message));
    /* a large message's memory is given back at once */
    buf_free(&x->message);
}

static void echo_control(struct local_end *e, enum ws_opcode op, const uint8_t *p, size_t len)
{
    output_control(e->conn->env->out, op, p, len);
}

static void echo_free(struct local_end *e)
{
    struct echo_end *x = (struct echo_end *)e;
    buf_free(&x->message);
    free(x);
}

static const struct local_end_ops echo_ops = {
    .type = "echo",
    .message_begin = echo_begin,
    .message_data = echo_data,
    .message_end = echo_message_end,
    .control = echo_control,
    .free = echo_free,
};

struct local_end *echo_end_new(void)
{
    struct echo_end *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->base.ops = &echo_ops;
    buf_init(&x->message, 0); /* the engine enforces --max-message */
    return &x->base;
}
