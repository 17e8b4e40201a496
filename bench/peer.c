/* SPDX-License-Identifier: MIT */
/*
 * peer.c: a fast loopback peer for benchmarking wsc, and its raw-TCP baseline.
 *
 * The server side of RFC 6455 only as far as a benchmark needs: the opening handshake,
 * unmasking, frame encoding, pings and the close handshake. It negotiates no extension
 * and no subprotocol, and it does not validate UTF-8 (it echoes bytes verbatim; the
 * client under test does the checking). Single-threaded, blocking I/O, one connection
 * at a time on 127.0.0.1; memory is two fixed 256 KiB buffers whatever the message size.
 *
 *   peer [--tcp] [-p PORT] [-n CONNS] [--idle SEC] [-v] echo
 *   peer [--tcp] [-p PORT] [-n CONNS] [--idle SEC] [-v] sink
 *   peer [--tcp] [-p PORT] [-n CONNS] [--idle SEC] [-v] source N SIZE
 *
 * Build: cc -O2 -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra bench/peer.c -lcrypto -o peer
 */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define IN_CAP (256u * 1024u)
#define OUT_CAP (256u * 1024u)
#define HEAD_MAX (16u * 1024u)     /* largest opening-handshake request we accept */
#define LETTERS_CHUNK (64u * 1024u) /* source content is copied from a template this long */
#define DRAIN_SEC 2                 /* how long to wait for the client's FIN after ours */

enum peer_mode { MODE_ECHO, MODE_SINK, MODE_SOURCE };

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
};

/* Results of the I/O helpers: 0 on success, these otherwise. */
enum io_result { IO_OK = 0, IO_EOF = 1, IO_ERR = -1 };

struct peer_opts {
    enum peer_mode mode;
    bool is_tcp;
    bool is_verbose;
    unsigned port;
    unsigned long long max_conns; /* 0: serve forever */
    int idle_sec;
    unsigned long long source_count;
    size_t source_size;
};

/* One connection. in and out are owned by main() and reused for every connection. */
struct conn {
    int fd;
    unsigned char *in; /* unread input is in[in_pos, in_len) */
    size_t in_pos;
    size_t in_len;
    unsigned char *out; /* pending output is out[0, out_len) */
    size_t out_len;
    unsigned long long msgs;  /* complete data messages (or lines) received or sent */
    unsigned long long bytes; /* payload bytes received or sent */
};

struct ws_frame {
    bool is_fin;
    bool has_mask;
    unsigned rsv;
    unsigned opcode;
    unsigned char mask[4];
    uint64_t len;
};

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* 'a' + k % 26 for k in [0, LETTERS_CHUNK + 26): any run of letters is one memcpy. */
static unsigned char letters[LETTERS_CHUNK + 26];

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t min_size(size_t a, uint64_t b)
{
    return (uint64_t)a < b ? a : (size_t)b;
}

/* ---- buffered blocking I/O ---- */

static int conn_flush(struct conn *c)
{
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            warn("send%s", errno == EAGAIN ? " (idle timeout)" : "");
            return IO_ERR;
        }
        off += (size_t)n;
    }
    c->out_len = 0;
    return IO_OK;
}

/* Make room for n more output bytes (n <= OUT_CAP). */
static int out_reserve(struct conn *c, size_t n)
{
    if (OUT_CAP - c->out_len >= n)
        return IO_OK;
    return conn_flush(c);
}

static int out_put(struct conn *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        if (c->out_len == OUT_CAP && conn_flush(c) != IO_OK)
            return IO_ERR;
        size_t n = min_size(OUT_CAP - c->out_len, len);
        memcpy(c->out + c->out_len, p, n);
        c->out_len += n;
        p += n;
        len -= n;
    }
    return IO_OK;
}

/*
 * Append at least one byte to the input buffer. Pending output is flushed only when the
 * socket has nothing to read, so that a burst of frames is answered with one write, and
 * never left unsent while we block (the client may be waiting for it).
 */
