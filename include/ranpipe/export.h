/*
 * export.h - a run's dataset.jsonl turned into the files trainers read.
 *
 * Each line of dataset.jsonl (one question-answer pair in chat "messages"
 * form, with "id" and "metadata") becomes one line of the chosen format:
 *
 *   messages     {"messages":[{"role":"system",..}?, user, assistant]}
 *                OpenAI fine-tuning, MLX-LM chat data
 *   sharegpt     {"conversations":[{"from":"system",..}?, human, gpt]}
 *                LLaMA-Factory and Axolotl "sharegpt"
 *   alpaca       {"instruction":Q,"input":"","output":A,"system":S?}
 *                LLaMA-Factory "alpaca"
 *   completions  {"prompt":[S "\n\n"] Q,"completion":A}
 *                MLX-LM completions, OpenAI legacy prompt/completion
 *   text         {"text":[S "\n\n"] "Question: " Q "\nAnswer: " A}
 *                MLX-LM text data, plain language-model training
 *
 * (S: the optional system prompt.) With metadata kept, each line also
 * carries the pair's "id" first and its "metadata" object last, copied as
 * parsed (whatever keys it holds); stripped, only the format's own keys.
 * docs/schemas/<format>.schema.json describes each format.
 *
 * Splits go by document, never by pair: each pair's metadata.source is
 * hashed with the seed to a point in [0, 1), and the point falls in train,
 * valid or test by the split's percentages. So no document is in two
 * splits, the same inputs and seed always give the same files, and adding
 * documents never moves the ones already there. The files are
 * DIR/train.jsonl, DIR/valid.jsonl and DIR/test.jsonl (MLX-LM's data
 * directory); a split whose share is 0 is not written, and a file of that
 * name left in DIR by an earlier export is removed, so a trainer never
 * reads a stale split. Files are written as NAME.partial and renamed once
 * complete.
 *
 * A line that cannot be converted (not JSON, no question or answer, no
 * metadata.source) is reported through on_bad_line with its line number and
 * skipped; the others are still exported.
 *
 * A run's output directory is read from its store (OUT/ranpipe.db) when it
 * has one, so an export never depends on the files a crash may have left
 * behind; p->source chooses otherwise.
 * Thread contract: reentrant; every call works on its own files and
 * buffers. With on_bad_line NULL, bad lines go to the logging sink (log.h).
 */
#ifndef RANPIPE_EXPORT_H
#define RANPIPE_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ranpipe/buf.h"
#include "ranpipe/error.h"

enum rp_export_format {
    RP_EXPORT_FORMAT_MESSAGES,
    RP_EXPORT_FORMAT_SHAREGPT,
    RP_EXPORT_FORMAT_ALPACA,
    RP_EXPORT_FORMAT_COMPLETIONS,
    RP_EXPORT_FORMAT_TEXT,
    RP_EXPORT_FORMAT__COUNT
};

enum rp_export_split {
    RP_EXPORT_SPLIT_TRAIN,
    RP_EXPORT_SPLIT_VALID,
    RP_EXPORT_SPLIT_TEST,
    RP_EXPORT_SPLIT__COUNT
};

/* Receives one skipped line: the dataset's path, the line number (from 1)
 * and why (all borrowed for the call). */
typedef void (*rp_export_bad_line_fn)(const char *path, size_t line, const char *reason, void *ud);

/* Where the dataset lines come from when the input is a run's output
 * directory: AUTO reads its store (OUT/ranpipe.db, the source of truth: the
 * last complete run's lines) when there is one, else OUT/dataset.jsonl. */
enum rp_export_source {
    RP_EXPORT_SOURCE_AUTO,
    RP_EXPORT_SOURCE_STORE,
    RP_EXPORT_SOURCE_FILE,
};

struct rp_export_params {
    enum rp_export_format format; /* default messages */
    enum rp_export_source source; /* default AUTO */
    const char *out_dir;          /* NULL: export-<format>/ beside dataset.jsonl (borrowed) */
    unsigned split[RP_EXPORT_SPLIT__COUNT]; /* percent of documents in train, valid, test;
                                              they add up to 100 (default 100/0/0) */
    const char *system_prompt;              /* NULL or "": none (borrowed; valid UTF-8) */
    bool keep_metadata;                     /* "id" and "metadata" on each line (default true) */
    uint64_t seed;                          /* mixed into each document's split point (default 0) */
    rp_export_bad_line_fn on_bad_line;      /* NULL: logged as errors */
    void *ud;                               /* passed to on_bad_line */
};

