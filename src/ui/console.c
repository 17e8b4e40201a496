/* SPDX-License-Identifier: MIT */
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

#include "buf.h"
#include "commands.h"

#define HISTORY_ENTRIES 1000
#define HISTORY_MAX_LINE 4096      /* longer lines (pastes) are not kept in the history */
#define IN_SIZE 65536              /* stdin bytes read at once */
#define PLAIN_MAX_LINE (16u << 20) /* -i in a pipe: a longer line is delivered in pieces */
#define SEQUENCE_WAIT_MS 1000      /* for the key that completes Esc, Ctrl-X, Ctrl-V */

/* libedit draws on one terminal and keeps one tty state: one console per process. */
static struct {
    bool is_active;
    bool is_tty;      /* libedit edits; otherwise plain lines (-i in a pipe) */
    bool is_drawn;    /* the prompt and the line are on the screen */
    bool is_finished; /* input is over: the prompt is not drawn again */
    bool is_eof;      /* stdin ended or failed */
    int hidden;       /* nesting depth of console_hide() */
    EditLine *el;     /* owned */
    History *hist;    /* owned */
    FILE *out;        /* the terminal libedit draws on */
    char prompt[64];
    char history_path[4096];
    console_line_fn on_line;
    void *ctx;
    unsigned char in[IN_SIZE]; /* read from stdin, not yet taken by libedit */
    size_t in_pos, in_len;
    struct buf line; /* the line being delivered; owned */
    bool is_quoting; /* Ctrl-V: the next key goes into the line as it is */
    /* Ctrl-R: the history search under way */
    bool is_searching;
    bool is_search_failed;  /* nothing holds the search text: the last match stays */
    int search_match;       /* the history entry shown, 0 the newest; -1 none */
    char search_text[256];  /* UTF-8 */
    char search_prompt[320];
    struct buf saved_line; /* the line before the search, for Ctrl-G; owned */
    size_t saved_cursor;   /* its cursor, in bytes */
} con;

/* ---- history ---- */

static void mkdir_p(char *dir)
{
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0700);
            *p = '/';
        }
    }
    mkdir(dir, 0700);
}

void console_history_path(char *out, size_t outlen)
{
    const char *state = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char dir[4000];
    out[0] = 0;
    /* The XDG spec ignores relative paths. */
    if (state && state[0] == '/')
        snprintf(dir, sizeof(dir), "%s/wsc", state);
    else if (home && *home)
        snprintf(dir, sizeof(dir), "%s/.local/state/wsc", home);
    else
        return;
    /* Quietly: without a history file wsc still works. */
    mkdir_p(dir);
    snprintf(out, outlen, "%s/history", dir);
}

