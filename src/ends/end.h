/* SPDX-License-Identifier: MIT */
/* end: the local end of a connection, one ops table per kind (stdout, echo,
 * a child process, a socket; and the shared ones that feed every connection:
 * stdin and the console). The loop waits on an end's descriptors and calls
 * it when they are ready; the connection hands it what the peer sends. An
 * end sends toward the peer with conn_send_*() while conn_can_send() holds,
 * and stops the peer's reads by answering false to can_take. Every op but
 * free may be NULL: it then does nothing (can_take: true; is_done: true). */
#ifndef WSC_END_H
#define WSC_END_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "core/ws.h"
#include "ui/input.h"

#define END_MAX_FDS 4

struct local_end;

struct local_end_ops {
    const char *type; /* "stdout", "echo", "exec", "forward", ... */
    /* The WebSocket is open (server: req tells the request; client: NULL).
     * Returns -1 with err set to close the connection with 1011. */
    int (*open)(struct local_end *e, const struct conn_request *req, char *err, size_t errlen);
    /* Server role, the request is acceptable: true holds the answer back
     * until the end calls conn_answer() (the relay waits for its upstream).
     * h stays valid until then. */
    bool (*hold_answer)(struct local_end *e, const struct http_head *h);
    /* What the peer sends: a message as it streams in. */
    void (*message_begin)(struct local_end *e, enum ws_opcode op);
    void (*message_data)(struct local_end *e, const uint8_t *p, size_t len);
    void (*message_end)(struct local_end *e);
    /* A whole message that came in one piece, at once (optional: without
     * it, such a message comes through the three calls above too). */
    void (*message)(struct local_end *e, enum ws_opcode op, const uint8_t *p, size_t len);
    /* The message being received will never be complete. */
    void (*message_abort)(struct local_end *e);
    /* A ping or pong from the peer (answered by the engine already). */
    void (*control)(struct local_end *e, enum ws_opcode op, const uint8_t *p, size_t len);
    /* The peer's close frame. */
    void (*peer_close)(struct local_end *e, unsigned code, const uint8_t *reason, size_t len);
    /* False: stop reading the peer until it turns true. */
    bool (*can_take)(const struct local_end *e);
    /* The descriptors to wait on this turn (fd -1 to skip one); returns how many. */
    size_t (*poll_fds)(struct local_end *e, struct pollfd *fds, size_t max);
    void (*on_ready)(struct local_end *e, const struct pollfd *fds, size_t n);
    /* The end's own deadline (ms on net_now_ms's clock; 0: none). */
    long (*deadline)(const struct local_end *e);
    void (*on_tick)(struct local_end *e, long now);
    /* The connection is over (closed, lost or refused): wind down. */
    void (*conn_ended)(struct local_end *e);
    /* Nothing of the end is left running (a process reaped, a socket closed). */
    bool (*is_done)(const struct local_end *e);
    void (*free)(struct local_end *e);
};

struct local_end {
    const struct local_end_ops *ops;
    struct conn *conn; /* borrowed; NULL for a shared end */
};

/* The connections of a run, for the shared ends that feed them all. */
struct conn_set {
    struct conn **items; /* borrowed */
    size_t num;
    bool is_closing;     /* the run is ending: no new input */
    bool is_input_done;  /* stdin or the console ended */
    bool input_failed;   /* listen mode: stdin could not be read or sent */
    long wait_deadline;  /* -w: close everything when it passes; 0: none */
    long run_deadline;   /* --timeout: the whole run ends when it passes; 0: none */
    bool has_unmet;      /* a connection did not meet an expectation (exit 7) */
};

bool end_can_take(const struct local_end *e);
bool end_is_done(const struct local_end *e);
long end_deadline(const struct local_end *e);

/* Sends one frame to every open connection of the set; -1 when none took it. */
int conn_set_send_frame(struct conn_set *set, enum ws_opcode op, bool is_final,
                        const uint8_t *p, size_t len);
