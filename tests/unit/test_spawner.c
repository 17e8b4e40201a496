/* SPDX-License-Identifier: MIT */
/* spawn: processes start on the threads and report through their own
 * descriptor; a program that does not start goes to sh; the child gets the
 * descriptors, limit, signals and process group it is given; a start not
 * begun can be withdrawn; many starts at once all finish. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawner.h"
#include "tap.h"

static char *no_env[] = {"PATH=/usr/bin:/bin", NULL};

/* A start with its stdout on a pipe; out[0] is ours to read. */
static bool submit_limited(struct spawner_req *r, char **argv, const char *shell_cmd,
                           int out[2], const struct rlimit *fd_limit)
{
    *r = (struct spawner_req){.argv = argv, .shell_cmd = shell_cmd, .envp = no_env,
                            .fd_limit = fd_limit, .done_fd = -1};
    if (pipe2(out, O_CLOEXEC) != 0)
        return false;
    r->fds[0] = r->fds[2] = out[1];
    r->fds[1] = out[1];
    return spawner_submit(r) == 0;
}

static bool submit(struct spawner_req *r, char **argv, const char *shell_cmd, int out[2])
{
    return submit_limited(r, argv, shell_cmd, out, NULL);
}

/* The signals this process ignores, from /proc. */
static unsigned long long ignored_signals(void)
{
    char line[256];
    unsigned long long mask = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "SigIgn:", 7))
            mask = strtoull(line + 7, NULL, 16);
    if (f)
        fclose(f);
    return mask;
}

static bool await(struct spawner_req *r)
{
    struct pollfd p = {.fd = r->done_fd, .events = POLLIN};
    if (poll(&p, 1, 20000) != 1)
        return false;
    return spawner_finish(r);
}

