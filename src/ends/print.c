/* SPDX-License-Identifier: MIT */
/* print: the local end that shows what the peer sends on stdout. In listen
 * mode one message is printed at a time: while one client's message is being
 * printed the others are not read (their bytes wait in the kernel), so that
 * messages from different clients never mix. */
#include <stdlib.h>

#include "core/expect.h"
#include "ends/end.h"

struct print_end {
    struct local_end base;
    struct stdout_hub *hub; /* borrowed */
};

static struct stdout_hub *hub_of(const struct local_end *e)
{
    return ((const struct print_end *)e)->hub;
}

/* --one prints the first message only. */
static bool shows_messages(const struct stdout_hub *hub)
{
    return !(hub->opt->is_one && hub->messages_received >= 1);
}

static void print_begin(struct local_end *e, enum ws_opcode op)
{
    struct stdout_hub *hub = hub_of(e);
    if (hub->watch && !hub->showing)
        expect_message_begin(hub->watch, op);
    if (!shows_messages(hub))
        return;
    /* on a terminal, listen mode says which client a message is from */
    hub->out->source_id = e->conn->is_server ? e->conn->id : 0;
    output_message_begin(hub->out, op);
    hub->showing = e->conn;
}

static void print_data(struct local_end *e, const uint8_t *p, size_t len)
{
    struct stdout_hub *hub = hub_of(e);
    if (hub->showing == e->conn)
        output_message_data(hub->out, p, len);
    if (hub->watch && hub->showing == e->conn)
        expect_message_data(hub->watch, p, len);
}

static void print_end_message(struct local_end *e)
{
    struct stdout_hub *hub = hub_of(e);
    if (hub->showing == e->conn) {
        output_message_end(hub->out);
        if (hub->watch)
            expect_message_end(hub->watch);
        hub->showing = NULL;
    }
    hub->messages_received++;
    if (hub->opt->is_one && hub->messages_received == 1)
        conn_close(e->conn, WS_CLOSE_NORMAL, NULL);
}

/* A whole message: one call to the output, unless another is being shown
 * or the console's /expect watches what is printed. */
static void print_message(struct local_end *e, enum ws_opcode op, const uint8_t *p, size_t len)
{
    struct stdout_hub *hub = hub_of(e);
    if (hub->watch || hub->showing || !shows_messages(hub)) {
        print_begin(e, op);
        if (len)
            print_data(e, p, len);
        print_end_message(e);
        return;
    }
    hub->out->source_id = e->conn->is_server ? e->conn->id : 0;
    output_message(hub->out, op, p, len);
    hub->messages_received++;
    if (hub->opt->is_one && hub->messages_received == 1)
        conn_close(e->conn, WS_CLOSE_NORMAL, NULL);
}

static void print_abort(struct local_end *e)
{
    struct stdout_hub *hub = hub_of(e);
    if (e->conn && hub->showing == e->conn) {
        output_message_abort(hub->out);
        if (hub->watch)
            expect_message_abort(hub->watch);
        hub->showing = NULL;
    }
}

static void print_control(struct local_end *e, enum ws_opcode op, const uint8_t *p, size_t len)
{
    output_control(hub_of(e)->out, op, p, len);
}

static void print_peer_close(struct local_end *e, unsigned code, const uint8_t *reason,
                             size_t len)
{
    struct stdout_hub *hub = hub_of(e);
    if (shows_messages(hub))
        output_close(hub->out, code, reason, len);
}

static bool print_can_take(const struct local_end *e)
{
    const struct stdout_hub *hub = hub_of(e);
    return !hub->showing || hub->showing == e->conn;
}

static void print_free(struct local_end *e)
{
    print_abort(e);
    free(e);
}

static const struct local_end_ops print_ops = {
    .type = "stdout",
    .message_begin = print_begin,
    .message_data = print_data,
    .message_end = print_end_message,
    .message = print_message,
    .message_abort = print_abort,
    .control = print_control,
    .peer_close = print_peer_close,
    .can_take = print_can_take,
    .conn_ended = print_abort,
    .free = print_free,
};

struct local_end *print_end_new(struct stdout_hub *hub)
{
    struct print_end *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->base.ops = &print_ops;
    p->hub = hub;
    return &p->base;
}
