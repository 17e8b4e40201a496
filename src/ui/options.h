/* SPDX-License-Identifier: MIT */
/* options: the command line. One table holds every option (names, argument,
 * help text); getopt_long's table and --help are both made from it. */
#ifndef WSC_OPTIONS_H
#define WSC_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum binary_format { BIN_AUTO, BIN_HEX, BIN_BASE64, BIN_RAW };
enum input_mode { INPUT_LINES, INPUT_NUL, INPUT_BINARY };
enum tri { TRI_AUTO, TRI_YES, TRI_NO };
/* --http1.1 (the default), --http2 (wss:// by ALPN), --http2-prior-knowledge (h2c) */
enum http_version { HTTP_1_1, HTTP_2, HTTP_2_PRIOR };

#define OPT_MAX_LIST 32

struct options {
    const char *url;
    bool is_listen;
    unsigned listen_port;       /* 0: any free port */
    const char *bind;
    unsigned max_clients;       /* listen mode */
    bool has_max_clients;       /* given on the command line */
    const char *headers[OPT_MAX_LIST];
    size_t num_headers;
    const char *origin;
    const char *subprotocols[OPT_MAX_LIST];
    size_t num_subprotocols;
    unsigned version;
    const char *execute[OPT_MAX_LIST];
    size_t num_execute;
    double wait;                /* seconds after stdin EOF; <0: until the server closes */
    bool has_wait;
    bool is_quiet;
    int verbose;
    bool is_trace;
    bool is_echo;
    bool is_one;
    bool show_ping_pong;
    bool no_deflate;
    enum input_mode input;
    size_t chunk;
    bool has_chunk;             /* --chunk given: -b messages of exactly that size */
    uint64_t max_message;
    enum binary_format binary_format;
    enum tri interactive;
    int family;                 /* 0, 4 or 6 */
    double connect_timeout;
    double handshake_timeout;
    double close_timeout;
    bool is_insecure;
    const char *ca_file;
    const char *cert_file;
    const char *key_file;
    const char *passphrase;
    enum http_version http;     /* listening: HTTP_2 or HTTP_2_PRIOR accept HTTP/2 too */
    /* connection layer */
    const char *auth;           /* --auth USER:PASS */
    bool follow_redirects;      /* -L */
    unsigned max_redirects;
    const char *proxy;          /* --proxy URL; NULL: from the environment */
    /* keepalive and reconnection */
    double ping_interval;       /* 0: off */
    double ping_timeout;
    bool has_reconnect;
    unsigned reconnect_tries;   /* 0: unbounded */
    /* bridges: the local end joined to something else */
    const char *exec_cmd;       /* -e: /bin/sh -c CMD */
    const char *passenv[OPT_MAX_LIST]; /* --passenv: more names for the process */
    size_t num_passenv;
    const char *forward;        /* --forward as given */
    char forward_host[256];     /* its host, or its path with unix: */
    unsigned forward_port;
    bool forward_is_unix;
    const char *allow_origins[OPT_MAX_LIST]; /* --allow-origin */
    size_t num_allow_origins;
    bool has_tcp_listen;        /* --tcp-listen or --unix-listen */
    char tcp_listen_addr[256];  /* its address (127.0.0.1 unless given), or a path */
    unsigned tcp_listen_port;
    bool tcp_listen_is_unix;
    /* output */
    bool is_jsonl;
    bool has_timestamps;
    bool is_pretty;
    enum tri color;
    /* scripts, expectations and recordings */
    const char *until;          /* --until REGEX (checked to compile) */
    uint64_t count;             /* --count N; 0: none */
    double timeout;             /* --timeout SEC; 0: none */
    const char *script;         /* -f FILE; "-": stdin */
    const char *record;         /* --record FILE */
    bool has_record_secrets;
    const char *replay;         /* --replay FILE */
    double replay_speed;        /* gaps divided by it; 0: none (default 1) */
    unsigned replay_client;     /* 0: the recording's first client */
    bool is_strict;             /* --strict: a difference from the recording exits 7 */
    const char *to;             /* -l PORT --to URL */
};

enum options_result { OPTIONS_RUN, OPTIONS_EXIT_OK, OPTIONS_USAGE };

/* Fills o from argv. Prints --help or --version itself (OPTIONS_EXIT_OK) and
 * writes a one-line error into err for OPTIONS_USAGE. */
enum options_result options_parse(int argc, char **argv, struct options *o, char *err,
                                  size_t errlen);

#endif
