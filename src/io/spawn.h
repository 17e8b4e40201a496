/* SPDX-License-Identifier: MIT */
/* spawn: starts processes on a few threads beside the loop. A start waits
 * until the child has exec'd, milliseconds on a busy machine; on threads the
 * loop never waits for one, and several children exec at once. Each start
 * tells the loop it is done through a descriptor of its own. Linux. */
#ifndef WSC_SPAWN_H
#define WSC_SPAWN_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

struct spawn_req {
    /* Set by the caller, and left alone from spawn_submit until it is done. */
    char *const *argv;     /* a program searched in PATH; NULL: shell_cmd only */
    const char *shell_cmd; /* run by /bin/sh -c when argv is NULL or does not start */
    char *const *envp;
    int fds[3];                    /* the child's stdin, stdout and stderr */
    const struct rlimit *fd_limit; /* the child's RLIMIT_NOFILE; NULL: ours */

    /* Once done_fd is readable and spawn_finish() has said so. */
    pid_t pid; /* the child, in its own process group; 0: not started */
    int error; /* why not, an errno */

    int done_fd; /* readable once the start is over; -1: none */
    /* private to spawn.c */
    struct spawn_req *next;
    int state;
};

/* Queues the start. Returns 0, or an errno (and the request is not queued). */
int spawn_submit(struct spawn_req *r);
/* done_fd was readable: true when the start is over (pid or error set), and
 * done_fd is closed. */
bool spawn_finish(struct spawn_req *r);
/* The caller no longer wants the process: a start not begun never will be
 * (true). A start under way, or over, is left to finish (false). */
bool spawn_withdraw(struct spawn_req *r);
/* Blocks until a start under way is over, then as spawn_finish. */
void spawn_wait(struct spawn_req *r);

#endif
