/* SPDX-License-Identifier: MIT */
#include "net.h"
#include "waiter.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int net_set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

long net_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The descriptor limits wsc started with and runs with; equal when the
 * start left them alone. */
static struct rlimit start_fd_limit, own_fd_limit;

unsigned long net_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    start_fd_limit = own_fd_limit = rl;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};
        /* An unlimited hard limit may still be refused (macOS caps at
         * OPEN_MAX): then the soft limit stays as it was. */
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl = own_fd_limit = want;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)ULONG_MAX)
        return ULONG_MAX;
    return (unsigned long)rl.rlim_cur;
}

const struct rlimit *net_fd_limit_for_child(void)
{
    return start_fd_limit.rlim_cur == own_fd_limit.rlim_cur ? NULL : &start_fd_limit;
}

/* The numeric host and the port of a socket address (Unix: "unix", 0). */
static void split_address(const struct sockaddr *sa, char *host, size_t hostlen,
                          unsigned *port)
{
    snprintf(host, hostlen, "?");
    *port = 0;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, (socklen_t)hostlen);
        *port = ntohs(s6->sin6_port);
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const void *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, host, (socklen_t)hostlen);
        *port = ntohs(s4->sin_port);
    } else if (sa->sa_family == AF_UNIX) {
        snprintf(host, hostlen, "unix");
    }
}

static void describe(const struct sockaddr *sa, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN];
    unsigned port;
    split_address(sa, host, sizeof(host), &port);
    if (sa->sa_family == AF_UNIX)
        snprintf(out, outlen, "a Unix socket");
    else
        snprintf(out, outlen, sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
}

int net_address(int fd, bool is_peer, char *host, size_t hostlen, unsigned *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int r = is_peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
                    : getsockname(fd, (struct sockaddr *)&ss, &len);
    if (r < 0) {
        snprintf(host, hostlen, "?");
        *port = 0;
        return -1;
    }
    split_address((struct sockaddr *)&ss, host, hostlen, port);
    return 0;
}

static int interrupt_fd = -1;

void net_set_interrupt_fd(int fd)
{
    interrupt_fd = fd;
}

bool net_was_interrupted(void)
{
    struct pollfd p = {.fd = interrupt_fd, .events = POLLIN};
    return interrupt_fd >= 0 && poll(&p, 1, 0) > 0;
}

int net_wait(int fd, short events, long deadline)
{
    for (;;) {
        long left = deadline - net_now_ms();
        if (left <= 0)
            return 0;
        /* The interrupt stays unread: the caller's caller acts on it. */
        struct pollfd p[2] = {{.fd = fd, .events = events},
                              {.fd = interrupt_fd, .events = POLLIN}};
        int r = poll(p, 2, left > 60000 ? 60000 : (int)left);
        if (r > 0 && p[1].revents) {
            errno = EINTR;
            return -1;
        }
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

/* Connects one address, waiting at most until the deadline. */
static int connect_one(const struct addrinfo *ai, long deadline, int *err_no)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        *err_no = errno;
        return -1;
    }
    if (net_set_nonblocking(fd) < 0)
        goto fail;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS)
        goto fail;
    int r = net_wait(fd, POLLOUT, deadline);
    if (r == 0)
        errno = ETIMEDOUT;
    if (r <= 0)
        goto fail;
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        goto fail;
    if (soerr) {
        errno = soerr;
        goto fail;
    }
    return fd;
fail:
    *err_no = errno;
    close(fd);
    return -1;
}