static int conn_read_some(struct conn *c)
{
    if (c->in_pos == c->in_len) {
        c->in_pos = 0;
        c->in_len = 0;
    } else if (c->in_len == IN_CAP) {
        memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
        c->in_len -= c->in_pos;
        c->in_pos = 0;
    }
    int flags = MSG_DONTWAIT;
    for (;;) {
        ssize_t n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, flags);
        if (n > 0) {
            c->in_len += (size_t)n;
            return IO_OK;
        }
        if (n == 0)
            return IO_EOF;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN && flags != 0) {
            if (conn_flush(c) != IO_OK)
                return IO_ERR;
            flags = 0;
            continue;
        }
        warn("recv%s", errno == EAGAIN ? " (idle timeout)" : "");
        return IO_ERR;
    }
}

static size_t conn_avail(const struct conn *c)
{
    return c->in_len - c->in_pos;
}

/* Ensure n contiguous unread input bytes (n <= IN_CAP). */
static int conn_need(struct conn *c, size_t n)
{
    while (conn_avail(c) < n) {
        if (IN_CAP - c->in_pos < n) {
            memmove(c->in, c->in + c->in_pos, conn_avail(c));
            c->in_len -= c->in_pos;
            c->in_pos = 0;
        }
        int r = conn_read_some(c);
        if (r != IO_OK)
            return r;
    }
    return IO_OK;
}

/*
 * End the connection the way RFC 6455 7.1.1 asks of a server: send everything, half-close
 * (our FIN), then read until the client's FIN so that closing never turns into a reset
 * that could destroy data still in flight. Bounded by DRAIN_SEC.
 */
static void conn_finish(struct conn *c)
{
    if (conn_flush(c) != IO_OK)
        return;
    if (shutdown(c->fd, SHUT_WR) != 0)
        return;
    struct timeval tv = {.tv_sec = DRAIN_SEC, .tv_usec = 0};
    (void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
        ssize_t n = recv(c->fd, c->in, IN_CAP, 0);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
}

/* ---- WebSocket framing (server role) ---- */

/*
 * dst[i] = src[i] ^ key[(phase + i) % 4], eight bytes at a time. dst may equal src.
 * Eight is a multiple of four, so the rotated 8-byte key stays in phase for every word.
 */
static void ws_unmask(unsigned char *dst, const unsigned char *src, size_t len,
                      const unsigned char key[4], size_t phase)
{
    unsigned char k8[8];
    for (size_t i = 0; i < 8; i++)
        k8[i] = key[(phase + i) & 3];
    uint64_t k64;
    memcpy(&k64, k8, sizeof k64);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, sizeof w);
        w ^= k64;
        memcpy(dst + i, &w, sizeof w);
    }
    for (; i < len; i++)
        dst[i] = src[i] ^ k8[i & 7];
}

/* Server frames are never masked (RFC 6455 5.1). */
static int ws_put_header(struct conn *c, bool is_fin, unsigned opcode, uint64_t len)
{
    if (out_reserve(c, 10) != IO_OK)
        return IO_ERR;
    unsigned char *h = c->out + c->out_len;
    h[0] = (unsigned char)((is_fin ? 0x80u : 0u) | opcode);
    if (len < 126) {
        h[1] = (unsigned char)len;
        c->out_len += 2;
    } else if (len <= 0xFFFF) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        c->out_len += 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
        c->out_len += 10;
    }
    return IO_OK;
}

static int ws_put_close(struct conn *c, unsigned code, const char *reason)
{
    size_t reason_len = reason ? strlen(reason) : 0;
    if (reason_len > 123)
        reason_len = 123; /* RFC 6455 5.5: control payloads are at most 125 bytes */
    unsigned char payload[125];
    size_t len = 0;
    if (code != 0) {
        payload[0] = (unsigned char)(code >> 8);
        payload[1] = (unsigned char)code;
        if (reason_len > 0)
            memcpy(payload + 2, reason, reason_len);
        len = 2 + reason_len;
    }
    if (ws_put_header(c, true, WS_OP_CLOSE, len) != IO_OK)
        return IO_ERR;
    return out_put(c, payload, len);
}

