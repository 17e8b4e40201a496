/* SPDX-License-Identifier: MIT */
/* record tap: --record's file, shared by every connection of the run. */
#ifndef WSC_TAP_RECORD_H
#define WSC_TAP_RECORD_H

#include <stdbool.h>
#include <stddef.h>

struct recorder;

/* Creates (or truncates) the file; NULL with why in err. */
struct recorder *recorder_open(const char *path, bool has_secrets, char *err, size_t errlen);
void recorder_close(struct recorder *r);

#endif
