/* SPDX-License-Identifier: MIT */
#include "options.h"

#include "core/url.h"
#include "ui/version.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/stat.h>

#include "expect.h"

enum {
    OPT_HELP = 256, OPT_VERSION, OPT_BIND, OPT_ECHO, OPT_MAX_MESSAGE, OPT_TRACE,
    OPT_NO_DEFLATE, OPT_CHUNK, OPT_BINARY_FORMAT, OPT_NO_INTERACTIVE, OPT_CONNECT_TIMEOUT,
    OPT_HANDSHAKE_TIMEOUT, OPT_CLOSE_TIMEOUT, OPT_CA, OPT_CERT, OPT_KEY, OPT_PASSPHRASE,
    OPT_AUTH, OPT_MAX_REDIRECTS, OPT_PROXY, OPT_PING_INTERVAL, OPT_PING_TIMEOUT, OPT_RECONNECT,
    OPT_JSONL, OPT_PRETTY, OPT_COLOR, OPT_NO_COLOR, OPT_MAX_CLIENTS,
    OPT_PASSENV, OPT_FORWARD, OPT_TCP_LISTEN, OPT_UNIX_LISTEN, OPT_ALLOW_ORIGIN,
    OPT_UNTIL, OPT_COUNT, OPT_TIMEOUT, OPT_RECORD, OPT_RECORD_SECRETS, OPT_REPLAY,
    OPT_REPLAY_SPEED, OPT_REPLAY_CLIENT, OPT_STRICT, OPT_TO,
    OPT_HTTP2, OPT_HTTP2_PRIOR, OPT_HTTP11,
};

struct option_spec {
    const char *name;
    int key;        /* short letter or OPT_ value */
    const char *arg; /* NULL: no argument */
    const char *help;
};

