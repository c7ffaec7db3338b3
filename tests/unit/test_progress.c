/*
 * test_progress.c - the live progress display (include/ranpipe/progress.h)
 * and its sharing of the terminal with the log.
 *
 * The display takes time only from the snapshots, so every case feeds a
 * made-up sequence of elapsed_s values and checks the exact output. TTY
 * output is checked two ways: the raw bytes (escape sequences where they
 * belong) and the screen they leave, through a minimal terminal model that
 * knows what the display uses: CR, LF (as a terminal with ONLCR shows it),
 * ESC[2K and ESC[nA; any other escape sequence fails the test.
 *
 * The pty case runs 4 logging threads against a thread redrawing the block
 * in a loop, on a real pseudo-terminal (stderr pointed at it), and checks
 * that every log line reached the screen whole, exactly once, on a line of
 * its own. Threads other than the main one never call cmocka assertions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pty.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ranpipe/log.h"
#include "ranpipe/progress.h"
#include "ranpipe/utf8.h"

/* ---- helpers ---- */

struct out {
    char *b;
    size_t n;
};

/* Reads fd to EOF (or EIO: a pty whose other side is closed). */
static struct out read_all(int fd)
{
    size_t cap = 1 << 16;
    struct out o = {malloc(cap), 0};
    assert_non_null(o.b);
    for (;;) {
        if (o.n + 1 >= cap) {
            cap *= 2;
            o.b = realloc(o.b, cap);
            assert_non_null(o.b);
        }
        ssize_t r = read(fd, o.b + o.n, cap - o.n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        o.n += (size_t)r;
    }
    o.b[o.n] = '\0';
    return o;
}

static int setup(void **state)
{
    (void)state;
    rp_log_set_level(RP_LOG_INFO);
    rp_log_set_format(RP_LOG_FORMAT_TEXT);
    rp_log_set_callback(NULL, NULL);
    return 0;
}

/* A run: 40 docs (found by t = 15), 1200 chunks at 12/s, tiers 70/20/10. */
static struct rp_progress_snapshot snap_at(int t)
{
    struct rp_progress_snapshot s = {
        .elapsed_s = t,
        .docs_done = (uint64_t)t / 5,
        .docs_total = 40,
        .totals_final = t >= 15,
        .chunks_done = 12 * (uint64_t)t,
        .chunks_total = 1200,
        .pairs_accepted = 20 * (uint64_t)t,
        .pairs_rejected = 3 * (uint64_t)t,
        .gen_tokens = 500 * (uint64_t)t,
        .errors = t >= 20 ? 2 : 0,
        .cache_hits = 4,
        .n_tiers = 3,
    };
    s.tiers[0] = (struct rp_progress_tier){"small", 7 * (uint64_t)t, 14 * (uint64_t)t, "ok"};
    s.tiers[1] = (struct rp_progress_tier){"medium", 2 * (uint64_t)t, 4 * (uint64_t)t, "ok"};
    s.tiers[2] =
        (struct rp_progress_tier){"large", (uint64_t)t, 2 * (uint64_t)t, t >= 20 ? "open" : NULL};
    return s;
}

static struct rp_progress *new_on(int fd, enum rp_progress_mode mode, double interval, int width)
{
    struct rp_progress_params p = rp_progress_default_params();
    p.fd = fd;
    p.mode = mode;
    p.plain_interval_s = interval;
    p.width = width;
    struct rp_progress *pr = rp_progress_new(&p);
    assert_non_null(pr);
    return pr;
}

/* ---- a minimal terminal ---- */

#define SCREEN_ROWS 4096
#define SCREEN_COLS 1024

struct screen {
    char cell[SCREEN_ROWS][SCREEN_COLS];
    size_t len[SCREEN_ROWS];
    int row, col, rows_used;
    char error[128]; /* set on a sequence the model does not know */
};

static struct screen scr;

static void screen_feed(struct screen *s, const char *b, size_t n)
{
    memset(s, 0, sizeof(*s));
    s->rows_used = 1;
    for (size_t i = 0; i < n && !s->error[0]; i++) {
        unsigned char c = (unsigned char)b[i];
        if (c == '\r') {
            s->col = 0;
        } else if (c == '\n') {
            s->col = 0;
            if (++s->row >= SCREEN_ROWS) {
                snprintf(s->error, sizeof(s->error), "too many rows");
                return;
            }
            if (s->row + 1 > s->rows_used)
                s->rows_used = s->row + 1;
        } else if (c == 0x1b) {
            if (i + 1 >= n || b[i + 1] != '[') {
                snprintf(s->error, sizeof(s->error), "bare ESC at %zu", i);
                return;
            }
            size_t j = i + 2;
            int arg = 0;
            bool has_arg = false;
            while (j < n && b[j] >= '0' && b[j] <= '9') {
                arg = arg * 10 + (b[j] - '0');
                has_arg = true;
                j++;
            }
            if (j < n && b[j] == 'K' && arg == 2) {
                s->len[s->row] = 0;
            } else if (j < n && b[j] == 'A') {
                s->row -= has_arg ? arg : 1;
                if (s->row < 0)
                    s->row = 0;
            } else {
                snprintf(s->error, sizeof(s->error), "unknown sequence at %zu: ESC[%.*s", i,
                         (int)(j < n ? j - i - 1 : n - i - 2), b + i + 2);
                return;
            }
            i = j;
        } else if (c < 0x20) {
            snprintf(s->error, sizeof(s->error), "control byte 0x%02x at %zu", c, i);
            return;
        } else {
            if (s->col >= SCREEN_COLS - 1) {
                snprintf(s->error, sizeof(s->error), "line too long");
                return;
            }
            for (size_t k = s->len[s->row]; k < (size_t)s->col; k++)
                s->cell[s->row][k] = ' ';
            s->cell[s->row][s->col++] = (char)c;
            if ((size_t)s->col > s->len[s->row])
                s->len[s->row] = (size_t)s->col;
        }
    }
}

/* Row r as a string (in a static buffer). */
static const char *screen_row(const struct screen *s, int r)
{
    static char buf[SCREEN_COLS + 1];
    memcpy(buf, s->cell[r], s->len[r]);
    buf[s->len[r]] = '\0';
    return buf;
}

/* The non-empty rows, in order, into rows[] (at most max); returns how many. */
static int screen_lines(const struct screen *s, char **rows, int max)
{
    int n = 0;
    for (int r = 0; r < s->rows_used && n < max; r++)
        if (s->len[r] > 0)
            rows[n++] = strdup(screen_row(s, r));
    return n;
}

static size_t code_points(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* ---- cases ---- */

static void duration_format(void **state)
{
    (void)state;
    static const struct {
        double s;
        const char *want;
    } cases[] = {{0, "0s"},
                 {42, "42s"},
                 {59.4, "59s"},
                 {59.6, "1m00s"},
                 {245, "4m05s"},
                 {3599, "59m59s"},
                 {3600, "1h00m"},
                 {4980, "1h23m"},
                 {100 * 3600 + 61, "100h01m"},
                 {1000.0 * 3600, ">999h"},
                 {-1, "?"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[16];
        rp_progress_format_duration(cases[i].s, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].want);
    }
}

static void plain_exact(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct rp_progress *pr = new_on(fds[1], RP_PROGRESS_PLAIN, 10, 0);
    assert_int_equal(rp_progress_mode(pr), RP_PROGRESS_PLAIN);
    for (int t = 1; t <= 24; t++) {
        struct rp_progress_snapshot s = snap_at(t);
        rp_progress_update(pr, &s);
    }
    struct rp_progress_snapshot s = snap_at(25);
    s.note = "done";
    rp_progress_finish(pr, &s);
    struct rp_progress_snapshot late = snap_at(40);
    rp_progress_update(pr, &late); /* after finish: nothing */
    rp_progress_free(pr);
    close(fds[1]);
    struct out o = read_all(fds[0]);
    close(fds[0]);
    /* Lines at t = 10 and 20 (every 10 s of elapsed_s), then the final one.
     * Before t = 30 the rates are over the whole run: 12 chunks/s, 720 docs/h. */
    assert_string_equal(
        o.b,
        "progress: docs 2/40+, chunks 120/1200+ (10%), pairs 200 ok / 30 rejected, 720.0 docs/h, "
        "12.0 chunks/s, 500 tok/s, elapsed 10s, ETA ?, tiers small 70% medium 20% large 10%, "
        "errors 0, cache hits 4\n"
        "progress: docs 4/40, chunks 240/1200 (20%), pairs 400 ok / 60 rejected, 720.0 docs/h, "
        "12.0 chunks/s, 500 tok/s, elapsed 20s, ETA 1m20s, tiers small 70% medium 20% large 10% "
        "(open), errors 2, cache hits 4\n"
        "progress: docs 5/40, chunks 300/1200 (25%), pairs 500 ok / 75 rejected, 720.0 docs/h, "
        "12.0 chunks/s, 500 tok/s, elapsed 25s, ETA 1m15s, tiers small 70% medium 20% large 10% "
        "(open), errors 2, cache hits 4, note: done\n");
    free(o.b);
}

static void plain_interval_skips(void **state)
{
    (void)state;
    /* Snapshots 7 s apart with a 10 s interval: a line at the first
     * snapshot at or past each multiple of 10 (14, 21, 35), none twice. */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct rp_progress *pr = new_on(fds[1], RP_PROGRESS_PLAIN, 10, 0);
    for (int t = 7; t <= 35; t += 7) {
        struct rp_progress_snapshot s = snap_at(t);
        rp_progress_update(pr, &s);
    }
    rp_progress_free(pr); /* no finish: no final line */
    close(fds[1]);
    struct out o = read_all(fds[0]);
    close(fds[0]);
    assert_int_equal(count(o.b, "\n"), 3);
    assert_int_equal(count(o.b, "elapsed 14s"), 1);
    assert_int_equal(count(o.b, "elapsed 21s"), 1);
    assert_int_equal(count(o.b, "elapsed 35s"), 1);
    assert_null(strchr(o.b, 0x1b));
    free(o.b);
}

/* Finds the progress line for elapsed t in o (in a static buffer). */
static const char *line_with(const char *o, const char *what)
{
    static char buf[1024];
    const char *p = strstr(o, what);
    if (!p)
        fail_msg("no line with '%s' in:\n%s", what, o);
    while (p > o && p[-1] != '\n')
        p--;
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    assert_true(n < sizeof(buf));
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static void rates_window(void **state)
{
    (void)state;
    /* 10 chunks/s for a minute, then 2 chunks/s: at t = 120 the window
     * (the last 30 s) sees only the slow part. Docs: one every 6 s, then
     * one every 30 s. Tokens follow the chunks (50 per chunk). */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct rp_progress *pr = new_on(fds[1], RP_PROGRESS_PLAIN, 30, 0);
    for (int t = 1; t <= 120; t++) {
        uint64_t chunks = t <= 60 ? 10 * (uint64_t)t : 600 + 2 * (uint64_t)(t - 60);
        uint64_t docs = t <= 60 ? (uint64_t)t / 6 : 10 + (uint64_t)(t - 60) / 30;
        struct rp_progress_snapshot s = {.elapsed_s = t,
                                         .docs_done = docs,
                                         .docs_total = 20,
                                         .totals_final = true,
                                         .chunks_done = chunks,
                                         .chunks_total = 1000,
                                         .gen_tokens = 50 * chunks};
        rp_progress_update(pr, &s);
    }
    rp_progress_free(pr);
    close(fds[1]);
    struct out o = read_all(fds[0]);
    close(fds[0]);
    /* t = 30: the whole run so far; 300 chunks, 5 docs in 30 s. */
    const char *l30 = line_with(o.b, "elapsed 30s");
    assert_non_null(strstr(l30, "600.0 docs/h, 10.0 chunks/s, 500 tok/s"));
    assert_non_null(strstr(l30, "ETA 1m10s")); /* 700 left at 10/s */
    /* t = 60: the window is t 30..60, still 10 chunks/s. */
    const char *l60 = line_with(o.b, "elapsed 1m00s");
    assert_non_null(strstr(l60, "600.0 docs/h, 10.0 chunks/s, 500 tok/s, elapsed 1m00s, ETA 40s"));
    /* t = 120: window t 90..120: 60 chunks, 1 doc (11 -> 12) in 30 s. */
    const char *l120 = line_with(o.b, "elapsed 2m00s");
    assert_non_null(strstr(l120, "chunks 720/1000 (72%)"));
    assert_non_null(
        strstr(l120, "120.0 docs/h, 2.0 chunks/s, 100 tok/s, elapsed 2m00s, ETA 2m20s"));
    free(o.b);
}

static void eta_unknown_and_done(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct rp_progress *pr = new_on(fds[1], RP_PROGRESS_PLAIN, 1, 0);
    struct rp_progress_snapshot s = {
        .elapsed_s = 1, .chunks_done = 0, .chunks_total = 10, .totals_final = true};
    rp_progress_update(pr, &s); /* rate 0 */
    s.elapsed_s = 2;
    s.chunks_done = 4;
    s.totals_final = false; /* totals may still grow */
    rp_progress_update(pr, &s);
    s.elapsed_s = 3;
    s.chunks_done = 10;
    s.totals_final = true;
    rp_progress_update(pr, &s);
    rp_progress_free(pr);
    close(fds[1]);
    struct out o = read_all(fds[0]);
    close(fds[0]);
    assert_non_null(
        strstr(line_with(o.b, "elapsed 1s"), "0.0 chunks/s, 0 tok/s, elapsed 1s, ETA ?,"));
    assert_non_null(strstr(line_with(o.b, "elapsed 2s"), "chunks 4/10+ (40%)"));
    assert_non_null(strstr(line_with(o.b, "elapsed 2s"), "ETA ?,"));
    assert_non_null(strstr(line_with(o.b, "elapsed 3s"), "chunks 10/10 (100%)"));
    assert_non_null(strstr(line_with(o.b, "elapsed 3s"), "ETA 0s,"));
    /* No tiers, no note: neither is mentioned. */
    assert_null(strstr(o.b, "tiers"));
    assert_null(strstr(o.b, "note"));
    free(o.b);
}

static void off_writes_nothing(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct rp_progress *pr = new_on(fds[1], RP_PROGRESS_OFF, 1, 80);
    assert_int_equal(rp_progress_mode(pr), RP_PROGRESS_OFF);
    for (int t = 0; t <= 30; t++) {
        struct rp_progress_snapshot s = snap_at(t);
        rp_progress_update(pr, &s);
    }
    struct rp_progress_snapshot s = snap_at(31);
    rp_progress_finish(pr, &s);
    rp_progress_free(pr);
    rp_progress_free(NULL);
    close(fds[1]);
    struct out o = read_all(fds[0]);
    close(fds[0]);
    assert_int_equal(o.n, 0);
    free(o.b);
}

static void plain_json_when_log_is_json(void **state)
{
    (void)state;
    rp_log_set_format(RP_LOG_FORMAT_JSON);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct rp_progress *pr = new_on(fds[1], RP_PROGRESS_PLAIN, 10, 0);
    struct rp_progress_snapshot s = snap_at(10);
    s.note = "quote \" and tab \t";
    rp_progress_update(pr, &s);
    rp_progress_finish(pr, &s);
    rp_progress_free(pr);
    close(fds[1]);
    struct out o = read_all(fds[0]);
    close(fds[0]);
    assert_int_equal(count(o.b, "\n"), 2);
    char *save = NULL;
    for (char *line = strtok_r(o.b, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        if (!j)
            fail_msg("not JSON: %s", line);
        assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
        const char *msg = json_string_value(json_object_get(j, "msg"));
        assert_non_null(msg);
        assert_true(strncmp(msg, "progress: docs 2/40+, chunks 120/1200+ ", 39) == 0);
        assert_non_null(strstr(msg, "note: quote \" and tab \t"));
        json_decref(j);
    }
    free(o.b);
}

static void auto_mode(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct rp_progress *pr = new_on(fds[1], RP_PROGRESS_AUTO, 10, 0);
    assert_int_equal(rp_progress_mode(pr), RP_PROGRESS_PLAIN); /* a pipe */
    rp_progress_free(pr);
    close(fds[0]);
    close(fds[1]);

    int master, slave;
    assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
    const char *old = getenv("TERM");
    char *saved = old ? strdup(old) : NULL;
    setenv("TERM", "xterm-256color", 1);
    pr = new_on(slave, RP_PROGRESS_AUTO, 10, 0);
    assert_int_equal(rp_progress_mode(pr), RP_PROGRESS_TTY);
    rp_progress_free(pr);
    setenv("TERM", "dumb", 1);
    pr = new_on(slave, RP_PROGRESS_AUTO, 10, 0);
    assert_int_equal(rp_progress_mode(pr), RP_PROGRESS_PLAIN);
    rp_progress_free(pr);
    unsetenv("TERM");
    pr = new_on(slave, RP_PROGRESS_AUTO, 10, 0);
    assert_int_equal(rp_progress_mode(pr), RP_PROGRESS_PLAIN);
    rp_progress_free(pr);
    if (saved)
        setenv("TERM", saved, 1);
    free(saved);
    close(slave);
    close(master);
}

/* Points stderr (the log's sink) at fd until restore_stderr(). */
static int redirect_stderr(int fd)
{
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    return saved;
}

static void restore_stderr(int saved)
{
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
}

static void tty_in_pipe(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = redirect_stderr(fds[1]);
    struct rp_progress *pr = new_on(fds[1], RP_PROGRESS_TTY, 1, 80);
    rp_warn("before the first draw"); /* nothing to erase yet */
    struct rp_progress_snapshot s = snap_at(10);
    rp_progress_update(pr, &s);
    s = snap_at(11);
    rp_progress_update(pr, &s);
    rp_warn("between draws");
    s = snap_at(12);
    s.note = "large tier is the bottleneck";
    rp_progress_update(pr, &s);
    s = snap_at(13);
    rp_progress_finish(pr, &s);
    rp_warn("after finish");
    rp_progress_free(pr);
    restore_stderr(saved);
    close(fds[1]);
    struct out o = read_all(fds[0]);
    close(fds[0]);

    const char *erase3 = "\r\x1b[2K\x1b[1A\x1b[2K\x1b[1A\x1b[2K";
    /* The first line is written before any block: no escapes before it. */
    assert_true(strncmp(o.b, "ranpipe: warning: before the first draw\n[", 41) == 0);
    /* Each later draw and the log line first erase the 3-line block; the
     * log line is followed at once by the block again. */
    assert_int_equal(count(o.b, erase3), 4); /* update, log line, update, finish */
    assert_non_null(strstr(o.b, "\x1b[2Kranpipe: warning: between draws\n[#"));
    /* After finish: the final line, then the next log line, no escapes. */
    const char *fin = strstr(o.b, "progress: docs 2/40+, chunks 156/1200+ (13%)");
    assert_non_null(fin);
    assert_null(strchr(fin, 0x1b));
    assert_true(fin - o.b >= (ptrdiff_t)strlen(erase3));
    assert_true(strncmp(fin - strlen(erase3), erase3, strlen(erase3)) == 0);
    assert_non_null(strstr(fin, "\nranpipe: warning: after finish\n"));
    assert_int_equal(o.b[o.n - 1], '\n');

    /* The screen it leaves: the log lines and the final line, nothing of the block. */
    screen_feed(&scr, o.b, o.n);
    assert_string_equal(scr.error, "");
    char *rows[8] = {0};
    int n = screen_lines(&scr, rows, 8);
    assert_int_equal(n, 4);
    assert_string_equal(rows[0], "ranpipe: warning: before the first draw");
    assert_string_equal(rows[1], "ranpipe: warning: between draws");
    assert_true(strncmp(rows[2], "progress: docs 2/40+", 20) == 0);
    assert_string_equal(rows[3], "ranpipe: warning: after finish");
    for (int i = 0; i < n; i++)
        free(rows[i]);

    /* The block as drawn by the update at t = 12 (feed up to the log line's
     * erase... simply: feed everything before the finish's erase). */
    size_t upto = (size_t)(fin - o.b) - strlen(erase3);
    screen_feed(&scr, o.b, upto);
    assert_string_equal(scr.error, "");
    n = screen_lines(&scr, rows, 8);
    assert_int_equal(n, 5);
    assert_string_equal(
        rows[2], "[##------------------]  12% chunks 144/1200+  docs 2/40+  elapsed 12s  ETA ?");
    assert_string_equal(
        rows[3], "pairs 240 ok / 36 rejected  600.0 docs/h  12.0 chunks/s  500 tok/s  cache hits ");
    assert_string_equal(
        rows[4], "tiers small 70% (168 pairs) medium 20% (48 pairs) large 10% (24 pairs)  note: l");
    for (int i = 0; i < n; i++) {
        assert_true(code_points(rows[i]) <= 79);
        free(rows[i]);
    }
    free(o.b);
}

static void tty_width_utf8(void **state)
{
    (void)state;
    /* Tier names in Greek and Japanese (and an emoji), each line cut at
     * width - 1 code points: never inside a character, valid UTF-8. */
    for (int width = 8; width <= 50; width++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        struct rp_progress *pr = new_on(fds[1], RP_PROGRESS_TTY, 1, width);
        struct rp_progress_snapshot s = snap_at(10);
        s.n_tiers = 2;
        s.tiers[0] =
            (struct rp_progress_tier){"\xce\xbc\xce\xb9\xce\xba\xcf\x81\xcf\x8c", 5, 1, "ok"};
        s.tiers[1] =
            (struct rp_progress_tier){"\xe5\xa4\xa7\xe5\x9e\x8b\xf0\x9f\x93\xa1", 5, 1, "degraded"};
        rp_progress_update(pr, &s);
        rp_progress_free(pr); /* erases the block */
        close(fds[1]);
        struct out o = read_all(fds[0]);
        close(fds[0]);
        assert_true(rp_utf8_valid(o.b, o.n, NULL));
        /* Only the first draw: up to the erase that free() writes. */
        char *erase = strstr(o.b, "\r\x1b[2K");
        assert_non_null(erase);
        screen_feed(&scr, o.b, (size_t)(erase - o.b));
        assert_string_equal(scr.error, "");
        char *rows[4] = {0};
        int n = screen_lines(&scr, rows, 4);
        assert_int_equal(n, 3);
        for (int i = 0; i < n; i++) {
            assert_int_equal(code_points(rows[i]), (size_t)width - 1); /* every line is longer */
            assert_true(rp_utf8_valid(rows[i], strlen(rows[i]), NULL));
        }
        if (width == 9) /* the cut falls inside the Greek name */
            assert_string_equal(rows[2], "tiers \xce\xbc\xce\xb9");
        if (width == 28) /* ... and inside the Japanese one */
            assert_string_equal(
                rows[2],
                "tiers \xce\xbc\xce\xb9\xce\xba\xcf\x81\xcf\x8c 50% (1 pairs) \xe5\xa4\xa7");
        if (width == 30) /* ... right after the emoji (4 bytes) */
            assert_string_equal(rows[2],
                                "tiers \xce\xbc\xce\xb9\xce\xba\xcf\x81\xcf\x8c 50% (1 pairs) "
                                "\xe5\xa4\xa7\xe5\x9e\x8b\xf0\x9f\x93\xa1");
        for (int i = 0; i < n; i++)
            free(rows[i]);
        /* free() left nothing on the screen. */
        screen_feed(&scr, o.b, o.n);
        assert_int_equal(screen_lines(&scr, rows, 4), 0);
        free(o.b);
    }
}

/* ---- the pty case ---- */

#define LOG_THREADS 4
#define LOG_LINES 200

struct pty_run {
    int master;
    struct out got; /* written by the reader thread, read after joining it */
    atomic_bool stop_drawing;
    struct rp_progress *pr;
    atomic_long draws;
};

static void *pty_reader(void *arg)
{
    struct pty_run *r = arg;
    size_t cap = 1 << 20;
    r->got.b = malloc(cap);
    r->got.n = 0;
    if (!r->got.b)
        return NULL;
    for (;;) {
        if (r->got.n + 4096 > cap) {
            char *b = realloc(r->got.b, cap * 2);
            if (!b)
                break;
            r->got.b = b;
            cap *= 2;
        }
        ssize_t n = read(r->master, r->got.b + r->got.n, cap - r->got.n - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) /* EIO once every slave descriptor is closed */
            break;
        r->got.n += (size_t)n;
    }
    r->got.b[r->got.n] = '\0';
    return NULL;
}

static void *pty_drawer(void *arg)
{
    struct pty_run *r = arg;
    for (int t = 0; !atomic_load(&r->stop_drawing); t++) {
        struct rp_progress_snapshot s = snap_at(t % 100);
        s.elapsed_s = t * 0.01;
        s.note = "note: \xe2\x86\x92 drawing"; /* multibyte, as tier names may be */
        rp_progress_update(r->pr, &s);
        atomic_fetch_add(&r->draws, 1);
        struct timespec ts = {0, 200 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void pty_log_line(char *buf, size_t cap, int thread, int i)
{
    /* Long enough that a torn write would show; the same text for the check. */
    snprintf(
        buf, cap,
        "thread %d line %03d \xc3\xa9t\xc3\xa9 abcdefghijklmnopqrstuvwxyz0123456789 end-%d-%03d",
        thread, i, thread, i);
}

static void *pty_logger(void *arg)
{
    int thread = (int)(intptr_t)arg;
    for (int i = 0; i < LOG_LINES; i++) {
        char line[256];
        pty_log_line(line, sizeof(line), thread, i);
        rp_warn("%s", line);
        if (i % 16 == 0)
            sched_yield();
    }
    return NULL;
}

static void pty_threads(void **state)
{
    (void)state;
    struct winsize ws = {.ws_row = 24, .ws_col = 100};
    int master, slave;
    assert_int_equal(openpty(&master, &slave, NULL, NULL, &ws), 0);
    struct pty_run r = {.master = master};
    atomic_init(&r.stop_drawing, false);
    atomic_init(&r.draws, 0);
    pthread_t reader, drawer, loggers[LOG_THREADS];
    assert_int_equal(pthread_create(&reader, NULL, pty_reader, &r), 0);

    int saved = redirect_stderr(slave);
    /* width 0: asks the pty (100 columns). */
    r.pr = new_on(slave, RP_PROGRESS_TTY, 1, 0);
    struct rp_progress_snapshot first = snap_at(1);
    rp_progress_update(r.pr, &first);
    assert_int_equal(pthread_create(&drawer, NULL, pty_drawer, &r), 0);
    for (int i = 0; i < LOG_THREADS; i++)
        assert_int_equal(pthread_create(&loggers[i], NULL, pty_logger, (void *)(intptr_t)i), 0);
    for (int i = 0; i < LOG_THREADS; i++)
        pthread_join(loggers[i], NULL);
    atomic_store(&r.stop_drawing, true);
    pthread_join(drawer, NULL);
    struct rp_progress_snapshot fin = snap_at(99);
    fin.elapsed_s = 1e6; /* later than any the drawer used */
    rp_progress_finish(r.pr, &fin);
    rp_progress_free(r.pr);
    restore_stderr(saved);
    close(slave);
    pthread_join(reader, NULL);
    close(master);
    assert_non_null(r.got.b);
    assert_true(atomic_load(&r.draws) > 0);

    /* Raw bytes: each log line is one contiguous piece, there once
     * (the pty turns "\n" into "\r\n"). */
    for (int t = 0; t < LOG_THREADS; t++) {
        for (int i = 0; i < LOG_LINES; i++) {
            char line[256], whole[300];
            pty_log_line(line, sizeof(line), t, i);
            snprintf(whole, sizeof(whole), "ranpipe: warning: %s\r\n", line);
            size_t c = count(r.got.b, whole);
            if (c != 1)
                fail_msg("log line '%s' appears %zu times whole", line, c);
        }
    }
    /* The screen: every row left is one whole log line or the final
     * progress line (the last); the block never survives. */
    screen_feed(&scr, r.got.b, r.got.n);
    if (scr.error[0])
        fail_msg("terminal model: %s", scr.error);
    static char *rows[LOG_THREADS * LOG_LINES + 16];
    int n = screen_lines(&scr, rows, (int)(sizeof(rows) / sizeof(rows[0])));
    assert_int_equal(n, LOG_THREADS * LOG_LINES + 1);
    int seen[LOG_THREADS][LOG_LINES] = {{0}};
    for (int k = 0; k < n - 1; k++) {
        int t, i;
        if (sscanf(rows[k], "ranpipe: warning: thread %d line %d", &t, &i) != 2 || t < 0 ||
            t >= LOG_THREADS || i < 0 || i >= LOG_LINES)
            fail_msg("row %d is not a log line: '%s'", k, rows[k]);
        char line[256], whole[300];
        pty_log_line(line, sizeof(line), t, i);
        snprintf(whole, sizeof(whole), "ranpipe: warning: %s", line);
        if (strcmp(rows[k], whole) != 0)
            fail_msg("row %d is damaged: '%s'", k, rows[k]);
        seen[t][i]++;
    }
    for (int t = 0; t < LOG_THREADS; t++)
        for (int i = 0; i < LOG_LINES; i++)
            assert_int_equal(seen[t][i], 1);
    assert_true(strncmp(rows[n - 1], "progress: docs 19/40, chunks 1188/1200 (99%)", 44) == 0);
    /* Lines from one thread keep their order. */
    int last[LOG_THREADS] = {-1, -1, -1, -1};
    for (int k = 0; k < n - 1; k++) {
        int t, i;
        sscanf(rows[k], "ranpipe: warning: thread %d line %d", &t, &i);
        assert_true(i > last[t]);
        last[t] = i;
    }
    for (int k = 0; k < n; k++)
        free(rows[k]);
    free(r.got.b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(duration_format, setup),
        cmocka_unit_test_setup(plain_exact, setup),
        cmocka_unit_test_setup(plain_interval_skips, setup),
        cmocka_unit_test_setup(rates_window, setup),
        cmocka_unit_test_setup(eta_unknown_and_done, setup),
        cmocka_unit_test_setup(off_writes_nothing, setup),
        cmocka_unit_test_setup(plain_json_when_log_is_json, setup),
        cmocka_unit_test_setup(auto_mode, setup),
        cmocka_unit_test_setup(tty_in_pipe, setup),
        cmocka_unit_test_setup(tty_width_utf8, setup),
        cmocka_unit_test_setup(pty_threads, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