/* Read and consume one frame header. */
static int ws_read_header(struct conn *c, struct ws_frame *f)
{
    int r = conn_need(c, 2);
    if (r != IO_OK)
        return r;
    const unsigned char *p = c->in + c->in_pos;
    size_t ext = (p[1] & 0x7F) == 126 ? 2 : (p[1] & 0x7F) == 127 ? 8 : 0;
    size_t hlen = 2 + ext + ((p[1] & 0x80) ? 4 : 0);
    r = conn_need(c, hlen);
    if (r != IO_OK)
        return r == IO_EOF ? IO_ERR : r; /* EOF inside a header is not a clean end */
    p = c->in + c->in_pos;
    f->is_fin = (p[0] & 0x80) != 0;
    f->rsv = (p[0] >> 4) & 0x7u;
    f->opcode = p[0] & 0x0Fu;
    f->has_mask = (p[1] & 0x80) != 0;
    f->len = p[1] & 0x7Fu;
    if (ext > 0) {
        f->len = 0;
        for (size_t i = 0; i < ext; i++)
            f->len = (f->len << 8) | p[2 + i];
    }
    if (f->has_mask)
        memcpy(f->mask, p + 2 + ext, 4);
    c->in_pos += hlen;
    return IO_OK;
}

/* Read a whole control payload (at most 125 bytes), unmasked, into dst. */
static int ws_read_control(struct conn *c, const struct ws_frame *f, unsigned char *dst)
{
    size_t len = (size_t)f->len;
    int r = conn_need(c, len);
    if (r != IO_OK)
        return IO_ERR;
    ws_unmask(dst, c->in + c->in_pos, len, f->mask, 0);
    c->in_pos += len;
    return IO_OK;
}

/* Stream a data payload: echo it unmasked to the output, or drop it. */
static int ws_pass_payload(struct conn *c, const struct ws_frame *f, bool is_echo)
{
    uint64_t left = f->len;
    size_t phase = 0;
    while (left > 0) {
        if (conn_avail(c) == 0 && conn_read_some(c) != IO_OK)
            return IO_ERR;
        size_t n = min_size(conn_avail(c), left);
        if (is_echo) {
            if (c->out_len == OUT_CAP && conn_flush(c) != IO_OK)
                return IO_ERR;
            n = min_size(OUT_CAP - c->out_len, n);
            ws_unmask(c->out + c->out_len, c->in + c->in_pos, n, f->mask, phase);
            c->out_len += n;
        }
        c->in_pos += n;
        phase = (phase + n) & 3;
        left -= n;
    }
    return IO_OK;
}

/* Close with a protocol error; we started the close, so we do not wait for the reply. */
static int ws_fail(struct conn *c, const char *why)
{
    warnx("closing with 1002: %s", why);
    (void)ws_put_close(c, WS_CLOSE_PROTOCOL_ERROR, why);
    conn_finish(c);
    return IO_ERR;
}

