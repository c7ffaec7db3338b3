/*
 * progress.c - live progress display (see include/ranpipe/progress.h).
 *
 * Design: every update renders the whole display from the snapshot into
 * text first, then writes it with one write() while holding the log's
 * terminal lock. In TTY mode the cursor stays at the end of the block's last
 * line (no newline after it), so erasing is "\r ESC[2K" and then "ESC[1A
 * ESC[2K" once per line above; a log line written after that lands where
 * the block began, and the block is drawn again below it. Every line is cut
 * to width - 1 code points, so the terminal never wraps one and the cursor-up
 * count stays right.
 *
 * Rates come from a short history of samples (elapsed_s and the counters),
 * one kept per second at most: the rate is the difference between now and
 * the newest sample at least WINDOW_S old, or, while the run is younger
 * than that, the start of the run (time 0, zero counters).
 */
#include "ranpipe/progress.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ranpipe/log.h"

#define WINDOW_S 30.0
#define SAMPLE_EVERY_S (WINDOW_S / 30.0)
#define MAX_SAMPLES 64 /* > WINDOW_S / SAMPLE_EVERY_S + 1 */
#define MAX_LINES 3
#define LINE_CAP 2048
#define FALLBACK_WIDTH 100

struct sample {
    double t;
    uint64_t docs, chunks, tokens;
};

struct rates {
    double docs_per_h, chunks_per_s, tokens_per_s;
};

struct rp_progress {
    struct rp_progress_params p;
    enum rp_progress_mode mode; /* resolved: TTY, PLAIN or OFF */
    struct sample samples[MAX_SAMPLES];
    size_t n_samples;
    double last_t; /* elapsed_s of the last snapshot taken */
    bool have_last;
    double next_plain_t; /* PLAIN: the next line is due at this elapsed_s */
    bool finished;
    bool hooked;
    /* The TTY block; guarded by the log's terminal lock (the hooks read it). */
    char block[MAX_LINES * LINE_CAP];
    size_t block_len;
    int block_lines; /* lines in block */
    int shown_lines; /* lines on the terminal now (0: erased) */
    bool active;     /* the hooks may redraw */
};

struct rp_progress_params rp_progress_default_params(void)
{
    return (struct rp_progress_params){
        .fd = 2, .mode = RP_PROGRESS_AUTO, .plain_interval_s = 10.0, .width = 0};
}

/* ---- text helpers ---- */

struct sb {
    char *b;
    size_t n, cap; /* n < cap always; b[n] == '\0' */
};

static void sb_printf(struct sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *s, const char *fmt, ...)
{
    size_t room = s->cap - s->n;
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(s->b + s->n, room, fmt, ap);
    va_end(ap);
    if (r < 0)
        return;
    if ((size_t)r < room) {
        s->n += (size_t)r;
        return;
    }
    /* Cut: drop a UTF-8 sequence vsnprintf may have left incomplete. */
    size_t k = s->cap - 1;
    size_t start = k;
    while (start > s->n && ((unsigned char)s->b[start - 1] & 0xc0) == 0x80)
        start--;
    if (start > s->n && ((unsigned char)s->b[start - 1] & 0x80)) {
        unsigned char lead = (unsigned char)s->b[start - 1];
        size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        if (k - (start - 1) < want)
            k = start - 1;
    }
    s->n = k;
    s->b[k] = '\0';
}

static void sb_put(struct sb *s, const char *text, size_t n)
{
    if (n > s->cap - s->n - 1)
        n = s->cap - s->n - 1;
    memcpy(s->b + s->n, text, n);
    s->n += n;
    s->b[s->n] = '\0';
}

/* Bytes of the first max_cp code points of s[0..n): never inside a
 * multibyte sequence (continuation bytes stay with their lead byte). */
static size_t cut_code_points(const char *s, size_t n, size_t max_cp)
{
    size_t cp = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (cp == max_cp)
                return i;
            cp++;
        }
    }
    return n;
}

