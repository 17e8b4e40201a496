/* SPDX-License-Identifier: MIT */
#include "ends/end.h"

#include "io/net.h"
#include "taps/tap.h"

bool end_can_take(const struct local_end *e)
{
    return !e || !e->ops->can_take || e->ops->can_take(e);
}

bool end_is_done(const struct local_end *e)
{
    return !e || !e->ops->is_done || e->ops->is_done(e);
}

long end_deadline(const struct local_end *e)
{
    return e && e->ops->deadline ? e->ops->deadline(e) : 0;
}

int conn_set_send_frame(struct conn_set *set, enum ws_opcode op, bool is_final,
                        const uint8_t *p, size_t len)
{
    int sent = 0;
    for (size_t i = 0; i < set->num; i++)
        if (conn_send_frame(set->items[i], op, is_final, p, len) == 0)
            sent++;
    return sent;
}

/* What a broadcast may queue in all, beyond each connection's high-water
 * mark: every client holds its own copy, so 10,000 of them would otherwise
 * hold 10,000 times what one read of stdin brings. */
#define SET_BUDGET (16 << 20)
#define SET_READ_LEAST 512 /* a read per turn still moves a few messages */

static size_t count_open(const struct conn_set *set)
{
    size_t open = 0;
    for (size_t i = 0; i < set->num; i++)
        if (set->items[i]->phase == CONN_OPEN)
            open++;
    return open;
}

bool conn_set_can_send(const struct conn_set *set)
{
    size_t open = 0, queued = 0;
    for (size_t i = 0; i < set->num; i++) {
        const struct conn *c = set->items[i];
        if (c->phase != CONN_OPEN)
            continue;
        if (!conn_can_send(c))
            return false;
        queued += conn_queued(c);
        open++;
    }
    return open > 0 && queued < SET_BUDGET;
}

size_t conn_set_read_size(const struct conn_set *set, size_t most)
{
    size_t open = count_open(set);
    size_t share = open ? SET_BUDGET / 4 / open : most;
    if (share < SET_READ_LEAST)
        share = SET_READ_LEAST;
    return share < most ? share : most;
}

void conn_set_close_all(struct conn_set *set, unsigned code)
{
    set->is_closing = true;
    for (size_t i = 0; i < set->num; i++)
        conn_close(set->items[i], code, NULL);
}

void conn_set_input_ended(struct conn_set *set, const struct options *opt)
{
    set->is_input_done = true;
    if (opt->is_listen)
        return; /* a server keeps serving without stdin */
    if (!opt->has_wait)
        conn_set_close_all(set, WS_CLOSE_NORMAL);
    else if (opt->wait >= 0)
        set->wait_deadline = net_now_ms() + (long)(opt->wait * 1000.0);
}

bool conn_set_takes_input(const struct conn_set *set)
{
    return !set->is_input_done && !set->is_closing && conn_set_can_send(set);
}

void conn_set_run_over(struct conn_set *set, const struct options *opt)
{
    for (size_t i = 0; i < set->num; i++)
        set->items[i]->is_run_over = true;
    conn_set_close_all(set, opt->is_listen ? WS_CLOSE_GOING_AWAY : WS_CLOSE_NORMAL);
}

bool end_uses_stdio(const struct options *opt)
{
    return !opt->is_echo && !opt->exec_cmd && !opt->forward && !opt->has_tcp_listen &&
           !opt->script && !opt->replay && !opt->to;
}

int end_plan_attach_taps(const struct end_plan *plan, struct conn *c)
{
    struct conn_tap *t;
    if (plan && plan->until) {
        if (!(t = expect_tap_new(plan->until)))
            return -1;
        conn_add_tap(c, t);
    }
    if (plan && plan->recorder) {
        if (!(t = record_tap_new(plan->recorder)))
            return -1;
        conn_add_tap(c, t);
    }
    return 0;
}

struct local_end *end_for_options(const struct options *opt, const struct end_plan *plan,
                                  struct stdout_hub *hub)
{
    if (opt->is_echo)
        return echo_end_new();
    if (plan && plan->script)
        return script_end_new(plan->script, opt, hub);
    if (opt->replay)
        return replay_end_new(opt, hub);
    if (opt->to)
        return relay_end_new(opt);
    if (opt->exec_cmd)
        return child_end_new(opt);
    if (opt->forward)
        return forward_end_new(opt);
    return print_end_new(hub);
}
