#include "console.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <editline/readline.h>

#include "commands.h"

#define HISTORY_LINES 1000

static struct {
    bool is_active;
    int hidden;              /* nesting depth of console_hide() */
    bool is_fresh_line;      /* a line was accepted; no key typed since */
    const char *prompt;
    char history_path[4096];
    console_line_fn on_line;
    void *ctx;
} con;

/* $XDG_STATE_HOME/wsc/history, else ~/.local/state/wsc/history. */
static void history_path(char *out, size_t outlen)
{
    const char *state = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char dir[4000];
    out[0] = 0;
    if (state && *state)
        snprintf(dir, sizeof(dir), "%s/wsc", state);
    else if (home && *home)
        snprintf(dir, sizeof(dir), "%s/.local/state/wsc", home);
    else
        return;
    /* mkdir -p, quietly: without a history file wsc still works */
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0700);
            *p = '/';
        }
    }
    mkdir(dir, 0700);
    snprintf(out, outlen, "%s/history", dir);
}

static char *complete_command(const char *text, int state)
{
    static size_t next;
    static size_t len;
    if (state == 0) {
        next = 0;
        len = strlen(text);
    }
    while (command_names[next]) {
        const char *name = command_names[next++];
        if (!strncmp(name, text, len))
            return strdup(name);
    }
    return NULL;
}

static char **complete(const char *text, int start, int end)
{
    rl_attempted_completion_over = 1; /* never fall back to file names */
    if (start != 0 || text[0] != '/')
        return NULL;
    return rl_completion_matches(text, complete_command);
}

static void line_typed(char *line)
{
    /* libedit keeps the accepted line and redraws it after this handler:
     * empty it, so that the fresh prompt is bare. */
    if (line)
        rl_delete_text(0, (int)strlen(line));
    con.is_fresh_line = true;
    if (line && *line) {
        add_history(line);
        if (*con.history_path)
            write_history(con.history_path);
    }
    con.on_line(con.ctx, line);
    free(line);
}

int console_start(const char *prompt, console_line_fn on_line, void *ctx)
{
    con.prompt = prompt;
    con.on_line = on_line;
    con.ctx = ctx;
    rl_catch_signals = 0; /* SIGINT is ours: it starts the closing handshake */
    rl_attempted_completion_function = complete;
    stifle_history(HISTORY_LINES);
    history_path(con.history_path, sizeof(con.history_path));
    if (*con.history_path)
        read_history(con.history_path);
    rl_callback_handler_install(prompt, line_typed);
    con.is_active = true;
    return 0;
}

void console_read(void)
{
    con.is_fresh_line = false;
    rl_callback_read_char();
}

void console_stop(void)
{
    if (!con.is_active)
        return;
    rl_callback_handler_remove();
    if (*con.history_path)
        write_history(con.history_path);
    con.is_active = false;
}

bool console_is_active(void)
{
    return con.is_active;
}

void console_hide(void)
{
    if (!con.is_active || con.hidden++)
        return;
    /* Erase the prompt line; console_show() has libedit draw it again. */
    fputs("\r\033[K", stdout);
    fflush(stdout);
}

void console_show(void)
{
    if (!con.is_active || con.hidden == 0 || --con.hidden)
        return;
    fflush(stdout);
    fflush(stderr);
    if (con.is_fresh_line) {
        fputs(con.prompt, stdout);
        fflush(stdout);
    } else {
        rl_forced_update_display();
    }
}