void rp_progress_format_duration(double s, char *buf, size_t cap)
{
    if (!(s >= 0)) {
        snprintf(buf, cap, "?");
        return;
    }
    if (s >= 999.5 * 3600) {
        snprintf(buf, cap, ">999h");
        return;
    }
    long t = (long)(s + 0.5);
    if (t < 60)
        snprintf(buf, cap, "%lds", t);
    else if (t < 3600)
        snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, cap, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
}

/* part of whole in percent, rounded; 100 only when all is done. */
static int percent(uint64_t part, uint64_t whole)
{
    if (whole == 0)
        return 0;
    if (part >= whole)
        return 100;
    uint64_t p = (part * 100 + whole / 2) / whole;
    return p > 99 ? 99 : (int)p;
}

/* ---- rates ---- */

static uint64_t delta(uint64_t now, uint64_t then)
{
    return now > then ? now - then : 0;
}

static void take_sample(struct rp_progress *pr, const struct rp_progress_snapshot *s)
{
    struct sample cur = {s->elapsed_s, s->docs_done, s->chunks_done, s->gen_tokens};
    if (pr->n_samples > 0 && s->elapsed_s < pr->samples[pr->n_samples - 1].t + SAMPLE_EVERY_S)
        return;
    /* Keep the newest sample at least WINDOW_S old (the base) and the newer ones. */
    size_t base = 0;
    for (size_t i = 0; i < pr->n_samples; i++)
        if (pr->samples[i].t <= s->elapsed_s - WINDOW_S)
            base = i;
    if (base > 0) {
        memmove(pr->samples, pr->samples + base, (pr->n_samples - base) * sizeof(pr->samples[0]));
        pr->n_samples -= base;
    }
    if (pr->n_samples == MAX_SAMPLES) { /* cannot happen with SAMPLE_EVERY_S; stay safe */
        memmove(pr->samples, pr->samples + 1, (MAX_SAMPLES - 1) * sizeof(pr->samples[0]));
        pr->n_samples--;
    }
    pr->samples[pr->n_samples++] = cur;
}

static struct rates compute_rates(const struct rp_progress *pr,
                                  const struct rp_progress_snapshot *s)
{
    struct sample base = {0, 0, 0, 0}; /* the start of the run */
    for (size_t i = 0; i < pr->n_samples; i++)
        if (pr->samples[i].t <= s->elapsed_s - WINDOW_S)
            base = pr->samples[i];
    struct rates r = {0, 0, 0};
    double dt = s->elapsed_s - base.t;
    if (dt <= 0)
        return r;
    r.docs_per_h = (double)delta(s->docs_done, base.docs) / dt * 3600.0;
    r.chunks_per_s = (double)delta(s->chunks_done, base.chunks) / dt;
    r.tokens_per_s = (double)delta(s->gen_tokens, base.tokens) / dt;
    return r;
}

static void format_eta(const struct rp_progress_snapshot *s, const struct rates *r, char *buf,
                       size_t cap)
{
    if (s->totals_final && s->chunks_done >= s->chunks_total)
        snprintf(buf, cap, "0s");
    else if (!s->totals_final || !(r->chunks_per_s > 0))
        snprintf(buf, cap, "?");
    else
        rp_progress_format_duration((double)(s->chunks_total - s->chunks_done) / r->chunks_per_s,
                                    buf, cap);
}

/* ---- rendering ---- */

static const char *more(const struct rp_progress_snapshot *s)
{
    return s->totals_final ? "" : "+";
}

static size_t shown_tiers(const struct rp_progress_snapshot *s)
{
    return s->n_tiers < RP_PROGRESS_MAX_TIERS ? s->n_tiers : RP_PROGRESS_MAX_TIERS;
}

