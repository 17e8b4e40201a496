/* SPDX-License-Identifier: MIT */
/* script: -f FILE as a local end. Its lines go out as if typed at the
 * console (ends/command.c sends them), /sleep and /expect wait, and what
 * the server sends is printed as in pipe mode (an inner stdout end) and fed
 * to the script's expectations. The stepping is core/script.c's. */
#include <stdlib.h>
#include <string.h>

#include "core/commands.h"
#include "core/expect.h"
#include "core/script.h"
#include "ends/end.h"
#include "io/net.h"

struct script_end {
    struct local_end base;
    struct local_end *print; /* received messages are printed; owned */
    const struct options *opt;
    const struct script *s;  /* borrowed: the plan's */
    struct expect se;        /* the script's /expect patterns; owned */
    struct script_run run;
    struct command cmd;      /* owned */
    bool is_finished;        /* every line ran (or /close did) */
    bool has_failed;         /* an /expect was not met */
    long close_at;           /* -w after the last line: close then; 0: none */
};

static struct script_end *se_of(struct local_end *e)
{
    return (struct script_end *)e;
}

static void finish_script(struct script_end *x, long now)
{
    x->is_finished = true;
    const struct options *opt = x->opt;
    if (!opt->has_wait)
        conn_close(x->base.conn, WS_CLOSE_NORMAL, NULL);
    else if (opt->wait >= 0)
        x->close_at = now + (long)(opt->wait * 1000.0);
}

static void perform(struct script_end *x)
{
    char err[sizeof(x->cmd.path) + 100];
    struct conn *c = x->base.conn;
    if (end_command_prepare(&x->cmd, x->opt, err, sizeof(err)) != 0) {
        note(c->env->out, "%s:%lu: not sent: %s", x->s->name, x->run.line, err);
        return;
    }
    end_command_send(c, &x->cmd);
    if (x->cmd.kind == CMD_CLOSE)
        x->is_finished = true; /* /close ends a script */
}

/* Runs the script on as far as it can go now. */
static void step(struct script_end *x, long now)
{
    struct conn *c = x->base.conn;
    char why[600];
    while (!x->is_finished && !x->has_failed && conn_can_send(c)) {
        switch (script_step(&x->run, &x->se, now, &x->cmd)) {
        case SCRIPT_COMMAND: perform(x); break;
        case SCRIPT_WAIT: return;
        case SCRIPT_END: finish_script(x, now); return;
        case SCRIPT_EXPECT_FAILED:
            expect_describe(&x->se, EXPECT_TIMED_OUT, now, why, sizeof(why));
            conn_fail_expectation(c, "%s:%lu: %s", x->s->name, x->run.line, why);
            x->has_failed = true;
            conn_close(c, WS_CLOSE_NORMAL, NULL);
            return;
        }
    }
}

static int se_open(struct local_end *e, const struct conn_request *req, char *err,
                   size_t errlen)
{
    struct script_end *x = se_of(e);
    x->print->conn = e->conn; /* the inner end prints for this connection */
    if (x->print->ops->open && x->print->ops->open(x->print, req, err, errlen) != 0)
        return -1;
    script_run_init(&x->run, x->s);
    step(x, net_now_ms());
    return 0;
}

static void se_begin(struct local_end *e, enum ws_opcode op)
{
    struct script_end *x = se_of(e);
    x->print->ops->message_begin(x->print, op);
    expect_message_begin(&x->se, op);
}

static void se_data(struct local_end *e, const uint8_t *p, size_t len)
{
    struct script_end *x = se_of(e);
    x->print->ops->message_data(x->print, p, len);
    expect_message_data(&x->se, p, len);
}

static void se_message_end(struct local_end *e)
{
    struct script_end *x = se_of(e);
    x->print->ops->message_end(x->print);
    expect_message_end(&x->se);
    step(x, net_now_ms());
}

static void se_abort(struct local_end *e)
{
    struct script_end *x = se_of(e);
    x->print->ops->message_abort(x->print);
    expect_message_abort(&x->se);
}

static void se_control(struct local_end *e, enum ws_opcode op, const uint8_t *p, size_t len)
{
    struct script_end *x = se_of(e);
    x->print->ops->control(x->print, op, p, len);
}

static void se_peer_close(struct local_end *e, unsigned code, const uint8_t *reason, size_t len)
{
    struct script_end *x = se_of(e);
    x->print->ops->peer_close(x->print, code, reason, len);
}

static bool se_can_take(const struct local_end *e)
{
    const struct script_end *x = (const struct script_end *)e;
    return end_can_take(x->print);
}

static long se_deadline(const struct local_end *e)
{
    const struct script_end *x = (const struct script_end *)e;
    if (x->close_at)
        return x->close_at;
    if (x->is_finished || x->has_failed || !x->base.conn || !conn_is_open(x->base.conn))
        return 0;
    int64_t at = script_deadline(&x->run, &x->se);
    return at > 0 ? (long)at : 0;
}

static void se_on_tick(struct local_end *e, long now)
{
    struct script_end *x = se_of(e);
    if (x->close_at && now >= x->close_at) {
        x->close_at = 0;
        conn_close(e->conn, WS_CLOSE_NORMAL, NULL);
    }
    if (conn_is_open(e->conn))
        step(x, now);
}

static void se_conn_ended(struct local_end *e)
{
    struct script_end *x = se_of(e);
    x->print->ops->conn_ended(x->print);
    x->close_at = 0;
    if (x->is_finished || x->has_failed || !x->base.conn->has_ws)
        return;
    struct conn *c = e->conn;
    if (x->run.is_expecting) {
        char why[600];
        expect_describe(&x->se, c->is_run_over ? EXPECT_TIMED_OUT : EXPECT_CLOSED, net_now_ms(),
                        why, sizeof(why));
        conn_fail_expectation(c, "%s:%lu: %s", x->s->name, x->run.line, why);
    } else {
        conn_fail_expectation(c, "%s: the script did not finish: %s at line %lu", x->s->name,
                              c->is_run_over ? "--timeout passed" : "the connection ended",
                              x->run.line);
    }
}

static void se_free(struct local_end *e)
{
    struct script_end *x = se_of(e);
    x->print->ops->free(x->print);
    expect_free(&x->se);
    command_free(&x->cmd);
    free(x);
}

static const struct local_end_ops script_ops = {
    .type = "script",
    .open = se_open,
    .message_begin = se_begin,
    .message_data = se_data,
    .message_end = se_message_end,
    .message_abort = se_abort,
    .control = se_control,
    .peer_close = se_peer_close,
    .can_take = se_can_take,
    .deadline = se_deadline,
    .on_tick = se_on_tick,
    .conn_ended = se_conn_ended,
    .free = se_free,
};

struct local_end *script_end_new(const struct script *s, const struct options *opt,
                                 struct stdout_hub *hub)
{
    struct script_end *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->base.ops = &script_ops;
    x->opt = opt;
    x->s = s;
    command_init(&x->cmd);
    expect_init(&x->se, opt->max_message);
    char err[300];
    x->print = print_end_new(hub);
    if (!x->print || script_add_expects(s, &x->se, err, sizeof(err)) != 0) {
        if (x->print)
            x->print->ops->free(x->print);
        expect_free(&x->se);
        free(x);
        return NULL;
    }
    return &x->base;
}
