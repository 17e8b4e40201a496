/* SPDX-License-Identifier: MIT */
/* spawn_rate: how many processes a second this machine starts, the floor
 * under --exec's connect and round-trip rates. N starts of PROGRAM (stdin
 * and stdout /dev/null), three ways, each timed from the first start to the
 * last one's exec: posix_spawn from one thread, fork and exec from one
 * thread, and wsc's spawner.c (its threads). Build from the top of the tree:
 *
 *   cc -O2 -D_GNU_SOURCE -Isrc/io -o spawn_rate bench/spawn_rate.c \
 *      src/io/spawner.c src/io/waiter.c -lpthread
 *   ./spawn_rate 500 /bin/cat
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawner.h"

extern char **environ;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void report(const char *how, int n, double ms, pid_t *pids)
{
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            waitpid(pids[i], NULL, 0);
    printf("%-28s %d starts in %8.1f ms: %6.0f a second\n", how, n, ms, n / ms * 1e3);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: spawn_rate N PROGRAM\n");
        return 2;
    }
    int n = atoi(argv[1]);
    char *av[] = {argv[2], NULL};
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    pid_t *pids = calloc((size_t)n, sizeof(*pids));
    struct spawner_req *reqs = calloc((size_t)n, sizeof(*reqs));
    if (null < 0 || !pids || !reqs)
        return 1;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    for (int fd = 0; fd < 3; fd++)
        posix_spawn_file_actions_adddup2(&fa, null, fd);
    double t0 = now_ms();
    for (int i = 0; i < n; i++)
        if (posix_spawn(&pids[i], av[0], &fa, NULL, av, environ) != 0)
            pids[i] = 0;
    report("posix_spawn, one thread", n, now_ms() - t0, pids);

    t0 = now_ms();
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            for (int fd = 0; fd < 3; fd++)
                dup2(null, fd);
            execve(av[0], av, environ);
            _exit(127);
        }
    }
    report("fork and exec, one thread", n, now_ms() - t0, pids);

    t0 = now_ms();
    for (int i = 0; i < n; i++) {
        reqs[i] = (struct spawner_req){.argv = av, .envp = environ, .done_fd = -1,
                                     .fds = {null, null, null}};
        if (spawner_submit(&reqs[i]) != 0)
            return 1;
    }
    for (int i = 0; i < n; i++) {
        spawner_wait(&reqs[i]);
        pids[i] = reqs[i].pid;
    }
    report("wsc's spawner.c (its threads)", n, now_ms() - t0, pids);
    return 0;
}
