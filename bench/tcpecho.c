/* SPDX-License-Identifier: MIT */
/*
 * tcpecho.c: a TCP echo server for many connections at once (epoll), the service
 * behind the relays that bench/scale.py measures (websockify, socat, wsc --forward).
 *
 *   tcpecho [PORT]      (127.0.0.1; port 0, the default, picks one)
 *
 * Prints "PORT n" on stdout, then writes back every byte it reads, on every connection,
 * until it is killed. A connection whose peer half-closes is half-closed in turn once
 * its bytes are written back.
 *
 * Build: cc -O2 -std=c11 bench/tcpecho.c -o tcpecho
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Writes what was read before reading more: a slow reader holds back its own
 * writer through TCP, and the server keeps one small buffer a connection. */
struct conn {
    int fd;
    char buf[16384];
    size_t off, len;
    int is_eof;
};

static int ep;

static void drop(struct conn *c)
{
    close(c->fd);
    free(c);
}

static void serve(struct conn *c)
{
    for (;;) {
        while (c->off < c->len) {
            ssize_t w = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
            if (w < 0 && errno == EAGAIN)
                return; /* EPOLLOUT will come */
            if (w < 0) {
                drop(c);
                return;
            }
            c->off += (size_t)w;
        }
        c->off = c->len = 0;
        if (c->is_eof) {
            shutdown(c->fd, SHUT_WR);
            drop(c);
            return;
        }
        ssize_t r = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (r < 0 && errno == EAGAIN)
            return;
        if (r < 0) {
            drop(c);
            return;
        }
        if (r == 0)
            c->is_eof = 1;
        c->len = (size_t)r;
    }
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    if (lfd < 0)
        err(1, "socket");
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)(argc > 1 ? atoi(argv[1]) : 0)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 4096) ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl))
        err(1, "bind/listen");
    printf("PORT %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    if ((ep = epoll_create1(0)) < 0)
        err(1, "epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno != EINTR)
            err(1, "epoll_wait");
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr) {
                serve(evs[i].data.ptr);
                continue;
            }
            int fd;
            while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                struct conn *c = calloc(1, sizeof *c);
                if (!c) {
                    close(fd);
                    continue;
                }
                c->fd = fd;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
            }
        }
    }
}
