/* SPDX-License-Identifier: MIT */
/* url: WebSocket URLs (RFC 6455 3) with the schemes users type: ws, wss,
 * http and https (mapped to ws and wss), ws+unix for Unix sockets, and a
 * missing scheme taken as ws. Parsing only; no name resolution. */
#ifndef WSC_URL_H
#define WSC_URL_H

#include <stdbool.h>
#include <stddef.h>

struct url {
    bool is_tls;
    bool is_unix;
    char host[256];      /* without brackets for IPv6 literals */
    bool is_ipv6;
    unsigned port;
    bool has_port;       /* written explicitly in the URL */
    char path[4096];     /* path and query, always starting with '/' */
    char userinfo[256];  /* user[:password], percent-decoded; empty if none */
    char unix_path[108]; /* socket path for ws+unix */
};

/* Returns 0, or -1 with a one-line reason in err that quotes s whole, as
 * url_redact shows it: "missing host in URL \"ws://\"". */
int url_parse(const char *s, struct url *u, char *err, size_t errlen);
/* The same, naming s as what ("proxy URL") in the reason. */
int url_parse_named(const char *s, const char *what, struct url *u, char *err, size_t errlen);
/* Resolves a redirect's Location against base (RFC 3986 5.2, as needed for
 * absolute, scheme-relative, absolute-path and relative references); an
 * error quotes location as the server sent it ("... in Location \"//h:0/\""). */
int url_resolve(const struct url *base, const char *location, struct url *out, char *err,
                size_t errlen);
/* The Host header value: host, [v6] and :port unless it is the default. */
void url_host_header(const struct url *u, char *out, size_t outlen);
/* ws://host:port/path form, without userinfo, for messages. */
void url_format(const struct url *u, char *out, size_t outlen);
/* s as given, for a message: the user info's password replaced by "***",
 * control characters written \xNN, and cut with "..." if out is short
 * (never inside the mask or an escape). Works on strings that do not parse. */
void url_redact(const char *s, char *out, size_t outlen);

#endif
