/* SPDX-License-Identifier: MIT */
/*
 * load.c: many WebSocket clients from one process, for listen-mode servers.
 *
 *   load [options] PORT
 *     -n N          clients (default 100)
 *     -m MODE       connect: open all, rest, close all; echo (default): then each client
 *                   sends a message and waits for its echo, again and again, for -d seconds;
 *                   fanout: the clients only receive (see below)
 *     -s SIZE       message size in bytes (default 64; text, letters only)
 *     -d SEC        length of the echo phase (default 5)
 *     -c N          handshakes in flight at once while connecting (default 256)
 *     -a ADDR       server address (default 127.0.0.1; 127.0.0.0/8 only)
 *     -b K          source addresses 127.0.0.1 .. 127.0.0.K, the clients spread over them
 *                   round robin, so that N can exceed one address's ephemeral ports
 *                   (default: one for every 10,000 clients)
 *     -p PID        the server's process: its RssAnon is read from /proc/PID/status,
 *                   summed over PID and its descendants (a server that forks per client);
 *                   with every client idle, their Pss_Anon (smaps_rollup) too
 *     -H SEC        a handshake not done within SEC seconds fails (default 5)
 *     -i SEC        the rest between connecting and the idle memory reading (default
 *                   1 s and 1 ms a client: a server that forks may lag behind)
 *     -P PATH       request path (default /)
 *     -y            binary messages (default text)
 *     -r            raw TCP: no handshake and no framing; SIZE bytes out, SIZE bytes
 *                   back is one round trip (for a TCP relay in front of a TCP echo)
 *
 * An echo is complete at the end of a message once SIZE bytes have come back, so that
 * a relay to a TCP echo, which may return the bytes in several messages, is measured
 * too; more bytes than were sent, or different ones, make a bad echo.
 *     -t SEC        the whole run is cut off after SEC seconds (default 120)
 *
 * Fan-out (-m fanout), for a server that sends every message to every client: once all
 * clients are connected and idle the tool prints "ready N" (N connected) on stdout and
 * waits, for at most -d seconds, until every client has received -M messages. Whoever
 * feeds the server writes message i as `printf("%010u %020llu ", i, T)` followed by
 * letters 'a' + (i + k) % 26 up to byte SIZE (at least 32), where T is CLOCK_MONOTONIC
 * in ns when it was written (Python's time.monotonic_ns()). Each client must receive
 * every message once, in order, byte for byte. A message that does not come, or comes
 * only after a later one, is lost; one that comes changed, cut, repeated or late is bad.
 *     -M N          messages expected (default 100)
 *     -L K          the first K of them are paced (written one at a time, with a rest
 *                   between): their time to reach every client is reported apart from
 *                   the rest, a flood whose frames per second are reported
 *     -S K          K clients (the first K) stall: they read nothing for -T seconds
 *                   after "ready" (their receive buffer set small), then read again
 *     -T SEC        the stall (default 3)
 *
 * Prints one JSON object on stdout: how many clients connected and how fast (handshakes
 * per second, from the first connect() to the last 101), echo round trips per second and
 * their latency percentiles (p50, p99: from the send of a message to the last byte of its
 * echo), how many closed cleanly (a close 1000 answered with a close 1000, then the
 * server's TCP close), how many echoes differed from what was sent, and the server's
 * RssAnon in KiB: at the start, with every client connected and idle, the largest seen
 * during the echo phase, and at the end. Exits 1 when any client failed or any echo was
 * wrong, 2 on bad usage. In fan-out mode the JSON has frames received in all and per
 * client (least, most), frames per second of the flood (from the write of its first
 * message to the last arrival of its last), the time for a message to reach every client
 * (from its write to its last arrival; p50, p99) for the paced messages and the flood,
 * messages lost and bad, and what the clients that did not stall received during the
 * stall (in all and in its last second) and what the stalled ones did (none). It exits 1 when any message was lost or bad.
 *
 * Build: cc -O2 -std=c11 bench/load.c -lcrypto -o load
 */
#define _GNU_SOURCE /* memmem, strcasestr */
#include <arpa/inet.h>
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum state {
    C_IDLE,       /* not yet started */
    C_CONNECTING, /* connect() in progress, request queued */
    C_HANDSHAKE,  /* waiting for the 101 */
    C_OPEN,       /* may send */
    C_CLOSING,    /* our close sent: waiting for the server's close and its TCP close */
    C_DONE,
};