static const struct option_spec specs[] = {
    {"connect", 'c', "URL", "connect to URL (the URL may also be given alone)"},
    {"listen", 'l', "PORT", "listen on PORT (0: any free port) and play the server side"},
    {"bind", OPT_BIND, "ADDR", "address to listen on (default 127.0.0.1)"},
    {"max-clients", OPT_MAX_CLIENTS, "N", "listening, serve at most N clients at once (default 64)"},
    {"header", 'H', "'NAME: VALUE'", "add a request header (repeatable)"},
    {"origin", 'o', "ORIGIN", "send an Origin header"},
    {"subprotocol", 's', "NAME", "offer (or, listening, accept) a subprotocol (repeatable)"},
    {"protocol-version", 'p', "N", "WebSocket version to offer: 13 (default) or 8"},
    {"auth", OPT_AUTH, "USER:PASS", "HTTP Basic authentication (also taken from the URL)"},
    {"location", 'L', NULL, "follow 3xx redirects"},
    {"max-redirects", OPT_MAX_REDIRECTS, "N", "follow at most N redirects (default 10)"},
    {"proxy", OPT_PROXY, "URL", "connect through an HTTP proxy (CONNECT)"},
    {"connect-timeout", OPT_CONNECT_TIMEOUT, "SEC", "give up connecting after SEC (default 10)"},
    {"handshake-timeout", OPT_HANDSHAKE_TIMEOUT, "SEC",
     "give up the opening handshake after SEC (default 10)"},
    {"close-timeout", OPT_CLOSE_TIMEOUT, "SEC",
     "wait at most SEC for the peer's close reply (default 5)"},
    {"ipv4", '4', NULL, "use IPv4 only"},
    {"ipv6", '6', NULL, "use IPv6 only"},
    {"insecure", 'k', NULL, "do not verify the server's certificate"},
    {"no-check", 'n', NULL, "the same as --insecure"},
    {"ca", OPT_CA, "FILE", "trust the CA certificates in FILE instead of the system's"},
    {"cert", OPT_CERT, "FILE", "client certificate (listening: the server's certificate)"},
    {"key", OPT_KEY, "FILE", "private key for --cert"},
    {"passphrase", OPT_PASSPHRASE, "P", "passphrase of the private key"},
    {"http2", OPT_HTTP2, NULL,
     "wss://: offer HTTP/2 by ALPN; WebSockets over it when allowed (RFC 8441)"},
    {"http2-prior-knowledge", OPT_HTTP2_PRIOR, NULL,
     "ws://: speak HTTP/2 over cleartext at once (h2c)"},
    {"http1.1", OPT_HTTP11, NULL, "HTTP/1.1 only (the default)"},
    {"no-deflate", OPT_NO_DEFLATE, NULL, "do not offer permessage-deflate"},
    {"max-message", OPT_MAX_MESSAGE, "BYTES",
     "largest incoming message (default 268435456; 0: no limit)"},
    {"ping-interval", OPT_PING_INTERVAL, "SEC", "send a ping every SEC seconds"},
    {"ping-timeout", OPT_PING_TIMEOUT, "SEC",
     "with --ping-interval, close when no pong comes within SEC (default 10)"},
    {"reconnect", OPT_RECONNECT, "[N]",
     "after an abnormal close, reconnect with backoff (N tries; default unbounded)"},
    {"exec", 'e', "CMD", "join the WebSocket to a process, /bin/sh -c CMD (listening: one per client)"},
    {"passenv", OPT_PASSENV, "NAME", "with --exec, also pass NAME from the environment (repeatable)"},
    {"forward", OPT_FORWARD, "HOST:PORT",
     "listening, join each client to its own TCP connection (or unix:PATH)"},
    {"tcp-listen", OPT_TCP_LISTEN, "[ADDR:]PORT",
     "accept local TCP clients, each joined to its own WebSocket to URL"},
    {"unix-listen", OPT_UNIX_LISTEN, "PATH", "the same as --tcp-listen on a Unix socket"},
    {"allow-origin", OPT_ALLOW_ORIGIN, "ORIGIN",
     "with --exec or --forward, accept this cross-site Origin (repeatable; * for any)"},
    {"execute", 'x', "MSG", "send MSG after connecting, before stdin (repeatable)"},
    {"wait", 'w', "SEC", "after stdin ends, keep receiving for SEC (-1: until the peer closes)"},
    {"one", '1', NULL, "send at most one message, print the first one received, close"},
    {"echo", OPT_ECHO, NULL, "answer every message with an identical one"},
    {"binary", 'b', NULL, "stdin is raw bytes, sent as binary messages"},
    {"chunk", OPT_CHUNK, "BYTES", "with -b, bytes per message (default 65536)"},
    {"null", '0', NULL, "stdin holds NUL-terminated records instead of lines"},
    {"binary-format", OPT_BINARY_FORMAT, "FMT",
     "show binary messages as hex, base64 or raw (default: hex on a terminal, raw otherwise)"},
    {"show-ping-pong", 'P', NULL, "show pings and pongs"},
    {"timestamps", 'T', NULL, "prefix each message with the time"},
    {"until", OPT_UNTIL, "REGEX",
     "receive until a message matches REGEX (POSIX ERE; binary as hex), then close"},
    {"count", OPT_COUNT, "N", "stop after N messages received, then close"},
    {"timeout", OPT_TIMEOUT, "SEC", "end the whole run after SEC (exit 7 if unfinished)"},
    {"script", 'f', "FILE", "run FILE's lines as if typed at the console ('-': stdin)"},
    {"record", OPT_RECORD, "FILE", "record every message both ways as JSON lines in FILE"},
    {"record-secrets", OPT_RECORD_SECRETS, NULL,
     "with --record, keep Authorization and Cookie values"},
    {"replay", OPT_REPLAY, "FILE", "play one side of a recording (listening: the server's)"},
    {"replay-speed", OPT_REPLAY_SPEED, "X", "divide the recorded gaps by X (0: no gaps)"},
    {"replay-client", OPT_REPLAY_CLIENT, "ID", "replay the recorded client ID's conversation"},
    {"strict", OPT_STRICT, NULL, "with --replay, a difference from the recording exits 7"},
    {"to", OPT_TO, "URL", "listening, relay each client to its own connection to URL"},
    {"jsonl", OPT_JSONL, NULL, "print one JSON object per event"},
    {"pretty", OPT_PRETTY, NULL, "pretty-print JSON text messages"},
    {"color", OPT_COLOR, "WHEN", "colour: auto (on a terminal), always or never"},
    {"no-color", OPT_NO_COLOR, NULL, "the same as --color never"},
    {"interactive", 'i', NULL, "interactive mode even when stdin is not a terminal"},
    {"no-interactive", OPT_NO_INTERACTIVE, NULL, "pipe mode even on a terminal"},
    {"verbose", 'v', NULL, "show the handshake and negotiated options on stderr"},
    {"trace", OPT_TRACE, NULL, "show every frame both ways on stderr"},
    {"quiet", 'q', NULL, "print nothing on stderr but errors"},
    {"help", OPT_HELP, NULL, "show this help"},
    {"version", OPT_VERSION, NULL, "show the version"},
};
#define NUM_SPECS (sizeof(specs) / sizeof(specs[0]))

