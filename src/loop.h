/* SPDX-License-Identifier: MIT */
/* loop: the single-threaded wait over every connection, the local ends,
 * the listener, timers and a signal self-pipe. It moves data between each
 * connection's two ends without knowing their kinds (conn.h, ends/end.h),
 * and turns signals into a clean close. */
#ifndef WSC_LOOP_H
#define WSC_LOOP_H

#include <stdbool.h>

#include "conn.h"
#include "core/handshake.h"
#include "io/stream.h"
#include "ui/input.h"
#include "ui/options.h"
#include "ui/output.h"

/* Client: runs one connection on an already connected stream until it ends.
 * in may be NULL (nothing to read from stdin); plan may be NULL. */
struct end_plan;
void loop_run_client(struct stream *s, const struct options *opt, const struct end_plan *plan,
                     struct hs_client *hs, struct input *in, struct output *out,
                     struct conn_result *res);

/* What a listening socket accepts: WebSocket clients (-l, TLS with tls),
 * or local clients each joined to a new WebSocket that dial opens
 * (--tcp-listen; it returns NULL, having said why, when it cannot). dial
 * must not wait: its stream may still be connecting (io/dial.h). */
struct tls_context;
struct loop_listener {
    int fd;
    struct tls_context *tls;
    struct stream *(*dial)(void *ctx);
    void *dial_ctx;
};

/* Accepts clients until interrupted, until stdin or stdout fails, or until
 * --timeout. SERVER_FAILED has been reported on stderr; SERVER_UNMET: a
 * client did not meet the replay (said when it happened). hs: the request
 * for --tcp-listen. */
enum server_end { SERVER_OK, SERVER_INTERRUPTED, SERVER_FAILED, SERVER_UNMET };
enum server_end loop_run_server(const struct loop_listener *ls, const struct options *opt,
                                const struct end_plan *plan, struct hs_client *hs,
                                struct output *out);

/* Waits ms milliseconds; returns -1 at once when SIGINT or SIGTERM comes. */
int loop_sleep(long ms);

/* Installs the SIGINT/SIGTERM self-pipe and ignores SIGPIPE. */
int loop_init_signals(void);

#endif