/* "small 70% medium 25% large 5% (open)"; with_pairs: "small 70% (410 pairs)". */
static void put_tiers(struct sb *b, const struct rp_progress_snapshot *s, bool with_pairs)
{
    uint64_t sum = 0;
    size_t n = shown_tiers(s);
    for (size_t i = 0; i < n; i++)
        sum += s->tiers[i].chunks;
    sb_printf(b, "tiers");
    for (size_t i = 0; i < n; i++) {
        const struct rp_progress_tier *t = &s->tiers[i];
        bool ok = !t->health || strcmp(t->health, "ok") == 0;
        sb_printf(b, " %s %d%%", t->name ? t->name : "?", percent(t->chunks, sum));
        if (with_pairs && !ok)
            sb_printf(b, " (%llu pairs, %s)", (unsigned long long)t->pairs, t->health);
        else if (with_pairs)
            sb_printf(b, " (%llu pairs)", (unsigned long long)t->pairs);
        else if (!ok)
            sb_printf(b, " (%s)", t->health);
    }
}

/* The self-contained line PLAIN mode and finish print (no newline). */
static void render_plain(const struct rp_progress_snapshot *s, const struct rates *r, struct sb *b)
{
    char eta[16], el[16];
    format_eta(s, r, eta, sizeof(eta));
    rp_progress_format_duration(s->elapsed_s, el, sizeof(el));
    sb_printf(
        b,
        "progress: docs %llu/%llu%s, chunks %llu/%llu%s (%d%%), pairs %llu ok / %llu rejected, "
        "%.1f docs/h, %.1f chunks/s, %.0f tok/s, elapsed %s, ETA %s",
        (unsigned long long)s->docs_done, (unsigned long long)s->docs_total, more(s),
        (unsigned long long)s->chunks_done, (unsigned long long)s->chunks_total, more(s),
        percent(s->chunks_done, s->chunks_total), (unsigned long long)s->pairs_accepted,
        (unsigned long long)s->pairs_rejected, r->docs_per_h, r->chunks_per_s, r->tokens_per_s, el,
        eta);
    if (shown_tiers(s) > 0) {
        sb_printf(b, ", ");
        put_tiers(b, s, false);
    }
    sb_printf(b, ", errors %llu, cache hits %llu", (unsigned long long)s->errors,
              (unsigned long long)s->cache_hits);
    if (s->note && *s->note)
        sb_printf(b, ", note: %s", s->note);
}

static int term_width(const struct rp_progress *pr)
{
    if (pr->p.width > 0)
        return pr->p.width;
    struct winsize ws;
    if (ioctl(pr->p.fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return FALLBACK_WIDTH;
}

/* Renders the TTY block into pr->block: 2 or 3 lines joined by '\n', each
 * cut to width - 1 code points. */
static void render_block(struct rp_progress *pr, const struct rp_progress_snapshot *s,
                         const struct rates *r, char *out, size_t cap, size_t *out_len,
                         int *out_lines)
{
    int width = term_width(pr);
    size_t max_cp = width > 1 ? (size_t)width - 1 : 1;
    char eta[16], el[16];
    format_eta(s, r, eta, sizeof(eta));
    rp_progress_format_duration(s->elapsed_s, el, sizeof(el));

    char lines[MAX_LINES][LINE_CAP];
    int n = 0;
    struct sb b = {lines[n], 0, LINE_CAP};
    b.b[0] = '\0';
    int bar_w = width / 4 < 10 ? 10 : width / 4 > 30 ? 30 : width / 4;
    int filled = s->chunks_total ? (int)(s->chunks_done >= s->chunks_total
                                             ? (uint64_t)bar_w
                                             : s->chunks_done * (uint64_t)bar_w / s->chunks_total)
                                 : 0;
    char bar[40];
    for (int i = 0; i < bar_w; i++)
        bar[i] = i < filled ? '#' : '-';
    bar[bar_w] = '\0';
    sb_printf(&b, "[%s] %3d%% chunks %llu/%llu%s  docs %llu/%llu%s  elapsed %s  ETA %s", bar,
              percent(s->chunks_done, s->chunks_total), (unsigned long long)s->chunks_done,
              (unsigned long long)s->chunks_total, more(s), (unsigned long long)s->docs_done,
              (unsigned long long)s->docs_total, more(s), el, eta);
    n++;
    b = (struct sb){lines[n], 0, LINE_CAP};
    b.b[0] = '\0';
    sb_printf(&b,
              "pairs %llu ok / %llu rejected  %.1f docs/h  %.1f chunks/s  %.0f tok/s  "
              "cache hits %llu  errors %llu",
              (unsigned long long)s->pairs_accepted, (unsigned long long)s->pairs_rejected,
              r->docs_per_h, r->chunks_per_s, r->tokens_per_s, (unsigned long long)s->cache_hits,
              (unsigned long long)s->errors);
    n++;
    if (shown_tiers(s) > 0 || (s->note && *s->note)) {
        b = (struct sb){lines[n], 0, LINE_CAP};
        b.b[0] = '\0';
        if (shown_tiers(s) > 0)
            put_tiers(&b, s, true);
        if (s->note && *s->note)
            sb_printf(&b, "%snote: %s", shown_tiers(s) > 0 ? "  " : "", s->note);
        n++;
    }
    struct sb o = {out, 0, cap};
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i > 0)
            sb_put(&o, "\n", 1);
        size_t len = strlen(lines[i]);
        sb_put(&o, lines[i], cut_code_points(lines[i], len, max_cp));
    }
    *out_len = o.n;
    *out_lines = n;
}

