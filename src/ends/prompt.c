/* SPDX-License-Identifier: MIT */
/* prompt: the interactive console as a shared local end. Each line typed is
 * a text message or a slash command for every open connection (listen mode:
 * /to ID picks one); /expect and /sleep pause the typing. The console draws
 * itself; this end only acts (commands are sent by ends/command.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/commands.h"
#include "core/expect.h"
#include "ends/end.h"
#include "io/net.h"
#include "ui/console.h"

struct prompt_end {
    struct local_end base;
    struct conn_set *set;
    const struct options *opt;
    struct output *out;
    struct command cmd; /* the slash command being run; owned */
    struct stdout_hub *hub;
    struct expect watch; /* /expect: what it waits for; owned */
    bool is_expecting;
    long wait_until;     /* /expect or /sleep: no keys are read until then; 0: none */
};

/* Listening: says which clients a line went to, as "sent to clients 1, 2". */
static void say_sent_to(struct prompt_end *x, const unsigned *ids, size_t n, size_t total)
{
    char list[200] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof(list) - 24; i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%u", i ? ", " : "", ids[i]);
    if (total > n)
        snprintf(list + len, sizeof(list) - len, " and %zu more", total - n);
    note(x->out, "sent to client%s %s", total > 1 ? "s" : "", list);
}

/* Sends the command on the open connections: every one, or the one /to names. */
static void for_open_conns(struct prompt_end *x, unsigned only_id)
{
    unsigned ids[16];
    size_t done = 0;
    for (size_t i = 0; i < x->set->num; i++) {
        struct conn *c = x->set->items[i];
        if (c->phase != CONN_OPEN || (only_id && c->id != only_id))
            continue;
        if (end_command_send(c, &x->cmd) != 0) {
            note(x->out, "cannot send: the connection is closing");
            continue;
        }
        if (done < sizeof(ids) / sizeof(ids[0]))
            ids[done] = c->id;
        done++;
    }
    if (!done && x->opt->is_listen)
        note(x->out, only_id ? "no client %u: not sent" : "no client: not sent", only_id);
    else if (!done)
        note(x->out, "no open connection");
    else if (x->opt->is_listen)
        say_sent_to(x, ids, done < 16 ? done : 16, done);
}

static void show_help(struct prompt_end *x)
{
    console_hide();
    output_flush(x->out);
    fputs(command_help(), stdout);
    fflush(stdout);
    console_show();
}

/* /expect at the console: a wait on the messages printed from now on; it
 * only says how it went. */
static void start_expect(struct prompt_end *x)
{
    char err[300];
    struct command *c = &x->cmd;
    expect_free(&x->watch);
    expect_init(&x->watch, x->opt->max_message);
    if (expect_add(&x->watch, c->text, c->len, c->wait_ms, err, sizeof(err)) < 0) {
        note(x->out, "%s", err);
        return;
    }
    long now = net_now_ms();
    expect_wait_start(&x->watch, now);
    x->hub->watch = &x->watch;
    x->wait_until = now + c->wait_ms;
    x->is_expecting = true;
}

static void end_expect(struct prompt_end *x, long now)
{
    char line[800];
    if (expect_is_met(&x->watch)) {
        expect_sanitize(line, sizeof(line), (const uint8_t *)x->watch.items[0].pat.source,
                        strlen(x->watch.items[0].pat.source), 100);
        note(x->out, "matched /%s/", line);
    } else {
        expect_describe(&x->watch, EXPECT_TIMED_OUT, now, line, sizeof(line));
        note(x->out, "%s", line);
    }
    x->hub->watch = NULL;
    x->is_expecting = false;
    x->wait_until = 0;
}

