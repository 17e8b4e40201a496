/* SPDX-License-Identifier: MIT */
/* spawner: process starts on helper threads (see spawner.h). The child is made
 * as posix_spawn makes it: clone with CLONE_VM and CLONE_VFORK on a stack of
 * its own, a few async-signal-safe calls, exec; no page of wsc is copied.
 * posix_spawn itself cannot give the child its own RLIMIT_NOFILE, and
 * lowering wsc's around the call is no longer safe once it runs beside the
 * loop's accepts. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawner.h"
#include "waiter.h"

/* Starts under way at once: one a CPU but the loop's own. A start is CPU
 * work (clone, exec, the new program's loading); more at once only takes
 * time from the loop's handshakes and messages (bench/RESULTS.md). */
#define SPAWN_THREADS_MAX 4
/* A thread needs little: the child runs on a stack of its own. */
#define THREAD_STACK (256 * 1024)
/* The child's stack: the calls below and execvpe's path buffer, plus the
 * arguments, which execvpe copies to run a script without #! by sh. */
#define CHILD_STACK (64 * 1024)

enum { IDLE, QUEUED, RUNNING, DONE };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t is_queued = PTHREAD_COND_INITIALIZER; /* a request waits */
static pthread_cond_t is_over = PTHREAD_COND_INITIALIZER;   /* a start is over */
static struct spawner_req *head, *tail;                       /* waiting, in order */
static int threads;

/* ---- the child, between clone and exec ---- */

struct child_args {
    const struct spawner_req *r;
    char *const *argv;
    const char *path; /* the program's file; NULL: argv[0] searched in PATH */
    pid_t parent;      /* wsc */
    volatile int error;
};

/* Runs in the child, in wsc's memory, while the thread that cloned it
 * waits: only async-signal-safe calls, and nothing of wsc's is changed but
 * a->error. Not instrumented by ASan, whose bookkeeping of the thread's
 * stack this stack of the child's would upset. (ThreadSanitizer's reports
 * on this file mean nothing: the child runs on the thread's TSan state.) */
__attribute__((no_sanitize_address)) static int child_main(void *arg)
{
    struct child_args *a = arg;
    const struct spawner_req *r = a->r;
    /* No handler of wsc's may run here: the signal pipe is shared, and wsc
     * would take the child's signal for its own. SIGPIPE, SIGINT and SIGTERM
     * are as a process started by a shell has them (wsc ignores SIGPIPE).
     * Every signal stays blocked, as in the thread, until exec. */
    for (int sig = 1; sig < _NSIG; sig++) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) != 0)
            continue;
        bool is_caught = (sa.sa_flags & SA_SIGINFO) ||
                         (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
        if (is_caught || sig == SIGPIPE || sig == SIGINT || sig == SIGTERM) {
            struct sigaction dfl = {.sa_handler = SIG_DFL};
            sigaction(sig, &dfl, NULL);
        }
    }
    /* its own process group: a Ctrl-C at wsc's terminal is wsc's to handle */
    if (setpgid(0, 0) != 0)
        goto fail;
    /* wsc killed (SIGKILL leaves it no time to end its processes): the
     * process gets SIGTERM, as when its connection ends. The signal follows
     * the thread that made the child, and the spawn threads last as long as
     * wsc. A wsc already gone before the call is seen by getppid. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != a->parent)
        goto fail;
    /* Any of the three below 3 (wsc started with one of its own closed)
     * moves up first, so that no dup2 overwrites another. */
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = r->fds[i] < 3 ? fcntl(r->fds[i], F_DUPFD_CLOEXEC, 3) : r->fds[i];
        if (fds[i] < 0)
            goto fail;
    }
    for (int i = 0; i < 3; i++)
        if (dup2(fds[i], i) < 0)
            goto fail;
    /* The limit once the descriptors are in place: a lower one would refuse
     * the moves above a number wsc's other clients hold (a limit bounds
     * only the numbers opened after it; those above close at exec). */
    if (r->fd_limit && setrlimit(RLIMIT_NOFILE, r->fd_limit) != 0) {
        /* the child keeps wsc's limit: it still runs */
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (a->path)
        execve(a->path, a->argv, r->envp);
    else
        execvpe(a->argv[0], a->argv, r->envp);
fail:
    a->error = errno ? errno : ENOEXEC;
    _exit(127);
}

/* A thread's stack for its children, kept from one to the next: an mmap
 * and munmap a start would each take the memory map's lock that the loop's
 * allocations and page faults wait on. */
struct child_stack {
    char *base; /* its lowest page is a guard: an overflow faults, not overwrites */
    size_t size;
};

