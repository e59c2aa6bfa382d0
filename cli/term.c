/*
 * term.c — manners on a terminal: the pager and colour.
 *
 * The pager runs only when standard output is a terminal, the command
 * declares long output (CLI_CMD_PAGER), and neither --no-pager nor an
 * empty $PAGER says no: $PAGER (default "less") through sh -c, with
 * LESS=FRX when LESS is unset (quit when the output fits one screen, pass
 * colour through, keep the screen), as git does. Colour is on when the
 * stream is a terminal, TERM is not "dumb" and NO_COLOR is unset or empty
 * (no-color.org); --color=always and --color=never override.
 */
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

static pid_t pager_pid = -1;

static int
color_auto(int fd)
{
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    if (nc != NULL && nc[0] != '\0')
        return 0;
    if (term != NULL && strcmp(term, "dumb") == 0)
        return 0;
    return isatty(fd);
}

int
cli_color_parse(struct cli *c, const char *when)
{
    if (when == NULL || strcmp(when, "always") == 0)
        c->color = c->color_err = 1;
    else if (strcmp(when, "never") == 0)
        c->color = c->color_err = 0;
    else if (strcmp(when, "auto") == 0) {
        c->color = color_auto(1);
        c->color_err = color_auto(2);
    } else
        return -1;
    cli_guard_paint(c->color, c->color_err);
    return 0;
}

/*
 * Looks ahead in a command's argv for --no-pager and --color[=WHEN] (the
 * parser accepts them too): the pager must start before the command
 * writes anything. Stops at "--".
 */
void
cli_term_setup(struct cli *c, int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--no-pager") == 0 || strcmp(argv[i], "-f") == 0 ||
            strcmp(argv[i], "--follow") == 0)
            c->no_pager = 1; /* a followed query is not paged */
        else if (strcmp(argv[i], "--raw") == 0)
            c->no_pager = 1; /* binary (show --raw): refused on a
                                terminal, never paged */
        else if (strcmp(argv[i], "--color") == 0)
            cli_color_parse(c, NULL);
        else if (strncmp(argv[i], "--color=", 8) == 0)
            cli_color_parse(c, argv[i] + 8);
    }
}

void
cli_pager_start(struct cli *c)
{
    const char *pager = getenv("PAGER");
    int fd[2];

    if (c->no_pager || !isatty(1))
        return;
    if (pager == NULL)
        pager = "less";
    if (pager[0] == '\0' || strcmp(pager, "cat") == 0)
        return;
    if (pipe(fd) != 0)
        return; /* no pager is no reason to fail */
    fflush(stdout);
    pager_pid = fork();
    if (pager_pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return;
    }
    if (pager_pid == 0) {
        dup2(fd[0], 0);
        close(fd[0]);
        close(fd[1]);
        if (getenv("LESS") == NULL)
            setenv("LESS", "FRX", 1);
        if (getenv("LV") == NULL)
            setenv("LV", "-c", 1);
        signal(SIGPIPE, SIG_DFL);
        execl("/bin/sh", "sh", "-c", pager, (char *)NULL);
        _exit(127);
    }
    dup2(fd[1], 1);
    close(fd[0]);
    close(fd[1]);
    /* colour decided for the terminal stays: the pager passes it (-R) */
}

void
cli_pager_end(void)
{
    int st;
    if (pager_pid < 0)
        return;
    fflush(stdout);
    close(1);
    while (waitpid(pager_pid, &st, 0) < 0 && errno == EINTR)
        ;
    pager_pid = -1;
}

const char *
cli_paint(int on, enum cli_paint what)
{
    static const char *const esc[] = {
        [CLI_PAINT_OFF] = "\033[0m",   [CLI_PAINT_OK] = "\033[32m",
        [CLI_PAINT_WARN] = "\033[33m", [CLI_PAINT_FAIL] = "\033[1;31m",
        [CLI_PAINT_BOLD] = "\033[1m",
    };
    return on ? esc[what] : "";
}

/* ------------------------------------------------------------- tables -- */

/* Columns s takes as shown (cli_shown_cols: ledger's colours none, a
 * control byte 4, C1 and bidi 6; no wide characters in our data). */
static size_t
cols(const char *s, size_t n)
{
    size_t k = 0, len;
    for (size_t i = 0; i < n; i += len)
        k += cli_shown_cols(s + i, n - i, 1, &len);
    return k;
}

/* Bytes of s that fit in w columns. */
static size_t
fit_bytes(const char *s, size_t w)
{
    size_t i = 0, k = 0, n = strlen(s), len, u;
    while (s[i] != '\0') {
        u = cli_shown_cols(s + i, n - i, 1, &len);
        if (k + u > w)
            break;
        k += u;
        i += len;
    }
    return i;
}

