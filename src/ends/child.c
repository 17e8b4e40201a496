/* SPDX-License-Identifier: MIT */
/* child: the local end of --exec, a process joined to the WebSocket: CMD
 * itself when it is plain words (core/cmdline.h), else /bin/sh -c CMD.
 * Text: each message is a line on its stdin, each line of its stdout a
 * message; -b: raw bytes both ways. Its stderr goes to ours (with the
 * client's id when listening). Listening, the process gets a CGI-style
 * environment with websocketd's names, and nothing else of ours but PATH,
 * HOME, LANG, LC_*, TZ and --passenv. Its end closes the connection (1000
 * for status 0, else 1011); the connection's end closes its stdin, then
 * SIGTERM after --close-timeout, then SIGKILL. It is always reaped. */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cmdline.h"
#include "ends/end.h"
#include "io/net.h"
#include "io/spawner.h"
#include "io/waiter.h"
#include "ui/input.h"

extern char **environ;

enum { FD_OUT, FD_IN, FD_ERR, FD_PID };

struct env {
    char **vars; /* owned, with each string */
    size_t num, cap;
};

struct child_end {
    struct local_end base;
    const struct options *opt;
    bool is_starting;   /* the start is under way on a spawn thread */
    /* the start: its fds are the child's stdin, stdout and stderr, owned until
     * it is over; it reads argv and env until then */
    struct spawner_req spawn;
    char **argv;        /* the command's words when plain, until it starts; owned */
    struct env env;     /* its environment until it starts; owned */
    pid_t pid;          /* 0: not started */
    int pidfd;          /* readable once the process exits; owned */
    int in_fd;          /* its stdin; owned; -1 once closed */
    int out_fd;         /* its stdout; owned; -1 at its end */
    int err_fd;         /* its stderr; owned; -1 at its end */
    struct buf to_child;   /* messages waiting for its stdin; owned */
    struct buf err_line;   /* an unfinished line of its stderr; owned */
    struct input reader;   /* its stdout as messages; owned */
    bool has_exited;
    int status;
    bool is_closing_stdin; /* the connection is over: stdin closes once drained */
    bool is_conn_over;
    bool has_closed_conn;  /* the process's end has been turned into a close */
    long term_at, kill_at; /* SIGTERM, then SIGKILL; 0: not due */
};

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        waiter_forget(*fd);
        close(*fd);
    }
    *fd = -1;
}

/* ---- the environment ---- */

static int env_add(struct env *e, const char *name, const char *value, size_t value_len)
{
    if (e->num + 2 > e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        char **grown = realloc(e->vars, cap * sizeof(*grown));
        if (!grown)
            return -1;
        e->vars = grown;
        e->cap = cap;
    }
    size_t n = strlen(name) + 1 + value_len + 1;
    char *v = malloc(n);
    if (!v)
        return -1;
    snprintf(v, n, "%s=%.*s", name, (int)value_len, value);
    e->vars[e->num++] = v;
    e->vars[e->num] = NULL;
    return 0;
}

static int env_set(struct env *e, const char *name, const char *value)
{
    return env_add(e, name, value, strlen(value));
}

static void env_free(struct env *e)
{
    for (size_t i = 0; i < e->num; i++)
        free(e->vars[i]);
    free(e->vars);
    *e = (struct env){0};
}

static bool is_passed(const struct options *opt, const char *var)
{
    static const char *const always[] = {"PATH=", "HOME=", "LANG=", "TZ=", "LC_"};
    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
        if (!strncmp(var, always[i], strlen(always[i])))
            return true;
    for (size_t i = 0; i < opt->num_passenv; i++) {
        size_t n = strlen(opt->passenv[i]);
        if (!strncmp(var, opt->passenv[i], n) && var[n] == '=')
            return true;
    }
    return false;
}

/* HTTP_NAME for a header name: upper case, '-' as '_'; NULL for a name a
 * shell could not hold. */
