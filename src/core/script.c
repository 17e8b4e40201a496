/* SPDX-License-Identifier: MIT */
#include "script.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static int fail(char *err, size_t errlen, const struct script *s, unsigned long line,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t errlen, const struct script *s, unsigned long line,
                const char *fmt, ...)
{
    int n = snprintf(err, errlen, "%s:%lu: ", s->name, line);
    if (n > 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool is_blank(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t')
            return false;
    return true;
}

static int add_line(struct script *s, const struct script_line *l)
{
    if (s->num_lines == s->cap_lines) {
        size_t cap = s->cap_lines ? 2 * s->cap_lines : 16;
        struct script_line *lines = realloc(s->lines, cap * sizeof(*lines));
        if (!lines)
            return -1;
        s->lines = lines;
        s->cap_lines = cap;
    }
    s->lines[s->num_lines++] = *l;
    return 0;
}

/* Checks one line that does something; fills l->kind. */
static int check_line(struct script *s, struct script_line *l, struct command *c, char *err,
                      size_t errlen)
{
    const char *p = (const char *)s->text + l->off;
    command_parse(p, l->len, c);
    l->kind = c->kind;
    switch (c->kind) {
    case CMD_ERROR: return fail(err, errlen, s, l->number, "%s", c->error);
    case CMD_TEXT: {
        struct utf8_state st = {0};
        if (utf8_validate(&st, (const uint8_t *)c->text, c->len) < c->len || !utf8_is_complete(&st))
            return fail(err, errlen, s, l->number, "not valid UTF-8 (a text message must be)");
        break;
    }
    case CMD_TO:
        return fail(err, errlen, s, l->number, "/to is for listen mode; a script is a client");
    case CMD_HELP: return fail(err, errlen, s, l->number, "/help has no place in a script");
    case CMD_QUIT: l->kind = CMD_CLOSE; break; /* close and end, as /close does */
    case CMD_EXPECT: l->expect_index = (long)s->num_expects++; break;
    default: break;
    }
    return 0;
}

int script_parse(struct script *s, const char *name, const uint8_t *text, size_t len, char *err,
                 size_t errlen)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", strcmp(name, "-") ? name : "stdin");
    s->text = malloc(len ? len : 1);
    if (!s->text) {
        snprintf(err, errlen, "%s: out of memory", s->name);
        return -1;
    }
    if (len)
        memcpy(s->text, text, len);
    s->text_len = len;
    struct command c;
    command_init(&c);
    unsigned long number = 0, close_line = 0;
    size_t at = 0;
    int rc = 0;
    while (at < len && rc == 0) {
        const uint8_t *nl = memchr(s->text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - s->text) : len;
        struct script_line l = {.off = at, .len = end - at, .number = ++number, .expect_index = -1};
        at = nl ? end + 1 : len;
        if (l.len && s->text[l.off + l.len - 1] == '\r')
            l.len--;
        if (is_blank(s->text + l.off, l.len) || s->text[l.off] == '#')
            continue;
        if (close_line) {
            rc = fail(err, errlen, s, l.number, "nothing may follow /close (line %lu)", close_line);
            break;
        }
        rc = check_line(s, &l, &c, err, errlen);
        if (rc == 0 && l.kind == CMD_CLOSE)
            close_line = l.number;
        if (rc == 0 && add_line(s, &l) != 0)
            rc = fail(err, errlen, s, l.number, "out of memory");
    }
    command_free(&c);
    if (rc != 0)
        script_free(s);
    return rc;
}

void script_free(struct script *s)
{
    free(s->text);
    free(s->lines);
    s->text = NULL;
    s->lines = NULL;
    s->num_lines = s->cap_lines = s->num_expects = 0;
}

int script_add_expects(const struct script *s, struct expect *e, char *err, size_t errlen)
{
    struct command c;
    command_init(&c);
    int rc = 0;
    for (size_t i = 0; i < s->num_lines && rc == 0; i++) {
        const struct script_line *l = &s->lines[i];
        if (l->kind != CMD_EXPECT)
            continue;
        command_parse((const char *)s->text + l->off, l->len, &c);
        if (c.kind != CMD_EXPECT ||
            expect_add(e, c.text, c.len, c.wait_ms, err, errlen) != l->expect_index)
            rc = -1;
    }
    command_free(&c);
    return rc;
}

void script_run_init(struct script_run *r, const struct script *s)
{
    memset(r, 0, sizeof(*r));
    r->s = s;
    r->expect_index = -1;
}

enum script_step script_step(struct script_run *r, struct expect *e, int64_t now_ms,
                             struct command *c)
{
    for (;;) {
        if (r->is_sleeping) {
            if (now_ms < r->wake_ms)
                return SCRIPT_WAIT;
            r->is_sleeping = false;
        }
        if (r->is_expecting) {
            if (!expect_item_is_met(e, (size_t)r->expect_index)) {
                if (expect_has_expired(e, now_ms))
                    return SCRIPT_EXPECT_FAILED;
                return SCRIPT_WAIT;
            }
            r->is_expecting = false;
        }
        if (r->pos == r->s->num_lines)
            return SCRIPT_END;
        const struct script_line *l = &r->s->lines[r->pos++];
        r->line = l->number;
        command_parse((const char *)r->s->text + l->off, l->len, c);
        switch (c->kind) {
        case CMD_SLEEP:
            r->is_sleeping = true;
            r->wake_ms = now_ms + c->wait_ms;
            break;
        case CMD_EXPECT:
            r->expect_index = l->expect_index;
            if (!expect_item_is_met(e, (size_t)l->expect_index)) {
                /* Earlier /expect lines are met, so this one is first in line. */
                r->is_expecting = true;
                expect_wait_start(e, now_ms);
            }
            break;
        case CMD_QUIT:
            c->kind = CMD_CLOSE;
            c->code = WS_CLOSE_NORMAL;
            c->len = 0;
            return SCRIPT_COMMAND;
        default: return SCRIPT_COMMAND;
        }
    }
}

int64_t script_deadline(const struct script_run *r, const struct expect *e)
{
    if (r->is_sleeping)
        return r->wake_ms;
    if (r->is_expecting)
        return expect_deadline(e);
    return -1;
}