static void on_line(void *ctx, const char *line)
{
    struct prompt_end *x = ctx;
    if (!line) {
        conn_set_input_ended(x->set, x->opt); /* Ctrl-D closes like the end of a pipe */
        return;
    }
    if (x->set->is_closing || x->set->is_input_done || !*line)
        return; /* lines pasted after /quit, and empty lines, send nothing */
    struct command *c = &x->cmd;
    command_parse(line, strlen(line), c);
    unsigned only = 0; /* listen mode: the one client /to names */
    if (c->kind == CMD_TO) {
        /* "/to ID text" sends text, "/to ID /cmd ..." runs a command, for that client */
        only = c->target;
        command_parse(c->text, c->len, c);
        if (c->kind == CMD_TO || c->kind == CMD_HELP || c->kind == CMD_QUIT ||
            c->kind == CMD_EXPECT || c->kind == CMD_SLEEP) {
            note(x->out, "/to takes a message or /ping, /pong, /close, /fragment, /binary, /raw");
            return;
        }
    }
    char err[sizeof(c->path) + 100];
    switch (c->kind) {
    case CMD_HELP: show_help(x); break;
    case CMD_QUIT:
        console_finish(); /* no prompt while the closing handshake runs */
        conn_set_close_all(x->set, WS_CLOSE_NORMAL);
        break;
    case CMD_EXPECT: start_expect(x); break;
    case CMD_SLEEP: x->wait_until = net_now_ms() + c->wait_ms; break;
    case CMD_ERROR: note(x->out, "%s", c->error); break;
    default:
        if (end_command_prepare(c, x->opt, err, sizeof(err)) != 0)
            note(x->out, "not sent: %s", err);
        else
            for_open_conns(x, only);
    }
}

/* Keys are read while every connection can take more; listening, also
 * while no client is connected, so that typing shows and is answered. */
static bool reads_keys(const struct prompt_end *x)
{
    if (x->wait_until)
        return false;
    if (conn_set_takes_input(x->set))
        return true;
    if (!x->opt->is_listen || x->set->is_input_done || x->set->is_closing)
        return false;
    for (size_t i = 0; i < x->set->num; i++)
        if (x->set->items[i]->phase == CONN_OPEN)
            return false; /* one is open but cannot take more */
    return true;
}

static size_t prompt_poll_fds(struct local_end *e, struct pollfd *fds, size_t max)
{
    struct prompt_end *x = (struct prompt_end *)e;
    (void)max;
    fds[0] = (struct pollfd){.fd = reads_keys(x) ? STDIN_FILENO : -1, .events = POLLIN};
    return 1;
}

static void prompt_on_ready(struct local_end *e, const struct pollfd *fds, size_t n)
{
    struct prompt_end *x = (struct prompt_end *)e;
    /* A signal or a peer's close handled this turn may have ended the input. */
    if (n >= 1 && fds[0].revents && reads_keys(x))
        console_read();
}

static long prompt_deadline(const struct local_end *e)
{
    return ((const struct prompt_end *)e)->wait_until;
}

static void prompt_on_tick(struct local_end *e, long now)
{
    struct prompt_end *x = (struct prompt_end *)e;
    if (x->is_expecting && (expect_is_met(&x->watch) || now >= x->wait_until))
        end_expect(x, now);
    else if (!x->is_expecting && x->wait_until && now >= x->wait_until)
        x->wait_until = 0;
}

static void prompt_free(struct local_end *e)
{
    struct prompt_end *x = (struct prompt_end *)e;
    console_stop();
    command_free(&x->cmd);
    if (x->hub->watch == &x->watch)
        x->hub->watch = NULL;
    expect_free(&x->watch);
    free(x);
}

static const struct local_end_ops prompt_ops = {
    .type = "console",
    .poll_fds = prompt_poll_fds,
    .on_ready = prompt_on_ready,
    .deadline = prompt_deadline,
    .on_tick = prompt_on_tick,
    .free = prompt_free,
};

struct local_end *prompt_end_new(struct conn_set *set, const struct options *opt,
                                 struct stdout_hub *hub)
{
    struct prompt_end *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->base.ops = &prompt_ops;
    x->set = set;
    x->opt = opt;
    x->out = hub->out;
    x->hub = hub;
    command_init(&x->cmd);
    expect_init(&x->watch, opt->max_message);
    console_start("> ", on_line, x);
    return &x->base;
}
