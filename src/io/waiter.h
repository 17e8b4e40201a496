/* SPDX-License-Identifier: MIT */
/* waiter: the loop's one wait over many descriptors, called like poll()
 * with the whole set each turn. On Linux it is epoll: what each descriptor
 * waits for is kept in the kernel and only changes are sent, so that a turn
 * with 10,000 idle connections costs the kernel what is ready, not what is
 * open. Elsewhere it is poll(). A descriptor must be forgotten before it is
 * closed (waiter_forget), so that its number, reused, is registered anew. */
#ifndef WSC_WAITER_H
#define WSC_WAITER_H

#include <poll.h>
#include <stddef.h>

/* As poll(fds, n, timeout_ms): the same revents, the same return value.
 * The same descriptor may appear more than once (streams of one HTTP/2
 * connection); each entry gets what it asked for. */
int waiter_wait(struct pollfd *fds, size_t n, int timeout_ms);
/* fd is about to be closed. */
void waiter_forget(int fd);
/* Frees what the waiter holds (at exit, for leak checkers). */
void waiter_free(void);

#endif