static bool header_var(const struct http_header *h, char *out, size_t outlen)
{
    if (h->name_len + 6 > outlen)
        return false;
    memcpy(out, "HTTP_", 5);
    for (size_t i = 0; i < h->name_len; i++) {
        char c = h->name[i];
        if (c == '-')
            c = '_';
        else if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
        out[5 + i] = c;
    }
    out[5 + h->name_len] = 0;
    return true;
}

static int add_headers(struct env *e, const struct http_head *head)
{
    for (size_t i = 0; i < head->num_headers; i++) {
        char name[128];
        const struct http_header *h = &head->headers[i];
        bool is_first = true;
        for (size_t k = 0; k < i; k++)
            if (head->headers[k].name_len == h->name_len &&
                !strncasecmp(head->headers[k].name, h->name, h->name_len))
                is_first = false;
        if (!is_first || !header_var(h, name, sizeof(name)))
            continue;
        /* repeated headers are joined with ", " as HTTP allows */
        struct buf v;
        buf_init(&v, 0);
        for (size_t k = i; k < head->num_headers; k++) {
            const struct http_header *o = &head->headers[k];
            if (o->name_len != h->name_len || strncasecmp(o->name, h->name, h->name_len))
                continue;
            if ((buf_size(&v) && buf_append(&v, ", ", 2)) || buf_append(&v, o->value, o->value_len))
                return -1;
        }
        int rc = env_add(e, name, (const char *)buf_head(&v), buf_size(&v));
        buf_free(&v);
        if (rc)
            return -1;
    }
    return 0;
}

/* websocketd's names, so that its scripts run unchanged. */
static int build_env(struct env *e, const struct options *opt, const struct conn *c,
                     const struct conn_request *req)
{
    int rc = 0;
    /* Connecting, the process is the user's own, as stdin and stdout were:
     * it gets the whole environment. */
    for (char **v = environ; *v; v++)
        if (!req || is_passed(opt, *v)) {
            const char *eq = strchr(*v, '=');
            char name[256];
            snprintf(name, sizeof(name), "%.*s", (int)(eq - *v), *v);
            rc |= env_set(e, name, eq + 1);
        }
    char num[32];
    snprintf(num, sizeof(num), "%u", c->id);
    rc |= env_set(e, "WSC_CLIENT_ID", num);
    if (!req)
        return rc;
    const struct http_head *h = req->head;
    const char *q = memchr(h->target, '?', h->target_len);
    size_t path_len = q ? (size_t)(q - h->target) : h->target_len;
    const struct http_header *host = http_find_header(h, "Host");
    size_t name_len = 0;
    if (host) { /* SERVER_NAME: the Host header's name, without its port */
        const char *end = host->value + host->value_len;
        const char *colon = host->value_len && host->value[0] == '['
                                ? memchr(host->value, ']', host->value_len)
                                : memchr(host->value, ':', host->value_len);
        name_len = (size_t)((colon ? colon + (host->value[0] == '[') : end) - host->value);
    }
    rc |= env_set(e, "REMOTE_ADDR", req->remote_addr);
    rc |= env_set(e, "REMOTE_HOST", req->remote_addr);
    snprintf(num, sizeof(num), "%u", req->remote_port);
    rc |= env_set(e, "REMOTE_PORT", num);
    if (host && name_len)
        rc |= env_add(e, "SERVER_NAME", host->value, name_len);
    else
        rc |= env_set(e, "SERVER_NAME", req->local_addr);
    snprintf(num, sizeof(num), "%u", req->local_port);
    rc |= env_set(e, "SERVER_PORT", num);
    rc |= env_set(e, "SERVER_PROTOCOL", "HTTP/1.1");
    rc |= env_set(e, "SERVER_SOFTWARE", "wsc/" PACKAGE_VERSION);
    rc |= env_set(e, "GATEWAY_INTERFACE", "CGI/1.1");
    rc |= env_add(e, "REQUEST_METHOD", h->method, h->method_len);
    rc |= env_add(e, "REQUEST_URI", h->target, h->target_len);
    rc |= env_set(e, "SCRIPT_NAME", "/");
    rc |= env_add(e, "PATH_INFO", h->target, path_len);
    rc |= env_add(e, "PATH_TRANSLATED", h->target, path_len);
    rc |= q ? env_add(e, "QUERY_STRING", q + 1, h->target_len - path_len - 1)
            : env_set(e, "QUERY_STRING", "");
    const char *auth = opt->auth;
    const char *colon = auth ? strchr(auth, ':') : NULL;
    rc |= env_set(e, "AUTH_TYPE", auth ? "Basic" : "");
    rc |= colon ? env_add(e, "REMOTE_USER", auth, (size_t)(colon - auth))
                : env_set(e, "REMOTE_USER", "");
    rc |= env_set(e, "REMOTE_IDENT", "");
    rc |= env_set(e, "CONTENT_TYPE", "");
    rc |= env_set(e, "CONTENT_LENGTH", "");
    if (req->is_tls)
        rc |= env_set(e, "HTTPS", "on");
    rc |= add_headers(e, h);
    return rc ? -1 : 0;
}

