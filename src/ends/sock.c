/* SPDX-License-Identifier: MIT */
/* sock: the local end that is a byte stream socket: a TCP or Unix
 * connection of its own for each client of --forward, or a local client
 * accepted by --tcp-listen. Bytes both ways: what the socket sends leaves as
 * binary messages (one per read, at most --chunk bytes), every message's
 * payload is written to the socket. The socket's end of file closes the
 * WebSocket with 1000, a failure with 1011 and the reason; the WebSocket's
 * end flushes what is queued and closes the socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ends/end.h"
#include "io/net.h"
#include "io/waiter.h"
#include "ui/input.h"

enum { FD_READ, FD_WRITE };

struct sock_end {
    struct local_end base;
    const struct options *opt;
    int fd;              /* owned; -1 once closed */
    char name[300];      /* what it is connected to, for messages */
    bool is_forward;     /* it connects at open (--forward) */
    struct net_dial dial; /* --forward over TCP: the connect in progress; owned */
    bool is_connecting;
    long connect_deadline;
    struct buf to_sock;  /* message bytes not yet written; owned */
    struct input reader; /* the socket's bytes as messages; owned */
    bool is_conn_over;
    long give_up_at;     /* the connection is over: flush until then */
};

static void close_sock(struct sock_end *x)
{
    net_dial_free(&x->dial);
    x->is_connecting = false;
    if (x->fd >= 0) {
        waiter_forget(x->fd);
        close(x->fd);
    }
    x->fd = -1;
    x->reader.fd = -1;
    buf_free(&x->to_sock);
}

/* The socket failed (1011) or sent its FIN (1000): the WebSocket closes.
 * After a FIN the socket still takes what the peer sends until its close. */
static void sock_ended(struct sock_end *x, unsigned code, const char *why)
{
    struct conn *c = x->base.conn;
    if (code != WS_CLOSE_NORMAL || x->is_conn_over)
        close_sock(x);
    if (x->is_conn_over)
        return;
    if (code != WS_CLOSE_NORMAL && c->is_server)
        note(c->env->out, "client %u: %s", c->id, why);
    conn_close(c, code, code == WS_CLOSE_NORMAL ? NULL : why);
}

static int sock_open(struct local_end *e, const struct conn_request *req, char *err,
                     size_t errlen)
{
    struct sock_end *x = (struct sock_end *)e;
    (void)req;
    if (!x->is_forward)
        return 0;
    const struct options *opt = x->opt;
    char why[300];
    if (opt->forward_is_unix) {
        x->fd = net_connect_unix(opt->forward_host, why, sizeof(why));
    } else if (net_dial_start(&x->dial, opt->forward_host, opt->forward_port, opt->family, why,
                              sizeof(why)) == 0) {
        /* the connect goes on while other clients are served */
        x->fd = x->dial.fd;
        x->is_connecting = true;
        x->connect_deadline = net_now_ms() + (long)(opt->connect_timeout * 1000.0);
    }
    if (x->fd < 0) {
        snprintf(err, errlen, "forward: %s", why);
        return -1;
    }
    x->reader.fd = x->fd;
    return 0;
}

/* The connect in progress answered: connected, or the next address, or failed. */
static void connect_step(struct sock_end *x)
{
    char why[300], reason[400];
    int r = net_dial_step(&x->dial, why, sizeof(why));
    x->fd = x->reader.fd = x->dial.fd;
    if (r == 1)
        x->is_connecting = false;
    if (r >= 0)
        return;
    x->fd = -1;
    snprintf(reason, sizeof(reason), "forward: %s", why);
    sock_ended(x, WS_CLOSE_INTERNAL, reason);
}

static void sock_data(struct local_end *e, const uint8_t *p, size_t len)
{
    struct sock_end *x = (struct sock_end *)e;
    if (x->fd >= 0 && buf_append(&x->to_sock, p, len) != 0)
        conn_close(e->conn, WS_CLOSE_INTERNAL, "out of memory");
}

static bool sock_can_take(const struct local_end *e)
{
    const struct sock_end *x = (const struct sock_end *)e;
    return buf_size(&x->to_sock) < CONN_HIGH_WATER;
}

static int send_to_conn(void *ctx, enum ws_opcode op, bool is_final, const uint8_t *p,
                        size_t len)
{
    struct sock_end *x = ctx;
    return conn_send_frame(x->base.conn, op, is_final, p, len);
}

static size_t sock_poll_fds(struct local_end *e, struct pollfd *fds, size_t max)
{
    struct sock_end *x = (struct sock_end *)e;
    (void)max;
    bool reads = x->fd >= 0 && !x->is_connecting && !x->reader.is_eof && !x->is_conn_over &&
                 conn_can_send(e->conn);
    bool writes = buf_size(&x->to_sock) || x->is_connecting;
    fds[FD_READ] = (struct pollfd){.fd = reads ? x->fd : -1, .events = POLLIN};
    fds[FD_WRITE] = (struct pollfd){.fd = writes ? x->fd : -1, .events = POLLOUT};
    return 2;
}

