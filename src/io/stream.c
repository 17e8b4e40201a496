/* SPDX-License-Identifier: MIT */
#include "stream.h"
#include "waiter.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One read(2) or send(2), in the stream's terms: EINTR retried, EAGAIN as
 * STREAM_AGAIN, other errors described in s->error. */
static ssize_t plain_io(struct stream *s, void *p, size_t n, bool is_read)
{
    for (;;) {
        ssize_t r = is_read ? read(s->fd, p, n) : send(s->fd, p, n, MSG_NOSIGNAL);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return STREAM_AGAIN;
        snprintf(s->error, sizeof(s->error), "%s", strerror(errno));
        return STREAM_ERROR;
    }
}

static ssize_t plain_read(struct stream *s, void *p, size_t n)
{
    return plain_io(s, p, n, true);
}

static ssize_t plain_write(struct stream *s, const void *p, size_t n)
{
    return plain_io(s, (void *)p, n, false); /* send() does not write to p */
}

static size_t plain_pending(struct stream *s)
{
    return 0;
}

static void plain_shutdown(struct stream *s)
{
    shutdown(s->fd, SHUT_WR);
}

static void plain_free(struct stream *s)
{
}

static const struct stream_ops plain_ops = {
    plain_read, plain_write, plain_pending, plain_shutdown, plain_free, NULL, NULL, NULL,
};

struct stream *stream_new_plain(int fd)
{
    struct stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->ops = &plain_ops;
    s->fd = fd;
    s->is_secured = true;
    return s;
}

ssize_t stream_read(struct stream *s, void *p, size_t n)
{
    return s->ops->read(s, p, n);
}

ssize_t stream_write(struct stream *s, const void *p, size_t n)
{
    return s->ops->write(s, p, n);
}

size_t stream_pending(struct stream *s)
{
    return s->ops->pending(s);
}

void stream_shutdown(struct stream *s)
{
    s->ops->shutdown(s);
}

void stream_free(struct stream *s)
{
    if (!s)
        return;
    s->ops->free(s);
    if (s->fd >= 0) {
        waiter_forget(s->fd);
        close(s->fd);
    }
    free(s);
}

short stream_poll_events(struct stream *s, bool want_read, bool want_write)
{
    if (s->ops->poll_events)
        return s->ops->poll_events(s, want_read, want_write);
    short ev = 0;
    if (want_read)
        ev |= s->read_wants_write ? POLLOUT : POLLIN;
    if (want_write)
        ev |= s->write_wants_read ? POLLIN : POLLOUT;
    return ev;
}

void stream_ready(struct stream *s, short revents)
{
    if (s->ops->ready)
        s->ops->ready(s, revents);
}

bool stream_is_connecting(const struct stream *s)
{
    return s->connect_deadline != 0;
}

int stream_connect(struct stream *s)
{
    return s->ops->connect ? s->ops->connect(s) : 0;
}