/* "[N]": the whole argument is optional ("[ADDR:]PORT" is not). */
static bool is_optional_arg(const struct option_spec *s)
{
    size_t n = s->arg ? strlen(s->arg) : 0;
    return n >= 2 && s->arg[0] == '[' && s->arg[n - 1] == ']';
}

static void print_help(void)
{
    printf("Usage: wsc [options] URL\n"
           "       wsc [options] -l PORT\n"
           "A WebSocket client (and server) for terminals and pipelines.\n\n");
    for (size_t i = 0; i < NUM_SPECS; i++) {
        const struct option_spec *s = &specs[i];
        char left[64];
        char shortname[8] = "    ";
        if (s->key < 256)
            snprintf(shortname, sizeof(shortname), "-%c, ", s->key);
        bool is_optional = is_optional_arg(s);
        snprintf(left, sizeof(left), "%s--%s%s%s", shortname, s->name,
                 s->arg && !is_optional ? " " : is_optional ? "=" : "", s->arg ? s->arg : "");
        printf("  %-32s %s\n", left, s->help);
    }
    printf("\nExit status: 0 normal close, 1 error, 2 usage, 3 cannot connect,\n"
           "4 handshake refused, 5 protocol error by the peer, 6 the peer closed\n"
           "with a code other than 1000 or 1001, 7 an expectation not met\n"
           "(--until, --count, --timeout, /expect, --strict). See wsc(1).\n");
}

static int usage(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    snprintf(err, errlen, fmt, a, b);
    return OPTIONS_USAGE;
}

static int parse_seconds(const char *s, double *out, bool allow_negative)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || isnan(v) || isinf(v) || (v < 0 && !(allow_negative && v == -1)))
        return -1;
    *out = v;
    return 0;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '+')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int add_list(const char **list, size_t *n, const char *v)
{
    if (*n == OPT_MAX_LIST)
        return -1;
    list[(*n)++] = v;
    return 0;
}