/* RFC 6455 7.4: codes a peer may send in a close frame. */
static bool ws_is_valid_close_code(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* Check a frame header against RFC 6455 5.2-5.5; return NULL or what is wrong. */
static const char *ws_check_frame(const struct ws_frame *f, bool is_in_message)
{
    if (f->rsv != 0)
        return "RSV bits set but no extension negotiated (RFC 6455 5.2)";
    if (!f->has_mask)
        return "unmasked frame from client (RFC 6455 5.1)";
    if (f->len >> 63)
        return "64-bit length with the top bit set (RFC 6455 5.2)";
    switch (f->opcode) {
    case WS_OP_CONT:
        return is_in_message ? NULL : "continuation frame outside a message (RFC 6455 5.4)";
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        return is_in_message ? "new message inside a fragmented one (RFC 6455 5.4)" : NULL;
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        if (!f->is_fin)
            return "fragmented control frame (RFC 6455 5.5)";
        return f->len > 125 ? "control frame longer than 125 bytes (RFC 6455 5.5)" : NULL;
    default:
        return "reserved opcode (RFC 6455 5.2)";
    }
}

/*
 * Answer the client's close (RFC 6455 5.5.1): echo its status code, or send an empty
 * close for an empty one; a malformed close gets 1002. Then the server closes TCP first.
 */
static int ws_answer_close(struct conn *c, const unsigned char *payload, size_t len)
{
    unsigned code = 0;
    const char *reason = NULL;
    if (len == 1) {
        code = WS_CLOSE_PROTOCOL_ERROR;
        reason = "1-byte close payload (RFC 6455 5.5.1)";
    } else if (len >= 2) {
        code = (unsigned)payload[0] << 8 | payload[1];
        if (!ws_is_valid_close_code(code)) {
            code = WS_CLOSE_PROTOCOL_ERROR;
            reason = "invalid close code (RFC 6455 7.4)";
        }
    }
    if (ws_put_close(c, code, reason) != IO_OK)
        return IO_ERR;
    conn_finish(c);
    return IO_OK;
}

/* echo and sink: serve frames until the close handshake is done. */
static int ws_serve(struct conn *c, bool is_echo)
{
    bool is_in_message = false;
    unsigned char ctl[125];
    for (;;) {
        struct ws_frame f;
        int r = ws_read_header(c, &f);
        if (r == IO_EOF) {
            warnx("connection closed without a close frame");
            return IO_ERR;
        }
        if (r != IO_OK)
            return IO_ERR;
        const char *bad = ws_check_frame(&f, is_in_message);
        if (bad)
            return ws_fail(c, bad);
        if (f.opcode == WS_OP_CONT || f.opcode == WS_OP_TEXT || f.opcode == WS_OP_BINARY) {
            /* Echo frame by frame as the payload arrives: same opcode and FIN, so the
             * fragmentation is preserved and memory stays bounded for any size. */
            if (is_echo && ws_put_header(c, f.is_fin, f.opcode, f.len) != IO_OK)
                return IO_ERR;
            if (ws_pass_payload(c, &f, is_echo) != IO_OK)
                return IO_ERR;
            is_in_message = !f.is_fin;
            c->bytes += f.len;
            if (f.is_fin)
                c->msgs++;
            continue;
        }
        if (ws_read_control(c, &f, ctl) != IO_OK)
            return IO_ERR;
        if (f.opcode == WS_OP_PING) {
            if (ws_put_header(c, true, WS_OP_PONG, f.len) != IO_OK ||
                out_put(c, ctl, (size_t)f.len) != IO_OK)
                return IO_ERR;
        } else if (f.opcode == WS_OP_CLOSE) {
            return ws_answer_close(c, ctl, (size_t)f.len);
        }
        /* pongs are ignored (RFC 6455 5.5.3: unsolicited pongs need no answer) */
    }
}

static int put_decimal10(struct conn *c, unsigned long long i)
{
    char d[11];
    for (int k = 9; k >= 0; k--) {
        d[k] = (char)('0' + i % 10);
        i /= 10;
    }
    d[10] = ' ';
    return out_put(c, d, sizeof d);
}

/*
 * Source content for message i of size bytes, printable ASCII without newlines:
 * "%010llu " (index modulo 1e10) when size >= 11, then letters 'a' + (i + k) % 26.
 * bench/run.py rebuilds the same bytes to check what the client printed.
 */
static int put_content(struct conn *c, unsigned long long i, size_t size)
{
    size_t nletters = size;
    if (size >= 11) {
        if (put_decimal10(c, i) != IO_OK)
            return IO_ERR;
        nletters = size - 11;
    }
    for (size_t k = 0; k < nletters;) {
        size_t n = min_size(LETTERS_CHUNK, nletters - k);
        if (out_put(c, letters + (i + k) % 26, n) != IO_OK)
            return IO_ERR;
        k += n;
    }
    return IO_OK;
}

/* source: send N text messages, close with 1000, wait for the client's close. */
static int ws_source(struct conn *c, const struct peer_opts *o)
{
    for (unsigned long long i = 0; i < o->source_count; i++) {
        if (ws_put_header(c, true, WS_OP_TEXT, o->source_size) != IO_OK ||
            put_content(c, i, o->source_size) != IO_OK)
            return IO_ERR;
        c->msgs++;
        c->bytes += o->source_size;
    }
    if (ws_put_close(c, WS_CLOSE_NORMAL, NULL) != IO_OK || conn_flush(c) != IO_OK)
        return IO_ERR;
    /* RFC 6455 5.5.1: after our close, read (and drop) until the client's close. */
    unsigned char ctl[125];
    bool is_in_message = false;
    for (;;) {
        struct ws_frame f;
        int r = ws_read_header(c, &f);
        if (r == IO_EOF) {
            warnx("connection closed before the client answered our close");
            return IO_ERR;
        }
        if (r != IO_OK)
            return IO_ERR;
        const char *bad = ws_check_frame(&f, is_in_message);
        if (bad) {
            warnx("after our close: %s", bad);
            conn_finish(c);
            return IO_ERR;
        }
        if (f.opcode == WS_OP_CONT || f.opcode == WS_OP_TEXT || f.opcode == WS_OP_BINARY) {
            if (ws_pass_payload(c, &f, false) != IO_OK)
                return IO_ERR;
            is_in_message = !f.is_fin;
            continue;
        }
        if (ws_read_control(c, &f, ctl) != IO_OK)
            return IO_ERR;
        if (f.opcode == WS_OP_CLOSE) {
            conn_finish(c);
            return IO_OK;
        }
    }
}

/* ---- opening handshake ---- */

static const char *find_crlfcrlf(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i + 4 <= len; i++) {
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
            return (const char *)p + i;
    }
    return NULL;
}

