/* SPDX-License-Identifier: MIT */
/* pipe: stdin in pipe mode as a shared local end: its records go to every
 * open connection (one in the client role, all clients when listening). It
 * is read only while every connection can take more. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ends/end.h"

struct pipe_end {
    struct local_end base;
    struct input *in; /* borrowed: it outlives a connection across --reconnect */
    struct conn_set *set;
    const struct options *opt;
};

static int send_to_set(void *ctx, enum ws_opcode op, bool is_final, const uint8_t *p, size_t len)
{
    struct pipe_end *x = ctx;
    int sent = conn_set_send_frame(x->set, op, is_final, p, len);
    return sent || x->opt->is_listen ? 0 : -1;
}

static size_t pipe_poll_fds(struct local_end *e, struct pollfd *fds, size_t max)
{
    struct pipe_end *x = (struct pipe_end *)e;
    (void)max;
    fds[0] = (struct pollfd){.fd = conn_set_takes_input(x->set) ? x->in->fd : -1,
                             .events = POLLIN};
    return 1;
}

static void input_failed(struct pipe_end *x)
{
    struct conn_set *set = x->set;
    set->is_input_done = true;
    if (x->opt->is_listen) {
        /* one error for the server, not one per client */
        error_line("%s", x->in->error);
        set->input_failed = true;
    } else {
        for (size_t i = 0; i < set->num; i++) {
            struct conn *c = set->items[i];
            if (c->res.kind == OUTCOME_NONE) {
                conn_set_outcome(c, OUTCOME_IO, "%s", x->in->error);
                c->res.input_failed = true;
            }
        }
    }
    conn_set_close_all(set, WS_CLOSE_NORMAL);
}

static void pipe_on_ready(struct local_end *e, const struct pollfd *fds, size_t n)
{
    struct pipe_end *x = (struct pipe_end *)e;
    /* A signal or a peer's close handled this turn may have ended the input. */
    if (n < 1 || !fds[0].revents || !conn_set_takes_input(x->set))
        return;
    x->in->read_size = conn_set_read_size(x->set, INPUT_READ_SIZE);
    if (input_read(x->in) != 0) {
        input_failed(x);
        return;
    }
    if (x->opt->is_one && x->in->record_no >= 1)
        x->set->is_input_done = true; /* -1: one message out; now wait for one in */
    if (x->in->is_eof)
        conn_set_input_ended(x->set, x->opt);
}

static void pipe_free(struct local_end *e)
{
    struct pipe_end *x = (struct pipe_end *)e;
    x->in->send = NULL; /* the input outlives this end: no pointer to it stays */
    x->in->ctx = NULL;
    free(x);
}

static const struct local_end_ops pipe_ops = {
    .type = "stdin",
    .poll_fds = pipe_poll_fds,
    .on_ready = pipe_on_ready,
    .free = pipe_free,
};

struct local_end *pipe_end_new(struct input *in, struct conn_set *set, const struct options *opt)
{
    struct pipe_end *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->base.ops = &pipe_ops;
    x->in = in;
    x->set = set;
    x->opt = opt;
    in->send = send_to_set;
    in->ctx = x;
    return &x->base;
}
