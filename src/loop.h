/* SPDX-License-Identifier: MIT */
/* loop: the single-threaded poll() loop. It moves bytes between the peers'
 * streams, the ws engine, stdin and stdout; runs the opening handshakes of
 * both roles without blocking; keeps the timers (handshake, close reply,
 * wait after input) and turns signals into a clean close. Backpressure:
 * stdin is read only while every peer's output is below a high-water mark,
 * a socket is read only while our output to it is below it too. */
#ifndef WSC_LOOP_H
#define WSC_LOOP_H

#include <stdbool.h>

#include "handshake.h"
#include "input.h"
#include "options.h"
#include "output.h"
#include "stream.h"
#include "ws.h"

/* How a connection ended; main turns this into a message and exit status. */
enum end_kind {
    END_NONE,
    END_CLOSED,        /* closing handshake completed */
    END_LOST,          /* TCP ended without a close frame */
    END_PROTOCOL,      /* the peer broke RFC 6455; we closed */
    END_HANDSHAKE,     /* opening handshake refused or impossible */
    END_REDIRECT,      /* 3xx: hs.location says where */
    END_RETRY_VERSION, /* 426 naming a version we speak */
    END_NO_CLOSE_REPLY,/* our close was not answered in time */
    END_PING_TIMEOUT,  /* --ping-timeout passed without a pong */
    END_TLS,           /* TLS handshake or certificate failure */
    END_IO,            /* read/write error, stdin or stdout failure */
    END_INTERRUPTED,   /* a second Ctrl-C */
};

struct loop_result {
    enum end_kind kind;
    bool closed_by_peer;
    unsigned close_code;     /* the peer's close code (END_CLOSED) */
    char close_reason[128];
    unsigned sent_code;      /* the code we sent */
    struct hs_result hs;     /* client handshake outcome */
    char message[600];       /* what went wrong, for END_* errors */
    bool input_failed;       /* the message is about stdin */
    bool was_closing;        /* we had started to close (end of input, Ctrl-C, /close) */
};

/* Client: runs one connection on an already connected stream until it ends.
 * in may be NULL (nothing to read from stdin). */
void loop_run_client(struct stream *s, const struct options *opt, struct hs_client *hs,
                     struct input *in, struct output *out, struct loop_result *res);

/* Server: accepts clients on lfd until interrupted, or until stdin or stdout
 * fails. SERVER_FAILED has been reported on stderr. */
enum server_end { SERVER_OK, SERVER_INTERRUPTED, SERVER_FAILED };
struct tls_context;
enum server_end loop_run_server(int lfd, struct tls_context *tls, const struct options *opt,
                                struct output *out);

/* Waits ms milliseconds; returns -1 at once when SIGINT or SIGTERM comes. */
int loop_sleep(long ms);

/* Installs the SIGINT/SIGTERM self-pipe and ignores SIGPIPE. */
int loop_init_signals(void);

#endif
