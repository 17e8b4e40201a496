/* SPDX-License-Identifier: MIT */
/* handshake: the opening handshakes of RFC 6455 section 4, both roles:
 * building the client request and checking every rule of the server's
 * answer (4.1), checking a client request and building the answer (4.2).
 * Version 13 and the older 8 (hybi-08), subprotocols, permessage-deflate
 * negotiation, redirects and 426 version retries. The same checks over
 * HTTP/2 (RFC 8441): the extended CONNECT's header list and its 200 answer.
 * No I/O; nonces come from the caller. */
#ifndef WSC_HANDSHAKE_H
#define WSC_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "deflate.h"
#include "http.h"
#include "url.h"

#define HS_KEY_LEN 24    /* base64 of 16 bytes */
#define HS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */
#define HS_MAX_AUTH 4096 /* longest user:password for Basic auth (a header line is 8 KiB) */

struct hs_client {
    const struct url *url;
    unsigned version;                /* 13 or 8 */
    const char *origin;              /* NULL: none */
    const char *const *subprotocols; /* offered, in order */
    size_t num_subprotocols;
    const char *const *headers;      /* extra "Name: value" lines */
    size_t num_headers;
    const char *auth;                /* "user:pass" for Basic auth; NULL: none */
    bool offer_deflate;
    char key[HS_KEY_LEN + 1];
};

enum hs_outcome {
    HS_ACCEPTED,      /* 101 and every check passed */
    HS_REDIRECT,      /* 3xx with a Location */
    HS_RETRY_VERSION, /* 426 naming a version we speak */
    HS_REFUSED,       /* anything else; error says why */
    HS_NO_H2,         /* HTTP/2 without extended CONNECT: HTTP/1.1 may work */
};

struct hs_result {
    enum hs_outcome outcome;
    int status;
    char subprotocol[128];
    bool has_deflate;
    struct ws_deflate_params deflate;
    char location[4096];
    unsigned retry_version;
    char error[512];
};

/* Sets c->key from 16 random bytes. */
void hs_client_set_key(struct hs_client *c, const uint8_t nonce[16]);
int hs_build_request(const struct hs_client *c, struct buf *out);
/* Judges the server's response head. Returns 0 when accepted, -1 otherwise
 * (r->outcome says what to do). */
int hs_check_response(const struct hs_client *c, const struct http_head *h, struct hs_result *r);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)). */
void hs_accept_for_key(const char *key, size_t len, char out[HS_ACCEPT_LEN + 1]);

struct hs_server {
    const char *const *subprotocols; /* accepted, in preference order */
    size_t num_subprotocols;
    bool allow_deflate;
};

struct hs_server_result {
    int status;        /* 101, or the error status to answer with */
    unsigned version;
    char accept[HS_ACCEPT_LEN + 1];
    char subprotocol[128];
    bool has_deflate;
    struct ws_deflate_params deflate;
    char extensions[256]; /* Sec-WebSocket-Extensions answer */
    char error[256];
};

/* Checks a client's request (RFC 6455 4.2.1). Returns 0 when it can be
 * accepted, -1 with r->status and r->error set otherwise. */
int hs_check_request(const struct hs_server *s, const struct http_head *h,
                     struct hs_server_result *r);
/* The 101 answer, or the error answer for r->status. */
int hs_build_response(const struct hs_server_result *r, struct buf *out);

/* The request carries exactly these Basic credentials ("user:pass"),
 * compared in constant time. */
bool hs_has_basic_auth(const struct http_head *h, const char *credentials);
/* A request with no Origin (not a browser), an Origin listed in allowed
 * ("*": any), or one whose host and port are the Host header's (the same
 * site). Anything else is a cross-site request. */
bool hs_origin_allowed(const struct http_head *h, const char *const *allowed, size_t num_allowed,
                       bool is_tls);

/* ---- HTTP/2 (RFC 8441) ----
 * Over HTTP/2 a handshake is a header list, not a head of text: the HTTP/2
 * layer hands the peer's list over as a struct http_head whose headers are
 * the fields in order, pseudo-headers included (":status", ":method", ...),
 * with status, method and target filled from them. There is no
 * Sec-WebSocket-Key or Accept: the :protocol pseudo-header replaces them. */

#define HS_FIELDS_MAX (HTTP_MAX_HEADERS + 8)

/* A header list to send: names in lowercase (RFC 9113 8.2), pseudo-headers
 * first. The names and values point into store. */
struct hs_fields {
    struct http_header fields[HS_FIELDS_MAX];
    size_t num;
    char store[HTTP_MAX_HEAD];
    size_t used;
};

/* The extended CONNECT for c (RFC 8441 4 and 5): :method CONNECT,
 * :protocol websocket, :scheme, :path, :authority, then the same headers
 * as over HTTP/1.1 less the connection-specific ones (RFC 9113 8.2.2);
 * -H Host: becomes :authority. Returns -1 when it does not fit or an extra
 * header is not "Name: value". */
int hs_build_request_h2(const struct hs_client *c, struct hs_fields *out);
/* Judges the answer (RFC 8441 5: 200 accepts). Returns 0 when accepted, -1
 * otherwise with r->outcome and r->error set as for HTTP/1.1. */
int hs_check_response_h2(const struct hs_client *c, const struct http_head *h,
                         struct hs_result *r);
/* Checks an extended CONNECT (RFC 8441 4 and 5). Returns 0 when it can be
 * accepted (r->status 200), -1 with r->status and r->error otherwise. */
int hs_check_request_h2(const struct hs_server *s, const struct http_head *h,
                        struct hs_server_result *r);
/* The answer's header list: :status and, for 200, the chosen subprotocol
 * and extensions; an error answer's body is r->error. */
int hs_build_response_h2(const struct hs_server_result *r, struct hs_fields *out);
/* Appends a field, its name lowercased (RFC 9113 8.2: uppercase names are
 * malformed over HTTP/2). -1 when it does not fit. */
int hs_fields_add(struct hs_fields *f, const char *name, size_t name_len, const char *value,
                  size_t value_len);
/* A received list as the head the checks above read: headers are the
 * fields, status from :status (three digits), method and target from
 * :method and :path. -1 when it has too many fields or a bad :status. */
int hs_fields_to_head(const struct hs_fields *f, struct http_head *h);
/* Fields as "name: value" lines, for -v. */
int hs_fields_format(const struct http_header *fields, size_t num, struct buf *out);

/* Base64 of n bytes into out (4 * ceil(n / 3) + 1 bytes). */
void hs_base64(const uint8_t *p, size_t n, char *out);

#endif
