/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the slash-command parser: whatever a user types or
 * pastes. The line is an exact-size heap copy without a NUL; the parse must
 * stay inside it and describe a consistent action. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            __builtin_trap();                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size ? size : 1);
    CHECK(line != NULL);
    if (size)
        memcpy(line, data, size);
    struct command c;
    command_init(&c);
    command_parse(line, size, &c);
    switch (c.kind) {
    case CMD_TEXT:
    case CMD_PING:
    case CMD_PONG:
    case CMD_FRAGMENT:
    case CMD_TO:
    case CMD_CLOSE:
    case CMD_EXPECT:
        /* the text is a part of the line */
        CHECK(c.len == 0 || (c.text >= line && c.text + c.len <= line + size));
        break;
    default:
        break;
    }
    if (c.kind == CMD_PING || c.kind == CMD_PONG)
        CHECK(c.len <= WS_MAX_CONTROL);
    if (c.kind == CMD_CLOSE)
        CHECK((c.code == 0 || ws_close_code_is_sendable(c.code)) && c.len <= WS_MAX_CONTROL - 2);
    if (c.kind == CMD_EXPECT || c.kind == CMD_SLEEP)
        CHECK(c.wait_ms >= 0 && c.wait_ms <= 86400L * 1000);
    if (c.kind == CMD_EXPECT)
        CHECK(c.len > 0);
    if (c.kind == CMD_FRAGMENT)
        CHECK(c.count >= 1);
    if (c.kind == CMD_RAW)
        CHECK(c.raw.len == buf_size(&c.data) && c.raw.opcode <= 15 && c.raw.rsv <= 7);
    if (c.kind == CMD_ERROR)
        CHECK(memchr(c.error, 0, sizeof(c.error)) != NULL && c.error[0] != 0);
    command_free(&c);
    free(line);
    return 0;
}
