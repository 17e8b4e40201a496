/* SPDX-License-Identifier: MIT */
/* commands: the interactive slash commands, parsed into actions. Pure: the
 * caller performs them (and reads files for /binary @FILE). */
#ifndef WSC_COMMANDS_H
#define WSC_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ws.h"

enum cmd_kind {
    CMD_TEXT,        /* a text message (a line, or "//x" meaning "/x") */
    CMD_PING,
    CMD_PONG,
    CMD_CLOSE,       /* code 0: a close frame without a status */
    CMD_FRAGMENT,    /* text as count frames */
    CMD_BINARY,      /* payload decoded from hex */
    CMD_BINARY_FILE, /* path names the file to send */
    CMD_RAW,         /* a frame exactly as described */
    CMD_TO,          /* listen mode: text to one client */
    CMD_EXPECT,      /* wait up to wait_ms for a message matching text[0, len) */
    CMD_SLEEP,       /* pause for wait_ms */
    CMD_HELP,
    CMD_QUIT,
    CMD_ERROR,       /* error says why; nothing is sent */
};

struct command {
    enum cmd_kind kind;
    const char *text;   /* points into the line: message, ping/pong data, close reason */
    size_t len;
    unsigned code;      /* CMD_CLOSE */
    unsigned count;     /* CMD_FRAGMENT */
    unsigned target;    /* CMD_TO: client id */
    long wait_ms;       /* CMD_EXPECT, CMD_SLEEP */
    char path[1024];    /* CMD_BINARY_FILE */
    struct ws_frame_header raw; /* CMD_RAW; payload in data */
    struct buf data;    /* decoded payload (hex or raw); owned */
    char error[200];
};

void command_init(struct command *c);
void command_free(struct command *c);
/* Parses one input line (without its newline). */
void command_parse(const char *line, size_t len, struct command *c);

/* The command names, for completion and help. */
extern const char *const command_names[];
const char *command_help(void);

#endif
