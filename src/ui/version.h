/* SPDX-License-Identifier: MIT */
/* version: what --version prints, wsc's version and those of the libraries
 * it runs with (as curl -V does), so that a bug report says what was in use.
 * Runtime versions where the library tells them; libedit's as built. */
#ifndef WSC_VERSION_H
#define WSC_VERSION_H

#include <stddef.h>
#include <stdio.h>

/* "wsc 0.1.0 OpenSSL/3.0.17 zlib/1.2.13 libedit/3.1 nghttp2/1.52.0", no newline. */
void version_line(char *out, size_t outlen);
/* The line and a newline on f. */
void version_print(FILE *f);

#endif
