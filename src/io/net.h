/* SPDX-License-Identifier: MIT */
/* net: sockets. Resolving and connecting with a timeout (every address in
 * order, IPv6 and IPv4), Unix sockets, and listening. Knows nothing of HTTP
 * or WebSocket framing. Errors come back as -1 with a message in err. */
#ifndef WSC_NET_H
#define WSC_NET_H

#include <stdbool.h>
#include <stddef.h>

/* family: 0 for any, 4 or 6 to force one. Returns a non-blocking socket. */
int net_connect(const char *host, unsigned port, int family, int timeout_ms, char *err,
                size_t errlen);
int net_connect_unix(const char *path, char *err, size_t errlen);

/* A connect that does not block: every address of host in turn. */
struct addrinfo;
struct net_dial {
    int fd;                /* the socket being connected; the caller's once connected */
    struct addrinfo *list; /* owned */
    struct addrinfo *next; /* the next address to try */
    int last_errno;
    char where[80];        /* the address being tried */
};
/* Resolves (which may block for a name) and starts connecting. Returns 0
 * with d->fd waiting to be writable, or -1 with err set. */
int net_dial_start(struct net_dial *d, const char *host, unsigned port, int family, char *err,
                   size_t errlen);
/* d->fd turned writable: 1 connected, 0 the next address is being tried
 * (wait again on the new d->fd), -1 every address failed (err says why). */
int net_dial_step(struct net_dial *d, char *err, size_t errlen);
void net_dial_free(struct net_dial *d);
/* Listens on addr:port (addr NULL: 127.0.0.1); returns a non-blocking socket. */
int net_listen(const char *addr, unsigned port, char *err, size_t errlen);
/* Listens on a new Unix socket at path (an existing file is an error). */
int net_listen_unix(const char *path, char *err, size_t errlen);
/* Accepts one connection as a non-blocking socket; names the peer in name.
 * Returns -1 when none is waiting. */
int net_accept(int lfd, char *name, size_t namelen);
int net_set_nonblocking(int fd);
/* A descriptor that turns readable when the user interrupts (the signal
 * pipe): the waits below then end early with errno EINTR. */
void net_set_interrupt_fd(int fd);
bool net_was_interrupted(void);
/* Waits for events on fd until the deadline (net_now_ms): 1 ready, 0 timed
 * out, -1 error or interrupted (errno). */
int net_wait(int fd, short events, long deadline);
/* Raises the soft limit of open descriptors (RLIMIT_NOFILE) to the hard
 * limit: listen mode holds one for each client. Returns the limit now in
 * force (ULONG_MAX: none), 0 when it cannot be read. */
unsigned long net_raise_fd_limit(void);
/* The limit wsc started with, for its children (many programs, such as
 * select() users, break under a large one); NULL when net_raise_fd_limit()
 * changed nothing. */
struct rlimit;
const struct rlimit *net_fd_limit_for_child(void);
/* Milliseconds on the monotonic clock: the time base of every deadline. */
long net_now_ms(void);
/* The local address of a socket, as host:port or [v6]:port. */
void net_local_name(int fd, char *name, size_t namelen);
/* The numeric address and port of a socket's peer (is_peer) or its own side. */
int net_address(int fd, bool is_peer, char *host, size_t hostlen, unsigned *port);

#endif
