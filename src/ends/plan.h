/* SPDX-License-Identifier: MIT */
/* plan: what main prepares before the run (files read and checked,
 * patterns compiled), for the ends and taps that each connection gets. */
#ifndef WSC_PLAN_H
#define WSC_PLAN_H

#include <stddef.h>

#include "ui/options.h"

struct script;
struct expect;
struct recorder;

struct end_plan {
    const struct script *script; /* -f; NULL: none; owned */
    struct expect *until;        /* --until, --count; NULL: none; owned */
    struct recorder *recorder;   /* --record; NULL: none; owned */
    long deadline;               /* --timeout: the run's end (net_now_ms); 0: none */
};

/* Reads and checks what the options name. Returns 0, or the exit status
 * (2: a script, pattern or recording that does not parse; 1: a file that
 * cannot be written) with one line in err. Free the plan either way. */
int end_plan_load(struct end_plan *p, const struct options *opt, char *err, size_t errlen);
void end_plan_free(struct end_plan *p);

#endif