/* ---- starting and ending the process ---- */

static int pipe_nb(int fds[2], int ours)
{
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    return net_set_nonblocking(fds[ours]);
}

/* The WebSocket is open: its pipes and environment are made while the
 * request is at hand, and the process starts on a spawn thread. */
static int child_open(struct local_end *e, const struct conn_request *req, char *err,
                      size_t errlen)
{
    struct child_end *x = (struct child_end *)e;
    int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
    bool is_plain = false;
    if (build_env(&x->env, x->opt, e->conn, req) != 0 || !x->env.vars) {
        snprintf(err, errlen, "cannot start the process: out of memory");
        env_free(&x->env);
        return -1;
    }
    if (pipe_nb(in, 1) || pipe_nb(out, 0) || pipe_nb(er, 0)) {
        snprintf(err, errlen, "cannot start the process: %s", strerror(errno));
        for (int i = 0; i < 2; i++) {
            close_fd(&in[i]);
            close_fd(&out[i]);
            close_fd(&er[i]);
        }
        env_free(&x->env);
        return -1;
    }
    x->in_fd = in[1];
    x->out_fd = out[0];
    x->err_fd = er[0];
    x->reader.fd = x->out_fd;
    is_plain = cmdline_split(x->opt->exec_cmd, &x->argv) == CMDLINE_PLAIN;
    /* Shell syntax, or a program that does not start (not found, not
     * executable): sh runs it, or says why not in its own words and with
     * its own status, as sh -c always did. */
    x->spawn = (struct spawner_req){
        .argv = is_plain ? x->argv : NULL,
        .shell_cmd = x->opt->exec_cmd,
        .envp = x->env.vars,
        .fds = {in[0], out[1], er[1]},
        .fd_limit = net_fd_limit_for_child(),
    };
    int rc = spawner_submit(&x->spawn);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the process: %s", strerror(rc));
        return -1; /* child_free closes and frees the rest */
    }
    x->is_starting = true;
    return 0;
}

/* What only the start needed. */
static void drop_start(struct child_end *x)
{
    x->is_starting = false;
    for (int i = 0; i < 3; i++)
        close_fd(&x->spawn.fds[i]);
    env_free(&x->env);
    free(x->argv);
    x->argv = NULL;
}

/* The start is over. One that failed closes the connection with 1011, as
 * an end that cannot open does. */
