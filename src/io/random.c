/* SPDX-License-Identifier: MIT */
#include "random.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

/* One pool for the process: the bytes not yet handed out are
 * pool[RANDOM_BLOCK - avail ..]. Handed-out bytes are wiped, so that memory
 * read later (a core dump) does not show keys already used. */
static uint8_t pool[RANDOM_BLOCK];
static size_t avail;
static unsigned long draws;
static bool is_registered;

/* A forked child must not hand out the bytes its parent will also use. */
static void forget_pool(void)
{
    memset(pool, 0, sizeof(pool));
    avail = 0;
}

/* Fills p completely from the kernel. getrandom(2) may return fewer bytes
 * than asked for requests over 256 bytes, or fail with EINTR when a signal
 * arrives while it blocks (before the CSPRNG is first seeded). */
static int from_kernel(uint8_t *p, size_t n)
{
    draws++;
    while (n > 0) {
#if defined(__linux__)
        ssize_t got = getrandom(p, n, 0);
#else
        size_t ask = n > 256 ? 256 : n; /* getentropy's limit */
        ssize_t got = getentropy(p, ask) == 0 ? (ssize_t)ask : -1;
#endif
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

int random_fill(void *ctx, uint8_t *p, size_t n)
{
    (void)ctx;
    if (!is_registered) {
        int rc = pthread_atfork(NULL, NULL, forget_pool);
        if (rc != 0) {
            errno = rc;
            return -1;
        }
        is_registered = true;
    }
    while (n > 0) {
        if (avail == 0) {
            if (from_kernel(pool, sizeof(pool)) != 0)
                return -1;
            avail = sizeof(pool);
        }
        size_t take = n < avail ? n : avail;
        uint8_t *src = pool + sizeof(pool) - avail;
        memcpy(p, src, take);
        memset(src, 0, take);
        avail -= take;
        p += take;
        n -= take;
    }
    return 0;
}

unsigned long random_draws(void)
{
    return draws;
}