static void history_save(void)
{
    if (!con.hist || !*con.history_path)
        return;
    /* What was typed may hold tokens: the file is the user's alone. */
    int fd = open(con.history_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    close(fd);
    HistEvent ev;
    history(con.hist, &ev, H_SAVE, con.history_path);
}

static void history_add(const char *line, size_t len)
{
    if (!con.hist || len == 0 || len > HISTORY_MAX_LINE)
        return;
    HistEvent ev;
    history(con.hist, &ev, H_ENTER, line);
    history_save();
}

/* ---- drawing ---- */

/* The columns of a printable character as libedit counts them. */
static size_t print_width(wchar_t c)
{
    int w = wcwidth(c);
    return w < 0 ? 0 : (size_t)w;
}

/* Where libedit draws the character after c, c drawn at col on a screen
 * cols wide; col counts from the first column of the prompt's row. As in
 * its refresh.c: a tab stops at the row's end, a wide character that does
 * not fit goes whole to the next row, \n starts one, control characters
 * are ^X and other unprintable ones \U+XXXX. */
static size_t place(wchar_t c, size_t col, size_t cols)
{
    size_t h = col % cols, row = col - h;
    if (c == L'\n')
        return row + cols;
    if (c == L'\t')
        return row + (h / 8 * 8 + 8 < cols ? h / 8 * 8 + 8 : cols);
    if (c < 0x20 || c == 0x7f)
        return col + 2;
    if (!iswprint((wint_t)c))
        return col + (c > 0xffff ? 8 : 7);
    size_t w = print_width(c);
    return h + w > cols ? row + cols + w : col + w;
}

static size_t terminal_columns(void)
{
    int cols = 0;
    if (el_get(con.el, EL_GETTC, "co", &cols) != 0 || cols <= 0)
        cols = 80;
    return (size_t)cols;
}

static const char *shown_prompt(void)
{
    return con.is_searching ? con.search_prompt : con.prompt;
}

/* Rows between the first row of the prompt and the cursor. */
static size_t cursor_row(size_t cols)
{
    size_t col = 0;
    wchar_t wc;
    mbstate_t st;
    memset(&st, 0, sizeof(st));
    const char *s = shown_prompt();
    for (size_t n; *s && (n = mbrtowc(&wc, s, strlen(s), &st)) > 0 && n < (size_t)-2; s += n)
        col = place(wc, col, cols);
    const LineInfoW *li = el_wline(con.el);
    for (const wchar_t *p = li->buffer; p < li->cursor; p++)
        col = place(*p, col, cols);
    /* on a wide character that goes to the next row, the cursor goes too */
    if (li->cursor < li->lastchar && iswprint((wint_t)*li->cursor) &&
        col % cols + print_width(*li->cursor) > cols)
        col += cols - col % cols;
    return col / cols;
}

static void erase(size_t cols)
{
    if (!con.is_drawn)
        return;
    size_t up = cursor_row(cols);
    if (up)
        fprintf(con.out, "\r\033[%zuA\033[J", up);
    else
        fputs("\r\033[J", con.out);
    fflush(con.out);
    con.is_drawn = false;
}

static void draw(void)
{
    if (con.is_drawn || con.is_finished || !con.is_tty || con.hidden)
        return;
    /* libedit forgets what it drew and draws prompt, line and cursor anew
     * from the start of the current row, where erase() left the cursor. */
    el_set(con.el, EL_REFRESH);
    con.is_drawn = true;
}

void console_hide(void)
{
    if (!con.is_active || con.hidden++)
        return;
    if (con.is_tty)
        erase(terminal_columns());
}

void console_show(void)
{
    if (!con.is_active || con.hidden == 0 || --con.hidden)
        return;
    fflush(stdout);
    fflush(stderr);
    draw();
}

/* The terminal may have been resized since the last look: the size is
 * checked before each use, and at once after SIGWINCH (console_tick). */
static void check_size(void)
{
    size_t before = terminal_columns();
    el_resize(con.el);
    size_t cols = terminal_columns();
    if (cols == before || !con.is_drawn)
        return;
    /* Terminals today re-wrap their lines to the new width: the cursor row
     * is counted at that width. */
    erase(cols);
    draw();
}

/* ---- libedit callbacks ---- */

static char *prompt_fn(EditLine *el)
{
    return (char *)shown_prompt();
}

/* Refills the input buffer with one read(), made only once poll() has
 * said that stdin is readable. */
static int fill(void)
{
    if (con.in_pos) {
        memmove(con.in, con.in + con.in_pos, con.in_len - con.in_pos);
        con.in_len -= con.in_pos;
        con.in_pos = 0;
    }
    ssize_t n = read(STDIN_FILENO, con.in + con.in_len, IN_SIZE - con.in_len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return -1; /* a signal: back to the loop, which handles it */
    if (n <= 0) {
        con.is_eof = true;
        return -1;
    }
    con.in_len += (size_t)n;
    return 0;
}

/* The next key in the buffer and its length in bytes; 0 when the rest of
 * its character has not arrived yet. */
static size_t next_key(wchar_t *wc)
{
    while (con.in_pos < con.in_len) {
        mbstate_t st;
        memset(&st, 0, sizeof(st));
        size_t r = mbrtowc(wc, (const char *)con.in + con.in_pos, con.in_len - con.in_pos, &st);
        if (r == (size_t)-2)
            return 0;
        if (r != (size_t)-1)
            return r ? r : 1;
        con.in_pos++; /* not UTF-8: dropped, as libedit itself does */
    }
    return 0;
}

/* libedit reads its keys from our buffer: one read() per turn rather than
 * per byte, and no byte hidden from poll(). It asks for a key that is not
 * there yet only for the rest of a sequence (Esc, Ctrl-X, a character cut
 * in two): that one is waited for a while, but the loop is never held up
 * for long. A sequence given up is dropped, as an unbound key would be. */
static int getc_fn(EditLine *el, wchar_t *wc)
{
    for (;;) {
        size_t n = next_key(wc);
        if (n) {
            con.in_pos += n;
            return 1;
        }
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        if (con.is_eof || poll(&pfd, 1, SEQUENCE_WAIT_MS) <= 0 || fill() != 0)
            return con.is_eof ? 0 : -1;
    }
}

static size_t common_prefix(const char *a, const char *b)
{
    size_t n = 0;
    while (a[n] && a[n] == b[n])
        n++;
    return n;
}

/* Tab: complete the slash command typed as the line's first word. One
 * candidate: completed, with a space; several: their common part, or the
 * list of them when there is nothing more in common. */
static unsigned char complete_fn(EditLine *el, int ch)
{
    const LineInfo *li = el_line(el);
    size_t len = (size_t)(li->cursor - li->buffer);
    if (len == 0 || li->buffer[0] != '/' || memchr(li->buffer, ' ', len))
        return CC_ERROR;
    const char *first = NULL;
    size_t matches = 0, common = 0;
    for (size_t i = 0; command_names[i]; i++) {
        const char *name = command_names[i];
        if (strncmp(name, li->buffer, len) != 0)
            continue;
        if (!first) {
            first = name;
            common = strlen(name);
        } else if (common_prefix(first, name) < common) {
            common = common_prefix(first, name);
        }
        matches++;
    }
    if (matches == 0)
        return CC_ERROR;
    if (common > len || matches == 1) {
        char add[64];
        snprintf(add, sizeof(add), "%.*s%s", (int)(common - len), first + len,
                 matches == 1 ? " " : "");
        el_insertstr(el, add);
        return CC_REFRESH;
    }
    console_hide();
    for (size_t i = 0; command_names[i]; i++)
        if (!strncmp(command_names[i], li->buffer, len))
            fprintf(con.out, "%s  ", command_names[i]);
    fputs("\n", con.out);
    console_show();
    return CC_NORM;
}

/* ---- history search ---- */

/* Ctrl-R searches the history as readline's reverse-i-search does. It
 * replaces libedit's own search, which reads the keys that follow itself,
 * holding up the loop (messages, pings) for as long as the search lasts;
 * this one takes each key as the loop hands it over and shows itself in
 * the prompt, which erase() and draw() know how to redraw. */

static void set_search_prompt(void)
{
    snprintf(con.search_prompt, sizeof(con.search_prompt), "(%sreverse-i-search)`%s': ",
             con.is_search_failed ? "failed " : "", con.search_text);
}

/* Replaces the line with s, the cursor on its byte at. */
static void set_line(const char *s, size_t at)
{
    const LineInfoW *li = el_wline(con.el);
    el_cursor(con.el, (int)(li->lastchar - li->cursor));
    li = el_wline(con.el);
    el_wdeletestr(con.el, (int)(li->lastchar - li->buffer));
    el_insertstr(con.el, s);
    int after = 0; /* characters from the cursor's place to the end */
    for (size_t i = at, len = strlen(s); i < len; i++)
        after += ((unsigned char)s[i] & 0xc0) != 0x80;
    el_cursor(con.el, -after);
}

static void restore_line(void)
{
    set_line((const char *)buf_head(&con.saved_line), con.saved_cursor);
}

/* Shows the first entry from the from-th newest on that holds the search
 * text; when none does, the search has failed and the line stays. */
static void search_from(int from)
{
    HistEvent ev;
    int i = 0;
    for (int r = history(con.hist, &ev, H_FIRST); r != -1; r = history(con.hist, &ev, H_NEXT)) {
        const char *hit = i >= from ? strstr(ev.str, con.search_text) : NULL;
        if (hit) {
            con.search_match = i;
            con.is_search_failed = false;
            set_line(ev.str, (size_t)(hit - ev.str));
            return;
        }
        i++;
    }
    con.is_search_failed = true;
}

static void end_search(bool keep_line)
{
    erase(terminal_columns());
    if (!keep_line)
        restore_line();
    con.is_searching = false;
    draw();
}

static unsigned char search_fn(EditLine *el, int ch)
{
    const LineInfo *li = el_line(el);
    buf_clear(&con.saved_line);
    if (buf_append(&con.saved_line, li->buffer, (size_t)(li->lastchar - li->buffer)) != 0 ||
        buf_append(&con.saved_line, "", 1) != 0)
        return CC_ERROR;
    con.saved_cursor = (size_t)(li->cursor - li->buffer);
    con.is_searching = true;
    con.is_search_failed = false;
    con.search_match = -1;
    con.search_text[0] = 0;
    set_search_prompt();
    return CC_REFRESH; /* libedit redraws the row with the new prompt */
}

/* One key during a search. Returns false for a key that ends it: that key
 * is then the editor's (Enter sends the line found, an arrow moves in it). */
static bool search_key(wchar_t wc)
{
    size_t len = strlen(con.search_text);
    char mb[MB_LEN_MAX];
    mbstate_t st;
    memset(&st, 0, sizeof(st));
    size_t n = wc >= 0x20 && iswprint((wint_t)wc) ? wcrtomb(mb, wc, &st) : (size_t)-1;
    if (wc == 0x07) { /* Ctrl-G: back to the line as it was */
        end_search(false);
        return true;
    }
    if (wc != 0x12 && wc != 0x7f && wc != 0x08 && n == (size_t)-1) {
        end_search(true);
        return false;
    }
    if (n != (size_t)-1 && len + n >= sizeof(con.search_text))
        return true; /* long enough: the key is ignored */
    erase(terminal_columns());
    if (wc == 0x12) { /* Ctrl-R again: an older entry */
        search_from(con.search_match + 1);
    } else if (wc == 0x7f || wc == 0x08) {
        while (len && ((unsigned char)con.search_text[--len] & 0xc0) == 0x80)
            ;
        con.search_text[len] = 0;
        con.is_search_failed = false;
        if (len) {
            search_from(0);
        } else {
            con.search_match = -1;
            restore_line();
        }
    } else {
        memcpy(con.search_text + len, mb, n);
        con.search_text[len + n] = 0;
        if (!con.is_search_failed)
            search_from(con.search_match < 0 ? 0 : con.search_match);
    }
    set_search_prompt();
    draw();
    return true;
}

/* Ctrl-V: the next key goes into the line as it is (a Tab, a control
 * character). libedit's own reads that key itself, and when it is slow to
 * come takes it for the end of input. */
static unsigned char quote_fn(EditLine *el, int ch)
{
    con.is_quoting = true;
    return CC_NORM;
}

/* A newline stays out: in the line it would end the line. */
static void insert_quoted(wchar_t wc)
{
    con.is_quoting = false;
    if (wc == L'\n')
        return;
    wchar_t s[2] = {wc, 0};
    erase(terminal_columns());
    el_winsertstr(con.el, s);
    draw();
}

/* ---- lines ---- */

/* Hands con.line (NUL-terminated, len bytes) to the loop. */
static void deliver(size_t len)
{
    char *line = (char *)buf_head(&con.line);
    line[len] = 0;
    con.on_line(con.ctx, line);
    buf_clear(&con.line);
}

/* Appends the wide characters as UTF-8 (the locale's multibyte form). */
static int append_wide(struct buf *b, const wchar_t *w, size_t n)
{
    mbstate_t st;
    memset(&st, 0, sizeof(st));
    for (size_t i = 0; i < n; i++) {
        char mb[MB_LEN_MAX];
        size_t k = wcrtomb(mb, w[i], &st);
        if (k != (size_t)-1 && buf_append(b, mb, k) != 0)
            return -1;
    }
    return 0;
}

/* A line was accepted: libedit has moved below it (it stays on the screen,
 * as in a shell). Its unbuffered mode keeps the line in the buffer, so the
 * editor is reset (buffer, history position, modes) before the next key. */
static void accept_line(const wchar_t *w, size_t n)
{
    buf_clear(&con.line);
    bool is_copied = append_wide(&con.line, w, n) == 0 && buf_append(&con.line, "", 1) == 0;
    size_t len = buf_size(&con.line) - 1;
    el_reset(con.el);
    el_set(con.el, EL_PREP_TERM, 1);
    con.is_drawn = false;
    if (is_copied) {
        history_add((const char *)buf_head(&con.line), len);
        deliver(len);
    }
    draw();
}

static void end_of_input(void)
{
    console_finish();
    con.on_line(con.ctx, NULL);
}

static bool line_is_empty(void)
{
    const LineInfoW *li = el_wline(con.el);
    return li->lastchar == li->buffer;
}

static void read_keys(void)
{
    check_size();
    if (fill() != 0) {
        if (con.is_eof)
            end_of_input();
        return;
    }
    while (con.in_pos < con.in_len && !con.is_finished) {
        wchar_t wc;
        size_t n = next_key(&wc);
        if (!n)
            break; /* the rest of the character is still to come */
        if (con.is_quoting) {
            insert_quoted(wc);
            con.in_pos += n;
            continue;
        }
        if (con.is_searching && search_key(wc)) {
            con.in_pos += n;
            continue;
        }
        /* Told by the key, not by the line libedit returns, which may
         * hold a Ctrl-D put there with Ctrl-V. */
        if (wc == 4 && line_is_empty()) {
            con.in_pos += n;
            end_of_input();
            return;
        }
        /* The wide interface: el_gets() would convert the whole line to
         * multibyte after every key, quadratic in a long paste. */
        int len = 0;
        const wchar_t *w = el_wgets(con.el, &len);
        if (con.is_eof) {
            end_of_input();
            return;
        }
        /* The line holds no other \n: Ctrl-V does not insert one. */
        if (w && len > 0 && w[len - 1] == L'\n')
            accept_line(w, (size_t)len - 1);
    }
}

/* -i with stdin not a terminal: plain lines, no editing, no prompt. */
static void read_plain(void)
{
    if (fill() != 0) {
        if (con.is_eof && !con.is_finished) {
            size_t len = buf_size(&con.line);
            if (len && buf_append(&con.line, "", 1) == 0)
                deliver(len);
            end_of_input();
        }
        return;
    }
    while (con.in_pos < con.in_len && !con.is_finished) {
        const unsigned char *p = con.in + con.in_pos;
        size_t avail = con.in_len - con.in_pos;
        const unsigned char *nl = memchr(p, '\n', avail);
        size_t take = nl ? (size_t)(nl - p) : avail;
        bool is_whole = nl != NULL;
        if (buf_size(&con.line) + take >= PLAIN_MAX_LINE) {
            take = PLAIN_MAX_LINE - buf_size(&con.line);
            is_whole = false;
        }
        if (buf_append(&con.line, p, take) != 0)
            return;
        con.in_pos += take + (is_whole ? 1 : 0);
        size_t len = buf_size(&con.line);
        if (!is_whole && len < PLAIN_MAX_LINE)
            break; /* the rest of the line is still to come */
        if (is_whole && len && buf_head(&con.line)[len - 1] == '\r')
            len--;
        if (buf_append(&con.line, "", 1) != 0)
            return;
        deliver(len);
    }
}

/* ---- suspend, resume, resize ---- */

/* The terminal is the console's: after Ctrl-Z and fg the shell has put it
 * back in its own modes, and a resize may have re-wrapped the line. The
 * handlers only take note; console_tick() acts between two loop turns. */
static volatile sig_atomic_t was_resumed, was_resized;
static struct sigaction old_cont, old_winch;

static void on_sigcont(int sig)
{
    was_resumed = 1;
}

static void on_sigwinch(int sig)
{
    was_resized = 1;
}

static void catch_signals(void)
{
    struct sigaction sa = {.sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_sigcont;
    sigaction(SIGCONT, &sa, &old_cont);
    sa.sa_handler = on_sigwinch;
    sigaction(SIGWINCH, &sa, &old_winch);
}

static void release_signals(void)
{
    sigaction(SIGCONT, &old_cont, NULL);
    sigaction(SIGWINCH, &old_winch, NULL);
}

void console_tick(void)
{
    if (!con.is_active || !con.el || con.hidden)
        return;
    if (was_resumed) {
        was_resumed = 0;
        /* libedit believes the terminal is still raw: make it set the modes
         * anew, then draw the prompt and line below what the shell wrote. */
        el_set(con.el, EL_PREP_TERM, 0);
        el_set(con.el, EL_PREP_TERM, 1);
        el_resize(con.el);
        con.is_drawn = false;
        draw();
    }
    if (was_resized) {
        was_resized = 0;
        check_size();
    }
}

void console_read(void)
{
    if (!con.is_active || con.is_finished)
        return;
    if (con.is_tty)
        read_keys();
    else
        read_plain();
}

/* ---- life cycle ---- */

/* Keys are UTF-8 whatever the locale says, as WebSocket text is. */
static void set_locale(void)
{
    if (setlocale(LC_CTYPE, "") && !strcmp(nl_langinfo(CODESET), "UTF-8"))
        return;
    setlocale(LC_CTYPE, "C.UTF-8");
}

static int start_editor(void)
{
    con.out = isatty(STDOUT_FILENO) ? stdout : stderr;
    con.el = el_init("wsc", stdin, con.out, stderr);
    con.hist = history_init();
    if (!con.el || !con.hist)
        return -1;
    HistEvent ev;
    history(con.hist, &ev, H_SETSIZE, HISTORY_ENTRIES);
    history(con.hist, &ev, H_SETUNIQUE, 1);
    console_history_path(con.history_path, sizeof(con.history_path));
    if (*con.history_path)
        history(con.hist, &ev, H_LOAD, con.history_path);
    el_set(con.el, EL_EDITOR, "emacs");
    el_set(con.el, EL_SIGNAL, 0); /* signals are the loop's */
    el_set(con.el, EL_PROMPT, prompt_fn);
    el_set(con.el, EL_HIST, history, con.hist);
    el_set(con.el, EL_GETCFN, getc_fn);
    /* The wide form: the narrow one copies the two strings and leaks them. */
    el_wset(con.el, EL_ADDFN, L"wsc-complete", L"complete a slash command", complete_fn);
    el_set(con.el, EL_BIND, "^I", "wsc-complete", NULL);
    el_wset(con.el, EL_ADDFN, L"wsc-search", L"search the history", search_fn);
    el_set(con.el, EL_BIND, "^R", "wsc-search", NULL);
    el_wset(con.el, EL_ADDFN, L"wsc-quote", L"insert the next key as it is", quote_fn);
    el_set(con.el, EL_BIND, "^V", "wsc-quote", NULL);
    /* M-x reads a libedit command line with keys of its own: not here. */
    el_set(con.el, EL_BIND, "\\ex", "ed-unassigned", NULL);
    el_set(con.el, EL_BIND, "\\eX", "ed-unassigned", NULL);
    /* Between lines libedit briefly puts the terminal in its "cooked"
     * mode: keep echo and line buffering off there too, so that keys
     * arriving at that moment are neither echoed twice nor held back. */
    el_set(con.el, EL_SETTY, "-x", "-icanon", "-echo", NULL);
    const char *home = getenv("HOME");
    if (home && *home) {
        char rc[4096];
        snprintf(rc, sizeof(rc), "%s/.editrc", home);
        if (access(rc, R_OK) == 0)
            el_source(con.el, rc);
    }
    /* Raw mode and the first prompt. */
    el_set(con.el, EL_UNBUFFERED, 1);
    con.is_drawn = true;
    return 0;
}

int console_start(const char *prompt, console_line_fn on_line, void *ctx)
{
    memset(&con, 0, sizeof(con));
    snprintf(con.prompt, sizeof(con.prompt), "%s", prompt);
    con.on_line = on_line;
    con.ctx = ctx;
    buf_init(&con.line, 0);
    buf_init(&con.saved_line, 0);
    con.is_tty = isatty(STDIN_FILENO);
    con.is_active = true;
    if (!con.is_tty)
        return 0;
    set_locale();
    if (start_editor() != 0) {
        /* No line editor (out of memory, an unusable terminal): plain lines. */
        if (con.el)
            el_end(con.el);
        if (con.hist)
            history_end(con.hist);
        con.el = NULL;
        con.hist = NULL;
        con.is_tty = false;
        con.is_drawn = false;
        return 0;
    }
    catch_signals();
    return 0;
}

void console_finish(void)
{
    if (!con.is_active || con.is_finished)
        return;
    if (con.is_tty && !con.hidden)
        erase(terminal_columns());
    con.is_finished = true;
}

void console_stop(void)
{
    if (!con.is_active)
        return;
    if (con.el) {
        if (!con.hidden)
            erase(terminal_columns());
        el_end(con.el); /* gives the terminal its modes back */
        release_signals();
    }
    history_save();
    if (con.hist)
        history_end(con.hist);
    buf_free(&con.line);
    buf_free(&con.saved_line);
    con.el = NULL;
    con.hist = NULL;
    con.is_active = false;
}

bool console_is_active(void)
{
    return con.is_active;
}