static void started(struct child_end *x)
{
    drop_start(x);
    if (x->spawn.pid) {
        x->pid = x->spawn.pid;
        x->pidfd = (int)syscall(SYS_pidfd_open, x->pid, 0);
        if (x->is_conn_over) /* the client left while it waited to start */
            x->term_at = net_now_ms() + (long)(x->opt->close_timeout * 1000.0);
        return;
    }
    if (x->is_conn_over)
        return;
    char err[256];
    snprintf(err, sizeof(err), "cannot start the process: %s", strerror(x->spawn.error));
    struct conn *c = x->base.conn;
    if (c->is_server)
        note(c->env->out, "client %u: %s", c->id, err);
    else
        conn_set_outcome(c, OUTCOME_IO, "%s", err);
    conn_close(c, WS_CLOSE_INTERNAL, err);
}

/* The process and what it started in its group (a pipeline that sh runs):
 * none of them outlives the connection. */
static void signal_group(struct child_end *x, int sig)
{
    if (kill(-x->pid, sig) != 0)
        kill(x->pid, sig);
}

/* Collects the exit status if the process has ended. */
static void reap(struct child_end *x)
{
    if (!x->pid || x->has_exited)
        return;
    int status;
    pid_t r = waitpid(x->pid, &status, WNOHANG);
    if (r == x->pid || (r < 0 && errno == ECHILD)) {
        x->has_exited = true;
        x->status = r == x->pid ? status : 0;
        close_fd(&x->pidfd);
    }
}

static void describe_status(int status, char *out, size_t outlen)
{
    if (WIFEXITED(status))
        snprintf(out, outlen, "process exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, outlen, "process killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(out, outlen, "process ended");
}

/* The process ended and its output is sent: close with 1000 or 1011. */
static void close_conn_for_exit(struct child_end *x)
{
    struct conn *c = x->base.conn;
    x->has_closed_conn = true;
    if (x->is_conn_over)
        return;
    bool is_ok = WIFEXITED(x->status) && WEXITSTATUS(x->status) == 0;
    if (is_ok) {
        conn_close(c, WS_CLOSE_NORMAL, NULL);
        return;
    }
    char why[100];
    describe_status(x->status, why, sizeof(why));
    if (!c->is_server)
        conn_set_outcome(c, OUTCOME_IO, "%s", why);
    else
        note(c->env->out, "client %u: %s", c->id, why);
    conn_close(c, WS_CLOSE_INTERNAL, why);
}

/* ---- moving data ---- */

static void child_data(struct local_end *e, const uint8_t *p, size_t len)
{
    struct child_end *x = (struct child_end *)e;
    if (x->in_fd >= 0 && buf_append(&x->to_child, p, len) != 0)
        conn_close(e->conn, WS_CLOSE_TOO_BIG, "message too large for the process");
}

static void child_message_end(struct local_end *e)
{
    struct child_end *x = (struct child_end *)e;
    if (x->in_fd >= 0 && x->opt->input != INPUT_BINARY)
        buf_append(&x->to_child, x->opt->input == INPUT_NUL ? "" : "\n", 1);
}

static bool child_can_take(const struct local_end *e)
{
    const struct child_end *x = (const struct child_end *)e;
    return buf_size(&x->to_child) < CONN_HIGH_WATER;
}

static int send_to_conn(void *ctx, enum ws_opcode op, bool is_final, const uint8_t *p,
                        size_t len)
{
    struct child_end *x = ctx;
    if (x->is_conn_over)
        return 0; /* the connection is over: what the process says is dropped */
    return conn_send_frame(x->base.conn, op, is_final, p, len);
}

static size_t child_poll_fds(struct local_end *e, struct pollfd *fds, size_t max)
{
    struct child_end *x = (struct child_end *)e;
    (void)max;
    bool reads_out = x->out_fd >= 0 && (x->is_conn_over || conn_can_send(e->conn));
    fds[FD_OUT] = (struct pollfd){.fd = reads_out ? x->out_fd : -1, .events = POLLIN};
    fds[FD_IN] = (struct pollfd){.fd = buf_size(&x->to_child) ? x->in_fd : -1, .events = POLLOUT};
    fds[FD_ERR] = (struct pollfd){.fd = x->err_fd, .events = POLLIN};
    int pid_fd = x->is_starting ? x->spawn.done_fd : x->has_exited ? -1 : x->pidfd;
    fds[FD_PID] = (struct pollfd){.fd = pid_fd, .events = POLLIN};
    return 4;
}

static void write_stdin(struct child_end *x)
{
    while (buf_size(&x->to_child) && x->in_fd >= 0) {
        ssize_t n = write(x->in_fd, buf_head(&x->to_child), buf_size(&x->to_child));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n < 0) { /* EPIPE: the process closed its stdin; later messages are dropped */
            close_fd(&x->in_fd);
            buf_free(&x->to_child);
            return;
        }
        buf_consume(&x->to_child, (size_t)n);
    }
    if (!buf_size(&x->to_child))
        buf_free(&x->to_child); /* an idle process holds no buffer */
    if (x->is_closing_stdin && !buf_size(&x->to_child))
        close_fd(&x->in_fd);
}