struct conn {
    int fd;
    enum state state;
    unsigned id;
    char accept[29];      /* the Sec-WebSocket-Accept we expect */
    uint8_t *in;          /* bytes read, not yet parsed */
    size_t in_len, in_cap;
    uint8_t *out;         /* bytes to write */
    size_t out_off, out_len, out_cap;
    /* the frame being parsed */
    bool in_frame;
    unsigned frame_op;
    bool frame_fin;
    uint64_t frame_left;
    /* the echo awaited */
    bool awaits_echo;
    uint64_t round;       /* messages sent */
    uint64_t echo_got;    /* bytes of the echo so far */
    bool echo_bad;
    uint64_t sent_ns;
    uint64_t started_ns;  /* connect() */
    bool close_got;
    unsigned close_code;
    bool failed;
    /* fan-out: the message being received and what came before */
    uint8_t fo_head[32];  /* its first bytes: sequence number and write time */
    uint64_t fo_len;      /* its bytes so far */
    uint64_t fo_seq;      /* its sequence number, once the head is in */
    bool fo_bad;          /* a byte, the length or the type is wrong */
    uint64_t next_seq;    /* the message expected next */
    uint64_t got;         /* messages received in order */
    bool is_stalled;      /* one of the -S clients */
    bool was_open;        /* its handshake was answered */
};

struct opts {
    unsigned n, conc, sources;
    unsigned port;
    size_t size;
    double duration, cutoff, hs_timeout, idle;
    const char *addr, *path;
    int pid;
    bool is_raw, is_echo, is_binary, is_fanout;
    unsigned messages, paced, stalled;
    double stall;
};

static struct opts o = {.n = 100, .conc = 256, .size = 64, .duration = 5, .cutoff = 120,
                        .hs_timeout = 5, .idle = -1,
                        .addr = "127.0.0.1", .path = "/", .is_echo = true,
                        .messages = 100, .stall = 3};