struct rp_export_params rp_export_default_params(void);

/* "messages", "sharegpt", ...; NULL when f is out of range. */
const char *rp_export_format_name(enum rp_export_format f);
/* Parses a format name; false when unknown. */
bool rp_export_format_parse(const char *s, enum rp_export_format *out);
/* "train", "valid", "test"; NULL when s is out of range. */
const char *rp_export_split_name(enum rp_export_split s);
/* Parses "T/V/E": three whole percentages that add up to 100 ("80/10/10").
 * Writes pct only on success. */
bool rp_export_split_parse(const char *s, unsigned pct[RP_EXPORT_SPLIT__COUNT]);

/* The point in [0, 1) that a document (its metadata.source) hashes to with
 * seed: a multiple of 2^-53, the same on every machine. */
double rp_export_split_point(const char *source, uint64_t seed);
/* The split a document belongs to: train when its point is below T%,
 * valid below (T+V)%, test otherwise. Exact (integer) comparisons, so a
 * split with share 0 never receives a document. */
enum rp_export_split rp_export_split_of(const unsigned pct[RP_EXPORT_SPLIT__COUNT],
                                        const char *source, uint64_t seed);

/* Converts one dataset line (line[0..n), no newline needed) into p's
 * format: appends the output line (compact JSON, no newline) to out and the
 * pair's metadata.source to source. On a line that cannot be converted
 * returns RP_ERR_PARSE with the reason in err and leaves out and source as
 * they were. out and source are the caller's; nothing else is kept. */
enum rp_err rp_export_convert(const struct rp_export_params *p, const char *line, size_t n,
                              struct rp_buf *out, struct rp_buf *source, struct rp_error *err);

struct rp_export_summary {
    char dir[4096];     /* the directory written */
    char from[4200];    /* what was read: the dataset file, or "OUT/ranpipe.db (run N)" */
    size_t lines;       /* lines read (blank lines included) */
    size_t bad_lines;   /* skipped, each reported through on_bad_line */
    size_t pairs, docs; /* exported, in all splits */
    size_t split_pairs[RP_EXPORT_SPLIT__COUNT];
    size_t split_docs[RP_EXPORT_SPLIT__COUNT];
    bool written[RP_EXPORT_SPLIT__COUNT]; /* the split's file was written (share above 0) */
};

/* Exports the dataset at input: a run's output directory (its
 * dataset.jsonl is read) or a dataset file itself. Writes the split files
 * into p->out_dir, created if missing. Bad lines are counted in sum and
 * are not an error: the return value is an error only when the export
 * could not be made (missing or unreadable dataset, unwritable output, bad
 * params); a failure before every file is complete leaves the files in the
 * output directory as they were. sum is filled in either case as far as
 * the export got. */
enum rp_err rp_export_run(const char *input, const struct rp_export_params *p,
                          struct rp_export_summary *sum, struct rp_error *err);

/* Rebuilds a run's own output files in out_dir (dataset.jsonl,
 * rejects.jsonl, chunks.jsonl, pending.jsonl, conflicts.jsonl) from its
 * store, out_dir/ranpipe.db: the lines of the last run that finished, or
 * with unfinished those of the last run of all, finished or not (a run
 * that was killed keeps every line it committed). Each file is written as
 * NAME.partial and renamed once all are complete. */
#define RP_EXPORT_REBUILD_FILES 5
struct rp_export_rebuild_summary {
    int64_t run_id;                          /* the run whose lines were used */
    bool complete;                           /* its lines are complete (it finished) */
    size_t lines[RP_EXPORT_REBUILD_FILES];   /* per file, in the order above */
};
enum rp_err rp_export_rebuild(const char *out_dir, bool unfinished, struct rp_export_rebuild_summary *sum,
                              struct rp_error *err);

#endif /* RANPIPE_EXPORT_H */
