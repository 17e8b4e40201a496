/* SPDX-License-Identifier: MIT */
/* http: a size-bounded HTTP/1.1 message head parser and a few helpers for
 * header values, in the manner of picohttpparser: it takes a buffer and a
 * length, reports complete / need more / error, points into the caller's
 * buffer and never allocates. No I/O. */
#ifndef WSC_HTTP_H
#define WSC_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_HEAD 16384

enum http_parse_result {
    HTTP_INCOMPLETE = 0,
    HTTP_MALFORMED = -1,
    HTTP_TOO_LARGE = -2,
};

struct http_header {
    const char *name;
    size_t name_len;
    const char *value; /* leading and trailing blanks removed */
    size_t value_len;
};

struct http_head {
    /* response: version, status, reason; request: method, target, version */
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    int minor_version;
    int status;
    const char *reason;
    size_t reason_len;
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t num_headers;
};

/* Parse a response or request head from buf[0, len). Returns the length of
 * the head (through the blank line) when complete, or an http_parse_result.
 * Heads longer than max bytes are HTTP_TOO_LARGE. */
int http_parse_response(const char *buf, size_t len, size_t max, struct http_head *h);
int http_parse_request(const char *buf, size_t len, size_t max, struct http_head *h);

/* The first header with this name (case-insensitive), or NULL. */
const struct http_header *http_find_header(const struct http_head *h, const char *name);
/* How many headers have this name. */
size_t http_count_header(const struct http_head *h, const char *name);
/* True when the comma-separated value holds the token (case-insensitive). */
bool http_has_token(const char *value, size_t len, const char *token);
/* Case-insensitive comparison of a counted string with a C string. */
bool http_equals(const char *s, size_t len, const char *lit);
const char *http_status_text(int status);

#endif
