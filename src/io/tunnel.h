/* SPDX-License-Identifier: MIT */
/* tunnel: the I/O half of an HTTP CONNECT through a proxy. Sends the
 * request built by proxy.c on a connected socket and reads the proxy's
 * answer head, bounded in size and time, never a byte past it: what follows
 * belongs to the tunnel (and to TLS inside it). Judging the answer is
 * proxy.c's job. */
#ifndef WSC_TUNNEL_H
#define WSC_TUNNEL_H

#include <stddef.h>

#include "buf.h"

/* Sends request on the non-blocking socket fd, then reads the answer head
 * into head (at most HTTP_MAX_HEAD bytes). Waits at most timeout_ms in all
 * (<= 0: no limit). Returns 0 with the complete head, or -1 with a one-line
 * reason in err (timeout, closed, not HTTP, too large, socket error). */
int tunnel_exchange(int fd, const struct buf *request, int timeout_ms, struct buf *head, char *err,
                    size_t errlen);

/* The same in steps that never wait, for a caller that polls (io/dial.h).
 * Each returns 1 when done, 0 when the socket would block (poll for POLLOUT
 * to send, POLLIN to read) and -1 with the reason in err. */
/* Sends what is left of request from *sent on, moving *sent. */
int tunnel_send(int fd, const struct buf *request, size_t *sent, char *err, size_t errlen);
/* Reads more of the answer head into head (at most HTTP_MAX_HEAD bytes). */
int tunnel_read_head(int fd, struct buf *head, char *err, size_t errlen);

#endif