/* Its stderr, line by line, with the client's id when listening. */
static void read_stderr(struct child_end *x)
{
    uint8_t tmp[4096];
    ssize_t n = read(x->err_fd, tmp, sizeof(tmp));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    bool is_end = n <= 0;
    if (n > 0 && !x->base.conn->is_server) {
        output_flush(x->base.conn->env->out);
        if (write(STDERR_FILENO, tmp, (size_t)n) < 0) {
            /* our stderr is gone: nothing better to do with it */
        }
    } else if (n > 0) {
        buf_append(&x->err_line, tmp, (size_t)n);
    }
    const uint8_t *p = buf_head(&x->err_line);
    size_t len = buf_size(&x->err_line), used = 0;
    for (;;) {
        const uint8_t *nl = memchr(p + used, '\n', len - used);
        bool is_whole_line = nl || (is_end && used < len) || len - used >= 4096;
        if (!is_whole_line)
            break;
        size_t line_len = nl ? (size_t)(nl - (p + used)) : len - used;
        fprintf(stderr, "[%u] %.*s\n", x->base.conn->id, (int)line_len, (const char *)p + used);
        used += line_len + (nl != NULL);
    }
    buf_consume(&x->err_line, used);
    if (is_end)
        close_fd(&x->err_fd);
}

static void read_stdout(struct child_end *x)
{
    if (input_read(&x->reader) != 0 && !x->is_conn_over) {
        /* the connection is closing: the rest is dropped */
    }
    if (x->reader.is_eof)
        close_fd(&x->out_fd);
    input_give_back(&x->reader); /* an idle process holds no buffer */
}

static void child_on_ready(struct local_end *e, const struct pollfd *fds, size_t n)
{
    struct child_end *x = (struct child_end *)e;
    if (n < 4)
        return;
    if (fds[FD_IN].revents)
        write_stdin(x);
    if (fds[FD_ERR].revents && x->err_fd >= 0)
        read_stderr(x);
    if (fds[FD_OUT].revents && x->out_fd >= 0)
        read_stdout(x);
    if (fds[FD_PID].revents && x->is_starting) {
        if (spawner_finish(&x->spawn))
            started(x);
    } else if (fds[FD_PID].revents) {
        reap(x);
    }
}

