/* SPDX-License-Identifier: MIT */
#include "deflate.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST
#include <zlib.h>

#include "buf.h"
#include "ws.h"

/* Inflated bytes are handed to the engine in chunks of this size, so a
 * message never needs its inflated size in memory. 32 KiB is also the
 * largest LZ77 window, which lets the same buffer carry the window across a
 * stream restart (see restart_stream). */
#define INFLATE_CHUNK ((size_t)1 << 15)
/* Output room asked of the deflater's buffer per deflate() call. */
#define DEFLATE_CHUNK ((size_t)1 << 14)
/* zlib counts in uInt; longer inputs are fed in pieces of this size. */
#define ZLIB_PIECE ((size_t)1 << 30)

/* RFC 7692 7.2.1: the end of a flushed stream, which the sender removes
 * from each message and the receiver puts back. */
static const uint8_t sync_tail[4] = {0x00, 0x00, 0xFF, 0xFF};

struct ws_inflater {
    z_stream z;
    bool no_context_takeover;                 /* the peer's: start each message afresh */
    bool is_stream_end;                       /* the data so far ended on a BFINAL block */
    uint8_t *chunk;                           /* INFLATE_CHUNK bytes; owned */
    unsigned long long wire, plain;           /* the message in progress */
    unsigned long long last_wire, last_plain; /* the last complete message */
};

struct ws_deflater {
    z_stream z;
    bool can_compress;        /* false when our window must be 8: zlib has no raw 8 */
    bool no_context_takeover; /* ours: start each message afresh */
    struct buf out;           /* compressed payload of one frame; owned, reused */
    size_t min_size;          /* single-frame messages shorter than this go plain */
    bool is_plain_message;    /* the message being sent is not compressed */
    unsigned long long wire, plain;
    unsigned long long last_wire, last_plain;
};

/* ---- receiving ---- */

void ws_inflater_free(struct ws_inflater *in)
{
    if (!in)
        return;
    inflateEnd(&in->z);
    free(in->chunk);
    free(in);
}

static struct ws_inflater *inflater_new(bool no_context_takeover)
{
    struct ws_inflater *in = calloc(1, sizeof(*in));
    if (!in)
        return NULL;
    in->chunk = malloc(INFLATE_CHUNK);
    /* A window larger than the negotiated one costs a little memory and
     * decodes the same streams; zlib's raw mode also rejects 8. */
    if (!in->chunk || inflateInit2(&in->z, -15) != Z_OK) {
        free(in->chunk);
        free(in);
        return NULL;
    }
    in->no_context_takeover = no_context_takeover;
    return in;
}

void ws_inflater_begin(struct ws_inflater *in)
{
    in->wire = 0;
    in->plain = 0;
    in->is_stream_end = false;
    if (in->no_context_takeover)
        inflateReset(&in->z);
}

/* RFC 7692 7.2.3.4 lets a sender end its blocks with BFINAL set and go on
 * in the same message or the next one, still referring to earlier data.
 * zlib stops at such a block, so start a new raw stream that keeps the
 * window. The chunk buffer is free here: its output has been delivered. */
static int restart_stream(struct ws_inflater *in)
{
    uInt n = (uInt)INFLATE_CHUNK;
    if (inflateGetDictionary(&in->z, in->chunk, &n) != Z_OK || inflateReset(&in->z) != Z_OK)
        return -1;
    if (n && inflateSetDictionary(&in->z, in->chunk, n) != Z_OK)
        return -1;
    in->is_stream_end = true;
    return 0;
}

static int fail_inflate(struct ws_conn *c, int r)
{
    if (r == Z_MEM_ERROR)
        return ws_fail(c, WS_CLOSE_INTERNAL, "out of memory while inflating a message");
    const char *why = c->inflater->z.msg ? c->inflater->z.msg : "invalid data";
    return ws_fail(c, WS_CLOSE_INVALID_DATA,
                   "RFC 7692 7.2.2: compressed message does not inflate (%s)", why);
}

/* Inflates p[0, len) chunk by chunk, delivering each chunk before the next
 * is made: the engine's size limit stops a bomb after at most one chunk
 * more than the limit. flush is Z_SYNC_FLUSH, or Z_BLOCK to stop at the
 * block boundary that ends a message. */