static void
table_cell(const struct cli *c, const char *s, size_t w, int right, int paint,
           int last)
{
    size_t n = strlen(s), k = cols(s, n);
    if (right && k < w)
        printf("%*s", (int)(w - k), "");
    if (paint > 0)
        fputs(cli_paint(c->color, (enum cli_paint)paint), stdout);
    if (c->fit && k > w && w > 0) {
        /* systemctl's rule on a terminal: cut, and say so with "…" */
        fwrite(s, 1, fit_bytes(s, w - 1), stdout);
        fputs("\xe2\x80\xa6", stdout);
        k = w;
    } else {
        fwrite(s, 1, n, stdout);
    }
    if (paint > 0)
        fputs(cli_paint(c->color, CLI_PAINT_OFF), stdout);
    if (last) {
        putchar('\n');
        return;
    }
    for (; !right && k < w; k++)
        putchar(' ');
    putchar(' ');
}

void
cli_cell(const struct cli *c, const char *s, int width, int last)
{
    table_cell(c, s != NULL ? s : "-", width > 0 ? (size_t)width : 0, 0, 0,
               last);
}

void
cli_cells(const struct cli *c, int last, ...)
{
    va_list ap;
    const char *s = NULL, *next;
    int width = 0;

    va_start(ap, last);
    for (next = va_arg(ap, const char *); next != NULL;) {
        s = next;
        width = va_arg(ap, int);
        if ((next = va_arg(ap, const char *)) != NULL)
            cli_cell(c, s, width, 0);
    }
    va_end(ap);
    if (s != NULL)
        cli_cell(c, s, width, last);
}

int
cli_term_columns(int fd)
{
    struct winsize ws;
    const char *e = getenv("COLUMNS");
    long n = 0;

    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        n = ws.ws_col;
    else if (e != NULL && *e != '\0')
        n = strtol(e, NULL, 10);
    return n > CLI_COLUMNS && n < 100000 ? (int)n : CLI_COLUMNS;
}

size_t
cli_width(const struct cli *c)
{
    return c->columns > CLI_COLUMNS ? (size_t)c->columns : CLI_COLUMNS;
}

void
cli_wrap(const struct cli *c, const char *s, int indent)
{
    size_t width = cli_width(c) - (size_t)indent, col = 0;
    const char *p = s != NULL ? s : "";

    printf("%*s", indent, "");
    if (!c->fit) { /* piped or --wide: one line, whole */
        printf("%s\n", p);
        return;
    }
    while (*p != '\0') {
        size_t w = strcspn(p, " "), k = cols(p, w);
        if (col > 0 && col + 1 + k > width) {
            printf("\n%*s", indent, "");
            col = 0;
        } else if (col > 0) {
            putchar(' ');
            col++;
        }
        fwrite(p, 1, w, stdout);
        col += k;
        p += w;
        while (*p == ' ')
            p++;
    }
    putchar('\n');
}

size_t
cli_cols(const char *s, size_t n)
{
    return cols(s, n);
}

/* Where to break s[0..n) so the part before fits w columns: after the
 * last two-space field gap that fits, else the last space, else (a word
 * longer than w) after that word: a word is never cut, nor a command in
 * `backquotes` broken.
 * Only after byte from (a line's fixed columns are not broken). Returns
 * the bytes to print; *skip is how many spaces follow them. */
static size_t
break_at(const char *s, size_t n, size_t w, size_t from, size_t *skip)
{
    size_t lim = fit_bytes(s, w), gap = 0, sp = 0, i;
    int quoted = 0;
    if (lim >= n) {
        *skip = 0;
        return n;
    }
    for (i = 0; i <= lim && i < n; i++) {
        if (s[i] == '`')
            quoted = !quoted;
        if (quoted || i <= from || s[i] != ' ' || s[i - 1] == ' ')
            continue;
        if (i + 1 < n && s[i + 1] == ' ')
            gap = i;
        sp = i;
    }
    if (gap > lim / 3)
        i = gap;
    else if (sp > 0)
        i = sp;
    else /* one long word (or command) first: whole, to its end */
        for (i = from + 1, quoted = 0; i < n; i++) {
            if (s[i] == '`')
                quoted = !quoted;
            else if (s[i] == ' ' && !quoted)
                break;
        }
    for (*skip = 0; i + *skip < n && s[i + *skip] == ' ';)
        (*skip)++;
    return i;
}

