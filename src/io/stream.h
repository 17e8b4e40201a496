/* SPDX-License-Identifier: MIT */
/* stream: one byte-stream interface over a plain socket, a TLS session or
 * an HTTP/2 stream, so that nothing above it knows which. Non-blocking
 * throughout: reads and writes may answer STREAM_AGAIN, and
 * stream_poll_events() says which poll events the next step waits for (TLS
 * may need to write while reading and the reverse; HTTP/2 streams share one
 * socket, whose session reads and writes for all of them). */
#ifndef WSC_STREAM_H
#define WSC_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum {
    STREAM_AGAIN = -2, /* would block; poll and retry */
    STREAM_ERROR = -1, /* see stream->error */
};

struct stream;

struct stream_ops {
    ssize_t (*read)(struct stream *s, void *p, size_t n);
    ssize_t (*write)(struct stream *s, const void *p, size_t n);
    /* Bytes already decrypted and waiting inside the stream (no poll needed). */
    size_t (*pending)(struct stream *s);
    /* Ends our direction cleanly (TLS close_notify, then TCP FIN). */
    void (*shutdown)(struct stream *s);
    void (*free)(struct stream *s);
    /* Optional (NULL: from the flags below). The poll events on fd for what
     * the caller wants next; also tells the stream what the caller wants,
     * for a stream that shares fd with others (HTTP/2). */
    short (*poll_events)(struct stream *s, bool want_read, bool want_write);
    /* Optional. The poll reported revents on fd: a shared session moves its
     * own bytes (control frames, other streams') whatever the caller does. */
    void (*ready)(struct stream *s, short revents);
    /* Optional (NULL: connected from the start). Moves a stream that is
     * still connecting (io/dial.h) on: 0 once connected, STREAM_AGAIN, or
     * STREAM_ERROR (with s->error) when it cannot connect or its time ran out. */
    int (*connect)(struct stream *s);
};

struct stream {
    const struct stream_ops *ops;
    int fd; /* polled; owned unless the ops say otherwise (HTTP/2: the session's) */
    bool read_wants_write; /* TLS: the last read needs the socket writable */
    bool write_wants_read; /* TLS: the last write needs the socket readable */
    bool is_tls_error;     /* the error was TLS's: handshake or certificate */
    bool is_secured;       /* plain, or the TLS handshake has finished */
    long connect_deadline; /* ms (net_now_ms): a stream still connecting gives up
                              then; 0 once connected */
    char error[256];
    void *impl;
};

struct stream *stream_new_plain(int fd);
ssize_t stream_read(struct stream *s, void *p, size_t n);
ssize_t stream_write(struct stream *s, const void *p, size_t n);
size_t stream_pending(struct stream *s);
void stream_shutdown(struct stream *s);
/* Closes the socket and frees everything. */
void stream_free(struct stream *s);
/* Poll events for the socket given what the caller wants to do next. Called
 * once a poll turn, before the poll. */
short stream_poll_events(struct stream *s, bool want_read, bool want_write);
/* After the poll, with what it reported for s->fd (0 if nothing). */
void stream_ready(struct stream *s, short revents);
/* Whether s is still connecting; while it is, nothing can be read or
 * written, and s->fd may change from one poll turn to the next. */
bool stream_is_connecting(const struct stream *s);
/* Drives a stream still connecting, without waiting: 0 connected (at once
 * for a stream that never was connecting), STREAM_AGAIN or STREAM_ERROR. */
int stream_connect(struct stream *s);

#endif