/* Every open connection can take more, there is at least one, and all of
 * them together hold less than SET_BUDGET unwritten. */
bool conn_set_can_send(const struct conn_set *set);
/* How much one read of stdin may bring: what is read is queued once for
 * every open connection, so the more there are, the less a read takes. */
size_t conn_set_read_size(const struct conn_set *set, size_t most);
/* Closes every connection (and marks the run as ending). */
void conn_set_close_all(struct conn_set *set, unsigned code);
/* stdin or the console ended: a client closes, at once or after -w. */
void conn_set_input_ended(struct conn_set *set, const struct options *opt);
/* stdin (or the console) may be read: input is wanted and can be sent. */
bool conn_set_takes_input(const struct conn_set *set);
/* --timeout passed: every connection closes (listening, with 1001). */
void conn_set_run_over(struct conn_set *set, const struct options *opt);

/* What main prepared before the run (files read and checked, patterns
 * compiled), for the ends and taps that each connection gets. Borrowed. */
#include "ends/plan.h"
/* Gives a new connection the taps the plan asks for. */
int end_plan_attach_taps(const struct end_plan *plan, struct conn *c);

/* stdin, stdout and the console are the local end (no bridge, no --echo). */
bool end_uses_stdio(const struct options *opt);
/* A new connection's local end, as the options ask. */
struct stdout_hub;
struct local_end *end_for_options(const struct options *opt, const struct end_plan *plan,
                                  struct stdout_hub *hub);

/* The kinds, one file each. */
struct stdout_hub {
    const struct options *opt;
    struct output *out;
    const struct conn *showing; /* whose message is being printed, if any */
    size_t messages_received;
    struct expect *watch;       /* the console's /expect, fed what is printed; NULL: none */
};
/* What the peer sends, printed on stdout (pipe and console modes); the hub
 * is shared by every connection so that messages never interleave. */
struct local_end *print_end_new(struct stdout_hub *hub);
/* --echo: every message answered with an identical one. */
struct local_end *echo_end_new(void);
/* stdin in pipe mode, feeding every connection (shared; in is borrowed). */
struct local_end *pipe_end_new(struct input *in, struct conn_set *set, const struct options *opt);
/* --exec: a process joined to the connection. */
struct local_end *child_end_new(const struct options *opt);
/* --forward: a TCP or Unix connection of its own, made when the WebSocket opens. */
struct local_end *forward_end_new(const struct options *opt);
/* --tcp-listen: a local client already accepted (fd owned from now on). */
struct local_end *accepted_end_new(const struct options *opt, int fd, const char *name);
/* The interactive console: lines and slash commands (shared). */
struct local_end *prompt_end_new(struct conn_set *set, const struct options *opt,
                                 struct stdout_hub *hub);
/* -f: the script's lines as if typed, received messages printed. */
struct local_end *script_end_new(const struct script *s, const struct options *opt,
                                 struct stdout_hub *hub);
/* --replay: the recording's messages of our side, paced by the peer's. */
struct local_end *replay_end_new(const struct options *opt, struct stdout_hub *hub);
/* Reads --replay's recording into r's schedule (for the side the options
 * play); -1 with "FILE: line N: why" in err. */
struct replay;
int replay_end_load(struct replay *r, const struct options *opt, char *err, size_t errlen);
/* -l --to: a second WebSocket, to the upstream, for each client. */
struct local_end *relay_end_new(const struct options *opt);

/* Slash commands, as the console and scripts perform them (ends/command.c). */
struct command;
/* Turns /binary @FILE into /binary with the file's bytes, and checks that
 * a text line is UTF-8; -1 with why in err: nothing is to be sent. */
int end_command_prepare(struct command *cmd, const struct options *opt, char *err, size_t errlen);
/* Sends a prepared message or control command (text, /ping, /pong, /close,
 * /fragment, /binary, /raw) on c; -1 when c cannot send now (closing). */
int end_command_send(struct conn *c, const struct command *cmd);

#endif
