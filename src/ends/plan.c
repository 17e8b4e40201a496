/* SPDX-License-Identifier: MIT */
/* plan: what is read and checked before anything connects, so that a bad
 * script, pattern or recording stops the run with its line number (exit 2)
 * and a file that cannot be written stops it before the first byte is sent:
 * -f's script, --until's pattern and --count, --record's file, --replay's
 * recording, --timeout's deadline. */
#include "ends/plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/expect.h"
#include "core/replay.h"
#include "core/script.h"
#include "core/url.h"
#include "ends/end.h"
#include "io/net.h"
#include "taps/record.h"

/* The whole of a file (or stdin for "-"), NUL after it. */
static uint8_t *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rbe") : stdin;
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct buf b;
    buf_init(&b, 0);
    bool oom = false;
    for (;;) {
        uint8_t *dst = buf_reserve(&b, 65536);
        if (!dst) {
            snprintf(err, errlen, "%s: out of memory", path);
            oom = true;
            break;
        }
        size_t n = fread(dst, 1, 65536, f);
        buf_commit(&b, n);
        if (n == 0)
            break;
    }
    bool failed = oom || ferror(f);
    if (ferror(f))
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    if (f != stdin)
        fclose(f);
    if (failed) {
        buf_free(&b);
        return NULL;
    }
    *len = buf_size(&b);
    uint8_t *text = malloc(*len + 1);
    if (text) {
        memcpy(text, buf_head(&b), *len);
        text[*len] = 0;
    } else {
        snprintf(err, errlen, "%s: out of memory", path);
    }
    buf_free(&b);
    return text;
}

static int load_script(struct end_plan *p, const struct options *opt, char *err, size_t errlen)
{
    size_t len = 0;
    uint8_t *text = slurp(opt->script, &len, err, errlen);
    if (!text)
        return 2;
    struct script *s = calloc(1, sizeof(*s));
    int rc = s ? script_parse(s, opt->script, text, len, err, errlen) : -1;
    free(text);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    p->script = s;
    /* the patterns compile now, so that a bad one stops the run here */
    struct expect e;
    expect_init(&e, opt->max_message);
    if (rc == 0)
        rc = script_add_expects(s, &e, err, errlen);
    expect_free(&e);
    return rc == 0 ? 0 : 2;
}

static int load_until(struct end_plan *p, const struct options *opt, char *err, size_t errlen)
{
    struct expect *e = malloc(sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    expect_init(e, opt->max_message);
    p->until = e;
    char why[400];
    if (opt->until && expect_add(e, opt->until, strlen(opt->until), -1, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "--until: %s", why);
        return 2;
    }
    expect_set_count(e, opt->count);
    return 0;
}

int end_plan_load(struct end_plan *p, const struct options *opt, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    if (opt->timeout > 0)
        p->deadline = net_now_ms() + (long)(opt->timeout * 1000.0);
    int rc = 0;
    if (opt->script)
        rc = load_script(p, opt, err, errlen);
    if (rc == 0 && (opt->until || opt->count))
        rc = load_until(p, opt, err, errlen);
    if (rc == 0 && opt->replay) {
        struct replay r;
        char why[400];
        if (replay_end_load(&r, opt, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "--replay: %s", why);
            rc = 2;
        }
        replay_free(&r);
    }
    if (rc == 0 && opt->to) {
        struct url u;
        char why[400];
        if (url_parse(opt->to, &u, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "--to: %s", why);
            rc = 2;
        }
    }
    if (rc == 0 && opt->record) {
        char why[400];
        p->recorder = recorder_open(opt->record, opt->has_record_secrets, why, sizeof(why));
        if (!p->recorder) {
            snprintf(err, errlen, "--record: %s", why);
            rc = 1;
        }
    }
    return rc;
}

void end_plan_free(struct end_plan *p)
{
    if (p->script) {
        script_free((struct script *)p->script);
        free((struct script *)p->script);
    }
    if (p->until) {
        expect_free(p->until);
        free(p->until);
    }
    if (p->recorder)
        recorder_close(p->recorder);
    memset(p, 0, sizeof(*p));
}
