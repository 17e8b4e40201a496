/* SPDX-License-Identifier: MIT */
/*
 * measure.c: run one command and report its wall time and resource usage.
 *
 * bench/run.py cannot measure its children itself: Linux carries the parent's peak RSS
 * across fork and exec into the child's ru_maxrss (exec_mmap() folds the old mm's high
 * water mark into the process's maxrss), so every child of a 40 MB Python would "use"
 * 40 MB. Forked from this small program instead, a child's ru_maxrss is its own (with a
 * floor of about this program's own 1-2 MB).
 *
 *   measure RESULT_FILE TIMEOUT_SEC COMMAND [ARG...]
 *
 * stdin, stdout and stderr pass to COMMAND unchanged. RESULT_FILE receives one line:
 *   wall_sec user_sec sys_sec maxrss_kib exit_status timed_out rss_anon_kib rss_file_kib
 * where exit_status is the exit code, or 128+N after signal N. COMMAND is killed with
 * SIGKILL after TIMEOUT_SEC. Exits 0 once the result is written.
 *
 * rss_anon_kib and rss_file_kib are the largest RssAnon and RssFile that
 * /proc/PID/status showed while COMMAND ran, read every SAMPLE_US microseconds: the
 * private memory of the process (heap, stacks, written data pages) and its pages of
 * files (its own code and the shared libraries'). The kernel keeps no peak for them,
 * so a peak shorter than the interval can be missed, and a run shorter than it may show
 * none (0).
 *
 * Build: cc -O2 -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra bench/measure.c -o measure
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SAMPLE_US 500

static volatile sig_atomic_t child_pid;
static volatile sig_atomic_t is_timed_out;

static void on_alarm(int sig)
{
    (void)sig;
    /* The child is not reaped before the alarm is cancelled, so its pid is still ours. */
    if (child_pid > 0) {
        kill((pid_t)child_pid, SIGKILL);
        is_timed_out = 1;
    }
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads RssAnon and RssFile (KiB) of a running process; leaves them alone when
 * the process has gone (a zombie has no Rss lines). */
static void sample_rss(pid_t pid, long *anon_max, long *file_max)
{
    char path[64], text[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return;
    text[n] = 0;
    const char *a = strstr(text, "\nRssAnon:"), *f = strstr(text, "\nRssFile:");
    long kib;
    if (a && sscanf(a, "\nRssAnon: %ld", &kib) == 1 && kib > *anon_max)
        *anon_max = kib;
    if (f && sscanf(f, "\nRssFile: %ld", &kib) == 1 && kib > *file_max)
        *file_max = kib;
}

static double tv_sec(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: measure RESULT_FILE TIMEOUT_SEC COMMAND [ARG...]\n");
        return 2;
    }
    char *end;
    unsigned long timeout = strtoul(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || timeout == 0 || timeout > 86400)
        errx(2, "bad timeout: %s", argv[2]);
    FILE *res = fopen(argv[1], "w");
    if (!res)
        err(1, "%s", argv[1]);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) != 0)
        err(1, "sigaction");

    /* SIGCHLD stays blocked: sigtimedwait() below wakes on it at once, or
     * after SAMPLE_US to read the child's memory. */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, NULL) != 0)
        err(1, "sigprocmask");

    double t0 = now_sec();
    pid_t pid = fork();
    if (pid < 0)
        err(1, "fork");
    if (pid == 0) {
        fclose(res);
        sigprocmask(SIG_UNBLOCK, &chld, NULL);
        execvp(argv[3], argv + 3);
        err(127, "%s", argv[3]);
    }
    child_pid = pid;
    alarm((unsigned)timeout);

    /* Wait without reaping, note the time, cancel the alarm, then reap with rusage. */
    long anon_kib = 0, file_kib = 0;
    siginfo_t si;
    for (;;) {
        sample_rss(pid, &anon_kib, &file_kib);
        memset(&si, 0, sizeof si); /* WNOHANG: si_pid stays 0 while it runs */
        int rc = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT | WNOHANG);
        if (rc != 0 && errno != EINTR)
            err(1, "waitid");
        if (rc == 0 && si.si_pid == pid)
            break;
        struct timespec ts = {0, SAMPLE_US * 1000L};
        sigtimedwait(&chld, NULL, &ts); /* SIGCHLD, the interval, or the alarm */
    }
    double wall = now_sec() - t0;
    alarm(0);
    child_pid = 0;
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) != pid) {
        if (errno != EINTR)
            err(1, "wait4");
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    fprintf(res, "%.6f %.6f %.6f %ld %d %d %ld %ld\n", wall, tv_sec(ru.ru_utime),
            tv_sec(ru.ru_stime), ru.ru_maxrss, code, (int)is_timed_out, anon_kib, file_kib);
    if (fclose(res) != 0)
        err(1, "%s", argv[1]);
    return 0;
}
