/* SPDX-License-Identifier: MIT */
/* Tests for src/io/h2.c, both roles at once: wsc's HTTP/2 client session and
 * server session talk over a socketpair, driven by poll as the loop drives
 * them. The client's extended CONNECT reaches the server as a head that
 * core/handshake accepts, the 200 comes back, and bytes go both ways through
 * flow control (more than one window), then END_STREAM both ways. Also the
 * preface check that tells HTTP/2 from HTTP/1.1 on a listening port, and a
 * refusal with its status and body. */
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/handshake.h"
#include "core/url.h"
#include "io/h2.h"
#include "io/net.h"
#include "io/stream.h"
#include "tap.h"

#define BIG (3 * 1024 * 1024) /* three times a stream's window */

struct pair {
    struct url url;
    struct hs_client hc;
    struct stream *client;     /* the client's stream */
    struct h2_session *server; /* the server's session */
    struct stream *accepted;   /* the server's stream */
    uint8_t preface[H2_PREFACE_LEN];
};

/* One turn: poll both ends a little, then let them move their bytes. */
static void turn(struct pair *p)
{
    struct pollfd fds[2] = {
        {.fd = p->client->fd, .events = stream_poll_events(p->client, true, true)},
        {.fd = p->server ? h2_session_fd(p->server) : -1,
         .events = p->server ? h2_session_poll_events(p->server) : 0},
    };
    poll(fds, 2, 10);
    stream_ready(p->client, fds[0].revents);
    if (p->server)
        h2_session_ready(p->server, fds[1].revents);
}

static const char *const protos[] = {"chat", "superchat"};

static bool open_pair(struct pair *p, const char *path)
{
    int sv[2];
    char err[256];
    memset(p, 0, sizeof(*p));
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return false;
    net_set_nonblocking(sv[0]);
    net_set_nonblocking(sv[1]);
    char url[128];
    snprintf(url, sizeof(url), "ws://server.example.com%s", path);
    if (url_parse(url, &p->url, err, sizeof(err)) != 0)
        return false;
    p->hc = (struct hs_client){.url = &p->url, .version = 13, .offer_deflate = true,
                               .subprotocols = protos, .num_subprotocols = 2};
    p->client = h2_client_open(stream_new_plain(sv[0]), false, &p->hc, err, sizeof(err));
    if (!p->client) {
        tap_diag("h2_client_open: %s", err);
        return false;
    }
    /* The listener reads the first bytes and tells HTTP/2 by its preface. */
    struct stream *raw = stream_new_plain(sv[1]);
    size_t got = 0;
    for (int i = 0; i < 200 && got < H2_PREFACE_LEN; i++) {
        turn(p);
        ssize_t n = stream_read(raw, p->preface + got, H2_PREFACE_LEN - got);
        if (n > 0)
            got += (size_t)n;
    }
    tap_ok(got == H2_PREFACE_LEN && h2_preface_match(p->preface, got) == 1,
           "RFC 9113 3.4: the client's first bytes are the preface, and the listener sees it");
    p->server = h2_server_new(raw, p->preface, got, err, sizeof(err));
    if (!p->server)
        tap_diag("h2_server_new: %s", err);
    return p->server != NULL;
}

static void close_pair(struct pair *p)
{
    stream_free(p->client);
    if (p->accepted)
        stream_free(p->accepted);
    if (p->server)
        h2_server_release(p->server);
}

static struct stream *accept_stream(struct pair *p)
{
    for (int i = 0; i < 200 && !p->accepted; i++) {
        turn(p);
        h2_stream_response(p->client, &(struct http_head){0}); /* the client drives its side */
        p->accepted = h2_server_accept(p->server);
    }
    return p->accepted;
}

static enum h2_response wait_response(struct pair *p, struct http_head *h)
{
    enum h2_response r = H2_WAIT;
    for (int i = 0; i < 200 && r == H2_WAIT; i++) {
        turn(p);
        r = h2_stream_response(p->client, h);
    }
    return r;
}

static void test_preface_match(void)
{
    static const struct {
        const char *name, *in;
        int want;
    } cases[] = {
        {"nothing yet", "", 0},
        {"the preface's first line", "PRI * HTTP/2.0\r\n", 0},
        {"the whole preface", H2_PREFACE, 1},
        {"the preface and a frame", H2_PREFACE "\x00\x00\x12", 1},
        {"an HTTP/1.1 request line", "GET / HTTP/1.1\r\n", -1},
        {"PRI with HTTP/1.1", "PRI * HTTP/1.1\r\n", -1},
        {"one byte", "P", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].in);
        if (cases[i].want == 1 && n < H2_PREFACE_LEN)
            n = H2_PREFACE_LEN;
        uint8_t *copy = tap_dup(cases[i].in, n);
        tap_ok(h2_preface_match(copy, n) == cases[i].want, "RFC 9113 3.4: preface check, %s: %d",
               cases[i].name, cases[i].want);
        free(copy);
    }
}