/* Every address of host (an address literal asks no name service). */
static int resolve(const char *host, unsigned port, int family, struct addrinfo **res, char *err,
                   size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
    char service[8];
    snprintf(service, sizeof(service), "%u", port);
    *res = NULL;
    /* An address literal needs neither the interface list (AI_ADDRCONFIG asks the kernel
     * for it) nor the name services. */
    hints.ai_flags = AI_NUMERICHOST;
    int rc = getaddrinfo(host, service, &hints, res);
    if (rc != 0) {
        hints.ai_flags = AI_ADDRCONFIG;
        rc = getaddrinfo(host, service, &hints, res);
    }
    if (rc == EAI_NONAME || rc == EAI_ADDRFAMILY || rc == EAI_NODATA || (rc == 0 && !*res)) {
        /* AI_ADDRCONFIG hides ::1 and 127.0.0.1 on hosts with loopback only */
        hints.ai_flags = 0;
        rc = getaddrinfo(host, service, &hints, res);
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    return 0;
}

int net_connect(const char *host, unsigned port, int family, int timeout_ms, char *err,
                size_t errlen)
{
    struct addrinfo *res;
    if (resolve(host, port, family, &res, err, errlen) != 0)
        return -1;
    long deadline = net_now_ms() + (timeout_ms > 0 ? timeout_ms : 24L * 3600 * 1000);
    int fd = -1, last_errno = 0;
    char last_addr[80] = "";
    for (struct addrinfo *ai = res; ai && fd < 0 && last_errno != EINTR; ai = ai->ai_next) {
        describe(ai->ai_addr, last_addr, sizeof(last_addr));
        fd = connect_one(ai, deadline, &last_errno);
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", last_addr,
                 last_errno == ETIMEDOUT ? "timed out" : strerror(last_errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Starts a non-blocking connect to the next address; false when none is left. */
static bool dial_next(struct net_dial *d)
{
    while (d->next) {
        const struct addrinfo *ai = d->next;
        d->next = ai->ai_next;
        describe(ai->ai_addr, d->where, sizeof(d->where));
        d->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                       ai->ai_protocol);
        if (d->fd < 0) {
            d->last_errno = errno;
            continue;
        }
        if (connect(d->fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)
            return true;
        d->last_errno = errno;
        close(d->fd);
        d->fd = -1;
    }
    return false;
}

int net_dial_start(struct net_dial *d, const char *host, unsigned port, int family, char *err,
                   size_t errlen)
{
    memset(d, 0, sizeof(*d));
    d->fd = -1;
    if (resolve(host, port, family, &d->list, err, errlen) != 0)
        return -1;
    d->next = d->list;
    if (dial_next(d))
        return 0;
    snprintf(err, errlen, "cannot connect to %s: %s", d->where, strerror(d->last_errno));
    net_dial_free(d);
    return -1;
}

int net_dial_step(struct net_dial *d, char *err, size_t errlen)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (!soerr) {
        int one = 1;
        setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        freeaddrinfo(d->list);
        d->list = d->next = NULL;
        return 1;
    }
    d->last_errno = soerr;
    waiter_forget(d->fd);
    close(d->fd);
    d->fd = -1;
    if (dial_next(d))
        return 0;
    snprintf(err, errlen, "cannot connect to %s: %s", d->where, strerror(d->last_errno));
    return -1;
}

void net_dial_free(struct net_dial *d)
{
    if (d->list)
        freeaddrinfo(d->list);
    d->list = d->next = NULL;
}

int net_connect_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "Unix socket path too long: %s", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        net_set_nonblocking(fd) < 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int net_listen(const char *addr, unsigned port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    char service[8];
    snprintf(service, sizeof(service), "%u", port);
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(addr ? addr : "127.0.0.1", service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", addr, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        /* A burst of clients waits in the kernel, not in SYN retries: the
         * largest queue the system allows (it caps the number itself). */
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 65535) < 0 ||
        net_set_nonblocking(fd) < 0) {
        char where[80];
        describe(res->ai_addr, where, sizeof(where));
        snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

int net_listen_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "Unix socket path too long: %s", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        listen(fd, SOMAXCONN) < 0 || net_set_nonblocking(fd) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", path,
                 errno == EADDRINUSE ? "it exists (remove it if no one listens there)"
                                     : strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int net_accept(int lfd, char *name, size_t namelen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    /* Close-on-exec from the start: --exec's processes start on other
     * threads, and one cloned between an accept and an fcntl would keep
     * this client's socket open (and readable) for as long as it runs. */
    int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    describe((struct sockaddr *)&ss, name, namelen);
    return fd;
}

void net_local_name(int fd, char *name, size_t namelen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        snprintf(name, namelen, "?");
    else
        describe((struct sockaddr *)&ss, name, namelen);
}