/* HOST:PORT, [V6]:PORT or (when has_default_host) PORT alone. */
static int parse_host_port(const char *arg, bool has_default_host, char *host, size_t hostlen,
                           unsigned *port)
{
    const char *colon = strrchr(arg, ':');
    const char *p = colon ? colon + 1 : arg;
    size_t hlen = colon ? (size_t)(colon - arg) : 0;
    const char *h = arg;
    if (hlen >= 2 && arg[0] == '[' && arg[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    uint64_t u;
    if (parse_uint(p, 65535, &u) || u == 0 || hlen >= hostlen || (!colon && !has_default_host) ||
        (colon && hlen == 0) || memchr(h, '[', hlen) || memchr(h, ']', hlen))
        return -1;
    if (colon)
        snprintf(host, hostlen, "%.*s", (int)hlen, h);
    *port = (unsigned)u;
    return 0;
}

static enum options_result apply(struct options *o, int key, const char *arg,
                                 const char *name, char *err, size_t errlen)
{
    uint64_t u;
    switch (key) {
    case 'c':
        o->url = arg;
        break;
    case 'l':
        if (parse_uint(arg, 65535, &u))
            return usage(err, errlen, "--%s: bad port '%s' (0-65535)", name, arg);
        o->listen_port = (unsigned)u;
        o->is_listen = true;
        break;
    case OPT_BIND: o->bind = arg; break;
    case OPT_MAX_CLIENTS:
        /* main.c holds it to the limit of open descriptors */
        if (parse_uint(arg, UINT_MAX, &u) || u == 0)
            return usage(err, errlen, "--%s: bad number '%s' (1 or more)", name, arg);
        o->max_clients = (unsigned)u;
        o->has_max_clients = true;
        break;
    case 'H':
        if (!strchr(arg, ':') || arg[0] == ':' || strpbrk(arg, "\r\n"))
            return usage(err, errlen, "--%s: expected 'Name: value', got '%s'", name, arg);
        if (add_list(o->headers, &o->num_headers, arg))
            return usage(err, errlen, "--%s: too many%s", name, "");
        break;
    case 'o': o->origin = arg; break;
    case 's':
        if (!*arg || strpbrk(arg, " ,\t\r\n"))
            return usage(err, errlen, "--%s: bad subprotocol name '%s'", name, arg);
        if (add_list(o->subprotocols, &o->num_subprotocols, arg))
            return usage(err, errlen, "--%s: too many%s", name, "");
        break;
    case 'p':
        if (strcmp(arg, "13") && strcmp(arg, "8"))
            return usage(err, errlen, "--%s: version '%s' is not 13 or 8", name, arg);
        o->version = (unsigned)atoi(arg);
        break;
    case OPT_CONNECT_TIMEOUT:
    case OPT_HANDSHAKE_TIMEOUT:
    case OPT_CLOSE_TIMEOUT: {
        double v;
        if (parse_seconds(arg, &v, false))
            return usage(err, errlen, "--%s: bad number of seconds '%s'", name, arg);
        *(key == OPT_CONNECT_TIMEOUT     ? &o->connect_timeout
          : key == OPT_HANDSHAKE_TIMEOUT ? &o->handshake_timeout
                                         : &o->close_timeout) = v;
        break;
    }
    case '4': o->family = 4; break;
    case '6': o->family = 6; break;
    case OPT_NO_DEFLATE: o->no_deflate = true; break;
    case OPT_HTTP2: o->http = HTTP_2; break;
    case OPT_HTTP2_PRIOR: o->http = HTTP_2_PRIOR; break;
    case OPT_HTTP11: o->http = HTTP_1_1; break;
    case 'k':
    case 'n': o->is_insecure = true; break;
    case OPT_CA: o->ca_file = arg; break;
    case OPT_CERT: o->cert_file = arg; break;
    case OPT_KEY: o->key_file = arg; break;
    case OPT_PASSPHRASE: o->passphrase = arg; break;
    case OPT_MAX_MESSAGE:
        if (parse_uint(arg, UINT64_MAX, &u))
            return usage(err, errlen, "--%s: bad size '%s'", name, arg);
        o->max_message = u;
        break;
    case 'x':
        if (add_list(o->execute, &o->num_execute, arg))
            return usage(err, errlen, "--%s: too many%s", name, "");
        break;
    case 'w':
        if (parse_seconds(arg, &o->wait, true))
            return usage(err, errlen, "--%s: bad number of seconds '%s' (or -1)", name, arg);
        o->has_wait = true;
        break;
    case 'e':
        if (!arg[strspn(arg, " \t\n")]) /* sh -c '' would end every connection at once */
            return usage(err, errlen, "--%s: empty command%s", name, "");
        o->exec_cmd = arg;
        break;
    case OPT_PASSENV:
        if (!*arg || strchr(arg, '='))
            return usage(err, errlen, "--%s: bad variable name '%s'", name, arg);
        if (add_list(o->passenv, &o->num_passenv, arg))
            return usage(err, errlen, "--%s: too many%s", name, "");
        break;
    case OPT_FORWARD:
        o->forward = arg;
        o->forward_is_unix = !strncmp(arg, "unix:", 5);
        if (o->forward_is_unix) {
            if (!arg[5] || strlen(arg + 5) >= sizeof(o->forward_host))
                return usage(err, errlen, "--%s: bad socket path in '%s'", name, arg);
            snprintf(o->forward_host, sizeof(o->forward_host), "%s", arg + 5);
        } else if (parse_host_port(arg, false, o->forward_host, sizeof(o->forward_host),
                                   &o->forward_port)) {
            return usage(err, errlen, "--%s: expected HOST:PORT or unix:PATH, got '%s'", name,
                         arg);
        }
        break;
    case OPT_TCP_LISTEN:
        if (o->has_tcp_listen && o->tcp_listen_is_unix)
            return usage(err, errlen, "--%s cannot be combined with --unix-listen%s", name, "");
        o->has_tcp_listen = true;
        o->tcp_listen_is_unix = false;
        snprintf(o->tcp_listen_addr, sizeof(o->tcp_listen_addr), "127.0.0.1");
        if (parse_host_port(arg, true, o->tcp_listen_addr, sizeof(o->tcp_listen_addr),
                            &o->tcp_listen_port))
            return usage(err, errlen, "--%s: expected [ADDR:]PORT, got '%s'", name, arg);
        break;
    case OPT_UNIX_LISTEN:
        if (!*arg || strlen(arg) >= sizeof(o->tcp_listen_addr))
            return usage(err, errlen, "--%s: bad socket path '%s'", name, arg);
        if (o->has_tcp_listen && !o->tcp_listen_is_unix)
            return usage(err, errlen, "--%s cannot be combined with --tcp-listen%s", name, "");
        o->has_tcp_listen = true;
        o->tcp_listen_is_unix = true;
        snprintf(o->tcp_listen_addr, sizeof(o->tcp_listen_addr), "%s", arg);
        break;
    case OPT_ALLOW_ORIGIN:
        if (!*arg)
            return usage(err, errlen, "--%s: empty origin%s", name, "");
        if (add_list(o->allow_origins, &o->num_allow_origins, arg))
            return usage(err, errlen, "--%s: too many%s", name, "");
        break;
    case '1': o->is_one = true; break;
    case OPT_ECHO: o->is_echo = true; break;
    case 'b': o->input = INPUT_BINARY; break;
    case '0': o->input = INPUT_NUL; break;
    case OPT_CHUNK:
        if (parse_uint(arg, SIZE_MAX / 2, &u) || u == 0)
            return usage(err, errlen, "--%s: bad size '%s'", name, arg);
        o->chunk = (size_t)u;
        o->has_chunk = true;
        break;
    case OPT_BINARY_FORMAT:
        if (!strcmp(arg, "hex"))
            o->binary_format = BIN_HEX;
        else if (!strcmp(arg, "base64"))
            o->binary_format = BIN_BASE64;
        else if (!strcmp(arg, "raw"))
            o->binary_format = BIN_RAW;
        else
            return usage(err, errlen, "--%s: '%s' is not hex, base64 or raw", name, arg);
        break;
    case 'P': o->show_ping_pong = true; break;
    case 'T': o->has_timestamps = true; break;
    case OPT_JSONL: o->is_jsonl = true; break;
    case OPT_PRETTY: o->is_pretty = true; break;
    case OPT_COLOR:
        if (!strcmp(arg, "auto"))
            o->color = TRI_AUTO;
        else if (!strcmp(arg, "always"))
            o->color = TRI_YES;
        else if (!strcmp(arg, "never"))
            o->color = TRI_NO;
        else
            return usage(err, errlen, "--%s: '%s' is not auto, always or never", name, arg);
        break;
    case OPT_NO_COLOR: o->color = TRI_NO; break;
    case OPT_AUTH:
        if (!strchr(arg, ':'))
            return usage(err, errlen, "--%s: expected USER:PASS, got '%s'", name, arg);
        o->auth = arg;
        break;
    case 'L': o->follow_redirects = true; break;
    case OPT_MAX_REDIRECTS:
        if (parse_uint(arg, 1000, &u))
            return usage(err, errlen, "--%s: bad number '%s'", name, arg);
        o->max_redirects = (unsigned)u;
        break;
    case OPT_PROXY: o->proxy = arg; break;
    case OPT_PING_INTERVAL:
    case OPT_PING_TIMEOUT: {
        double v;
        if (parse_seconds(arg, &v, false) || v == 0)
            return usage(err, errlen, "--%s: bad number of seconds '%s'", name, arg);
        *(key == OPT_PING_INTERVAL ? &o->ping_interval : &o->ping_timeout) = v;
        break;
    }
    case OPT_RECONNECT:
        o->has_reconnect = true;
        if (arg && (parse_uint(arg, 1000000, &u) || u == 0))
            return usage(err, errlen, "--%s: bad number of tries '%s'", name, arg);
        o->reconnect_tries = arg ? (unsigned)u : 0;
        break;
    case OPT_UNTIL: {
        struct expect_pattern pat;
        char why[300];
        if (expect_pattern_compile(&pat, arg, strlen(arg), why, sizeof(why)) != 0)
            return usage(err, errlen, "--%s: %s", name, why);
        expect_pattern_free(&pat);
        o->until = arg;
        break;
    }
    case OPT_COUNT:
        if (parse_uint(arg, UINT64_MAX, &u) || u == 0)
            return usage(err, errlen, "--%s: bad number '%s'", name, arg);
        o->count = u;
        break;
    case OPT_TIMEOUT:
        if (parse_seconds(arg, &o->timeout, false) || o->timeout == 0)
            return usage(err, errlen, "--%s: bad number of seconds '%s'", name, arg);
        break;
    case 'f': o->script = arg; break;
    case OPT_RECORD: o->record = arg; break;
    case OPT_RECORD_SECRETS: o->has_record_secrets = true; break;
    case OPT_REPLAY:
        if (!strcmp(arg, "-"))
            return usage(err, errlen, "--%s: a recording is read twice: name a file%s", name, "");
        o->replay = arg;
        break;
    case OPT_REPLAY_SPEED:
        if (parse_seconds(arg, &o->replay_speed, false))
            return usage(err, errlen, "--%s: bad speed '%s' (0: no gaps)", name, arg);
        break;
    case OPT_REPLAY_CLIENT:
        if (parse_uint(arg, UINT32_MAX, &u) || u == 0)
            return usage(err, errlen, "--%s: bad client id '%s'", name, arg);
        o->replay_client = (unsigned)u;
        break;
    case OPT_STRICT: o->is_strict = true; break;
    case OPT_TO: o->to = arg; break;
    case 'i': o->interactive = TRI_YES; break;
    case OPT_NO_INTERACTIVE: o->interactive = TRI_NO; break;
    case 'v': o->verbose++; break;
    case OPT_TRACE: o->is_trace = true; break;
    case 'q': o->is_quiet = true; break;
    case OPT_HELP: print_help(); return OPTIONS_EXIT_OK;
    case OPT_VERSION: version_print(stdout); return OPTIONS_EXIT_OK;
    default: return OPTIONS_USAGE;
    }
    return OPTIONS_RUN;
}

/* A path with its directory resolved, for files that may not exist yet. */
static bool resolve(const char *path, char *out, size_t outlen)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX], real[PATH_MAX];
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (!realpath(dir, real))
        return false;
    snprintf(out, outlen, "%s/%s", real, slash ? slash + 1 : path);
    return true;
}