/* ---- output ---- */

static void write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* a display has nowhere to report its own failure */
        }
        buf += w;
        n -= (size_t)w;
    }
}

/* Appends the sequence that erases the lines shown (cursor at the end of
 * the block's last line) and leaves the cursor where the block began. */
static void put_erase(struct sb *b, int lines)
{
    if (lines <= 0)
        return;
    sb_put(b, "\r\x1b[2K", 5);
    for (int i = 1; i < lines; i++)
        sb_put(b, "\x1b[1A\x1b[2K", 8);
}

/* Hooks: called by the log's default sink with the terminal lock held. */
static void hook_before(void *ud)
{
    struct rp_progress *pr = ud;
    if (pr->shown_lines == 0)
        return;
    char buf[8 * MAX_LINES + 8];
    struct sb b = {buf, 0, sizeof(buf)};
    put_erase(&b, pr->shown_lines);
    write_all(pr->p.fd, b.b, b.n);
    pr->shown_lines = 0;
}

static void hook_after(void *ud)
{
    struct rp_progress *pr = ud;
    if (!pr->active || pr->shown_lines > 0 || pr->block_lines == 0)
        return;
    write_all(pr->p.fd, pr->block, pr->block_len);
    pr->shown_lines = pr->block_lines;
}

/* Writes a plain line (text, or a JSON log line when the log is JSON) with
 * the block, if shown, erased first; the caller holds the terminal lock. */
static void write_plain_locked(struct rp_progress *pr, const char *line)
{
    char out[LINE_CAP * 2 + 64];
    struct sb b = {out, 0, sizeof(out)};
    out[0] = '\0';
    put_erase(&b, pr->shown_lines);
    pr->shown_lines = 0;
    if (rp_log_get_format() == RP_LOG_FORMAT_JSON) {
        b.n += rp_log_format_json(b.b + b.n, b.cap - b.n, RP_LOG_INFO, line);
    } else {
        sb_put(&b, line, strlen(line));
        sb_put(&b, "\n", 1);
    }
    write_all(pr->p.fd, b.b, b.n);
}

struct rp_progress *rp_progress_new(const struct rp_progress_params *p)
{
    struct rp_progress *pr = calloc(1, sizeof(*pr));
    if (!pr)
        return NULL;
    pr->p = p ? *p : rp_progress_default_params();
    if (pr->p.fd < 0)
        pr->p.fd = 2;
    if (!(pr->p.plain_interval_s > 0))
        pr->p.plain_interval_s = 10.0;
    pr->mode = pr->p.mode;
    if (pr->mode == RP_PROGRESS_AUTO) {
        const char *term = getenv("TERM");
        bool tty = isatty(pr->p.fd) && term && *term && strcmp(term, "dumb") != 0;
        pr->mode = tty ? RP_PROGRESS_TTY : RP_PROGRESS_PLAIN;
    }
    pr->next_plain_t = pr->p.plain_interval_s;
    if (pr->mode == RP_PROGRESS_TTY) {
        pr->active = true;
        rp_log_set_tty_hooks(hook_before, hook_after, pr);
        pr->hooked = true;
    }
    return pr;
}