/* Returns the child once it has exec'd, or 0 with *error set. */
static pid_t clone_child(struct child_stack *st, struct child_args *a, int *error)
{
    size_t argc = 0;
    while (a->argv[argc])
        argc++;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = (CHILD_STACK + (argc + 2) * sizeof(char *) + page - 1) / page * page + page;
    if (st->size < size) {
        if (st->base)
            munmap(st->base, st->size);
        st->size = 0;
        st->base = mmap(NULL, size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (st->base == MAP_FAILED || mprotect(st->base, page, PROT_NONE) != 0) {
            *error = errno;
            if (st->base != MAP_FAILED)
                munmap(st->base, size);
            st->base = NULL;
            return 0;
        }
        st->size = size;
    }
    a->error = 0;
    /* CLONE_VFORK: back here once the child has exec'd or exited */
    pid_t pid = clone(child_main, st->base + st->size, CLONE_VM | CLONE_VFORK | SIGCHLD, a);
    *error = pid < 0 ? errno : a->error;
    if (pid > 0 && *error) {
        waitpid(pid, NULL, 0); /* it never ran the program */
        pid = 0;
    }
    return pid > 0 ? pid : 0;
}

/* The program, or sh -c: sh runs a command with shell syntax, and says in
 * its own words and with its own status why a program does not start. It is
 * /bin/sh itself, not an sh that wsc's PATH may name first. */
static void start(struct child_stack *st, struct spawner_req *r)
{
    struct child_args a = {.r = r, .argv = r->argv, .parent = getpid()};
    int error = ENOENT;
    pid_t pid = r->argv ? clone_child(st, &a, &error) : 0;
    if (!pid && r->shell_cmd) {
        char *sh[] = {"sh", "-c", (char *)r->shell_cmd, NULL};
        a.argv = sh;
        a.path = "/bin/sh";
        pid = clone_child(st, &a, &error);
    }
    r->pid = pid;
    r->error = pid ? 0 : error;
}

/* ---- the threads ---- */

/* A thread never ends: each child's parent-death signal follows the thread
 * that made it, so a thread that ended would SIGTERM its children. */
static void *run_starts(void *unused)
{
    (void)unused;
    struct child_stack st = {0};
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!head)
            pthread_cond_wait(&is_queued, &lock);
        struct spawner_req *r = head;
        head = r->next;
        if (!head)
            tail = NULL;
        r->state = RUNNING;
        pthread_mutex_unlock(&lock);
        start(&st, r);
        pthread_mutex_lock(&lock);
        /* Under the lock: the loop closes done_fd only once it sees DONE. */
        uint64_t one = 1;
        if (write(r->done_fd, &one, sizeof(one)) < 0) {
            /* an eventfd takes this write */
        }
        r->state = DONE;
        pthread_cond_broadcast(&is_over);
    }
    return NULL;
}

/* With the lock held. The threads block every signal: signals are the
 * loop's, and a child starts with them blocked. */
static int add_threads(void)
{
    pthread_attr_t at;
    int rc = pthread_attr_init(&at);
    if (rc != 0)
        return rc;
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, THREAD_STACK);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* the CPUs wsc may run on (taskset, a container's cpuset), not the machine's */
    cpu_set_t set;
    long cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
                                                             : sysconf(_SC_NPROCESSORS_ONLN);
    int want = cpus <= 2 ? 1 : cpus > SPAWN_THREADS_MAX + 1 ? SPAWN_THREADS_MAX : (int)cpus - 1;
    while (threads < want) {
        pthread_t t;
        if ((rc = pthread_create(&t, &at, run_starts, NULL)) != 0)
            break;
        threads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&at);
    return threads ? 0 : rc; /* fewer threads still start processes */
}

/* ---- the loop's side ---- */

static void close_done_fd(struct spawner_req *r)
{
    waiter_forget(r->done_fd);
    close(r->done_fd);
    r->done_fd = -1;
    r->state = IDLE;
}

int spawner_submit(struct spawner_req *r)
{
    r->pid = 0;
    r->error = 0;
    r->next = NULL;
    r->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->done_fd < 0)
        return errno;
    pthread_mutex_lock(&lock);
    int rc = threads ? 0 : add_threads();
    if (rc == 0) {
        r->state = QUEUED;
        if (tail)
            tail->next = r;
        else
            head = r;
        tail = r;
        pthread_cond_signal(&is_queued);
    }
    pthread_mutex_unlock(&lock);
    if (rc != 0)
        close_done_fd(r);
    return rc;
}

bool spawner_finish(struct spawner_req *r)
{
    pthread_mutex_lock(&lock);
    bool is_done = r->state == DONE;
    pthread_mutex_unlock(&lock);
    if (is_done)
        close_done_fd(r);
    return is_done;
}

bool spawner_withdraw(struct spawner_req *r)
{
    pthread_mutex_lock(&lock);
    bool is_waiting = r->state == QUEUED;
    if (is_waiting) {
        struct spawner_req **p = &head, *prev = NULL;
        while (*p != r) {
            prev = *p;
            p = &(*p)->next;
        }
        *p = r->next;
        if (tail == r)
            tail = prev;
    }
    pthread_mutex_unlock(&lock);
    if (is_waiting) {
        close_done_fd(r);
        r->error = ECANCELED;
    }
    return is_waiting;
}

void spawner_wait(struct spawner_req *r)
{
    pthread_mutex_lock(&lock);
    while (r->state == QUEUED || r->state == RUNNING)
        pthread_cond_wait(&is_over, &lock);
    pthread_mutex_unlock(&lock);
    spawner_finish(r);
}
