/* SPDX-License-Identifier: MIT */
/* Unit tests for the JSON-lines formatter (jsonl.c) shared by --jsonl and
 * --record: heads, text escaping, base64, data added in any pieces. */
#include <stdio.h>
#include <string.h>

#include "jsonl.h"
#include "tap.h"

/* The data field for p[0, len) added in pieces of step bytes (0: whole). */
static void data_field(char *out, size_t outlen, bool is_base64, const void *p, size_t len,
                       size_t step)
{
    struct buf b;
    buf_init(&b, 0);
    struct jsonl_data d;
    jsonl_data_begin(&b, &d, is_base64);
    size_t at = 0;
    do {
        size_t n = step && len - at > step ? step : len - at;
        unsigned char *piece = tap_dup((const char *)p + at, n);
        jsonl_data_add(&b, &d, piece, n);
        free(piece);
        at += n;
    } while (at < len);
    jsonl_data_end(&b, &d);
    snprintf(out, outlen, "%.*s", (int)buf_size(&b), (const char *)buf_head(&b));
    buf_free(&b);
}

/* The same field whatever the pieces. */
static bool field_is(bool is_base64, const void *p, size_t len, const char *want)
{
    char got[2048];
    for (size_t step = 0; step <= len; step++) {
        data_field(got, sizeof(got), is_base64, p, len, step);
        if (strcmp(got, want)) {
            tap_diag("step %zu: got %s, wanted %s", step, got, want);
            return false;
        }
    }
    return true;
}

static void test_head(void)
{
    struct buf b;
    buf_init(&b, 0);
    struct jsonl_head h = {.op = WS_OP_TEXT, .time = "2026-01-02T03:04:05.678Z", .t = -1};
    jsonl_head(&b, &h);
    tap_ok(
        buf_size(&b) ==
                strlen("{\"type\":\"text\",\"opcode\":1,\"time\":\"2026-01-02T03:04:05.678Z\"") &&
            !memcmp(buf_head(&b),
                    "{\"type\":\"text\",\"opcode\":1,\"time\":\"2026-01-02T03:04:05.678Z\"",
                    buf_size(&b)),
        "the --jsonl head");
    buf_clear(&b);
    h = (struct jsonl_head){
        .op = WS_OP_BINARY, .is_continuation = true, .client = 7, .from = "server", .t = 1234};
    jsonl_head(&b, &h);
    const char *want =
        "{\"type\":\"binary\",\"opcode\":0,\"client\":7,\"from\":\"server\",\"t\":1234";
    tap_ok(buf_size(&b) == strlen(want) && !memcmp(buf_head(&b), want, strlen(want)),
           "client, from, t and a continuation's opcode 0");
    buf_clear(&b);
    jsonl_close(&b, 4000, (const uint8_t *)"bye \"x\"", 7);
    want = ",\"code\":4000,\"reason\":\"bye \\\"x\\\"\",\"length\":9";
    tap_ok(buf_size(&b) == strlen(want) && !memcmp(buf_head(&b), want, strlen(want)),
           "a close: code, escaped reason, payload length");
    buf_clear(&b);
    jsonl_close(&b, -1, (const uint8_t *)"", 0);
    want = ",\"reason\":\"\",\"length\":0";
    tap_ok(buf_size(&b) == strlen(want) && !memcmp(buf_head(&b), want, strlen(want)),
           "a close without a status code");
    buf_clear(&b);
    jsonl_payload(&b, (const uint8_t *)"\xff\x00", 2);
    want = ",\"encoding\":\"base64\",\"data\":\"/wA=\",\"length\":2";
    tap_ok(buf_size(&b) == strlen(want) && !memcmp(buf_head(&b), want, strlen(want)),
           "a payload that is not UTF-8 goes as base64");
    buf_free(&b);
}

static void test_text(void)
{
    tap_ok(field_is(false, "hello", 5, ",\"data\":\"hello\",\"length\":5"), "plain text");
    tap_ok(field_is(false, "", 0, ",\"data\":\"\",\"length\":0"), "empty text");
    tap_ok(field_is(false, "a\"b\\c\n\r\t\x01\x7f", 10,
                    ",\"data\":\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u007f\",\"length\":10"),
           "quotes, backslashes, C0 and DEL escaped");
    tap_ok(field_is(false, "\0", 1, ",\"data\":\"\\u0000\",\"length\":1"), "NUL escaped");
    tap_ok(field_is(false, "x\xc2\x85y\xc2\xa0", 6, ",\"data\":\"x\\u0085y\xc2\xa0\",\"length\":6"),
           "a C1 control escaped, split anywhere; U+00A0 kept");
    tap_ok(field_is(false, "\xe2\x82\xac\xf0\x9f\x98\x80", 7,
                    ",\"data\":\"\xe2\x82\xac\xf0\x9f\x98\x80\",\"length\":7"),
           "3- and 4-byte characters kept whole across pieces");
    tap_ok(field_is(false,
                    "a\xff"
                    "b\xe2\x82",
                    5, ",\"data\":\"a\\ufffdb\\ufffd\\ufffd\",\"length\":5"),
           "bytes that are not UTF-8 become U+FFFD (JSON strings hold characters)");
    tap_ok(field_is(false, "\xed\xa0\x80", 3, ",\"data\":\"\\ufffd\\ufffd\\ufffd\",\"length\":3"),
           "a surrogate is not UTF-8");
}

static void test_base64(void)
{
    tap_ok(field_is(true, "", 0, ",\"encoding\":\"base64\",\"data\":\"\",\"length\":0"), "empty");
    tap_ok(field_is(true, "f", 1, ",\"encoding\":\"base64\",\"data\":\"Zg==\",\"length\":1"),
           "1 byte");
    tap_ok(field_is(true, "fo", 2, ",\"encoding\":\"base64\",\"data\":\"Zm8=\",\"length\":2"),
           "2 bytes");
    tap_ok(
        field_is(true, "foobar", 6, ",\"encoding\":\"base64\",\"data\":\"Zm9vYmFy\",\"length\":6"),
        "RFC 4648 test vector, in any pieces");
    unsigned char big[1000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (unsigned char)(i * 7);
    char whole[2000], piece[2000];
    data_field(whole, sizeof(whole), true, big, sizeof(big), 0);
    bool same = true;
    for (size_t step = 1; step < 10; step++) {
        data_field(piece, sizeof(piece), true, big, sizeof(big), step);
        same = same && !strcmp(whole, piece);
    }
    tap_ok(same && strstr(whole, "\"length\":1000"), "1000 bytes: the same in small pieces");
}

int main(void)
{
    test_head();
    test_text();
    test_base64();
    return tap_done();
}