void
cli_line(const struct cli *c, const char *s, size_t n, int hang,
         const char *pre, const char *post)
{
    size_t w = cli_width(c), skip;
    int first = 1;

    pre = pre != NULL ? pre : "";
    post = post != NULL ? post : "";
    if (!c->fit || cols(s, n) <= cli_width(c)) {
        fputs(pre, stdout);
        fwrite(s, 1, n, stdout);
        fputs(post, stdout);
        putchar('\n');
        return;
    }
    if (hang <= 0) { /* cut, and say so */
        fputs(pre, stdout);
        fwrite(s, 1, fit_bytes(s, cli_width(c) - 1), stdout);
        fputs("\xe2\x80\xa6", stdout);
        fputs(post, stdout);
        putchar('\n');
        return;
    }
    if ((size_t)hang > cli_width(c) / 2)
        hang = (int)(cli_width(c) / 2);
    while (n > 0) {
        size_t k =
            break_at(s, n, w, first ? fit_bytes(s, (size_t)hang) : 0, &skip);
        fputs(pre, stdout);
        if (!first)
            printf("%*s", hang, "");
        fwrite(s, 1, k, stdout);
        fputs(post, stdout);
        putchar('\n');
        s += k + skip;
        n -= k + skip;
        first = 0;
        w = cli_width(c) - (size_t)hang;
    }
}

void
cli_printf_fit(const struct cli *c, int hang, const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;
    int n;
    va_start(ap, fmt);
    n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0) { /* out of memory: the text as it is, unwrapped, not lost */
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        if (fmt[0] == '\0' || fmt[strlen(fmt) - 1] != '\n')
            putchar('\n'); /* (each line of the text ends in one) */
        return;
    }
    for (const char *p = text; *p;) {
        size_t k = strcspn(p, "\n");
        cli_line(c, p, k, hang, NULL, NULL);
        p += k + (p[k] == '\n');
    }
    free(text);
}

/* ------------------------------------------------------------- tables -- */

struct cli_table {
    const struct cli_col *cols;
    size_t ncols;
    size_t n, cap; /* cells */
    struct tcell {
        char *s; /* NULL: a note line (indent in paint) */
        int paint;
    } * cells;
};

struct cli_table *
cli_table_new(const struct cli_col *cols, size_t ncols)
{
    struct cli_table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->cols = cols;
    t->ncols = ncols;
    return t;
}

static void
table_push(struct cli_table *t, char *s, int paint, int note)
{
    if (s == NULL)
        return;
    if (t->n == t->cap) {
        size_t nc = t->cap ? 2 * t->cap : 64;
        struct tcell *p = realloc(t->cells, nc * sizeof *p);
        if (p == NULL) {
            free(s);
            return;
        }
        t->cells = p;
        t->cap = nc;
    }
    t->cells[t->n].s = s;
    t->cells[t->n].paint = note ? -1 - paint : paint;
    t->n++;
}

void
cli_table_add(struct cli_table *t, const char *s, enum cli_paint what)
{
    if (t != NULL)
        table_push(t, strdup(s != NULL ? s : "-"), (int)what, 0);
}

void
cli_table_note(struct cli_table *t, const char *s, int indent)
{
    if (t != NULL)
        table_push(t, strdup(s != NULL ? s : ""), indent, 1);
}

/* Each column's width: what its cells need, or, when the line would be
 * wider than the terminal, less for the widest columns (never below
 * their minimum): one column at a time, the widest first, so a long
 * model name gives way before a short state. */
static void
table_widths(const struct cli *c, const struct cli_table *t, size_t *w)
{
    size_t total, k = 0;

    for (size_t j = 0; j < t->ncols; j++)
        w[j] = cols(t->cols[j].head, strlen(t->cols[j].head));
    for (size_t i = 0; i < t->n; i++) {
        size_t n;
        if (t->cells[i].paint < 0)
            continue;
        n = cols(t->cells[i].s, strlen(t->cells[i].s));
        if (n > w[k])
            w[k] = n;
        k = (k + 1) % t->ncols;
    }
    if (!c->fit)
        return;
    for (;;) {
        size_t wide = t->ncols;
        total = t->ncols - 1;
        for (size_t j = 0; j < t->ncols; j++) {
            total += w[j];
            if (w[j] > (size_t)t->cols[j].min &&
                (wide == t->ncols || w[j] > w[wide]))
                wide = j;
        }
        if (total <= cli_width(c) || wide == t->ncols)
            return;
        w[wide]--;
    }
}

void
cli_table_print(const struct cli *c, struct cli_table *t)
{
    size_t *w, k = 0;

    if (t == NULL)
        return;
    w = calloc(t->ncols ? t->ncols : 1, sizeof *w);
    if (w != NULL && t->ncols > 0) {
        table_widths(c, t, w);
        for (size_t j = 0; j < t->ncols; j++)
            table_cell(c, t->cols[j].head, w[j], t->cols[j].right, 0,
                       j + 1 == t->ncols);
        for (size_t i = 0; i < t->n; i++) {
            if (t->cells[i].paint < 0) {
                cli_wrap(c, t->cells[i].s, -1 - t->cells[i].paint);
                continue;
            }
            table_cell(c, t->cells[i].s, w[k], t->cols[k].right,
                       t->cells[i].paint, k + 1 == t->ncols);
            k = (k + 1) % t->ncols;
        }
    }
    free(w);
    cli_table_free(t);
}

void
cli_table_free(struct cli_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->cells[i].s);
    free(t->cells);
    free(t);
}
