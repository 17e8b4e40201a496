/* SPDX-License-Identifier: MIT */
/* The random pool: every size is served whole, across block boundaries,
 * with one kernel draw per block, and no two outputs repeat. */
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "random.h"
#include "tap.h"

/* No 16-byte run of b is all zero, and none repeats in the first n runs.
 * For kernel randomness either happens with probability near 2^-100. */
static bool runs_distinct(const uint8_t *b, size_t len)
{
    static const uint8_t zero[16];
    size_t n = len / 16;
    for (size_t i = 0; i < n; i++) {
        if (!memcmp(b + 16 * i, zero, 16))
            return false;
        for (size_t j = 0; j < i; j++)
            if (!memcmp(b + 16 * i, b + 16 * j, 16))
                return false;
    }
    return true;
}

static void draws_per_block(void)
{
    /* Runs first: the pool starts empty. */
    uint8_t *b = malloc(2 * RANDOM_BLOCK + 1);
    tap_ok(random_draws() == 0, "no draw before the first request");
    tap_ok(random_fill(NULL, b, 1) == 0 && random_draws() == 1, "one byte: one draw");
    tap_ok(random_fill(NULL, b, RANDOM_BLOCK - 1) == 0 && random_draws() == 1,
           "the rest of the block: no draw");
    tap_ok(random_fill(NULL, b, RANDOM_BLOCK) == 0 && random_draws() == 2,
           "exactly one block: one draw");
    tap_ok(random_fill(NULL, b, 2 * RANDOM_BLOCK + 1) == 0 && random_draws() == 5,
           "two blocks and a byte: three draws");
    free(b);
}

static void sizes_across_boundaries(void)
{
    static const size_t sizes[] = {0,    1,    3,    4,    16,   255,  256,  257,
                                   4095, 4096, 4097, 8191, 8192, 8193, 12345, 65536};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        /* Guard bytes on both sides: exactly n bytes are written. */
        uint8_t *b = malloc(n + 32);
        memset(b, 0xA5, n + 32);
        int rc = random_fill(NULL, b + 16, n);
        bool guards = true;
        for (size_t k = 0; k < 16; k++)
            guards = guards && b[k] == 0xA5 && b[16 + n + k] == 0xA5;
        tap_ok(rc == 0 && guards, "%zu bytes: filled, nothing written around them", n);
        if (n >= 32) {
            /* an exact-size copy, so that an over-read in the check shows */
            size_t check = n < 4096 ? n : 4096;
            unsigned char *copy = tap_dup(b + 16, check);
            tap_ok(runs_distinct(copy, check), "%zu bytes: no 16-byte run is zero or repeats",
                   n);
            free(copy);
        }
        free(b);
    }
}

static void outputs_distinct(void)
{
    /* 600 masking-key-sized requests, straddling several blocks. */
    enum { COUNT = 600 };
    uint8_t *all = malloc(COUNT * 16);
    bool ok = true;
    for (size_t i = 0; i < COUNT; i++)
        ok = ok && random_fill(NULL, all + 16 * i, 16) == 0;
    tap_ok(ok, "%d requests of 16 bytes", COUNT);
    tap_ok(runs_distinct(all, COUNT * 16), "no two of them are equal, none is zero");
    /* The same after taking odd sizes, so requests start off the 16-byte grid. */
    uint8_t odd[7], a[16], b2[16];
    tap_ok(random_fill(NULL, odd, sizeof(odd)) == 0 && random_fill(NULL, a, 16) == 0 &&
               random_fill(NULL, b2, 16) == 0 && memcmp(a, b2, 16) != 0,
           "two requests after an odd one differ");
    free(all);
}

/* A forked child must not hand out what the parent hands out next. */
static void fork_forgets_pool(void)
{
    uint8_t warm[5];
    random_fill(NULL, warm, sizeof(warm)); /* the pool now holds unused bytes */
    int fds[2];
    if (pipe(fds) != 0) {
        tap_ok(0, "pipe");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        uint8_t c[32];
        int rc = random_fill(NULL, c, sizeof(c));
        ssize_t w = write(fds[1], c, sizeof(c));
        _exit(rc == 0 && w == (ssize_t)sizeof(c) ? 0 : 1);
    }
    close(fds[1]);
    uint8_t child[32], parent[32];
    ssize_t got = read(fds[0], child, sizeof(child));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    tap_ok(random_fill(NULL, parent, sizeof(parent)) == 0, "the parent draws after the fork");
    tap_ok(got == (ssize_t)sizeof(child) && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "the child draws after the fork");
    tap_ok(memcmp(child, parent, sizeof(child)) != 0,
           "the child's bytes are not the parent's next ones");
}

int main(void)
{
    draws_per_block();
    sizes_across_boundaries();
    outputs_distinct();
    fork_forgets_pool();
    tap_diag("%lu draws from the kernel", random_draws());
    return tap_done();
}