/* Does the comma-separated list contain token (case-insensitive)? */
static bool has_token(const char *list, size_t list_len, const char *token)
{
    size_t tlen = strlen(token);
    size_t i = 0;
    while (i < list_len) {
        while (i < list_len && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        size_t start = i;
        while (i < list_len && list[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (list[end - 1] == ' ' || list[end - 1] == '\t'))
            end--;
        if (end - start == tlen && strncasecmp(list + start, token, tlen) == 0)
            return true;
    }
    return false;
}

struct ws_request {
    const char *key;
    size_t key_len;
    const char *version;
    size_t version_len;
    bool has_upgrade;
    bool has_connection_upgrade;
};

static void parse_request_headers(const char *head, const char *end, struct ws_request *rq)
{
    const char *line = strstr(head, "\r\n");
    while (line && line < end) {
        line += 2;
        const char *eol = strstr(line, "\r\n");
        if (!eol || eol > end)
            eol = end;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon) {
            size_t name_len = (size_t)(colon - line);
            const char *v = colon + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            size_t vlen = (size_t)(ve - v);
#define IS_NAME(s) (name_len == sizeof(s) - 1 && strncasecmp(line, s, name_len) == 0)
            if (IS_NAME("Sec-WebSocket-Key")) {
                rq->key = v;
                rq->key_len = vlen;
            } else if (IS_NAME("Sec-WebSocket-Version")) {
                rq->version = v;
                rq->version_len = vlen;
            } else if (IS_NAME("Upgrade")) {
                rq->has_upgrade = has_token(v, vlen, "websocket");
            } else if (IS_NAME("Connection")) {
                rq->has_connection_upgrade |= has_token(v, vlen, "upgrade");
            }
#undef IS_NAME
        }
        line = eol;
    }
}

static int http_refuse(struct conn *c, const char *status, const char *extra)
{
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %s\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n",
                     status, extra);
    warnx("handshake refused: %s", status);
    if (n > 0 && out_put(c, resp, (size_t)n) == IO_OK)
        conn_finish(c);
    return IO_ERR;
}

/* Sec-WebSocket-Accept = base64(SHA-1(key + GUID)) (RFC 6455 4.2.2). */
static int ws_accept_key(const char *key, size_t key_len, char out[29])
{
    unsigned char buf[128];
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    if (key_len + sizeof WS_GUID - 1 > sizeof buf)
        return -1;
    memcpy(buf, key, key_len);
    memcpy(buf + key_len, WS_GUID, sizeof WS_GUID - 1);
    if (!EVP_Digest(buf, key_len + sizeof WS_GUID - 1, digest, &dlen, EVP_sha1(), NULL) ||
        dlen != 20)
        return -1;
    return EVP_EncodeBlock((unsigned char *)out, digest, 20) == 28 ? 0 : -1;
}