static bool has_more_output(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

/* Once the process has exited, what it wrote before is sent, then the
 * connection closes; output held open by a process it left behind is not
 * waited for. */
static void child_tick(struct local_end *e, long now)
{
    struct child_end *x = (struct child_end *)e;
    if (x->pid && !x->has_exited && x->pidfd < 0)
        reap(x); /* no pidfd (an old kernel): poll for the exit */
    if (x->has_exited && !x->has_closed_conn) {
        bool can_send = x->is_conn_over || conn_can_send(e->conn);
        while (x->out_fd >= 0 && can_send && has_more_output(x->out_fd)) {
            read_stdout(x);
            can_send = x->is_conn_over || conn_can_send(e->conn);
        }
        if (x->out_fd < 0 || (can_send && !has_more_output(x->out_fd))) {
            input_end(&x->reader); /* a last line without its newline */
            close_conn_for_exit(x);
        }
    }
    if (!x->pid || x->has_exited)
        return;
    if (x->term_at && now >= x->term_at) {
        signal_group(x, SIGTERM);
        x->term_at = 0;
        x->kill_at = now + (long)(x->opt->close_timeout * 1000.0);
    }
    if (x->kill_at && now >= x->kill_at) {
        signal_group(x, SIGKILL);
        x->kill_at = 0;
    }
}

static long child_deadline(const struct local_end *e)
{
    const struct child_end *x = (const struct child_end *)e;
    if (x->pid && !x->has_exited && x->pidfd < 0)
        return net_now_ms() + 50;
    if (x->has_exited && !x->has_closed_conn && (x->is_conn_over || conn_can_send(e->conn)))
        return net_now_ms(); /* its last output is being sent */
    return x->term_at ? x->term_at : x->kill_at;
}

/* The connection is over: stdin closes once what was sent is written, and
 * the process gets --close-timeout to end by itself. */
static void child_conn_ended(struct local_end *e)
{
    struct child_end *x = (struct child_end *)e;
    x->is_conn_over = true;
    x->is_closing_stdin = true;
    if (!buf_size(&x->to_child))
        close_fd(&x->in_fd);
    if (x->pid && !x->has_exited)
        x->term_at = net_now_ms() + (long)(x->opt->close_timeout * 1000.0);
}

static bool child_is_done(const struct local_end *e)
{
    const struct child_end *x = (const struct child_end *)e;
    return !x->is_starting && (!x->pid || x->has_exited);
}

static void child_free(struct local_end *e)
{
    struct child_end *x = (struct child_end *)e;
    if (x->is_starting && !spawner_withdraw(&x->spawn)) {
        spawner_wait(&x->spawn); /* it reads what is freed below */
        x->pid = x->spawn.pid;
    }
    if (x->pid && !x->has_exited) {
        signal_group(x, SIGKILL); /* wsc is ending at once: no zombie is left */
        waitpid(x->pid, NULL, 0);
    }
    if (buf_size(&x->err_line))
        fprintf(stderr, "[%u] %.*s\n", e->conn ? e->conn->id : 0,
                (int)buf_size(&x->err_line), (const char *)buf_head(&x->err_line));
    drop_start(x);
    close_fd(&x->pidfd);
    close_fd(&x->in_fd);
    close_fd(&x->out_fd);
    close_fd(&x->err_fd);
    buf_free(&x->to_child);
    buf_free(&x->err_line);
    input_free(&x->reader);
    free(x);
}

static const struct local_end_ops child_ops = {
    .type = "exec",
    .open = child_open,
    .message_data = child_data,
    .message_end = child_message_end,
    .can_take = child_can_take,
    .poll_fds = child_poll_fds,
    .on_ready = child_on_ready,
    .deadline = child_deadline,
    .on_tick = child_tick,
    .conn_ended = child_conn_ended,
    .is_done = child_is_done,
    .free = child_free,
};

struct local_end *child_end_new(const struct options *opt)
{
    struct child_end *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->base.ops = &child_ops;
    x->opt = opt;
    x->pidfd = x->in_fd = x->out_fd = x->err_fd = x->spawn.done_fd = -1;
    for (int i = 0; i < 3; i++)
        x->spawn.fds[i] = -1;
    buf_init(&x->to_child, 0);
    buf_init(&x->err_line, 0);
    input_init(&x->reader, -1, opt, send_to_conn, x);
    input_set_relay(&x->reader, opt->chunk);
    return &x->base;
}