static struct conn *conns;
static int ep;
static uint64_t rng;
/* counts */
static unsigned n_open, n_started, n_inflight, n_failed, n_closed_clean, n_done;
static unsigned n_bad_echo, n_lost, n_refused, n_protocol, n_hs_timeouts;
static bool sending = false; /* the echo phase is on */
static uint32_t *rtts;       /* microseconds, one per round trip */
static size_t n_rtts, rtts_cap;
/* fan-out */
#define FO_HEAD 32
static uint64_t *fo_sent;        /* per message: its write time from the payload */
static uint64_t *fo_last;        /* per message: its last arrival at any client */
static uint64_t n_fo_frames, n_fo_bad, n_fo_flood, n_fo_complete;
static bool is_stalling;         /* the -S clients read nothing */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t next_rand(void)
{
    /* xorshift64*: masking keys of a test client need no cryptographic strength */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static bool wants_pss;  /* rss_of() reads Pss_Anon instead of RssAnon */

/* RssAnon from /proc/PID/status, or with wants_pss Pss_Anon from smaps_rollup:
 * pages a forked child still shares copy-on-write with its parent count once,
 * split between them, where RssAnon counts them in each. */
static long rss_of(int pid)
{
    char path[64], text[4096];
    snprintf(path, sizeof path, wants_pss ? "/proc/%d/smaps_rollup" : "/proc/%d/status", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return -1;
    text[n] = 0;
    const char *key = wants_pss ? "\nPss_Anon:" : "\nRssAnon:";
    const char *p = strstr(text, key);
    long kib;
    return p && sscanf(p + strlen(key), " %ld", &kib) == 1 ? kib : -1;
}

/* RssAnon of pid and its descendants, through /proc/PID/task/TID/children for
 * every thread (a Go or Node server starts children from any of its threads). */
static long rss_tree(int pid, unsigned *procs, int depth)
{
    long sum = rss_of(pid);
    if (sum < 0)
        return -1;
    (*procs)++;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *tasks = depth < 8 ? opendir(path) : NULL;
    if (!tasks)
        return sum;
    struct dirent *t;
    while ((t = readdir(tasks))) {
        if (t->d_name[0] == '.')
            continue;
        char cpath[300];
        snprintf(cpath, sizeof cpath, "/proc/%d/task/%s/children", pid, t->d_name);
        FILE *f = fopen(cpath, "r");
        if (!f)
            continue;
        int child;
        while (fscanf(f, "%d", &child) == 1) {
            long r = rss_tree(child, procs, depth + 1);
            if (r > 0)
                sum += r;
        }
        fclose(f);
    }
    closedir(tasks);
    return sum;
}

static unsigned server_procs;

static long rss_anon_kib(void)
{
    if (o.pid <= 0)
        return -1;
    unsigned procs = 0;
    long kib = rss_tree(o.pid, &procs, 0);
    server_procs = procs;
    return kib;
}

/* Byte k of message `round` of client `id`: letters, so valid UTF-8 text. */
static uint8_t msg_byte(unsigned id, uint64_t round, uint64_t k)
{
    return (uint8_t)('a' + (id + round + k) % 26);
}

static void out_reserve(struct conn *c, size_t n)
{
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_cap - c->out_len >= n)
        return;
    size_t cap = c->out_cap ? c->out_cap : 256;
    while (cap - c->out_len < n)
        cap *= 2;
    c->out = realloc(c->out, cap);
    if (!c->out)
        err(1, "realloc");
    c->out_cap = cap;
}

static void out_append(struct conn *c, const void *p, size_t n)
{
    out_reserve(c, n);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

/* A masked frame, as RFC 6455 5.3 asks of a client. */
static void queue_frame(struct conn *c, unsigned op, const uint8_t *payload, size_t len)
{
    uint8_t h[14];
    size_t hl = 0;
    h[hl++] = (uint8_t)(0x80 | op);
    if (len < 126) {
        h[hl++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (uint8_t)(len >> 8);
        h[hl++] = (uint8_t)len;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[hl++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    uint64_t r = next_rand();
    uint8_t mask[4];
    memcpy(mask, &r, 4);
    memcpy(h + hl, mask, 4);
    hl += 4;
    out_append(c, h, hl);
    out_reserve(c, len);
    uint8_t *dst = c->out + c->out_len;
    for (size_t i = 0; i < len; i++)
        dst[i] = payload[i] ^ mask[i & 3];
    c->out_len += len;
}

static void fail(struct conn *c, unsigned *counter);

static void send_message(struct conn *c)
{
    static uint8_t *buf;
    if (!buf && !(buf = malloc(o.size ? o.size : 1)))
        err(1, "malloc");
    for (size_t k = 0; k < o.size; k++)
        buf[k] = msg_byte(c->id, c->round, k);
    if (o.is_raw)
        out_append(c, buf, o.size);
    else
        queue_frame(c, o.is_binary ? 0x2 : 0x1, buf, o.size);
    c->awaits_echo = true;
    c->echo_got = 0;
    c->echo_bad = false;
    c->sent_ns = now_ns();
}

static void record_rtt(struct conn *c)
{
    uint64_t us = (now_ns() - c->sent_ns) / 1000;
    if (n_rtts == rtts_cap) {
        rtts_cap = rtts_cap ? 2 * rtts_cap : 65536;
        rtts = realloc(rtts, rtts_cap * sizeof(*rtts));
        if (!rtts)
            err(1, "realloc");
    }
    rtts[n_rtts++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    if (c->echo_bad)
        n_bad_echo++;
    c->awaits_echo = false;
    c->round++;
}

static void start_close(struct conn *c)
{
    if (c->state != C_OPEN)
        return;
    c->state = C_CLOSING;
    if (o.is_raw) {
        shutdown(c->fd, SHUT_WR);
        return;
    }
    uint8_t code[2] = {1000 >> 8, 1000 & 0xff};
    queue_frame(c, 0x8, code, 2);
}

static void finish(struct conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    c->in_cap = c->out_cap = c->in_len = c->out_len = c->out_off = 0;
    if (c->state == C_CONNECTING || c->state == C_HANDSHAKE)
        n_inflight--;
    if (c->state == C_OPEN || c->state == C_CLOSING)
        n_open--;
    c->state = C_DONE;
    n_done++;
}

static void fail(struct conn *c, unsigned *counter)
{
    if (c->state == C_DONE)
        return;
    c->failed = true;
    n_failed++;
    if (counter)
        (*counter)++;
    finish(c);
}

static void compute_accept(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char buf[64];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen;
    snprintf(buf, sizeof buf, "%s%s", key, guid);
    if (EVP_Digest(buf, strlen(buf), md, &mdlen, EVP_sha1(), NULL) != 1)
        errx(1, "SHA-1 failed");
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
}

static void start_conn(struct conn *c, struct in_addr dst)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        warn("socket");
        fail(c, &n_refused);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->is_stalled) {
        /* a small window: what the client does not read piles up in the server */
        int small = 4096;
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    /* The port is chosen at connect(), per destination: more connections per address. */
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000001u + c->id % o.sources);
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0) {
        warn("bind");
        fail(c, &n_refused);
        return;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port),
                             .sin_addr = dst};
    c->state = C_CONNECTING;
    c->started_ns = now_ns();
    n_inflight++;
    n_started++;
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        fail(c, &n_refused);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP,
                             .data.u32 = c->id};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        err(1, "epoll_ctl");
    c->in_cap = 4096 + o.size;
    if (!(c->in = malloc(c->in_cap)))
        err(1, "malloc");
    if (o.is_raw)
        return;
    uint8_t nonce[16];
    for (int i = 0; i < 2; i++) {
        uint64_t r = next_rand();
        memcpy(nonce + 8 * i, &r, 8);
    }
    char key[25], req[512];
    EVP_EncodeBlock((unsigned char *)key, nonce, 16);
    compute_accept(key, c->accept);
    int len = snprintf(req, sizeof req,
                       "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n",
                       o.path, o.addr, o.port, key);
    out_append(c, req, (size_t)len);
}

static void opened(struct conn *c)
{
    c->state = C_OPEN;
    c->was_open = true;
    n_inflight--;
    n_open++;
    if (sending)
        send_message(c);
}

/* The 101 head: status and Sec-WebSocket-Accept. Returns bytes used, 0 for
 * more, -1 when refused. */
static long parse_head(struct conn *c)
{
    uint8_t *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end)
        return c->in_len > 8192 ? -1 : 0;
    size_t len = (size_t)(end - c->in) + 4;
    if (len < 12 || memcmp(c->in, "HTTP/1.1 101", 12) != 0)
        return -1;
    char head[8193];
    size_t hl = len < sizeof head - 1 ? len : sizeof head - 1;
    memcpy(head, c->in, hl);
    head[hl] = 0;
    const char *p = strcasestr(head, "\r\nSec-WebSocket-Accept:");
    if (!p)
        return -1;
    p += strlen("\r\nSec-WebSocket-Accept:");
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, c->accept, 28) != 0)
        return -1;
    return (long)len;
}

