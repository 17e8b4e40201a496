/* SPDX-License-Identifier: MIT */
/* stream: one byte-stream interface over a plain socket or a TLS session, so
 * that nothing above it knows whether TLS is on. Non-blocking throughout:
 * reads and writes may answer STREAM_AGAIN, and stream_poll_events() says
 * which poll events the next step waits for (TLS may need to write while
 * reading and the reverse). */
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
};

struct stream {
    const struct stream_ops *ops;
    int fd;
    bool read_wants_write; /* TLS: the last read needs the socket writable */
    bool write_wants_read; /* TLS: the last write needs the socket readable */
    bool is_tls_error;     /* the error was TLS's: handshake or certificate */
    bool is_secured;       /* plain, or the TLS handshake has finished */
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
/* Poll events for the socket given what the caller wants to do next. */
short stream_poll_events(const struct stream *s, bool want_read, bool want_write);

#endif
