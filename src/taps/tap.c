/* SPDX-License-Identifier: MIT */
/* tap: hands each event to every tap of a connection. */
#include "taps/tap.h"

#include <stdlib.h>

void tap_open(struct conn_tap *t, const struct conn_request *req)
{
    for (; t; t = t->next)
        if (t->ops->open)
            t->ops->open(t, req);
}

void tap_message_begin(struct conn_tap *t, bool is_sent, enum ws_opcode op)
{
    for (; t; t = t->next)
        if (t->ops->message_begin)
            t->ops->message_begin(t, is_sent, op);
}

void tap_message_data(struct conn_tap *t, bool is_sent, const uint8_t *p, size_t len)
{
    for (; t; t = t->next)
        if (t->ops->message_data)
            t->ops->message_data(t, is_sent, p, len);
}

void tap_message_end(struct conn_tap *t, bool is_sent)
{
    for (; t; t = t->next)
        if (t->ops->message_end)
            t->ops->message_end(t, is_sent);
}

void tap_message_abort(struct conn_tap *t, bool is_sent)
{
    for (; t; t = t->next)
        if (t->ops->message_abort)
            t->ops->message_abort(t, is_sent);
}

void tap_control(struct conn_tap *t, bool is_sent, enum ws_opcode op, const uint8_t *p,
                 size_t len)
{
    for (; t; t = t->next)
        if (t->ops->control)
            t->ops->control(t, is_sent, op, p, len);
}

void tap_close(struct conn_tap *t, bool is_sent, unsigned code, const uint8_t *reason,
               size_t len)
{
    for (; t; t = t->next)
        if (t->ops->close)
            t->ops->close(t, is_sent, code, reason, len);
}

void tap_ended(struct conn_tap *t)
{
    for (; t; t = t->next)
        if (t->ops->ended)
            t->ops->ended(t);
}

void tap_free_all(struct conn_tap *t)
{
    while (t) {
        struct conn_tap *next = t->next;
        t->ops->free(t);
        t = next;
    }
}