static int inflate_some(struct ws_conn *c, const uint8_t *p, size_t len, int flush)
{
    struct ws_inflater *in = c->inflater;
    z_stream *z = &in->z;
    z->next_in = p;
    z->avail_in = (uInt)len;
    int r;
    do {
        if (z->avail_in)
            in->is_stream_end = false;
        z->next_out = in->chunk;
        z->avail_out = (uInt)INFLATE_CHUNK;
        r = inflate(z, flush);
        if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
            return fail_inflate(c, r);
        size_t got = INFLATE_CHUNK - z->avail_out;
        in->plain += got;
        if (got && ws_deliver(c, in->chunk, got) != 0)
            return -1;
        if (r == Z_STREAM_END && restart_stream(in) != 0)
            return ws_fail(c, WS_CLOSE_INTERNAL, "cannot restart the inflater");
    } while (z->avail_out == 0 || (z->avail_in > 0 && r != Z_BUF_ERROR));
    return 0;
}

int ws_inflater_feed(struct ws_conn *c, const unsigned char *p, size_t len)
{
    c->inflater->wire += len;
    while (len > 0) {
        size_t n = len < ZLIB_PIECE ? len : ZLIB_PIECE;
        if (inflate_some(c, p, n, Z_SYNC_FLUSH) != 0)
            return -1;
        if (c->inflater->z.avail_in)
            return ws_fail(c, WS_CLOSE_INTERNAL, "the inflater stopped before its input ended");
        p += n;
        len -= n;
    }
    return 0;
}

int ws_inflater_finish(struct ws_conn *c)
{
    struct ws_inflater *in = c->inflater;
    /* A message that ends exactly with a BFINAL block needs no tail: accept
     * it rather than misread the tail as the header of a next block. */
    if (!in->is_stream_end) {
        if (inflate_some(c, sync_tail, sizeof(sync_tail), Z_BLOCK) != 0)
            return -1;
        /* data_type bit 128: inflate stopped at a block boundary. */
        if (in->z.avail_in || !(in->z.data_type & 128))
            return ws_fail(c, WS_CLOSE_INVALID_DATA,
                           "RFC 7692 7.2.2: compressed message does not end with an empty "
                           "stored block (truncated or followed by stray data)");
    }
    in->last_wire = in->wire;
    in->last_plain = in->plain;
    return 0;
}

/* ---- sending ---- */

void ws_deflater_free(struct ws_deflater *d)
{
    if (!d)
        return;
    if (d->can_compress)
        deflateEnd(&d->z);
    buf_free(&d->out);
    free(d);
}

