/* SPDX-License-Identifier: MIT */
#include "tunnel.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "http.h"
#include "net.h"

int tunnel_send(int fd, const struct buf *request, size_t *sent, char *err, size_t errlen)
{
    const uint8_t *p = buf_head(request);
    size_t len = buf_size(request);
    while (*sent < len) {
        ssize_t n = send(fd, p + *sent, len - *sent, MSG_NOSIGNAL);
        if (n > 0) {
            *sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        snprintf(err, errlen, "cannot send CONNECT to the proxy: %s",
                 n < 0 ? strerror(errno) : "nothing sent");
        return -1;
    }
    return 1;
}

/* Takes exactly n bytes that a peek has shown to be there. */
static int take(int fd, size_t n, char *err, size_t errlen)
{
    char sink[4096];
    while (n) {
        ssize_t r = recv(fd, sink, n < sizeof(sink) ? n : sizeof(sink), 0);
        if (r > 0) {
            n -= (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        snprintf(err, errlen, "cannot read the proxy's answer: %s",
                 r < 0 ? strerror(errno) : "connection closed");
        return -1;
    }
    return 0;
}

/* Peeks at what arrived, and takes from the socket only the bytes that
 * belong to the head: all of them while the head is incomplete, up to its
 * blank line once it is complete. */
int tunnel_read_head(int fd, struct buf *head, char *err, size_t errlen)
{
    char peek[HTTP_MAX_HEAD + 1];
    for (;;) {
        size_t have = buf_size(head);
        ssize_t n = recv(fd, peek, sizeof(peek) - have, MSG_PEEK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0) {
            snprintf(err, errlen, "cannot read the proxy's answer: %s", strerror(errno));
            return -1;
        }
        if (n == 0) {
            snprintf(err, errlen, "the proxy closed the connection %s",
                     have ? "in the middle of its answer to CONNECT" : "without answering CONNECT");
            return -1;
        }
        if (buf_append(head, peek, (size_t)n) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        struct http_head h;
        const char *data = (const char *)buf_head(head);
        int r = http_parse_response(data, buf_size(head), HTTP_MAX_HEAD, &h);
        if (r == HTTP_INCOMPLETE) {
            if (take(fd, (size_t)n, err, errlen) != 0)
                return -1;
            continue;
        }
        if (r < 0) {
            size_t show = 0, len = buf_size(head);
            while (show < len && show < 60 && data[show] != '\r' && data[show] != '\n')
                show++;
            if (r == HTTP_TOO_LARGE)
                snprintf(err, errlen, "the proxy's answer to CONNECT is larger than %d bytes",
                         HTTP_MAX_HEAD);
            else
                snprintf(err, errlen,
                         "the proxy's answer to CONNECT is not valid HTTP: "
                         "\"%.*s\"",
                         (int)show, data);
            return -1;
        }
        buf_drop_tail(head, buf_size(head) - (size_t)r);
        return take(fd, (size_t)r - have, err, errlen) == 0 ? 1 : -1;
    }
}

int tunnel_exchange(int fd, const struct buf *request, int timeout_ms, struct buf *head, char *err,
                    size_t errlen)
{
    long deadline = net_now_ms() + (timeout_ms > 0 ? timeout_ms : 24L * 3600 * 1000);
    size_t sent = 0;
    int r;
    while ((r = tunnel_send(fd, request, &sent, err, errlen)) == 0) {
        int w = net_wait(fd, POLLOUT, deadline);
        if (w <= 0) {
            snprintf(err, errlen, "cannot send CONNECT to the proxy: %s",
                     w == 0 ? "timed out" : strerror(errno));
            return -1;
        }
    }
    if (r < 0)
        return -1;
    while ((r = tunnel_read_head(fd, head, err, errlen)) == 0) {
        int w = net_wait(fd, POLLIN, deadline);
        if (w <= 0) {
            snprintf(err, errlen, "the proxy did not answer CONNECT%s%s",
                     w == 0 ? " in time" : ": ", w == 0 ? "" : strerror(errno));
            return -1;
        }
    }
    return r < 0 ? -1 : 0;
}