enum rp_progress_mode rp_progress_mode(const struct rp_progress *pr)
{
    return pr->mode;
}

/* Takes the snapshot into the rate history; false if it is to be ignored. */
static bool accept(struct rp_progress *pr, const struct rp_progress_snapshot *s)
{
    if (pr->finished || pr->mode == RP_PROGRESS_OFF || !(s->elapsed_s >= 0))
        return false;
    if (pr->have_last && s->elapsed_s < pr->last_t)
        return false;
    pr->last_t = s->elapsed_s;
    pr->have_last = true;
    take_sample(pr, s);
    return true;
}

void rp_progress_update(struct rp_progress *pr, const struct rp_progress_snapshot *s)
{
    if (!accept(pr, s))
        return;
    struct rates r = compute_rates(pr, s);
    if (pr->mode == RP_PROGRESS_PLAIN) {
        if (s->elapsed_s < pr->next_plain_t)
            return;
        while (pr->next_plain_t <= s->elapsed_s)
            pr->next_plain_t += pr->p.plain_interval_s;
        char line[LINE_CAP];
        struct sb b = {line, 0, sizeof(line)};
        line[0] = '\0';
        render_plain(s, &r, &b);
        rp_log_tty_lock();
        write_plain_locked(pr, line);
        rp_log_tty_unlock();
        return;
    }
    /* TTY: render outside the lock, swap in and redraw under it. */
    char block[sizeof(pr->block)];
    size_t len;
    int lines;
    render_block(pr, s, &r, block, sizeof(block), &len, &lines);
    char out[sizeof(pr->block) + 8 * MAX_LINES + 8];
    rp_log_tty_lock();
    struct sb b = {out, 0, sizeof(out)};
    out[0] = '\0';
    put_erase(&b, pr->shown_lines);
    sb_put(&b, block, len);
    write_all(pr->p.fd, b.b, b.n);
    memcpy(pr->block, block, len);
    pr->block_len = len;
    pr->block_lines = lines;
    pr->shown_lines = lines;
    rp_log_tty_unlock();
}

/* Erases the block and stops the hooks from drawing it; then unhooks. */
static void stop_tty(struct rp_progress *pr, const char *final_line)
{
    rp_log_tty_lock();
    pr->active = false;
    if (final_line) {
        write_plain_locked(pr, final_line);
    } else if (pr->shown_lines > 0) {
        hook_before(pr);
    }
    rp_log_tty_unlock();
    if (pr->hooked)
        rp_log_clear_tty_hooks(pr);
    pr->hooked = false;
}

void rp_progress_finish(struct rp_progress *pr, const struct rp_progress_snapshot *final)
{
    if (pr->finished || pr->mode == RP_PROGRESS_OFF) {
        pr->finished = true;
        return;
    }
    if (!(final->elapsed_s >= 0) || (pr->have_last && final->elapsed_s < pr->last_t)) {
        /* Not a usable time: report the counters with the last rates' time base. */
    } else {
        pr->last_t = final->elapsed_s;
        pr->have_last = true;
        take_sample(pr, final);
    }
    struct rates r = compute_rates(pr, final);
    char line[LINE_CAP];
    struct sb b = {line, 0, sizeof(line)};
    line[0] = '\0';
    render_plain(final, &r, &b);
    if (pr->mode == RP_PROGRESS_TTY) {
        stop_tty(pr, line);
    } else {
        rp_log_tty_lock();
        write_plain_locked(pr, line);
        rp_log_tty_unlock();
    }
    pr->finished = true;
}

void rp_progress_free(struct rp_progress *pr)
{
    if (!pr)
        return;
    if (pr->mode == RP_PROGRESS_TTY)
        stop_tty(pr, NULL);
    free(pr);
}
