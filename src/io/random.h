/* SPDX-License-Identifier: MIT */
/* random: bytes from the kernel's CSPRNG (getrandom(2); getentropy(3) where
 * there is no getrandom), drawn in blocks into one pool so that a masking key
 * costs a copy, not a system call. Nothing weaker is ever used instead. */
#ifndef WSC_RANDOM_H
#define WSC_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* The pool's size: one draw from the kernel fills it. */
#define RANDOM_BLOCK 4096

/* Fills p with n random bytes (any n). Returns 0, or -1 with errno when the
 * kernel gives none. ctx is unused: the signature is the engine's ws_random_fn. */
int random_fill(void *ctx, uint8_t *p, size_t n);

/* Calls into the kernel so far (for the tests). */
unsigned long random_draws(void);

#endif
