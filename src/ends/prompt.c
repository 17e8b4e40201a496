/* SPDX-License-Identifier: MIT */
/* prompt: the interactive console as a shared local end. Each line typed is
 * a text message or a slash command for every open connection (listen mode:
 * /to ID picks one). The console draws itself; this end only acts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/commands.h"
#include "ends/end.h"
#include "ui/console.h"

struct prompt_end {
    struct local_end base;
    struct conn_set *set;
    const struct options *opt;
    struct output *out;
    struct command cmd; /* the slash command being run; owned */
};

typedef int (*conn_action)(struct prompt_end *x, struct conn *c);

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

/* Runs an action on the open connections: every one, or the one /to names. */
static void for_open_conns(struct prompt_end *x, unsigned only_id, conn_action act)
{
    unsigned ids[16];
    size_t done = 0;
    for (size_t i = 0; i < x->set->num; i++) {
        struct conn *c = x->set->items[i];
        if (c->phase != CONN_OPEN || (only_id && c->id != only_id))
            continue;
        if (act(x, c) != 0) {
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

static int act_text(struct prompt_end *x, struct conn *c)
{
    return conn_send_message(c, WS_OP_TEXT, x->cmd.text, x->cmd.len);
}

static int act_binary(struct prompt_end *x, struct conn *c)
{
    return conn_send_message(c, WS_OP_BINARY, buf_head(&x->cmd.data), buf_size(&x->cmd.data));
}

static int act_ping(struct prompt_end *x, struct conn *c)
{
    return conn_send_ping(c, x->cmd.text, x->cmd.len, true);
}

static int act_pong(struct prompt_end *x, struct conn *c)
{
    return conn_send_pong(c, x->cmd.text, x->cmd.len);
}

static int act_close(struct prompt_end *x, struct conn *c)
{
    char reason[WS_MAX_CONTROL];
    snprintf(reason, sizeof(reason), "%.*s", (int)x->cmd.len, x->cmd.text);
    conn_close(c, x->cmd.code, reason);
    return 0;
}

/* One message as count frames: the data opcode first, then continuations,
 * FIN on the last. */
static int act_fragment(struct prompt_end *x, struct conn *c)
{
    size_t n = x->cmd.count, len = x->cmd.len, off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t piece = len / n + (i < len % n ? 1 : 0);
        if (conn_send_frame(c, i ? WS_OP_CONT : WS_OP_TEXT, i + 1 == n, x->cmd.text + off,
                            piece) != 0)
            return -1;
        off += piece;
    }
    return 0;
}

static int act_raw(struct prompt_end *x, struct conn *c)
{
    struct ws_frame_header h = x->cmd.raw;
    if (h.has_mask && conn_random(NULL, h.mask, 4) != 0)
        return -1;
    return conn_send_raw(c, &h, buf_head(&x->cmd.data));
}

static int read_file(const char *path, struct buf *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (;;) {
        uint8_t *dst = buf_reserve(out, 65536);
        if (!dst) {
            snprintf(err, errlen, "%s: too large", path);
            rc = -1;
            break;
        }
        size_t n = fread(dst, 1, 65536, f);
        buf_commit(out, n);
        if (n < 65536)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    return rc;
}

static void send_text(struct prompt_end *x, unsigned only)
{
    struct utf8_state st = {0};
    if (utf8_validate(&st, (const uint8_t *)x->cmd.text, x->cmd.len) < x->cmd.len ||
        !utf8_is_complete(&st)) {
        note(x->out, "not sent: the line is not valid UTF-8");
        return;
    }
    for_open_conns(x, only, act_text);
}

static void send_file(struct prompt_end *x, unsigned only)
{
    struct command *c = &x->cmd;
    char err[sizeof(c->path) + 100];
    buf_free(&c->data);
    buf_init(&c->data, x->opt->max_message);
    if (read_file(c->path, &c->data, err, sizeof(err)) != 0)
        note(x->out, "not sent: %s", err);
    else
        for_open_conns(x, only, act_binary);
}

static void show_help(struct prompt_end *x)
{
    console_hide();
    output_flush(x->out);
    fputs(command_help(), stdout);
    fflush(stdout);
    console_show();
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
        if (c->kind == CMD_TO || c->kind == CMD_HELP || c->kind == CMD_QUIT) {
            note(x->out, "/to takes a message or /ping, /pong, /close, /fragment, /binary, /raw");
            return;
        }
    }
    switch (c->kind) {
    case CMD_TEXT: send_text(x, only); break;
    case CMD_TO: break; /* turned into its command above */
    case CMD_PING: for_open_conns(x, only, act_ping); break;
    case CMD_PONG: for_open_conns(x, only, act_pong); break;
    case CMD_CLOSE: for_open_conns(x, only, act_close); break;
    case CMD_FRAGMENT: for_open_conns(x, only, act_fragment); break;
    case CMD_BINARY: for_open_conns(x, only, act_binary); break;
    case CMD_BINARY_FILE: send_file(x, only); break;
    case CMD_RAW: for_open_conns(x, only, act_raw); break;
    case CMD_HELP: show_help(x); break;
    case CMD_QUIT:
        console_finish(); /* no prompt while the closing handshake runs */
        conn_set_close_all(x->set, WS_CLOSE_NORMAL);
        break;
    case CMD_EXPECT:
    case CMD_SLEEP: note(x->out, "/expect and /sleep are not yet available here"); break;
    case CMD_ERROR: note(x->out, "%s", c->error); break;
    }
}

/* Keys are read while every connection can take more; listening, also
 * while no client is connected, so that typing shows and is answered. */
static bool reads_keys(const struct prompt_end *x)
{
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

static void prompt_free(struct local_end *e)
{
    struct prompt_end *x = (struct prompt_end *)e;
    console_stop();
    command_free(&x->cmd);
    free(x);
}

static const struct local_end_ops prompt_ops = {
    .type = "console",
    .poll_fds = prompt_poll_fds,
    .on_ready = prompt_on_ready,
    .free = prompt_free,
};

struct local_end *prompt_end_new(struct conn_set *set, const struct options *opt,
                                 struct output *out)
{
    struct prompt_end *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->base.ops = &prompt_ops;
    x->set = set;
    x->opt = opt;
    x->out = out;
    command_init(&x->cmd);
    console_start("> ", on_line, x);
    return &x->base;
}
