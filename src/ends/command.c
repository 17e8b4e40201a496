/* SPDX-License-Identifier: MIT */
/* command: performing a parsed slash command on one connection, for every
 * end that takes commands (the console, a script). Parsing is pure
 * (core/commands.c); this part reads /binary's file and sends. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/commands.h"
#include "core/utf8.h"
#include "ends/end.h"

static int read_file(const char *path, struct buf *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rbe");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (;;) {
        uint8_t *dst = buf_reserve(out, 65536);
        if (!dst) {
            snprintf(err, errlen, "%s: too large", path);
            rc = -1;
            break;
        }
        size_t n = fread(dst, 1, 65536, f);
        buf_commit(out, n);
        if (n < 65536)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    return rc;
}

int end_command_prepare(struct command *cmd, const struct options *opt, char *err, size_t errlen)
{
    if (cmd->kind == CMD_TEXT) {
        struct utf8_state st = {0};
        if (utf8_validate(&st, (const uint8_t *)cmd->text, cmd->len) < cmd->len ||
            !utf8_is_complete(&st)) {
            snprintf(err, errlen, "the line is not valid UTF-8");
            return -1;
        }
    }
    if (cmd->kind == CMD_BINARY_FILE) {
        buf_free(&cmd->data);
        buf_init(&cmd->data, opt->max_message);
        if (read_file(cmd->path, &cmd->data, err, errlen) != 0)
            return -1;
        cmd->kind = CMD_BINARY;
    }
    return 0;
}

/* One message as count frames: the data opcode first, then continuations,
 * FIN on the last. */
static int send_fragments(struct conn *c, const struct command *cmd)
{
    size_t n = cmd->count, len = cmd->len, off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t piece = len / n + (i < len % n ? 1 : 0);
        if (conn_send_frame(c, i ? WS_OP_CONT : WS_OP_TEXT, i + 1 == n, cmd->text + off,
                            piece) != 0)
            return -1;
        off += piece;
    }
    return 0;
}

static int send_raw(struct conn *c, const struct command *cmd)
{
    struct ws_frame_header h = cmd->raw;
    if (h.has_mask && conn_random(NULL, h.mask, 4) != 0)
        return -1;
    return conn_send_raw(c, &h, buf_head(&cmd->data));
}

int end_command_send(struct conn *c, const struct command *cmd)
{
    switch (cmd->kind) {
    case CMD_TEXT: return conn_send_message(c, WS_OP_TEXT, cmd->text, cmd->len);
    case CMD_BINARY:
        return conn_send_message(c, WS_OP_BINARY, buf_head(&cmd->data), buf_size(&cmd->data));
    case CMD_PING: return conn_send_ping(c, cmd->text, cmd->len, true);
    case CMD_PONG: return conn_send_pong(c, cmd->text, cmd->len);
    case CMD_CLOSE: {
        char reason[WS_MAX_CONTROL];
        snprintf(reason, sizeof(reason), "%.*s", (int)cmd->len, cmd->text);
        if (c->phase != CONN_OPEN)
            return -1;
        conn_close(c, cmd->code, reason);
        return 0;
    }
    case CMD_FRAGMENT: return send_fragments(c, cmd);
    case CMD_RAW: return send_raw(c, cmd);
    default: return -1; /* not a thing to send */
    }
}
