/* SPDX-License-Identifier: MIT */
/* net: a client's socket is never open to a process that --exec starts on a
 * spawn thread while the loop accepts it. The accept calls are wrapped so
 * that a process starts at the worst moment: the instant the kernel has made
 * the socket, before net_accept returns it. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net.h"
#include "spawner.h"
#include "tap.h"

static bool is_wrapped;
static char child_fds[8192]; /* what the process started mid-accept saw */

/* Starts `ls -l /proc/self/fd/` and keeps what it printed in child_fds. */
static void start_a_process_now(void)
{
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return;
    char *argv[] = {"ls", "-l", "/proc/self/fd/", NULL};
    static char *env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", NULL};
    struct spawner_req r = {.argv = argv, .envp = env, .fds = {out[1], out[1], out[1]}};
    bool ok = spawner_submit(&r) == 0;
    if (ok)
        spawner_wait(&r);
    close(out[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < sizeof(child_fds) &&
           (k = read(out[0], child_fds + n, sizeof(child_fds) - 1 - n)) > 0)
        n += (size_t)k;
    child_fds[n] = 0;
    close(out[0]);
    if (ok && r.pid > 0)
        waitpid(r.pid, NULL, 0);
}

static int accepted(long fd)
{
    if (fd >= 0 && is_wrapped)
        start_a_process_now();
    return (int)fd;
}

/* The C library's calls, with a process started between the kernel's
 * answer and the return. */
int accept(int lfd, struct sockaddr *addr, socklen_t *len)
{
    return accepted(syscall(SYS_accept4, lfd, addr, len, 0));
}

int accept4(int lfd, struct sockaddr *addr, socklen_t *len, int flags)
{
    return accepted(syscall(SYS_accept4, lfd, addr, len, flags));
}

static void accepted_socket_is_never_inherited(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    bool ready = lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
                 listen(lfd, 4) == 0 && getsockname(lfd, (struct sockaddr *)&sa, &len) == 0;
    int cfd = ready ? socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    ready = cfd >= 0 && connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    tap_ok(ready, "a client connects to a listener");
    if (!ready)
        return;
    char name[64];
    is_wrapped = true;
    int fd = net_accept(lfd, name, sizeof(name));
    is_wrapped = false;
    tap_ok(fd >= 0, "net_accept takes it (%s)", name);
    tap_ok(strstr(child_fds, "pipe:") != NULL, "the process started mid-accept ran");
    struct stat st;
    char sock_name[64] = "socket:[?]";
    if (fd >= 0 && fstat(fd, &st) == 0)
        snprintf(sock_name, sizeof(sock_name), "socket:[%lu]", (unsigned long)st.st_ino);
    if (!tap_ok(strstr(child_fds, sock_name) == NULL,
                "the process started mid-accept does not hold the client's socket (%s)",
                sock_name))
        for (char *line = strtok(child_fds, "\n"); line; line = strtok(NULL, "\n"))
            tap_diag("%s", line);
    int flags = fd >= 0 ? fcntl(fd, F_GETFL) : 0;
    tap_ok(fd >= 0 && (flags & O_NONBLOCK), "the socket is non-blocking");
    close(fd);
    close(cfd);
    close(lfd);
}

int main(void)
{
    accepted_socket_is_never_inherited();
    return tap_done();
}
