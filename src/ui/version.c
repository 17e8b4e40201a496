/* SPDX-License-Identifier: MIT */
#include "version.h"

#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <string.h>
#include <zlib.h>

#ifndef WSC_LIBEDIT_VERSION
#define WSC_LIBEDIT_VERSION "unknown"
#endif

/* OpenSSL_version gives "OpenSSL 3.0.17 1 Jul 2025" (LibreSSL "LibreSSL
 * 3.8.2"): its first two words, as NAME/VERSION. */
static void openssl_name(char *out, size_t outlen)
{
    const char *s = OpenSSL_version(OPENSSL_VERSION);
    size_t name = strcspn(s, " ");
    const char *v = s + name + strspn(s + name, " ");
    size_t vlen = strcspn(v, " ");
    if (!vlen)
        snprintf(out, outlen, "%s", s);
    else
        snprintf(out, outlen, "%.*s/%.*s", (int)name, s, (int)vlen, v);
}

void version_line(char *out, size_t outlen)
{
    char ssl[64];
    openssl_name(ssl, sizeof(ssl));
    const nghttp2_info *h2 = nghttp2_version(0);
    snprintf(out, outlen, "wsc %s %s zlib/%s libedit/%s nghttp2/%s", PACKAGE_VERSION, ssl,
             zlibVersion(), WSC_LIBEDIT_VERSION, h2 ? h2->version_str : "unknown");
}

void version_print(FILE *f)
{
    char line[256];
    version_line(line, sizeof(line));
    fprintf(f, "%s\n", line);
}