/* A fan-out message's bytes: the head is kept, the letters after it checked. */
static void fanout_payload(struct conn *c, const uint8_t *p, size_t n)
{
    for (size_t k = 0; k < n; k++, c->fo_len++) {
        if (c->fo_len < FO_HEAD) {
            c->fo_head[c->fo_len] = p[k];
            if (c->fo_len + 1 == FO_HEAD) {
                /* the letters follow from the sequence number (a bad head is caught
                 * at the message's end) */
                c->fo_seq = 0;
                for (int i = 0; i < 10; i++)
                    c->fo_seq = c->fo_seq * 10 + (uint64_t)(c->fo_head[i] - '0');
            }
            continue;
        }
        if (p[k] != (uint8_t)('a' + (c->fo_seq + c->fo_len) % 26))
            c->fo_bad = true;
    }
}

/* Digits, a space, digits, a space: the head as the feeder writes it. */
static bool fanout_head(const uint8_t *h, uint64_t *seq, uint64_t *sent)
{
    *seq = *sent = 0;
    for (int i = 0; i < 10; i++) {
        if (h[i] < '0' || h[i] > '9')
            return false;
        *seq = *seq * 10 + (uint64_t)(h[i] - '0');
    }
    for (int i = 11; i < 31; i++) {
        if (h[i] < '0' || h[i] > '9')
            return false;
        *sent = *sent * 10 + (uint64_t)(h[i] - '0');
    }
    return h[10] == ' ' && h[31] == ' ';
}

/* The end of a fan-out message: in order, once, whole, or counted as bad. */
static void fanout_message_end(struct conn *c)
{
    uint64_t seq, sent;
    bool ok = !c->fo_bad && c->fo_len == o.size && fanout_head(c->fo_head, &seq, &sent) &&
              seq < o.messages;
    c->fo_len = 0;
    c->fo_bad = false;
    if (!ok || seq < c->next_seq) {
        n_fo_bad++; /* changed, cut, unknown, repeated or out of order */
        return;
    }
    /* a gap: the ones skipped are lost (counted at the end), this one is good */
    c->next_seq = seq + 1;
    c->got++;
    n_fo_frames++;
    if (seq >= o.paced)
        n_fo_flood++;
    if (c->next_seq == o.messages)
        n_fo_complete++;
    uint64_t now = now_ns();
    if (!fo_sent[seq])
        fo_sent[seq] = sent;
    if (now > fo_last[seq])
        fo_last[seq] = now;
}

static void on_payload(struct conn *c, const uint8_t *p, size_t n)
{
    if (o.is_fanout) {
        fanout_payload(c, p, n);
        return;
    }
    if (!c->awaits_echo) {
        c->echo_bad = true; /* nothing was asked for */
        return;
    }
    for (size_t k = 0; k < n; k++)
        if (p[k] != msg_byte(c->id, c->round, c->echo_got + k))
            c->echo_bad = true;
    c->echo_got += n;
    if (c->echo_got > o.size)
        c->echo_bad = true;
}

/* Frames from the server; returns -1 after a failure. */
static int parse_frames(struct conn *c)
{
    size_t pos = 0;
    while (pos < c->in_len) {
        if (!c->in_frame) {
            size_t avail = c->in_len - pos;
            const uint8_t *h = c->in + pos;
            if (avail < 2)
                break;
            size_t need = 2;
            uint64_t len = h[1] & 0x7f;
            if (len == 126)
                need = 4;
            else if (len == 127)
                need = 10;
            if (h[1] & 0x80 || (h[0] & 0x70)) {
                fail(c, &n_protocol); /* a masked server frame, or RSV bits */
                return -1;
            }
            if (avail < need)
                break;
            if (len == 126)
                len = (uint64_t)h[2] << 8 | h[3];
            else if (len == 127)
                for (int i = 0; i < 8; i++)
                    len = (i ? len << 8 : 0) | h[2 + i];
            unsigned op = h[0] & 0x0f;
            bool fin = h[0] & 0x80;
            if (op >= 0x8) {
                /* control frames are handled whole */
                if (len > 125 || !fin) {
                    fail(c, &n_protocol);
                    return -1;
                }
                if (avail < need + len)
                    break;
                const uint8_t *pl = h + need;
                if (op == 0x9 && c->state == C_OPEN)
                    queue_frame(c, 0xA, pl, (size_t)len);
                if (op == 0x8) {
                    c->close_got = true;
                    c->close_code = len >= 2 ? (unsigned)(pl[0] << 8 | pl[1]) : 1005;
                    if (c->state == C_OPEN) {
                        /* the server closed first: answer, as RFC 6455 5.5.1 asks */
                        uint8_t code[2] = {pl[0], pl[1]};
                        queue_frame(c, 0x8, code, len >= 2 ? 2 : 0);
                        c->state = C_CLOSING;
                    }
                }
                pos += need + (size_t)len;
                continue;
            }
            if (op != 0x0 && op != 0x1 && op != 0x2) {
                fail(c, &n_protocol);
                return -1;
            }
            /* a fan-out message is text (binary with -y) and its frames say so */
            if (o.is_fanout && op != 0x0 && op != (o.is_binary ? 0x2u : 0x1u))
                c->fo_bad = true;
            c->in_frame = true;
            c->frame_op = op;
            c->frame_fin = fin;
            c->frame_left = len;
            pos += need;
        }
        size_t n = c->in_len - pos;
        if (n > c->frame_left)
            n = (size_t)c->frame_left;
        on_payload(c, c->in + pos, n);
        pos += n;
        c->frame_left -= n;
        if (c->frame_left == 0) {
            c->in_frame = false;
            if (o.is_fanout && c->frame_fin)
                fanout_message_end(c);
            if (c->frame_fin && c->awaits_echo && c->echo_got >= o.size) {
                record_rtt(c);
                if (sending && c->state == C_OPEN)
                    send_message(c);
            }
        }
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    return 0;
}

static void on_raw(struct conn *c)
{
    on_payload(c, c->in, c->in_len);
    c->in_len = 0;
    if (c->awaits_echo && c->echo_got >= o.size) {
        record_rtt(c);
        if (sending && c->state == C_OPEN)
            send_message(c);
    }
}

static void flush_out(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return;
        if (w < 0) {
            fail(c, c->state == C_CONNECTING ? &n_refused : &n_lost);
            return;
        }
        c->out_off += (size_t)w;
    }
}

