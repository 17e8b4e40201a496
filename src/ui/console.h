/* SPDX-License-Identifier: MIT */
/* console: the interactive terminal over libedit's own interface (histedit).
 * A prompt with line editing, persistent history and Tab completion of
 * slash commands; output arriving while a line is being typed is printed
 * above the prompt and the half-typed line and cursor come back as they
 * were. When stdin is not a terminal (-i in a pipe) lines are read plainly.
 * libedit keeps the terminal state, so there is one console per process;
 * it never sends anything itself: each line goes to the callback. */
#ifndef WSC_CONSOLE_H
#define WSC_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

/* Called with each line typed (without its newline), or NULL at end of
 * input (Ctrl-D on an empty line, or stdin closed). */
typedef void (*console_line_fn)(void *ctx, const char *line);

int console_start(const char *prompt, console_line_fn on_line, void *ctx);
/* stdin is readable: take what was typed (one read, every key in it). */
void console_read(void);
/* Input is over (EOF, /quit): erase the prompt and stop drawing it. */
void console_finish(void);
void console_stop(void);
/* Erase the prompt and the line being typed before printing, and redraw
 * them after. Calls nest; only the outermost pair touches the screen. */
void console_hide(void);
void console_show(void);
bool console_is_active(void);
/* Called once per loop turn: after Ctrl-Z and fg, or a resize, the
 * terminal is set up and the prompt drawn again. */
void console_tick(void);

/* The history file: $XDG_STATE_HOME/wsc/history, else
 * ~/.local/state/wsc/history. Empty when neither is known. */
void console_history_path(char *out, size_t outlen);

#endif