static void test_accept_and_exchange(void)
{
    struct pair p;
    if (!tap_ok(open_pair(&p, "/chat?room=2"), "a client and a server session over a socketpair"))
        return;
    struct stream *s = accept_stream(&p);
    if (!tap_ok(s != NULL, "RFC 8441 3: the server accepts the stream once its SETTINGS allowed "
                           "extended CONNECT")) {
        close_pair(&p);
        return;
    }
    struct http_head req;
    struct hs_server srv = {protos + 1, 1, true};
    struct hs_server_result sr;
    tap_ok(h2_stream_request(s, &req) == 0 && hs_check_request_h2(&srv, &req, &sr) == 0 &&
               sr.status == 200 && !strcmp(sr.subprotocol, "superchat") && sr.has_deflate &&
               req.target_len == 12 && !memcmp(req.target, "/chat?room=2", 12),
           "the server's head passes RFC 8441 checks: :path, subprotocol, deflate");
    struct hs_fields *f = malloc(sizeof(*f));
    if (!f)
        abort();
    hs_build_response_h2(&sr, f);
    tap_ok(h2_stream_respond(s, f, NULL) == 0, "the server answers 200");
    free(f);
    struct http_head h;
    struct hs_result cr;
    enum h2_response r = wait_response(&p, &h);
    tap_ok(r == H2_READY && hs_check_response_h2(&p.hc, &h, &cr) == 0 &&
               !strcmp(cr.subprotocol, "superchat") && cr.has_deflate,
           "the client reads the 200 and accepts it");
    tap_ok(h2_stream_id(p.client) == 1, "the WebSocket is stream 1");

    /* Bytes both ways, more than a window each, read as they come. */
    uint8_t *out = malloc(BIG), *in_s = malloc(BIG), *in_c = malloc(BIG);
    if (!out || !in_s || !in_c)
        abort();
    for (size_t i = 0; i < BIG; i++)
        out[i] = (uint8_t)(i * 7 + i / 65536);
    size_t sent_c = 0, sent_s = 0, got_s = 0, got_c = 0;
    for (int i = 0; i < 20000 && (got_s < BIG || got_c < BIG); i++) {
        turn(&p);
        ssize_t n;
        if (sent_c < BIG && (n = stream_write(p.client, out + sent_c, BIG - sent_c)) > 0)
            sent_c += (size_t)n;
        if (sent_s < BIG && (n = stream_write(s, out + sent_s, BIG - sent_s)) > 0)
            sent_s += (size_t)n;
        stream_poll_events(s, true, sent_s < BIG);
        if ((n = stream_read(s, in_s + got_s, BIG - got_s)) > 0)
            got_s += (size_t)n;
        if ((n = stream_read(p.client, in_c + got_c, BIG - got_c)) > 0)
            got_c += (size_t)n;
    }
    tap_ok(got_s == BIG && !memcmp(in_s, out, BIG),
           "RFC 9113 6.9: %d bytes client to server through flow control, in order", BIG);
    tap_ok(got_c == BIG && !memcmp(in_c, out, BIG),
           "RFC 9113 6.9: %d bytes server to client through flow control, in order", BIG);

    /* END_STREAM both ways: each side reads the end of the stream. */
    stream_shutdown(p.client);
    ssize_t end_s = STREAM_AGAIN, end_c = STREAM_AGAIN;
    for (int i = 0; i < 200 && end_s == STREAM_AGAIN; i++) {
        turn(&p);
        end_s = stream_read(s, in_s, 16);
    }
    stream_shutdown(s);
    for (int i = 0; i < 200 && end_c == STREAM_AGAIN; i++) {
        turn(&p);
        end_c = stream_read(p.client, in_c, 16);
    }
    tap_ok(end_s == 0 && end_c == 0, "RFC 8441 5: END_STREAM each way reads as the end (%zd, %zd)",
           end_s, end_c);
    free(out);
    free(in_s);
    free(in_c);
    close_pair(&p);
}

static void test_refusal(void)
{
    struct pair p;
    if (!open_pair(&p, "/nowhere"))
        return;
    struct stream *s = accept_stream(&p);
    if (!s) {
        tap_ok(false, "refusal: stream accepted");
        close_pair(&p);
        return;
    }
    struct hs_server_result sr = {.status = 404};
    snprintf(sr.error, sizeof(sr.error), "no WebSocket here");
    struct hs_fields *f = malloc(sizeof(*f));
    if (!f)
        abort();
    hs_build_response_h2(&sr, f);
    h2_stream_respond(s, f, sr.error);
    free(f);
    struct http_head h;
    struct hs_result cr;
    enum h2_response r = wait_response(&p, &h);
    int rc = r == H2_READY ? hs_check_response_h2(&p.hc, &h, &cr) : 0;
    tap_ok(r == H2_READY && rc == -1 && cr.status == 404 &&
               strstr(cr.error, "server answered 404 Not Found") != NULL,
           "RFC 8441 5: a 404 is a refusal with its status named (%s)",
           r == H2_READY ? cr.error : "no answer");
    close_pair(&p);
}

int main(void)
{
    test_preface_match();
    test_accept_and_exchange();
    test_refusal();
    return tap_done();
}