static void on_event(struct conn *c, uint32_t events)
{
    if (c->state == C_CONNECTING) {
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el);
        if (e != 0) {
            fail(c, &n_refused);
            return;
        }
        if (!(events & EPOLLOUT) && !(events & EPOLLIN))
            return;
        if (o.is_raw) {
            opened(c);
        } else {
            c->state = C_HANDSHAKE;
        }
    }
    if (c->is_stalled && is_stalling) {
        flush_out(c);
        return; /* read again when the stall ends */
    }
    for (;;) {
        if (c->in_cap - c->in_len < 4096) {
            c->in_cap *= 2;
            if (!(c->in = realloc(c->in, c->in_cap)))
                err(1, "realloc");
        }
        ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            break;
        if (r <= 0) {
            /* EOF or reset */
            bool clean = c->state == C_CLOSING && (o.is_raw || c->close_got) &&
                         (o.is_raw || c->close_code == 1000) && r == 0;
            if (clean) {
                n_closed_clean++;
                finish(c);
            } else {
                fail(c, c->state == C_HANDSHAKE ? &n_refused : &n_lost);
            }
            return;
        }
        c->in_len += (size_t)r;
        if (c->state == C_HANDSHAKE) {
            long used = parse_head(c);
            if (used < 0) {
                fail(c, &n_refused);
                return;
            }
            if (used == 0)
                continue;
            memmove(c->in, c->in + used, c->in_len - (size_t)used);
            c->in_len -= (size_t)used;
            opened(c);
        }
        if (c->state == C_OPEN || c->state == C_CLOSING) {
            if (o.is_raw)
                on_raw(c);
            else if (parse_frames(c) != 0)
                return;
        }
    }
    flush_out(c);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t pct(double p)
{
    if (!n_rtts)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(n_rtts - 1) + 0.5);
    return rtts[i];
}

static uint32_t pct_of(const uint32_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    return v[(size_t)(p / 100.0 * (double)(n - 1) + 0.5)];
}

static void pump(uint64_t until);

/* Every client still open has every message. */
static bool fanout_all_in(void)
{
    if (n_fo_complete < n_open)
        return false;
    for (unsigned i = 0; i < o.n; i++) {
        const struct conn *c = &conns[i];
        if ((c->state == C_OPEN || c->state == C_CLOSING) && c->next_seq < o.messages)
            return false;
    }
    return true;
}

/* Messages received by the clients that do not stall. */
static uint64_t fanout_others_got(void)
{
    uint64_t stalled = 0;
    for (unsigned i = 0; i < o.stalled && i < o.n; i++)
        stalled += conns[i].got;
    return n_fo_frames - stalled;
}

struct fo_report {
    double wait_sec;           /* from "ready" to the end of the phase */
    double flood_sec;          /* from the flood's first write to its last arrival */
    uint32_t *lat_paced, *lat_flood; /* microseconds from write to last arrival, sorted */
    size_t n_paced, n_flood;
    uint64_t lost, least, most;
    uint64_t stall_others, stall_others_last_sec; /* during the stall, its last second */
    uint64_t stall_stalled;    /* what the stalled clients took before it ended: 0 */
};