static int ws_handshake(struct conn *c)
{
    const char *end;
    for (;;) {
        /* Only the first HEAD_MAX bytes may hold the head: head[] below is that big. */
        end = find_crlfcrlf(c->in + c->in_pos, min_size(conn_avail(c), HEAD_MAX));
        if (end)
            break;
        if (conn_avail(c) >= HEAD_MAX)
            return http_refuse(c, "431 Request Header Fields Too Large", "");
        int r = conn_read_some(c);
        if (r != IO_OK) {
            if (r == IO_EOF)
                warnx("connection closed during the handshake");
            return IO_ERR;
        }
    }
    /* Bytes after the head stay in the input buffer: they are the first frames. */
    char head[HEAD_MAX + 4];
    size_t head_len = (size_t)(end - (const char *)(c->in + c->in_pos)) + 2;
    memcpy(head, c->in + c->in_pos, head_len);
    head[head_len] = '\0';
    c->in_pos += head_len + 2;

    if (strncmp(head, "GET ", 4) != 0)
        return http_refuse(c, "405 Method Not Allowed", "Allow: GET\r\n");
    struct ws_request rq = {0};
    parse_request_headers(head, head + head_len, &rq);
    if (!rq.version || rq.version_len != 2 || memcmp(rq.version, "13", 2) != 0)
        return http_refuse(c, "426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n");
    if (!rq.has_upgrade || !rq.has_connection_upgrade || !rq.key || rq.key_len != 24)
        return http_refuse(c, "400 Bad Request", "");
    char accept[29];
    if (ws_accept_key(rq.key, rq.key_len, accept) != 0)
        return http_refuse(c, "500 Internal Server Error", "");
    char resp[160];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    if (n < 0 || (size_t)n >= sizeof resp)
        return IO_ERR;
    /* Not flushed here: it leaves with the first frames or before the first blocking read. */
    return out_put(c, resp, (size_t)n);
}

/* ---- raw TCP baseline ---- */

/* One recv into c->in, counted: its length, 0 at EOF, -1 on error (reported). */
static ssize_t tcp_recv(struct conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->in, IN_CAP, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            warn("recv");
        else
            c->bytes += (size_t)n;
        return n;
    }
}

static int tcp_echo(struct conn *c)
{
    for (;;) {
        ssize_t n = tcp_recv(c);
        if (n == 0)
            break;
        if (n < 0)
            return IO_ERR;
        /* Write straight from the input buffer: no copy. */
        for (size_t off = 0; off < (size_t)n;) {
            ssize_t w = send(c->fd, c->in + off, (size_t)n - off, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                warn("send");
                return IO_ERR;
            }
            off += (size_t)w;
        }
    }
    conn_finish(c);
    return IO_OK;
}

static int tcp_sink(struct conn *c)
{
    for (;;) {
        ssize_t n = tcp_recv(c);
        if (n == 0)
            break;
        if (n < 0)
            return IO_ERR;
        const unsigned char *p = c->in, *e = c->in + n;
        while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
            c->msgs++;
            p++;
        }
    }
    conn_finish(c);
    return IO_OK;
}

/* N lines: the first SIZE-1 content bytes of message i, then a newline. */
static int tcp_source(struct conn *c, const struct peer_opts *o)
{
    for (unsigned long long i = 0; i < o->source_count; i++) {
        if (put_content(c, i, o->source_size - 1) != IO_OK || out_put(c, "\n", 1) != IO_OK)
            return IO_ERR;
        c->msgs++;
        c->bytes += o->source_size;
    }
    conn_finish(c);
    return IO_OK;
}

/* ---- main ---- */

static int serve_conn(struct conn *c, const struct peer_opts *o)
{
    if (o->is_tcp) {
        switch (o->mode) {
        case MODE_ECHO:
            return tcp_echo(c);
        case MODE_SINK:
            return tcp_sink(c);
        case MODE_SOURCE:
            return tcp_source(c, o);
        }
        return IO_ERR;
    }
    if (ws_handshake(c) != IO_OK)
        return IO_ERR;
    if (o->mode == MODE_SOURCE)
        return ws_source(c, o);
    return ws_serve(c, o->mode == MODE_ECHO);
}

static void report(const struct conn *c, const struct peer_opts *o, double secs, int r)
{
    static const char *const names[] = {"echo", "sink", "source"};
    double mb = (double)c->bytes / 1e6;
    fprintf(stderr, "peer %s%s: %llu %s, %llu bytes, %.3f s, %.1f MB/s%s\n",
            o->is_tcp ? "tcp " : "", names[o->mode], c->msgs,
            o->is_tcp ? "lines" : "messages", c->bytes, secs, secs > 0 ? mb / secs : 0.0,
            r == IO_OK ? "" : " (connection ended with an error)");
}