/* Two names for one file: the same device and inode, or the same path once
 * the directories are resolved (the recording may not exist yet). */
static bool is_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    char ra[2 * PATH_MAX], rb[2 * PATH_MAX];
    if (!strcmp(a, b))
        return true;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    return resolve(a, ra, sizeof(ra)) && resolve(b, rb, sizeof(rb)) && !strcmp(ra, rb);
}

/* The options of scripts, expectations and recordings, together. */
static enum options_result check_expectations(const struct options *o, char *err, size_t errlen)
{
    if (o->is_listen && (o->until || o->count || o->script))
        return usage(err, errlen, "%s is for the client role, not with --listen",
                     o->until ? "--until" : o->count ? "--count" : "--script", "");
    if (o->to && !o->is_listen)
        return usage(err, errlen, "--to relays clients: it needs --listen%s%s", "", "");
    if (o->record && o->replay && is_same_file(o->record, o->replay))
        return usage(err, errlen, "--replay and --record name the same file '%s'%s", o->record,
                     "");
    if (o->has_record_secrets && !o->record)
        return usage(err, errlen, "--record-secrets needs --record%s%s", "", "");
    if (!o->replay && (o->is_strict || o->replay_client || o->replay_speed != 1))
        return usage(err, errlen, "%s needs --replay%s",
                     o->is_strict ? "--strict" : o->replay_client ? "--replay-client"
                                                                  : "--replay-speed",
                     "");
    return OPTIONS_RUN;
}

