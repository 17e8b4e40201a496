/* SPDX-License-Identifier: MIT */
#include "http.h"

#include <string.h>
#include <strings.h>

static bool is_tchar(unsigned char c)
{
    /* RFC 9110 5.6.2 token characters */
    if (c >= '0' && c <= '9')
        return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Finds the end of the head: returns its length including the blank line,
 * 0 if it has not arrived yet. Bare LF line ends are accepted, as most
 * servers and clients do. */
static size_t head_length(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Returns the length of the line at p (without its end) and sets *next. */
static size_t line_at(const char *p, const char *end, const char **next)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        nl = end;
    *next = nl < end ? nl + 1 : end;
    size_t n = (size_t)(nl - p);
    if (n && p[n - 1] == '\r')
        n--;
    return n;
}

static int parse_version(const char *p, size_t n, int *minor)
{
    if (n != 8 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9')
        return -1;
    *minor = p[7] - '0';
    return 0;
}

/* Returns 0, HTTP_MALFORMED (-1) or HTTP_TOO_LARGE. */
static int parse_headers(const char *p, const char *end, struct http_head *h)
{
    h->num_headers = 0;
    while (p < end) {
        const char *next;
        size_t n = line_at(p, end, &next);
        if (n == 0)
            return 0;
        /* RFC 9112 5.2: obsolete line folding is rejected */
        if (is_blank(p[0]))
            return HTTP_MALFORMED;
        const char *colon = memchr(p, ':', n);
        if (!colon || colon == p)
            return HTTP_MALFORMED;
        for (const char *q = p; q < colon; q++)
            if (!is_tchar((unsigned char)*q))
                return HTTP_MALFORMED;
        if (h->num_headers == HTTP_MAX_HEADERS)
            return HTTP_TOO_LARGE; /* RFC 6585 5: too many fields is "too large" */
        const char *v = colon + 1, *ve = p + n;
        while (v < ve && is_blank(*v))
            v++;
        while (ve > v && is_blank(ve[-1]))
            ve--;
        for (const char *q = v; q < ve; q++)
            if ((unsigned char)*q < 0x20 && *q != '\t')
                return HTTP_MALFORMED;
        struct http_header *hd = &h->headers[h->num_headers++];
        hd->name = p;
        hd->name_len = (size_t)(colon - p);
        hd->value = v;
        hd->value_len = (size_t)(ve - v);
        p = next;
    }
    return 0;
}

/* Returns 1 with *head set when the head is complete within max bytes, or
 * HTTP_INCOMPLETE or HTTP_TOO_LARGE. */
static int head_bounds(const char *buf, size_t len, size_t max, size_t *head)
{
    size_t scan = len < max ? len : max;
    *head = head_length(buf, scan);
    if (*head)
        return 1;
    return len >= max ? HTTP_TOO_LARGE : HTTP_INCOMPLETE;
}

int http_parse_response(const char *buf, size_t len, size_t max, struct http_head *h)
{
    size_t head;
    int r = head_bounds(buf, len, max, &head);
    if (r != 1)
        return r;
    memset(h, 0, sizeof(*h));
    const char *end = buf + head, *next;
    size_t n = line_at(buf, end, &next);
    /* HTTP/1.1 SP 3DIGIT SP reason */
    if (n < 12 || parse_version(buf, 8, &h->minor_version) != 0 || buf[8] != ' ')
        return HTTP_MALFORMED;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return HTTP_MALFORMED;
        h->status = h->status * 10 + (buf[i] - '0');
    }
    if (n > 12 && buf[12] != ' ')
        return HTTP_MALFORMED;
    h->reason = n > 13 ? buf + 13 : buf + n;
    h->reason_len = n > 13 ? n - 13 : 0;
    r = parse_headers(next, end, h);
    if (r != 0)
        return r;
    return (int)head;
}

int http_parse_request(const char *buf, size_t len, size_t max, struct http_head *h)
{
    size_t head;
    int r = head_bounds(buf, len, max, &head);
    if (r != 1)
        return r;
    memset(h, 0, sizeof(*h));
    const char *end = buf + head, *next;
    size_t n = line_at(buf, end, &next);
    const char *sp1 = memchr(buf, ' ', n);
    if (!sp1 || sp1 == buf)
        return HTTP_MALFORMED;
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(buf + n - sp1 - 1));
    if (!sp2 || sp2 == sp1 + 1)
        return HTTP_MALFORMED;
    for (const char *q = buf; q < sp1; q++)
        if (!is_tchar((unsigned char)*q))
            return HTTP_MALFORMED;
    for (const char *q = sp1 + 1; q < sp2; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7F)
            return HTTP_MALFORMED;
    h->method = buf;
    h->method_len = (size_t)(sp1 - buf);
    h->target = sp1 + 1;
    h->target_len = (size_t)(sp2 - sp1 - 1);
    if (parse_version(sp2 + 1, (size_t)(buf + n - sp2 - 1), &h->minor_version) != 0)
        return HTTP_MALFORMED;
    r = parse_headers(next, end, h);
    if (r != 0)
        return r;
    return (int)head;
}

bool http_equals(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

const struct http_header *http_find_header(const struct http_head *h, const char *name)
{
    for (size_t i = 0; i < h->num_headers; i++)
        if (http_equals(h->headers[i].name, h->headers[i].name_len, name))
            return &h->headers[i];
    return NULL;
}

size_t http_count_header(const struct http_head *h, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < h->num_headers; i++)
        if (http_equals(h->headers[i].name, h->headers[i].name_len, name))
            n++;
    return n;
}

bool http_has_token(const char *value, size_t len, const char *token)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (is_blank(value[i]) || value[i] == ','))
            i++;
        size_t start = i;
        while (i < len && value[i] != ',')
            i++;
        size_t end = i;
        while (end > start && is_blank(value[end - 1]))
            end--;
        if (end > start && http_equals(value + start, end - start, token))
            return true;
    }
    return false;
}

const char *http_status_text(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "";
    }
}