/* After "ready": receive until every client has every message or -d passes. */
static void run_fanout(struct fo_report *r, long *rss_peak, uint64_t cutoff)
{
    printf("ready %u\n", n_open);
    fflush(stdout);
    uint64_t t0 = now_ns(), stop = t0 + (uint64_t)(o.duration * 1e9), next_sample = t0;
    uint64_t stall_end = t0 + (uint64_t)(o.stall * 1e9), stall_mark = 0;
    bool marked = false;
    is_stalling = o.stalled > 0;
    while (now_ns() < stop && now_ns() < cutoff && !fanout_all_in()) {
        pump(is_stalling && stall_end < stop ? stall_end : stop);
        uint64_t now = now_ns();
        if (is_stalling && !marked && now + 1000000000u >= stall_end) {
            stall_mark = fanout_others_got();
            marked = true;
        }
        if (is_stalling && now >= stall_end) {
            r->stall_others = fanout_others_got();
            r->stall_stalled = n_fo_frames - r->stall_others;
            r->stall_others_last_sec = r->stall_others - stall_mark;
            is_stalling = false;
            for (unsigned i = 0; i < o.stalled && i < o.n; i++)
                if (conns[i].state == C_OPEN || conns[i].state == C_CLOSING)
                    on_event(&conns[i], EPOLLIN | EPOLLOUT);
        }
        if (now >= next_sample) {
            long kib = rss_anon_kib();
            if (kib > *rss_peak)
                *rss_peak = kib;
            next_sample = now + 100000000u;
        }
    }
    is_stalling = false;
    r->wait_sec = (double)(now_ns() - t0) / 1e9;

    r->lat_paced = calloc(o.messages + 1, sizeof(uint32_t));
    r->lat_flood = calloc(o.messages + 1, sizeof(uint32_t));
    if (!r->lat_paced || !r->lat_flood)
        err(1, "calloc");
    uint64_t first = UINT64_MAX, last = 0;
    for (unsigned i = 0; i < o.messages; i++) {
        if (!fo_last[i] || fo_last[i] < fo_sent[i])
            continue; /* never arrived, or a time not from this clock */
        uint64_t us = (fo_last[i] - fo_sent[i]) / 1000;
        uint32_t v = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
        if (i < o.paced) {
            r->lat_paced[r->n_paced++] = v;
            continue;
        }
        r->lat_flood[r->n_flood++] = v;
        if (fo_sent[i] < first)
            first = fo_sent[i];
        if (fo_last[i] > last)
            last = fo_last[i];
    }
    qsort(r->lat_paced, r->n_paced, sizeof(uint32_t), cmp_u32);
    qsort(r->lat_flood, r->n_flood, sizeof(uint32_t), cmp_u32);
    r->flood_sec = last > first ? (double)(last - first) / 1e9 : 0;
    r->least = UINT64_MAX;
    for (unsigned i = 0; i < o.n; i++) {
        const struct conn *c = &conns[i];
        if (!c->was_open)
            continue;
        r->lost += o.messages - c->got;
        if (c->got < r->least)
            r->least = c->got;
        if (c->got > r->most)
            r->most = c->got;
    }
    if (r->least == UINT64_MAX)
        r->least = 0;
}