static int listen_on(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        err(1, "socket");
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        err(1, "setsockopt SO_REUSEADDR");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        err(1, "bind 127.0.0.1:%u", port);
    if (listen(fd, 64) != 0)
        err(1, "listen");
    socklen_t slen = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &slen) != 0)
        err(1, "getsockname");
    printf("PORT %u\n", (unsigned)ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

static void set_conn_options(int fd, int idle_sec)
{
    int one = 1;
    /* Our writes are already batched; Nagle would only delay the last small one. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* A stuck client must not hold the (single-threaded) peer forever. */
    struct timeval tv = {.tv_sec = idle_sec, .tv_usec = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: peer [--tcp] [-p PORT] [-n CONNS] [--idle SEC] [-v] echo|sink|source N SIZE\n"
            "  --tcp        raw TCP instead of WebSocket (source sends lines of SIZE-1 bytes + \\n)\n"
            "  -p PORT      port on 127.0.0.1 (0, the default: pick one); prints \"PORT n\"\n"
            "  -n CONNS     exit after serving CONNS connections (default: serve forever)\n"
            "  --idle SEC   drop a connection idle for SEC seconds (default 60)\n"
            "  -v           a summary line per connection on stderr (always on in sink)\n");
    exit(2);
}

static unsigned long long parse_ull(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *s == '\0' || *end != '\0' || *s == '-')
        errx(2, "bad %s: %s", what, s);
    return v;
}

static void parse_args(int argc, char **argv, struct peer_opts *o)
{
    static const struct option longopts[] = {
        {"tcp", no_argument, NULL, 't'},     {"port", required_argument, NULL, 'p'},
        {"count", required_argument, NULL, 'n'}, {"idle", required_argument, NULL, 'i'},
        {"verbose", no_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct peer_opts){.idle_sec = 60};
    int ch;
    while ((ch = getopt_long(argc, argv, "p:n:vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 't':
            o->is_tcp = true;
            break;
        case 'p': {
            unsigned long long p = parse_ull(optarg, "port");
            if (p > 65535)
                errx(2, "bad port: %s", optarg);
            o->port = (unsigned)p;
            break;
        }
        case 'n':
            o->max_conns = parse_ull(optarg, "connection count");
            break;
        case 'i': {
            unsigned long long s = parse_ull(optarg, "idle seconds");
            if (s == 0 || s > INT_MAX)
                errx(2, "bad idle seconds: %s", optarg);
            o->idle_sec = (int)s;
            break;
        }
        case 'v':
            o->is_verbose = true;
            break;
        default:
            usage();
        }
    }
    argc -= optind;
    argv += optind;
    if (argc == 1 && strcmp(argv[0], "echo") == 0) {
        o->mode = MODE_ECHO;
    } else if (argc == 1 && strcmp(argv[0], "sink") == 0) {
        o->mode = MODE_SINK;
        o->is_verbose = true;
    } else if (argc == 3 && strcmp(argv[0], "source") == 0) {
        o->mode = MODE_SOURCE;
        o->source_count = parse_ull(argv[1], "message count");
        unsigned long long size = parse_ull(argv[2], "message size");
        if (size > ((uint64_t)1 << 62) || (o->is_tcp && size == 0))
            errx(2, "bad message size: %s", argv[2]);
        o->source_size = (size_t)size;
    } else {
        usage();
    }
}

int main(int argc, char **argv)
{
    struct peer_opts o;
    parse_args(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    for (size_t k = 0; k < sizeof letters; k++)
        letters[k] = (unsigned char)('a' + k % 26);

    struct conn c = {.fd = -1};
    c.in = malloc(IN_CAP);
    c.out = malloc(OUT_CAP);
    if (!c.in || !c.out)
        err(1, "malloc");
    int lfd = listen_on(o.port);
    for (unsigned long long served = 0; o.max_conns == 0 || served < o.max_conns; served++) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            err(1, "accept");
        }
        set_conn_options(fd, o.idle_sec);
        c.fd = fd;
        c.in_pos = c.in_len = c.out_len = 0;
        c.msgs = c.bytes = 0;
        double t0 = now_sec();
        int r = serve_conn(&c, &o);
        if (o.is_verbose || r != IO_OK)
            report(&c, &o, now_sec() - t0, r);
        close(fd);
    }
    close(lfd);
    free(c.in);
    free(c.out);
    return 0;
}