static const struct option_spec *find_spec(int key)
{
    for (size_t i = 0; i < NUM_SPECS; i++)
        if (specs[i].key == key)
            return &specs[i];
    return NULL;
}

/* The option that chooses the connection's other end (a process, a socket,
 * the echo, a script, a replay, a relay), NULL for stdin and stdout. Two of
 * them are refused by name: the end taken first would silently drop the
 * other. */
static enum options_result check_ends(const struct options *o, const char **end, char *err,
                                      size_t errlen)
{
    const struct {
        const char *name;
        bool is_given;
    } ends[] = {
        {"--exec", o->exec_cmd != NULL},
        {"--forward", o->forward != NULL},
        {o->tcp_listen_is_unix ? "--unix-listen" : "--tcp-listen", o->has_tcp_listen},
        {"--echo", o->is_echo},
        {"--script", o->script != NULL},
        {"--replay", o->replay != NULL},
        {"--to", o->to != NULL},
    };
    *end = NULL;
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        if (!ends[i].is_given)
            continue;
        if (*end)
            return usage(err, errlen, "%s cannot be combined with %s: a connection has one "
                         "other end", *end, ends[i].name);
        *end = ends[i].name;
    }
    return OPTIONS_RUN;
}

/* Options that make no sense together, or only in one role. */
static enum options_result check_combinations(const struct options *o, char *err, size_t errlen)
{
    const char *end;
    if (check_ends(o, &end, err, errlen) != OPTIONS_RUN)
        return OPTIONS_USAGE;
    if (o->forward && !o->is_listen)
        return usage(err, errlen, "--forward is for listen mode (-l PORT)%s%s", "", "");
    if (o->has_tcp_listen && o->is_listen)
        return usage(err, errlen, "%s is for the client role (a URL), not -l%s", end, "");
    if (o->num_allow_origins && !(o->is_listen && (o->exec_cmd || o->forward)))
        return usage(err, errlen, "--allow-origin goes with -l and --exec or --forward%s%s", "",
                     "");
    if (o->num_passenv && !o->exec_cmd)
        return usage(err, errlen, "--passenv goes with --exec%s%s", "", "");
    if (o->is_one && (o->exec_cmd || o->forward || o->has_tcp_listen))
        return usage(err, errlen, "%s cannot be combined with --one%s", end, "");
    return OPTIONS_RUN;
}