static struct ws_deflater *deflater_new(bool no_context_takeover, unsigned window_bits)
{
    struct ws_deflater *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    buf_init(&d->out, 0);
    d->no_context_takeover = no_context_takeover;
    /* zlib turns raw windowBits 8 into 9 (or refuses it), which would break
     * the peer's limit; RFC 7692 6 lets us send those messages plain. */
    if (window_bits < 9)
        return d;
    if (deflateInit2(&d->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -(int)window_bits, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        free(d);
        return NULL;
    }
    d->can_compress = true;
    return d;
}

/* Compresses p[0, len) into d->out with a sync flush, so that the frame
 * carries everything up to here and ends on a byte boundary. */
static int compress_frame(struct ws_deflater *d, const uint8_t *p, size_t len)
{
    z_stream *z = &d->z;
    buf_clear(&d->out);
    do {
        bool is_last = len <= ZLIB_PIECE;
        size_t n = is_last ? len : ZLIB_PIECE;
        int flush = is_last ? Z_SYNC_FLUSH : Z_NO_FLUSH;
        z->next_in = p;
        z->avail_in = (uInt)n;
        int r;
        do {
            uint8_t *dst = buf_reserve(&d->out, DEFLATE_CHUNK);
            if (!dst)
                return -1;
            z->next_out = dst;
            z->avail_out = (uInt)DEFLATE_CHUNK;
            /* Z_BUF_ERROR is only "nothing to do": an empty frame right
             * after a flush has nothing to add. */
            r = deflate(z, flush);
            if (r != Z_OK && r != Z_BUF_ERROR)
                return -1;
            buf_commit(&d->out, DEFLATE_CHUNK - z->avail_out);
        } while (z->avail_out == 0 || (z->avail_in > 0 && r != Z_BUF_ERROR));
        if (z->avail_in)
            return -1;
        p += n;
        len -= n;
    } while (len > 0);
    return 0;
}

/* RFC 7692 7.2.1: the final frame drops the 00 00 FF FF that ends the sync
 * flush. When the flush produced nothing (an empty frame after a flushed
 * one) the stream is at a byte-aligned block boundary, and a single 00 (the
 * header of an empty stored block, RFC 7692 7.2.3.6) lets the receiver's
 * appended tail complete it. */
static int trim_final(struct buf *out)
{
    static const uint8_t empty_block = 0x00;
    size_t n = buf_size(out);
    if (n >= sizeof(sync_tail) &&
        memcmp(buf_head(out) + n - sizeof(sync_tail), sync_tail, sizeof(sync_tail)) == 0) {
        out->len -= sizeof(sync_tail); /* data lives in [off, len): drop the last bytes */
        return 0;
    }
    return n == 0 ? buf_append(out, &empty_block, 1) : 0;
}

int ws_deflate_frame(struct ws_conn *c, int op, bool is_first, bool is_final, const void *p,
                     size_t len)
{
    struct ws_deflater *d = c->deflater;
    if (!d->can_compress)
        return ws_emit_data_frame(c, (unsigned)op, false, is_final, p, len);
    if (is_first) {
        d->wire = 0;
        d->plain = 0;
        /* RFC 7692 6: compression is chosen per message. Each sync flush
         * costs zlib a fixed ~13k instructions (it builds Huffman trees),
         * which outweighs the few bytes saved on a small single-frame one. */
        d->is_plain_message = is_final && len < d->min_size;
    }
    if (d->is_plain_message) {
        d->last_wire = d->last_plain = len;
        return ws_emit_data_frame(c, (unsigned)op, false, is_final, p, len);
    }
    if (compress_frame(d, p, len) != 0)
        return -1;
    if (is_final && trim_final(&d->out) != 0)
        return -1;
    size_t n = buf_size(&d->out);
    /* The sizes are counted first, so that the frame event (--trace) of a
     * final frame can already read the message's. */
    d->wire += n;
    d->plain += len;
    if (is_final) {
        d->last_wire = d->wire;
        d->last_plain = d->plain;
    }
    /* RFC 7692 6.1: RSV1 marks the first frame of a compressed message only. */
    if (ws_emit_data_frame(c, (unsigned)op, is_first, is_final, buf_head(&d->out), n) != 0)
        return -1;
    if (is_final && d->no_context_takeover && deflateReset(&d->z) != Z_OK)
        return -1;
    return 0;
}

void ws_deflate_set_min_size(struct ws_conn *c, size_t min_size)
{
    if (c->deflater)
        c->deflater->min_size = min_size;
}

void ws_deflate_last_sizes(const struct ws_conn *c, bool is_outgoing, unsigned long long *wire,
                           unsigned long long *plain)
{
    *wire = 0;
    *plain = 0;
    if (is_outgoing && c->deflater) {
        *wire = c->deflater->last_wire;
        *plain = c->deflater->last_plain;
    } else if (!is_outgoing && c->inflater) {
        *wire = c->inflater->last_wire;
        *plain = c->inflater->last_plain;
    }
}

int ws_deflate_enable(struct ws_conn *c, const struct ws_deflate_params *p, bool is_client)
{
    if (c->inflater || c->deflater)
        return -1;
    bool peer_nct = is_client ? p->server_no_context_takeover : p->client_no_context_takeover;
    bool our_nct = is_client ? p->client_no_context_takeover : p->server_no_context_takeover;
    unsigned our_bits = is_client ? p->client_max_window_bits : p->server_max_window_bits;
    if (our_bits == 0)
        our_bits = 15;
    struct ws_inflater *in = inflater_new(peer_nct);
    struct ws_deflater *d = deflater_new(our_nct, our_bits);
    if (!in || !d) {
        ws_inflater_free(in);
        ws_deflater_free(d);
        return -1;
    }
    c->inflater = in;
    c->deflater = d;
    return 0;
}

/* ---- negotiation: Sec-WebSocket-Extensions (RFC 6455 9.1, RFC 7692 7) ---- */

#define PMD_NAME "permessage-deflate"

struct span {
    const char *p;
    size_t len;
};

/* One extension parameter; its value unescaped when it was quoted. */
struct ext_param {
    struct span name;
    bool has_value;
    bool is_value_token; /* RFC 6455 9.1: a quoted value must unescape to a token */
    char value[16];      /* NUL-terminated, cut to fit; value_len is the full length */
    size_t value_len;
};

enum pmd_param { PMD_SNCT, PMD_CNCT, PMD_SMWB, PMD_CMWB, PMD_UNKNOWN };

static const char *const pmd_param_names[] = {
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
};

/* Where RFC 7692 defines each parameter, for error reasons. */
static const char *const pmd_param_sections[] = {"7.1.1.1", "7.1.1.2", "7.1.2.1", "7.1.2.2"};

/* A permessage-deflate element as parsed so far. */
struct pmd_element {
    struct ws_deflate_params p;
    bool has[PMD_UNKNOWN]; /* parameters seen, by enum pmd_param */
    bool has_cmwb_value;   /* client_max_window_bits came with a value */
    char why[128];         /* the first thing wrong with it; empty when none */
};

static bool is_tchar(unsigned char ch)
{
    /* RFC 9110 5.6.2 token characters */
    if (ch >= '0' && ch <= '9')
        return true;
    if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')
        return true;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* RFC 9110 5.6.4: qdtext, and what a quoted-pair may escape. */
static bool is_qdtext(unsigned char ch)
{
    return ch == '\t' || ch == ' ' || ch == 0x21 || (ch >= 0x23 && ch <= 0x5B) ||
           (ch >= 0x5D && ch <= 0x7E) || ch >= 0x80;
}

static bool is_escapable(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7F);
}

static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* RFC 9110 5.6.1: recipients accept and ignore empty list elements. */
static const char *skip_separators(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    return s;
}

static const char *scan_token(const char *s, struct span *t)
{
    t->p = s;
    while (is_tchar((unsigned char)*s))
        s++;
    t->len = (size_t)(s - t->p);
    return s;
}

static bool span_is(struct span t, const char *word)
{
    return t.len == strlen(word) && memcmp(t.p, word, t.len) == 0;
}

static void value_push(struct ext_param *prm, char ch)
{
    if (prm->value_len < sizeof(prm->value) - 1)
        prm->value[prm->value_len] = ch;
    prm->value_len++;
}

/* Reads a quoted-string after its opening quote; NULL when malformed. */
static const char *scan_quoted(const char *s, struct ext_param *prm)
{
    for (;;) {
        unsigned char ch = (unsigned char)*s++;
        if (ch == '"')
            break;
        if (ch == '\\') {
            ch = (unsigned char)*s++;
            if (!is_escapable(ch))
                return NULL;
        } else if (!is_qdtext(ch)) {
            return NULL; /* also the end of the string: an unterminated quote */
        }
        if (!is_tchar(ch))
            prm->is_value_token = false;
        value_push(prm, (char)ch);
    }
    if (prm->value_len == 0)
        prm->is_value_token = false;
    return s;
}

/* Reads one parameter after its ';'; NULL when malformed. */
static const char *scan_param(const char *s, struct ext_param *prm)
{
    memset(prm, 0, sizeof(*prm));
    prm->is_value_token = true;
    s = scan_token(skip_ows(s), &prm->name);
    if (prm->name.len == 0)
        return NULL;
    s = skip_ows(s);
    if (*s != '=')
        return s;
    prm->has_value = true;
    s = skip_ows(s + 1);
    if (*s == '"')
        return scan_quoted(s + 1, prm);
    struct span v;
    s = scan_token(s, &v);
    if (v.len == 0)
        return NULL;
    for (size_t i = 0; i < v.len; i++)
        value_push(prm, v.p[i]);
    return s;
}

/* RFC 7692 7.1.2: a decimal integer without leading zeroes from 8 to 15. */
static bool parse_window_bits(const struct ext_param *prm, unsigned *bits)
{
    const char *v = prm->value;
    if (!prm->is_value_token)
        return false;
    if (prm->value_len == 1 && (v[0] == '8' || v[0] == '9')) {
        *bits = (unsigned)(v[0] - '0');
        return true;
    }
    if (prm->value_len == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') {
        *bits = 10 + (unsigned)(v[1] - '0');
        return true;
    }
    return false;
}

/* A copy of s[0, len) for an error reason, cut to fit out, with anything
 * but printable ASCII shown as '?': the peer's bytes may reach a terminal. */
static const char *printable(const char *s, size_t len, char *out, size_t outlen)
{
    size_t n = 0;
    for (; n < len && n + 1 < outlen && s[n]; n++)
        out[n] = s[n] >= 0x20 && s[n] < 0x7F ? s[n] : '?';
    out[n] = '\0';
    return out;
}

static void element_problem(struct pmd_element *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void element_problem(struct pmd_element *e, const char *fmt, ...)
{
    if (e->why[0])
        return; /* the first problem is the one worth reporting */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->why, sizeof(e->why), fmt, ap);
    va_end(ap);
}

static enum pmd_param pmd_param_of(struct span name)
{
    for (int i = 0; i < PMD_UNKNOWN; i++)
        if (span_is(name, pmd_param_names[i]))
            return (enum pmd_param)i;
    return PMD_UNKNOWN;
}

/* Checks one parameter against RFC 7692 7 and records it. A response must
 * give both window sizes a value; an offer may name client_max_window_bits
 * alone to say that the client can honour a limit. */
static void apply_param(struct pmd_element *e, const struct ext_param *prm, bool is_response)
{
    int nlen = (int)prm->name.len;
    enum pmd_param id = pmd_param_of(prm->name);
    if (id == PMD_UNKNOWN) {
        element_problem(e, "RFC 7692 7: unknown parameter %.*s", nlen, prm->name.p);
        return;
    }
    const char *name = pmd_param_names[id];
    const char *sec = pmd_param_sections[id];
    if (e->has[id]) {
        element_problem(e, "RFC 7692 7: parameter %s appears twice", name);
        return;
    }
    e->has[id] = true;
    if (id == PMD_SNCT || id == PMD_CNCT) {
        if (prm->has_value)
            element_problem(e, "RFC 7692 %s: %s takes no value", sec, name);
        else if (id == PMD_SNCT)
            e->p.server_no_context_takeover = true;
        else
            e->p.client_no_context_takeover = true;
        return;
    }
    if (!prm->has_value) {
        if (id == PMD_SMWB || is_response)
            element_problem(e, "RFC 7692 %s: %s needs a value from 8 to 15", sec, name);
        return;
    }
    unsigned bits;
    if (!parse_window_bits(prm, &bits)) {
        char shown[sizeof(prm->value)];
        printable(prm->value, sizeof(prm->value), shown, sizeof(shown));
        element_problem(e, "RFC 7692 %s: %s=\"%s%s\" is not a number from 8 to 15", sec, name,
                        shown, prm->value_len >= sizeof(prm->value) ? "..." : "");
        return;
    }
    if (id == PMD_SMWB) {
        e->p.server_max_window_bits = bits;
    } else {
        e->p.client_max_window_bits = bits;
        e->has_cmwb_value = true;
    }
}

/* Scans one list element at s: an extension name and its parameters, up to
 * the ',' that ends it or the end of the value; a permessage-deflate
 * element's parameters are checked into e. Returns where it stopped, or NULL
 * when the syntax is broken (nothing after that point can be trusted). */
static const char *scan_element(const char *s, struct span *name, struct pmd_element *e,
                                bool is_response)
{
    memset(e, 0, sizeof(*e));
    e->p.server_max_window_bits = 15;
    e->p.client_max_window_bits = 15;
    s = scan_token(skip_ows(s), name);
    if (name->len == 0)
        return NULL;
    bool is_pmd = span_is(*name, PMD_NAME);
    for (;;) {
        s = skip_ows(s);
        if (*s == ',' || *s == '\0')
            return s;
        if (*s != ';')
            return NULL;
        struct ext_param prm;
        s = scan_param(s + 1, &prm);
        if (!s)
            return NULL;
        if (is_pmd)
            apply_param(e, &prm, is_response);
    }
}

static int refuse(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int ws_deflate_parse_response(const char *value, bool offered, struct ws_deflate_params *p,
                              bool *accepted, char *err, size_t errlen)
{
    *accepted = false;
    const char *s = value ? value : "";
    struct pmd_element found;
    unsigned count = 0;
    for (;;) {
        s = skip_separators(s);
        if (*s == '\0')
            break;
        struct span name;
        struct pmd_element e;
        const char *start = s;
        s = scan_element(s, &name, &e, true);
        if (!s) {
            char shown[41];
            return refuse(err, errlen,
                          "RFC 6455 9.1: malformed Sec-WebSocket-Extensions element \"%s\"",
                          printable(start, sizeof(shown) - 1, shown, sizeof(shown)));
        }
        if (++count > 1)
            return refuse(err, errlen,
                          "RFC 6455 9.1: the server accepted a second extension (%.*s)",
                          (int)name.len, name.p);
        if (!span_is(name, PMD_NAME) || !offered)
            return refuse(err, errlen,
                          "RFC 6455 9.1: the server accepted extension %.*s, which we did not "
                          "offer",
                          (int)name.len, name.p);
        if (e.why[0])
            return refuse(err, errlen, "%s in the server's response", e.why);
        found = e;
    }
    if (count) {
        /* Our offer (WS_DEFLATE_OFFER) names client_max_window_bits, so a
         * response may carry it (RFC 7692 7.1.2.2). */
        *p = found.p;
        *accepted = true;
    }
    return 0;
}

static int append(char *resp, size_t resplen, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int append(char *resp, size_t resplen, size_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(resp + *at, resplen - *at, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= resplen - *at)
        return -1;
    *at += (size_t)n;
    return 0;
}

/* The response to an accepted offer (RFC 7692 7.1): the no_context_takeover
 * requests are granted by echoing them; the server's window is the one the
 * client asked for, if any; the client's window is limited only when the
 * client proposed a limit, since we inflate with the largest window. */
static int write_response(const struct pmd_element *e, char *resp, size_t resplen)
{
    size_t at = 0;
    if (!resp || resplen == 0 || append(resp, resplen, &at, "%s", PMD_NAME) != 0)
        return -1;
    if (e->p.server_no_context_takeover &&
        append(resp, resplen, &at, "; %s", pmd_param_names[PMD_SNCT]) != 0)
        return -1;
    if (e->p.client_no_context_takeover &&
        append(resp, resplen, &at, "; %s", pmd_param_names[PMD_CNCT]) != 0)
        return -1;
    if (e->has[PMD_SMWB] && append(resp, resplen, &at, "; %s=%u", pmd_param_names[PMD_SMWB],
                                   e->p.server_max_window_bits) != 0)
        return -1;
    if (e->has_cmwb_value && append(resp, resplen, &at, "; %s=%u", pmd_param_names[PMD_CMWB],
                                    e->p.client_max_window_bits) != 0)
        return -1;
    return 0;
}

int ws_deflate_accept_offer(const char *value, struct ws_deflate_params *p, char *resp,
                            size_t resplen)
{
    const char *s = value ? value : "";
    for (;;) {
        s = skip_separators(s);
        if (*s == '\0')
            return 0;
        struct span name;
        struct pmd_element e;
        s = scan_element(s, &name, &e, false);
        if (!s)
            return 0; /* broken syntax: where the next offer starts is unknowable */
        /* RFC 7692 7: decline an offer with an unknown, repeated or invalid
         * parameter, and consider the next one. */
        if (!span_is(name, PMD_NAME) || e.why[0])
            continue;
        if (write_response(&e, resp, resplen) != 0)
            return 0;
        *p = e.p;
        return 1;
    }
}
