/* console: the interactive terminal over libedit. A prompt with line
 * editing, persistent history and Tab completion of slash commands; output
 * arriving while a line is being typed is printed above the prompt and the
 * half-typed line is redrawn as it was. libedit's callback interface keeps
 * one global state, so there is one console per process. */
#ifndef WSC_CONSOLE_H
#define WSC_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

/* Called with each line typed, or NULL at end of input (Ctrl-D). */
typedef void (*console_line_fn)(void *ctx, const char *line);

int console_start(const char *prompt, console_line_fn on_line, void *ctx);
/* stdin is readable: let libedit take what was typed. */
void console_read(void);
void console_stop(void);
/* Hide the prompt and the line being typed before printing, and redraw
 * them after. Calls nest. */
void console_hide(void);
void console_show(void);
bool console_is_active(void);

#endif
