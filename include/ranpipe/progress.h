/*
 * progress.h - live progress of a run on the terminal, or a plain line now
 * and then for logs.
 *
 * The run's monitor thread hands rp_progress_update() a snapshot of its
 * counters about once a second. The object keeps the last 30 s of snapshots
 * and computes the rates itself (docs/hour, chunks/s and generated tokens/s
 * over that window; over the whole run while it is younger than the window)
 * and the ETA: chunks left / chunk rate. It takes time only from the
 * snapshots' elapsed_s, never from the clock, so the output for a given
 * sequence of snapshots is always the same.
 *
 * Modes:
 *   TTY    a block of 2-3 lines at the bottom of the terminal, redrawn in
 *          place (carriage return, cursor up, erase line), each line cut to
 *          the terminal's width, with a bar for chunks done / total. While
 *          it is shown, log lines (log.h) erase the block, print, and redraw
 *          it, under the log's terminal lock: lines from any thread come
 *          out whole.
 *   PLAIN  one self-contained line every plain_interval_s (of elapsed_s), no
 *          escape codes; a JSON log line when the log format is JSON.
 *   OFF    nothing.
 *   AUTO   TTY when fd is a terminal and $TERM is not "dumb", else PLAIN.
 * rp_progress_finish() erases the block and prints one final plain line (in
 * every mode but OFF).
 *
 * Thread contract: one thread calls update and finish (the monitor); log
 * lines may come from any thread meanwhile. Only one TTY progress at a time
 * is hooked into the log.
 */
#ifndef RANPIPE_PROGRESS_H
#define RANPIPE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_PROGRESS_MAX_TIERS 16

struct rp_progress_tier {
    const char *name;   /* borrowed for the duration of the call */
    uint64_t chunks;    /* chunks this tier has done */
    uint64_t pairs;     /* pairs it made */
    const char *health; /* "ok", "degraded", "open" (breaker open), "down"; NULL: "ok" */
};

struct rp_progress_snapshot {
    double elapsed_s;               /* since the run started: the object's only clock */
    uint64_t docs_done, docs_total; /* docs_total grows while ingest is still finding files */
    bool totals_final;              /* ingest is done: the totals no longer grow */
    uint64_t chunks_done, chunks_total;
    uint64_t pairs_accepted, pairs_rejected;
    uint64_t gen_tokens; /* cumulative generated tokens */
    uint64_t errors;     /* failed files + failed requests */
    uint64_t cache_hits;
    size_t n_tiers; /* at most RP_PROGRESS_MAX_TIERS are shown */
    struct rp_progress_tier tiers[RP_PROGRESS_MAX_TIERS];
    const char *note; /* optional short text, e.g. the current bottleneck; NULL for none */
};

enum rp_progress_mode {
    RP_PROGRESS_AUTO,
    RP_PROGRESS_TTY,
    RP_PROGRESS_PLAIN,
    RP_PROGRESS_OFF,
};

struct rp_progress_params {
    int fd; /* where to write (default 2) */
    enum rp_progress_mode mode;
    double plain_interval_s; /* PLAIN: seconds of elapsed_s between lines (default 10) */
    int width; /* TTY: columns; 0 asks the terminal (TIOCGWINSZ) on every redraw, 100 if it cannot
                  say */
};

struct rp_progress_params rp_progress_default_params(void);

/* Returns a new display (rp_progress_free() frees it), NULL when out of
 * memory. p NULL: the defaults. A TTY display hooks itself into the log. */
struct rp_progress *rp_progress_new(const struct rp_progress_params *p);
/* The mode AUTO resolved to (TTY, PLAIN or OFF). */
enum rp_progress_mode rp_progress_mode(const struct rp_progress *pr);
/* Takes a snapshot (borrowed: copied as far as needed); TTY redraws, PLAIN
 * prints a line when plain_interval_s has passed since the last one. A
 * snapshot older than the last one is ignored. */
void rp_progress_update(struct rp_progress *pr, const struct rp_progress_snapshot *s);
/* Erases the live block, unhooks from the log and prints one final plain
 * line for final (borrowed). Later updates print nothing. */
void rp_progress_finish(struct rp_progress *pr, const struct rp_progress_snapshot *final);
/* Erases the block if still shown (no final line), unhooks, frees. NULL is a no-op. */
void rp_progress_free(struct rp_progress *pr);

/* Formats a duration as "42s", "4m05s", "1h23m" (">999h" beyond). */
void rp_progress_format_duration(double s, char *buf, size_t cap);

#endif /* RANPIPE_PROGRESS_H */