/* One turn of the wait; deadline in ns. */
static void pump(uint64_t until)
{
    struct epoll_event evs[512];
    uint64_t now = now_ns();
    int ms = until > now ? (int)((until - now) / 1000000u) : 0;
    if (ms > 50)
        ms = 50;
    int n = epoll_wait(ep, evs, 512, ms);
    if (n < 0 && errno != EINTR)
        err(1, "epoll_wait");
    for (int i = 0; i < n; i++) {
        struct conn *c = &conns[evs[i].data.u32];
        if (c->state != C_DONE)
            on_event(c, evs[i].events);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: load [-n N] [-m connect|echo|fanout] [-s SIZE] [-d SEC] [-c N]"
                    " [-a ADDR] [-b K] [-p PID] [-P PATH] [-r] [-y] [-t SEC] [-H SEC] [-i SEC]"
                    " [-M N] [-L K] [-S K] [-T SEC] PORT\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int ch;
    while ((ch = getopt(argc, argv, "n:m:s:d:c:a:b:p:P:ryt:H:i:M:L:S:T:")) != -1) {
        switch (ch) {
        case 'n': o.n = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'm':
            if (strcmp(optarg, "echo") && strcmp(optarg, "connect") && strcmp(optarg, "fanout"))
                usage();
            o.is_echo = !strcmp(optarg, "echo");
            o.is_fanout = !strcmp(optarg, "fanout");
            break;
        case 'M': o.messages = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'L': o.paced = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'S': o.stalled = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'T': o.stall = strtod(optarg, NULL); break;
        case 's': o.size = strtoul(optarg, NULL, 10); break;
        case 'd': o.duration = strtod(optarg, NULL); break;
        case 'c': o.conc = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'a': o.addr = optarg; break;
        case 'b': o.sources = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'p': o.pid = atoi(optarg); break;
        case 'P': o.path = optarg; break;
        case 'r': o.is_raw = true; break;
        case 'y': o.is_binary = true; break;
        case 't': o.cutoff = strtod(optarg, NULL); break;
        case 'H': o.hs_timeout = strtod(optarg, NULL); break;
        case 'i': o.idle = strtod(optarg, NULL); break;
        default: usage();
        }
    }
    if (optind + 1 != argc || !o.n || !o.conc || o.size > (64u << 20))
        usage();
    if (o.is_fanout && (o.is_raw || o.size < FO_HEAD || !o.messages || o.paced > o.messages ||
                        o.stalled > o.n))
        usage();
    o.port = (unsigned)strtoul(argv[optind], NULL, 10);
    struct in_addr dst;
    /* loopback only: this tool is for servers on this machine */
    if (inet_pton(AF_INET, o.addr, &dst) != 1 || (ntohl(dst.s_addr) >> 24) != 127)
        errx(2, "-a: an address in 127.0.0.0/8, not %s", o.addr);
    if (!o.sources)
        o.sources = 1 + o.n / 10000;
    if (o.sources > 250)
        errx(2, "-b: at most 250 source addresses");
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrandom(&rng, sizeof rng, 0) != sizeof rng || !rng)
        rng = 88172645463325252ull;
    if (!(conns = calloc(o.n, sizeof(*conns))))
        err(1, "calloc");
    if (o.is_fanout && (!(fo_sent = calloc(o.messages, sizeof(*fo_sent))) ||
                        !(fo_last = calloc(o.messages, sizeof(*fo_last)))))
        err(1, "calloc");
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        err(1, "epoll_create1");
    uint64_t t_start = now_ns(), cutoff = t_start + (uint64_t)(o.cutoff * 1e9);
    long rss_start = rss_anon_kib();

    /* 1. connect everyone, at most o.conc handshakes at a time */
    unsigned next = 0;
    uint64_t t_last_open = t_start, next_check = t_start;
    while ((next < o.n || n_inflight > 0) && now_ns() < cutoff) {
        while (next < o.n && n_inflight < o.conc) {
            conns[next].id = next;
            conns[next].fd = -1;
            conns[next].is_stalled = o.is_fanout && next < o.stalled;
            start_conn(&conns[next], dst);
            next++;
        }
        unsigned before = n_open;
        pump(cutoff);
        if (n_open > before)
            t_last_open = now_ns();
        if (now_ns() >= next_check) {
            /* a server that never answers must not hold the run */
            uint64_t limit = (uint64_t)(o.hs_timeout * 1e9);
            for (unsigned i = 0; i < next; i++) {
                struct conn *c = &conns[i];
                if ((c->state == C_CONNECTING || c->state == C_HANDSHAKE) &&
                    now_ns() - c->started_ns > limit) {
                    n_hs_timeouts++;
                    fail(c, &n_refused);
                }
            }
            next_check = now_ns() + 100000000u;
        }
    }
    double connect_sec = (double)(t_last_open - t_start) / 1e9;
    unsigned connected = n_open;

    /* 2. everyone connected and idle: the server's memory */
    if (o.idle < 0)
        o.idle = 1 + 0.001 * o.n;
    uint64_t rest = now_ns() + (uint64_t)(o.idle * 1e9);
    while (now_ns() < rest)
        pump(rest);
    long rss_idle = rss_anon_kib(), rss_peak = rss_idle;
    long own_idle = o.pid > 0 ? rss_of(o.pid) : -1; /* without its processes (--exec) */
    unsigned procs_idle = server_procs;
    wants_pss = true;
    long pss_idle = rss_anon_kib();
    wants_pss = false;

    /* 3. fan-out: receive what the server sends everyone */
    struct fo_report fo = {0};
    if (o.is_fanout)
        run_fanout(&fo, &rss_peak, cutoff);

    /* 3. echo round trips for o.duration seconds */
    double echo_sec = 0;
    if (o.is_echo) {
        sending = true;
        uint64_t t0 = now_ns(), stop = t0 + (uint64_t)(o.duration * 1e9), next_sample = t0;
        for (unsigned i = 0; i < o.n; i++)
            if (conns[i].state == C_OPEN)
                send_message(&conns[i]), flush_out(&conns[i]);
        while (now_ns() < stop && now_ns() < cutoff) {
            pump(stop);
            if (now_ns() >= next_sample) {
                long r = rss_anon_kib();
                if (r > rss_peak)
                    rss_peak = r;
                next_sample = now_ns() + 100000000u;
            }
        }
        sending = false;
        /* the echoes still under way are waited for, then the rate is taken */
        uint64_t drain = now_ns() + 10000000000u;
        for (;;) {
            unsigned waiting = 0;
            for (unsigned i = 0; i < o.n; i++)
                waiting += conns[i].state == C_OPEN && conns[i].awaits_echo;
            if (!waiting || now_ns() >= drain || now_ns() >= cutoff)
                break;
            pump(drain);
        }
        echo_sec = (double)(now_ns() - t0) / 1e9;
    }

    /* 4. close everyone */
    uint64_t t_close = now_ns();
    for (unsigned i = 0; i < o.n; i++) {
        struct conn *c = &conns[i];
        if (c->state == C_OPEN) {
            if (c->awaits_echo)
                fail(c, &n_lost); /* its echo never came */
            else {
                start_close(c);
                flush_out(c);
            }
        }
    }
    uint64_t close_deadline = now_ns() + 15000000000u;
    while (n_open > 0 && now_ns() < close_deadline && now_ns() < cutoff)
        pump(close_deadline);
    double close_sec = (double)(now_ns() - t_close) / 1e9;
    for (unsigned i = 0; i < o.n; i++)
        if (conns[i].state != C_DONE && conns[i].state != C_IDLE)
            fail(&conns[i], &n_lost);
    long rss_end = rss_anon_kib();

    if (o.is_fanout) {
        printf("{\"mode\": \"fanout\", \"clients\": %u, \"connected\": %u, \"failed\": %u, "
               "\"refused\": %u, \"lost_clients\": %u, \"handshake_timeouts\": %u, "
               "\"protocol_errors\": %u, \"connect_sec\": %.4f, \"connects_per_sec\": %.1f, "
               "\"messages\": %u, \"paced\": %u, \"size\": %zu, \"frames\": %llu, "
               "\"frames_least\": %llu, \"frames_most\": %llu, \"lost\": %llu, "
               "\"bad\": %llu, \"wait_sec\": %.3f, \"flood_frames\": %llu, "
               "\"flood_sec\": %.4f, \"frames_per_sec\": %.1f, "
               "\"reach_all_p50_us\": %u, \"reach_all_p99_us\": %u, "
               "\"flood_reach_all_p50_us\": %u, \"flood_reach_all_p99_us\": %u, "
               "\"stalled\": %u, \"stall_sec\": %.3f, \"stall_others_frames\": %llu, "
               "\"stall_others_frames_last_sec\": %llu, \"stall_stalled_frames\": %llu, "
               "\"closed_clean\": %u, \"close_sec\": %.4f, "
               "\"server_rss_anon_kib\": {\"start\": %ld, \"idle\": %ld, \"peak\": %ld, "
               "\"end\": %ld}, \"server_pss_anon_kib_idle\": %ld, \"server_procs_idle\": %u, "
               "\"sources\": %u}\n",
               o.n, connected, n_failed, n_refused, n_lost, n_hs_timeouts, n_protocol,
               connect_sec, connect_sec > 0 ? connected / connect_sec : 0.0, o.messages,
               o.paced, o.size, (unsigned long long)n_fo_frames,
               (unsigned long long)fo.least, (unsigned long long)fo.most,
               (unsigned long long)fo.lost, (unsigned long long)n_fo_bad, fo.wait_sec,
               (unsigned long long)n_fo_flood, fo.flood_sec,
               fo.flood_sec > 0 ? (double)n_fo_flood / fo.flood_sec : 0.0,
               pct_of(fo.lat_paced, fo.n_paced, 50), pct_of(fo.lat_paced, fo.n_paced, 99),
               pct_of(fo.lat_flood, fo.n_flood, 50), pct_of(fo.lat_flood, fo.n_flood, 99),
               o.stalled, o.stalled ? o.stall : 0.0, (unsigned long long)fo.stall_others,
               (unsigned long long)fo.stall_others_last_sec,
               (unsigned long long)fo.stall_stalled, n_closed_clean, close_sec,
               rss_start, rss_idle, rss_peak, rss_end, pss_idle, procs_idle, o.sources);
        return n_failed || fo.lost || n_fo_bad || connected < o.n ? 1 : 0;
    }
    qsort(rtts, n_rtts, sizeof(*rtts), cmp_u32);
    printf("{\"clients\": %u, \"connected\": %u, \"failed\": %u, \"refused\": %u, "
           "\"lost\": %u, \"handshake_timeouts\": %u, \"protocol_errors\": %u, "
           "\"bad_echoes\": %u, "
           "\"connect_sec\": %.4f, \"connects_per_sec\": %.1f, "
           "\"echo_sec\": %.3f, \"round_trips\": %zu, \"round_trips_per_sec\": %.1f, "
           "\"p50_us\": %u, \"p99_us\": %u, \"closed_clean\": %u, \"close_sec\": %.4f, "
           "\"server_rss_anon_kib\": {\"start\": %ld, \"idle\": %ld, \"peak\": %ld, "
           "\"end\": %ld}, \"server_pss_anon_kib_idle\": %ld, \"server_procs_idle\": %u, "
           "\"server_own_rss_anon_kib_idle\": %ld, \"size\": %zu, \"sources\": %u, "
           "\"raw\": %s}\n",
           o.n, connected, n_failed, n_refused, n_lost, n_hs_timeouts, n_protocol, n_bad_echo,
           connect_sec,
           connect_sec > 0 ? connected / connect_sec : 0.0, echo_sec, n_rtts,
           echo_sec > 0 ? (double)n_rtts / echo_sec : 0.0, pct(50), pct(99), n_closed_clean,
           close_sec, rss_start, rss_idle, rss_peak, rss_end, pss_idle, procs_idle, own_idle, o.size,
           o.sources,
           o.is_raw ? "true" : "false");
    return n_failed || n_bad_echo || connected < o.n ? 1 : 0;
}