/* Everything the child wrote, once it has exited; its status in *status. */
static size_t collect(struct spawner_req *r, int out[2], char *got, size_t cap, int *status)
{
    close(out[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(out[0], got + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    got[n] = 0;
    close(out[0]);
    *status = -1;
    if (r->pid)
        waitpid(r->pid, status, 0);
    return n;
}

static void runs_a_program(void)
{
    struct spawner_req r;
    int out[2], status;
    char got[256];
    char *argv[] = {"echo", "hello", "there", NULL};
    tap_ok(submit(&r, argv, NULL, out), "a plain program is queued");
    tap_ok(await(&r) && r.pid > 0 && r.error == 0, "it starts and says so on its descriptor");
    tap_ok(r.done_fd == -1, "the descriptor is closed once the start is over");
    collect(&r, out, got, sizeof(got), &status);
    tap_ok(!strcmp(got, "hello there\n") && WIFEXITED(status) && !WEXITSTATUS(status),
           "its output and status");
}

static void falls_back_to_sh(void)
{
    struct spawner_req r;
    int out[2], status;
    char got[256];
    char *argv[] = {"no-such-program-wsc", NULL};
    tap_ok(submit(&r, argv, "no-such-program-wsc", out) && await(&r) && r.pid > 0,
           "a program that is not found: sh runs the command");
    collect(&r, out, got, sizeof(got), &status);
    tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 127 && strstr(got, "not found"),
           "sh says why, with its own status 127 (%s)", got);

    tap_ok(submit(&r, NULL, "echo a; echo b", out) && await(&r) && r.pid > 0,
           "shell syntax: sh -c only");
    collect(&r, out, got, sizeof(got), &status);
    tap_ok(!strcmp(got, "a\nb\n"), "sh ran it");

    tap_ok(submit(&r, argv, NULL, out) && await(&r), "no program and no shell command");
    tap_ok(r.pid == 0 && r.error == ENOENT, "the start fails with the program's errno");
    collect(&r, out, got, sizeof(got), &status);
}

/* The fallback is /bin/sh itself, as sh -c always was: not whichever sh
 * comes first in wsc's PATH (a directory of the user's, or a relative one). */
static void fallback_is_bin_sh(void)
{
    char dir[] = "/tmp/wsc-test-spawn-XXXXXX";
    char fake[64], *old_path = getenv("PATH");
    bool made = mkdtemp(dir) != NULL;
    snprintf(fake, sizeof(fake), "%s/sh", dir);
    FILE *f = made ? fopen(fake, "w") : NULL;
    if (f) {
        fputs("#!/bin/sh\necho impostor\n", f);
        fclose(f);
        chmod(fake, 0755);
    }
    char path[128];
    snprintf(path, sizeof(path), "%s:%s", dir, old_path ? old_path : "/usr/bin:/bin");
    setenv("PATH", path, 1);
    struct spawner_req r;
    int out[2], status;
    char got[256];
    char *argv[] = {"no-such-program-wsc", NULL};
    bool ok = f && submit(&r, argv, "echo real", out) && await(&r) && r.pid > 0;
    if (ok)
        collect(&r, out, got, sizeof(got), &status);
    if (!tap_ok(ok && !strcmp(got, "real\n"), "the command runs in /bin/sh, not an sh in PATH"))
        tap_diag("%s", ok ? got : "not started");
    ok = f && submit(&r, NULL, "echo real", out) && await(&r) && r.pid > 0;
    if (ok)
        collect(&r, out, got, sizeof(got), &status);
    if (!tap_ok(ok && !strcmp(got, "real\n"), "shell syntax too"))
        tap_diag("%s", ok ? got : "not started");
    if (old_path)
        setenv("PATH", old_path, 1);
    else
        unsetenv("PATH");
    unlink(fake);
    rmdir(dir);
}

/* The child's view of itself, from /proc. */
static void child_state(void)
{
    struct spawner_req r;
    int out[2], status;
    char got[4096];
    struct rlimit low = {64, 64}, mine;
    getrlimit(RLIMIT_NOFILE, &mine);
    if (mine.rlim_max != RLIM_INFINITY && mine.rlim_max < 64)
        low.rlim_cur = low.rlim_max = mine.rlim_max;
    char *argv[] = {"sh", "-c",
                    "ulimit -n; grep -E '^Sig(Blk|Ign)' /proc/self/status;"
                    " set -- $(cat /proc/$$/stat); test \"$5\" -eq $$ && echo own-group",
                    NULL};
    /* As wsc is: SIGPIPE ignored, SIGINT caught, every signal blocked in a
     * thread of ours. */
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigaction(SIGHUP, &sa, NULL);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, &old);
    unsigned long long bit = 1;
    unsigned long long want_ignored = ignored_signals() &
                                      ~(bit << (SIGPIPE - 1) | bit << (SIGINT - 1) |
                                        bit << (SIGTERM - 1));
    tap_ok(submit_limited(&r, argv, NULL, out, &low), "queued");
    bool ok = await(&r) && r.pid > 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (!tap_ok(ok, "started"))
        tap_diag("error %d", r.error);
    collect(&r, out, got, sizeof(got), &status);
    char want_limit[32];
    snprintf(want_limit, sizeof(want_limit), "%lu\n", (unsigned long)low.rlim_cur);
    tap_ok(!strncmp(got, want_limit, strlen(want_limit)), "the given RLIMIT_NOFILE (%s)", got);
    tap_ok(strstr(got, "SigBlk:\t0000000000000000") != NULL, "no signal blocked");
    /* SIGHUP (and what this test was started with) stays ignored; SIGPIPE,
     * SIGINT and SIGTERM do not */
    char want_ign[64];
    snprintf(want_ign, sizeof(want_ign), "SigIgn:\t%016llx", want_ignored);
    tap_ok(strstr(got, want_ign) != NULL && (want_ignored & 1),
           "SIGPIPE back to its default; an ignored SIGHUP stays ignored (%s)", want_ign);
    tap_ok(strstr(got, "own-group") != NULL, "its own process group");
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
}

/* wsc started with stdin and stdout closed: the child's pipes may be 0 and
 * 1, and each still lands where it belongs. */
static void low_descriptors(void)
{
    int in[2], out[2];
    int saved0 = dup(0), saved1 = dup(1);
    fflush(stdout);
    close(0);
    close(1);
    bool made = pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0;
    bool is_low = made && (in[0] < 3 || in[1] < 3);
    char *argv[] = {"cat", NULL};
    struct spawner_req r = {.argv = argv, .envp = no_env, .done_fd = -1,
                          .fds = {in[0], out[1], out[1]}};
    bool started = made && spawner_submit(&r) == 0 && await(&r) && r.pid > 0;
    if (made) {
        close(in[0]);
        close(out[1]);
        if (write(in[1], "low\n", 4) != 4)
            started = false;
        close(in[1]);
    }
    char got[16] = {0};
    ssize_t n = made ? read(out[0], got, sizeof(got) - 1) : -1;
    if (made)
        close(out[0]);
    int status = -1;
    if (r.pid)
        waitpid(r.pid, &status, 0);
    dup2(saved0, 0);
    dup2(saved1, 1);
    close(saved0);
    close(saved1);
    tap_ok(is_low, "the child's pipe took a descriptor below 3");
    tap_ok(started && n == 4 && !strcmp(got, "low\n"), "its stdin and stdout are the right ones");
}

/* A pipe below 3 moves up before the dup2s, and must find a free number
 * under the child's lower limit: in listen mode the numbers just above 2 are
 * long taken by other clients. */
static void low_descriptor_under_a_low_limit(void)
{
    enum { TAKEN = 64 };
    int taken[TAKEN], num_taken = 0, in[2] = {-1, -1}, out[2] = {-1, -1};
    int saved0 = dup(0);
    close(0);
    bool made = pipe2(in, O_CLOEXEC) == 0 && in[0] == 0;
    while (made && num_taken < TAKEN &&
           (taken[num_taken] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        num_taken++;
    made = made && num_taken == TAKEN && pipe2(out, O_CLOEXEC) == 0;
    struct rlimit low = {16, 16};
    char *argv[] = {"sh", "-c", "ulimit -n; cat", NULL};
    struct spawner_req r = {.argv = argv, .envp = no_env, .done_fd = -1,
                          .fds = {in[0], out[1], out[1]}, .fd_limit = &low};
    bool started = made && spawner_submit(&r) == 0 && await(&r) && r.pid > 0;
    if (!started)
        tap_diag("error %d", r.error);
    close(in[0]);
    if (started && write(in[1], "low\n", 4) != 4)
        started = false;
    close(in[1]);
    char got[64] = "";
    int status;
    if (made)
        collect(&r, out, got, sizeof(got), &status);
    for (int i = 0; i < num_taken; i++)
        close(taken[i]);
    dup2(saved0, 0);
    close(saved0);
    tap_ok(made, "stdin's pipe at 0, and the numbers from 3 up to %d taken", TAKEN + 3);
    if (!tap_ok(started && !strcmp(got, "16\nlow\n"), "the child starts, under its limit"))
        tap_diag("%s", got);
}

/* Many at once, some withdrawn before they begin. */
static void many_at_once(void)
{
    enum { N = 64 };
    static struct spawner_req r[N];
    static int out[N][2];
    char *argv[] = {"sh", "-c", "sleep 0.05; echo $$", NULL};
    int queued = 0;
    for (int i = 0; i < N; i++)
        queued += submit(&r[i], argv, NULL, out[i]);
    tap_ok(queued == N, "%d starts queued at once", N);
    int withdrawn = 0;
    for (int i = N - 1; i >= N - 8; i--)
        if (spawner_withdraw(&r[i])) {
            withdrawn++;
            tap_ok(r[i].done_fd == -1 && r[i].pid == 0, "a withdrawn start never runs (%d)", i);
            close(out[i][0]);
            close(out[i][1]);
        }
    tap_ok(withdrawn > 0, "the last ones had not begun: withdrawn (%d)", withdrawn);
    int ran = 0;
    for (int i = 0; i < N - withdrawn; i++) {
        bool ok;
        if (i % 2) {
            spawner_wait(&r[i]);
            ok = r[i].done_fd == -1;
        } else {
            ok = await(&r[i]);
        }
        char got[32];
        int status;
        collect(&r[i], out[i], got, sizeof(got), &status);
        ran += ok && r[i].pid > 0 && atoi(got) == r[i].pid && WIFEXITED(status);
    }
    tap_ok(ran == N - withdrawn, "every other start ran, once, as its own process (%d)", ran);
    tap_ok(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "no child is left unreaped");
}

int main(void)
{
    runs_a_program();
    falls_back_to_sh();
    fallback_is_bin_sh();
    child_state();
    low_descriptors();
    low_descriptor_under_a_low_limit();
    many_at_once();
    return tap_done();
}