static void write_sock(struct sock_end *x)
{
    while (buf_size(&x->to_sock) && x->fd >= 0) {
        ssize_t n = send(x->fd, buf_head(&x->to_sock), buf_size(&x->to_sock), MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n < 0) {
            char why[600];
            snprintf(why, sizeof(why), "connection to %s lost: %s", x->name, strerror(errno));
            sock_ended(x, WS_CLOSE_INTERNAL, why);
            return;
        }
        buf_consume(&x->to_sock, (size_t)n);
    }
    if (!buf_size(&x->to_sock))
        buf_free(&x->to_sock); /* an idle connection holds no buffer */
    if (x->is_conn_over && !buf_size(&x->to_sock))
        close_sock(x);
}

static void read_sock(struct sock_end *x)
{
    if (input_read(&x->reader) != 0) {
        char why[600];
        /* a failed read says how the socket failed, as a failed write does */
        snprintf(why, sizeof(why), "connection to %s lost: %s", x->name,
                 x->reader.error_no ? strerror(x->reader.error_no) : x->reader.error);
        sock_ended(x, WS_CLOSE_INTERNAL, why);
        return;
    }
    if (x->reader.is_eof)
        sock_ended(x, WS_CLOSE_NORMAL, NULL); /* its FIN: a clean close */
}

static void sock_on_ready(struct local_end *e, const struct pollfd *fds, size_t n)
{
    struct sock_end *x = (struct sock_end *)e;
    if (n < 2)
        return;
    if (fds[FD_WRITE].revents && x->is_connecting) {
        connect_step(x);
        return;
    }
    if (fds[FD_WRITE].revents && x->fd >= 0)
        write_sock(x);
    if (fds[FD_READ].revents && x->fd >= 0 && !x->reader.is_eof && !x->is_conn_over &&
        conn_can_send(e->conn))
        read_sock(x);
}

/* The WebSocket is over: what it sent is written, then the socket closes. */
static void sock_conn_ended(struct local_end *e)
{
    struct sock_end *x = (struct sock_end *)e;
    x->is_conn_over = true;
    if (!buf_size(&x->to_sock))
        close_sock(x);
    else
        x->give_up_at = net_now_ms() + (long)(x->opt->close_timeout * 1000.0);
}

static long sock_deadline(const struct local_end *e)
{
    const struct sock_end *x = (const struct sock_end *)e;
    if (x->is_connecting)
        return x->connect_deadline;
    return x->fd >= 0 ? x->give_up_at : 0;
}

static void sock_tick(struct local_end *e, long now)
{
    struct sock_end *x = (struct sock_end *)e;
    if (x->is_connecting && now >= x->connect_deadline) {
        char reason[400];
        snprintf(reason, sizeof(reason), "forward: cannot connect to %s: timed out",
                 x->dial.where);
        sock_ended(x, WS_CLOSE_INTERNAL, reason);
        return;
    }
    if (x->give_up_at && now >= x->give_up_at)
        close_sock(x); /* the socket's reader never took what was left */
}

static bool sock_is_done(const struct local_end *e)
{
    const struct sock_end *x = (const struct sock_end *)e;
    return x->fd < 0;
}

static void sock_free(struct local_end *e)
{
    struct sock_end *x = (struct sock_end *)e;
    close_sock(x);
    input_free(&x->reader);
    free(x);
}

static const struct local_end_ops sock_ops = {
    .type = "socket",
    .open = sock_open,
    .message_data = sock_data,
    .can_take = sock_can_take,
    .poll_fds = sock_poll_fds,
    .on_ready = sock_on_ready,
    .deadline = sock_deadline,
    .on_tick = sock_tick,
    .conn_ended = sock_conn_ended,
    .is_done = sock_is_done,
    .free = sock_free,
};

static struct sock_end *sock_new(const struct options *opt, int fd)
{
    struct sock_end *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->base.ops = &sock_ops;
    x->opt = opt;
    x->fd = fd;
    buf_init(&x->to_sock, 0);
    struct options binary = *opt;
    binary.input = INPUT_BINARY;
    input_init(&x->reader, fd, &binary, send_to_conn, x);
    input_set_relay(&x->reader, opt->chunk);
    return x;
}

struct local_end *forward_end_new(const struct options *opt)
{
    struct sock_end *x = sock_new(opt, -1);
    if (!x)
        return NULL;
    x->is_forward = true;
    if (opt->forward_is_unix)
        snprintf(x->name, sizeof(x->name), "unix:%s", opt->forward_host);
    else
        snprintf(x->name, sizeof(x->name), "%s:%u", opt->forward_host, opt->forward_port);
    return &x->base;
}

struct local_end *accepted_end_new(const struct options *opt, int fd, const char *name)
{
    struct sock_end *x = sock_new(opt, fd);
    if (!x)
        return NULL;
    snprintf(x->name, sizeof(x->name), "%s", name);
    return &x->base;
}
