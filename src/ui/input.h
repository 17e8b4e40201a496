/* SPDX-License-Identifier: MIT */
/* input: stdin in pipe mode turned into outgoing messages: lines, NUL-ended
 * records or raw chunks. Memory stays bounded: a record longer than
 * INPUT_FRAGMENT bytes leaves as a fragmented message while it streams in.
 * Text is checked to be UTF-8 before any of it is sent. */
#ifndef WSC_INPUT_H
#define WSC_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "options.h"
#include "utf8.h"
#include "ws.h"

#define INPUT_FRAGMENT (1024 * 1024)
#define INPUT_READ_SIZE (64 * 1024) /* the most one read of the input brings */

/* Sends one frame of a message; returns -1 when it cannot be sent. */
typedef int (*input_send_fn)(void *ctx, enum ws_opcode op, bool is_final, const uint8_t *p,
                             size_t len);

struct input {
    int fd;
    enum input_mode mode;
    size_t chunk;          /* -b: bytes per message (streaming: at most) */
    size_t fragment;       /* a longer unfinished record leaves as fragments */
    bool is_streaming;     /* -b: what each read brings leaves at once */
    bool is_lax;           /* text: a record that is not UTF-8 leaves as binary */
    bool is_binary_record; /* lax: the open record turned out not to be UTF-8 */
    struct buf pending;    /* bytes of the unfinished record; owned */
    size_t read_size;      /* what one read asks for, at most INPUT_READ_SIZE */
    bool is_eof;
    bool in_message;       /* a fragmented message is open */
    bool is_skipping;      /* dropping the rest of a record cut off by a reconnection */
    uint64_t message_len;  /* -b: bytes of the open message sent so far */
    uint64_t record_no;    /* records sent, for messages */
    uint64_t max_records;  /* -1: stop after this many; 0: no limit */
    struct utf8_state utf8;
    char error[160];
    int error_no;          /* the errno of a failed read, else 0 */
    input_send_fn send;
    void *ctx;
};

void input_init(struct input *in, int fd, const struct options *opt, input_send_fn send,
                void *ctx);
void input_free(struct input *in);
/* A process's output or a socket: fragments of `fragment` bytes, binary
 * sent as each read brings it, text that is not UTF-8 sent as binary. */
void input_set_relay(struct input *in, size_t fragment);
/* After a reconnection: a record that was being sent as fragments is
 * dropped (its first frames went to the old connection); the rest of the
 * input is kept. */
void input_restart(struct input *in);
/* Reads what stdin has (one read) and sends every complete record.
 * Returns 0, or -1 with in->error set. At end of input in->is_eof is set
 * and the unfinished record, if any, has been sent. */
int input_read(struct input *in);
/* Gives the read buffer back while no record is unfinished: for inputs
 * that are many and mostly idle (a process per client). */
void input_give_back(struct input *in);
/* The input is over without an end of file (its writer left it open): the
 * unfinished record is sent as at the end of input. */
int input_end(struct input *in);

#endif
