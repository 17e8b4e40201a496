/* SPDX-License-Identifier: MIT */
/* spawner: starts processes on a few threads beside the loop. A start waits
 * until the child has exec'd, milliseconds on a busy machine; on threads the
 * loop never waits for one, and several children exec at once. Each start
 * tells the loop it is done through a descriptor of its own. Linux. */
#ifndef WSC_SPAWNER_H
#define WSC_SPAWNER_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

struct spawner_req {
    /* Set by the caller, and left alone from spawner_submit until it is done. */
    char *const *argv;     /* a program searched in PATH; NULL: shell_cmd only */
    const char *shell_cmd; /* run by /bin/sh -c when argv is NULL or does not start */
    char *const *envp;
    int fds[3];                    /* the child's stdin, stdout and stderr */
    const struct rlimit *fd_limit; /* the child's RLIMIT_NOFILE; NULL: ours */

    /* Once done_fd is readable and spawner_finish() has said so. */
    pid_t pid; /* the child, in its own process group; 0: not started */
    int error; /* why not, an errno */

    int done_fd; /* readable once the start is over; -1: none */
    /* private to spawner.c */
    struct spawner_req *next;
    int state;
};

/* Queues the start. Returns 0, or an errno (and the request is not queued). */
int spawner_submit(struct spawner_req *r);
/* done_fd was readable: true when the start is over (pid or error set), and
 * done_fd is closed. */
bool spawner_finish(struct spawner_req *r);
/* The caller no longer wants the process: a start not begun never will be
 * (true). A start under way, or over, is left to finish (false). */
bool spawner_withdraw(struct spawner_req *r);
/* Blocks until a start under way is over, then as spawner_finish. */
void spawner_wait(struct spawner_req *r);

#endif