enum options_result options_parse(int argc, char **argv, struct options *o, char *err,
                                  size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->version = 13;
    o->chunk = 65536;
    o->max_message = 256u << 20;
    o->connect_timeout = 10;
    o->handshake_timeout = 10;
    o->close_timeout = 5;
    o->max_redirects = 10;
    o->max_clients = 64;
    o->ping_timeout = 10;
    o->replay_speed = 1;

    struct option longopts[NUM_SPECS + 1];
    char shortopts[3 * NUM_SPECS + 2] = "+:";
    size_t k = strlen(shortopts);
    for (size_t i = 0; i < NUM_SPECS; i++) {
        int has_arg = !specs[i].arg           ? no_argument
                      : is_optional_arg(&specs[i]) ? optional_argument
                                               : required_argument;
        longopts[i] = (struct option){specs[i].name, has_arg, NULL, specs[i].key};
        if (specs[i].key < 256) {
            shortopts[k++] = (char)specs[i].key;
            if (specs[i].arg)
                shortopts[k++] = ':';
        }
    }
    shortopts[k] = 0;
    memset(&longopts[NUM_SPECS], 0, sizeof(longopts[0]));

    /* Options may come before or after the URL: collect operands as we go. */
    const char *operands[4];
    size_t num_operands = 0;
    opterr = 0;
    optind = 1;
    while (optind < argc) {
        int key = getopt_long(argc, argv, shortopts, longopts, NULL);
        if (key == -1) {
            if (num_operands == 4) {
                char shown[512];
                url_redact(argv[optind], shown, sizeof(shown));
                return usage(err, errlen, "too many arguments: '%s'%s", shown, "");
            }
            operands[num_operands++] = argv[optind++];
            continue;
        }
        if (key == '?') {
            const char *bad = argv[optind - 1];
            if (optopt && optopt < 256)
                return usage(err, errlen, "unknown option '-%c'%s", (char[]){(char)optopt, 0}, "");
            return usage(err, errlen, "unknown option '%s'%s", bad, "");
        }
        if (key == ':')
            return usage(err, errlen, "option '%s' needs an argument%s", argv[optind - 1], "");
        const struct option_spec *s = find_spec(key);
        enum options_result r = apply(o, key, optarg, s ? s->name : "?", err, errlen);
        if (r != OPTIONS_RUN)
            return r;
    }
    if (num_operands > 1 || (num_operands == 1 && o->url)) {
        /* an extra operand may be a URL with a password too */
        char shown[512];
        url_redact(operands[num_operands - 1], shown, sizeof(shown));
        return usage(err, errlen, "more than one URL: '%s'%s", shown, "");
    }
    if (num_operands == 1)
        o->url = operands[0];
    if (!o->url && !o->is_listen && o->has_tcp_listen)
        return usage(err, errlen, "%s joins local clients to a URL: no URL given%s",
                     o->tcp_listen_is_unix ? "--unix-listen" : "--tcp-listen", "");
    if (!o->url && !o->is_listen)
        return usage(err, errlen, "no URL given (try 'wsc --help')%s%s", "", "");
    if (o->url && o->is_listen)
        return usage(err, errlen, "a URL and --listen cannot be combined%s%s", "", "");
    enum options_result r = check_combinations(o, err, errlen);
    return r == OPTIONS_RUN ? check_expectations(o, err, errlen) : r;
}
