/* SPDX-License-Identifier: MIT */
/* Unit tests for the JSON validator and pretty-printer (json.c). */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "tap.h"

struct sink {
    struct buf text;
    size_t keys, strings, numbers, literals;
};

static void collect(void *ctx, enum json_token kind, const char *p, size_t len)
{
    struct sink *s = ctx;
    buf_append(&s->text, p, len);
    s->keys += kind == JSON_KEY;
    s->strings += kind == JSON_STRING;
    s->numbers += kind == JSON_NUMBER;
    s->literals += kind == JSON_LITERAL;
}

/* Pretty-prints an exact-size heap copy of in; returns json_pretty's result
 * and leaves the text in s. */
static int pretty(const char *in, size_t len, struct sink *s)
{
    unsigned char *p = tap_dup(in, len);
    memset(s, 0, sizeof(*s));
    buf_init(&s->text, 0);
    int rc = json_pretty((const char *)p, len, 2, collect, s);
    buf_append(&s->text, "", 1);
    free(p);
    return rc;
}

static void test_pretty(void)
{
    static const struct {
        const char *in, *want, *name;
    } cases[] = {
        {"{}", "{}", "an empty object stays {}"},
        {"[ ]", "[]", "an empty array stays []"},
        {"{\"a\":1}", "{\n  \"a\": 1\n}", "one member per line, indented"},
        {"[1,2]", "[\n  1,\n  2\n]", "one element per line"},
        {" {\"a\" : [true , false,null], \"b\":{\"c\":\"d\"}} \n",
         "{\n  \"a\": [\n    true,\n    false,\n    null\n  ],\n  \"b\": {\n    \"c\": \"d\"\n  "
         "}\n}",
         "nested values, whitespace rewritten"},
        {"\"x\\n\\u00e9\\\"\"", "\"x\\n\\u00e9\\\"\"", "a string keeps its escapes as written"},
        {"-0.5e+10", "-0.5e+10", "a number is kept as written"},
        {"42", "42", "a scalar is valid JSON text (RFC 8259 2)"},
        {"{\"caf\xc3\xa9\":\"\xe2\x82\xac\"}", "{\n  \"caf\xc3\xa9\": \"\xe2\x82\xac\"\n}",
         "UTF-8 inside strings passes through"},
        {"[[]]", "[\n  []\n]", "an empty array inside an array"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sink s;
        int rc = pretty(cases[i].in, strlen(cases[i].in), &s);
        const char *got = (const char *)buf_head(&s.text);
        if (!tap_ok(rc == 0 && !strcmp(got, cases[i].want), "pretty: %s", cases[i].name))
            tap_diag("got rc %d: '%s'", rc, got);
        buf_free(&s.text);
    }
}

static void test_tokens(void)
{
    struct sink s;
    const char *in = "{\"k\":\"v\",\"n\":[1,true,null]}";
    pretty(in, strlen(in), &s);
    tap_ok(s.keys == 2 && s.strings == 1 && s.numbers == 1 && s.literals == 2,
           "tokens are classified: keys, strings, numbers, literals");
    buf_free(&s.text);
}

static void test_invalid(void)
{
    static const char *const bad[] = {
        "",
        " ",
        "{",
        "}",
        "[1,]",
        "[,1]",
        "{\"a\"}",
        "{\"a\":}",
        "{a:1}",
        "{\"a\":1,}",
        "01",
        "1.",
        ".5",
        "-",
        "1e",
        "+1",
        "0x10",
        "tru",
        "nul",
        "truex",
        "[1] [2]",
        "\"abc",
        "\"a\\x\"",
        "\"\\u12g4\"",
        "\"\\u12\"",
        "'single'",
        "{\"a\":1 \"b\":2}",
        "NaN",
        "[1 2]",
        "\"tab\there\"",
        "hello world",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sink s;
        int rc = pretty(bad[i], strlen(bad[i]), &s);
        tap_ok(rc == -1 && buf_size(&s.text) == 1, "invalid, nothing emitted: '%s'", bad[i]);
        buf_free(&s.text);
        unsigned char *p = tap_dup(bad[i], strlen(bad[i]));
        tap_ok(json_validate((const char *)p, strlen(bad[i])) == -1, "json_validate refuses '%s'",
               bad[i]);
        free(p);
    }
    /* A raw control character inside a string (RFC 8259 7). */
    const char nul_in_string[] = {'"', 'a', 0, 'b', '"'};
    unsigned char *p = tap_dup(nul_in_string, sizeof(nul_in_string));
    tap_ok(json_validate((const char *)p, sizeof(nul_in_string)) == -1,
           "RFC 8259 7: a raw NUL inside a string is invalid");
    free(p);
}

static void test_prefixes(void)
{
    /* Every proper prefix of a valid text is invalid and read within bounds. */
    const char *in = "{\"a\":[1,-2.5e3,\"x\\u0041\",{\"b\":null}],\"c\":false}";
    size_t len = strlen(in);
    int fails = 0;
    for (size_t n = 0; n < len; n++) {
        unsigned char *p = tap_dup(in, n);
        fails += json_validate((const char *)p, n) == 0;
        free(p);
    }
    unsigned char *p = tap_dup(in, len);
    tap_ok(fails == 0 && json_validate((const char *)p, len) == 0,
           "every proper prefix is invalid, the whole is valid");
    free(p);
}

static void test_depth(void)
{
    char deep[2 * JSON_MAX_DEPTH + 3];
    size_t n = JSON_MAX_DEPTH;
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    unsigned char *p = tap_dup(deep, 2 * n);
    tap_ok(json_validate((const char *)p, 2 * n) == 0, "nesting of %zu levels is accepted", n);
    free(p);
    n = JSON_MAX_DEPTH + 1;
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    p = tap_dup(deep, 2 * n);
    tap_ok(json_validate((const char *)p, 2 * n) == -1, "nesting beyond the bound is refused");
    free(p);
    /* Deep unclosed nesting fails without exhausting the stack. */
    static char open[100000];
    memset(open, '[', sizeof(open));
    p = tap_dup(open, sizeof(open));
    tap_ok(json_validate((const char *)p, sizeof(open)) == -1, "100000 open brackets: refused");
    free(p);
}

static void test_large(void)
{
    struct buf in;
    buf_init(&in, 0);
    buf_append(&in, "[", 1);
    for (int i = 0; i < 10000; i++)
        buf_append(&in, i ? ",{\"i\":1}" : "{\"i\":1}", i ? 8 : 7);
    buf_append(&in, "]", 1);
    struct sink s;
    int rc = pretty((const char *)buf_head(&in), buf_size(&in), &s);
    tap_ok(rc == 0 && s.keys == 10000, "an array of 10000 objects");
    buf_free(&s.text);
    buf_free(&in);
}

int main(void)
{
    test_pretty();
    test_tokens();
    test_invalid();
    test_prefixes();
    test_depth();
    test_large();
    return tap_done();
}
