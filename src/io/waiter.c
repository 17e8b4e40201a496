/* SPDX-License-Identifier: MIT */
#include "waiter.h"

#ifdef __linux__

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define RESYNC_MS 1000 /* a wait without end is cut here: see resync() */

/* What is known of one descriptor number. */
struct slot {
    uint32_t seen;      /* the turn it was last asked for */
    uint32_t synced;    /* the turn its registration was last brought up to date */
    uint32_t events;    /* registered with the kernel */
    short want;         /* what this turn's entries ask, together */
    short ready;        /* what this turn's wait found */
    bool is_registered;
    bool is_file;       /* epoll refuses it (a regular file): always ready, as poll says */
    bool is_known;      /* in the list of known descriptors */
};

struct waiter_state {
    int epfd;           /* -1 before the first wait; -2: no epoll here, poll() instead */
    uint32_t turn;
    struct slot *slots; /* indexed by descriptor; owned */
    size_t num_slots;
    int *known;         /* descriptors registered or files; owned */
    size_t num_known, cap_known;
    struct epoll_event *events; /* owned */
    size_t cap_events;
};

static struct waiter_state w = {.epfd = -1};

static bool grow_slots(int fd)
{
    if ((size_t)fd < w.num_slots)
        return true;
    size_t n = w.num_slots ? w.num_slots : 64;
    while (n <= (size_t)fd)
        n *= 2;
    struct slot *grown = realloc(w.slots, n * sizeof(*grown));
    if (!grown)
        return false;
    memset(grown + w.num_slots, 0, (n - w.num_slots) * sizeof(*grown));
    w.slots = grown;
    w.num_slots = n;
    return true;
}

static bool remember(int fd)
{
    if (w.slots[fd].is_known)
        return true;
    if (w.num_known == w.cap_known) {
        size_t cap = w.cap_known ? w.cap_known * 2 : 64;
        int *grown = realloc(w.known, cap * sizeof(*grown));
        if (!grown)
            return false;
        w.known = grown;
        w.cap_known = cap;
    }
    w.known[w.num_known++] = fd;
    w.slots[fd].is_known = true;
    return true;
}

static int ctl(int op, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    return epoll_ctl(w.epfd, op, fd, &ev);
}

/* Brings fd's registration to what this turn wants. A number closed without
 * waiter_forget and reused shows as ENOENT or EEXIST and is mended here. */
static int sync_slot(int fd)
{
    struct slot *s = &w.slots[fd];
    uint32_t want = (uint32_t)(unsigned short)s->want;
    s->synced = w.turn;
    if (s->is_file)
        return 0;
    if (s->is_registered && s->events == want)
        return 0;
    int op = s->is_registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = ctl(op, fd, want);
    if (rc < 0 && errno == ENOENT)
        rc = ctl(EPOLL_CTL_ADD, fd, want);
    else if (rc < 0 && errno == EEXIST)
        rc = ctl(EPOLL_CTL_MOD, fd, want);
    if (rc < 0 && errno == EPERM) {
        s->is_file = true; /* a regular file: poll() calls it always ready */
        return remember(fd) ? 0 : -1;
    }
    if (rc < 0)
        return -1;
    if (!remember(fd))
        return -1;
    s->is_registered = true;
    s->events = want;
    return 0;
}

/* Descriptors no longer asked for leave the kernel's set. */
static void drop_unseen(void)
{
    size_t kept = 0;
    for (size_t i = 0; i < w.num_known; i++) {
        int fd = w.known[i];
        struct slot *s = &w.slots[fd];
        if (s->seen == w.turn && (s->is_registered || s->is_file)) {
            w.known[kept++] = fd;
            continue;
        }
        if (s->is_registered)
            ctl(EPOLL_CTL_DEL, fd, 0);
        s->is_registered = s->is_file = s->is_known = false;
    }
    w.num_known = kept;
}

/* A wait that found nothing in RESYNC_MS: every registration is sent
 * again, so that a number closed and reused unnoticed cannot stall us. */
static void resync(void)
{
    for (size_t i = 0; i < w.num_known; i++) {
        struct slot *s = &w.slots[w.known[i]];
        if (!s->is_registered)
            continue;
        if (ctl(EPOLL_CTL_MOD, w.known[i], s->events) < 0 && errno == ENOENT)
            ctl(EPOLL_CTL_ADD, w.known[i], s->events);
    }
}

int waiter_wait(struct pollfd *fds, size_t n, int timeout_ms)
{
    if (w.epfd == -1)
        w.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w.epfd < 0) {
        w.epfd = -2;
        return poll(fds, (nfds_t)n, timeout_ms);
    }
    if (++w.turn == 0)
        w.turn = 1;
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        fds[i].revents = 0;
        int fd = fds[i].fd;
        if (fd < 0)
            continue;
        if (!grow_slots(fd))
            return -1;
        struct slot *s = &w.slots[fd];
        if (s->seen != w.turn) {
            s->seen = w.turn;
            s->want = 0;
            s->ready = 0;
            distinct++;
        }
        s->want |= fds[i].events;
    }
    bool has_file = false;
    for (size_t i = 0; i < n; i++) {
        int fd = fds[i].fd;
        if (fd < 0 || w.slots[fd].synced == w.turn)
            continue;
        if (sync_slot(fd) != 0)
            return -1;
        has_file |= w.slots[fd].is_file && w.slots[fd].want;
    }
    drop_unseen();
    if (distinct > w.cap_events) {
        struct epoll_event *grown = realloc(w.events, distinct * sizeof(*grown));
        if (!grown)
            return -1;
        w.events = grown;
        w.cap_events = distinct;
    }
    int timeout = has_file ? 0 : timeout_ms;
    bool is_capped = timeout < 0 || timeout > RESYNC_MS;
    if (is_capped)
        timeout = RESYNC_MS;
    int got = distinct ? epoll_wait(w.epfd, w.events, (int)distinct, timeout)
                       : poll(NULL, 0, timeout);
    if (got < 0)
        return -1;
    if (got == 0 && is_capped)
        resync();
    for (int i = 0; i < got && distinct; i++)
        w.slots[w.events[i].data.fd].ready = (short)w.events[i].events;
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        int fd = fds[i].fd;
        if (fd < 0)
            continue;
        const struct slot *s = &w.slots[fd];
        short ready = s->is_file ? (short)(s->want & (POLLIN | POLLOUT)) : s->ready;
        fds[i].revents = (short)(ready & (fds[i].events | POLLHUP | POLLERR | POLLNVAL));
        count += fds[i].revents != 0;
    }
    return count;
}

void waiter_forget(int fd)
{
    if (w.epfd < 0 || fd < 0 || (size_t)fd >= w.num_slots)
        return;
    struct slot *s = &w.slots[fd];
    if (s->is_registered)
        ctl(EPOLL_CTL_DEL, fd, 0);
    s->is_registered = s->is_file = false;
    s->seen = s->synced = 0; /* dropped from known at the next turn */
}

void waiter_free(void)
{
    if (w.epfd >= 0)
        close(w.epfd);
    free(w.slots);
    free(w.known);
    free(w.events);
    w = (struct waiter_state){.epfd = -1};
}

#else /* no epoll: poll() */

int waiter_wait(struct pollfd *fds, size_t n, int timeout_ms)
{
    return poll(fds, (nfds_t)n, timeout_ms);
}

void waiter_forget(int fd)
{
    (void)fd;
}

void waiter_free(void)
{
}

#endif
