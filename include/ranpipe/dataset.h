/*
 * dataset.h - the run's output files.
 *
 *   dataset.jsonl  accepted pairs in chat "messages" format (user question,
 *                  assistant answer) with a "metadata" object: id, source,
 *                  chunk, section, type, model, prompt version, seed,
 *                  quality (score, checks) and entities;
 *   rejects.jsonl  everything that did not become a pair, with the reason
 *                  (and the quality object when the assessor rejected it);
 *   chunks.jsonl   every chunk (id, source, section, tokens, text), so each
 *                  pair can be traced to the exact text it came from;
 *   pending.jsonl  chunks that wait for an LLM tier (a run without a model),
 *                  picked up by a later run that has one.
 *
 * Files are written as NAME.partial and renamed into place by
 * rp_dataset_commit(), so a reader never sees a half-written dataset.
 *
 * Thread contract: one thread writes at a time.
 */
#ifndef RANPIPE_DATASET_H
#define RANPIPE_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "ranpipe/error.h"
#include "ranpipe/quality.h"

struct rp_dataset;

/* Where a pair or reject came from. All strings borrowed. */
struct rp_origin {
    const char *source;  /* input file path */
    const char *title;   /* document title */
    const char *section; /* heading path */
    size_t chunk_index;
    uint64_t chunk_hash;
    const char *model;   /* model identity, NULL for none */
    uint64_t seed;
    const char *tier;    /* tier that made the record, NULL for none */
    const char *prompt_version; /* NULL: RP_PROMPT_VERSION (no prompt for extractive pairs) */
    const char *evidence; /* extractive pairs: the source text the answer is taken from */
    const char *rule;    /* extractive pairs: the rule that made it */
    float complexity;    /* the chunk's complexity score, < 0 when not measured */
    const struct rp_quality *quality; /* the assessment, written with the record; NULL for none */
};

/* A JSON string (jansson json_t *, new reference) for text that may not be
 * valid UTF-8 (model output, file names): invalid bytes become U+FFFD
 * instead of losing the field; NULL is "". NULL only when out of memory. */
struct json_t *rp_json_text(const char *s);

/* Opens the output files in out_dir (created if missing). */
struct rp_dataset *rp_dataset_open(const char *out_dir, struct rp_error *err);
/* Discards anything not committed; NULL is a no-op. */
void rp_dataset_free(struct rp_dataset *ds);

/* Receives every line as it is written: the file's name ("dataset.jsonl",
 * "rejects.jsonl", "chunks.jsonl", "pending.jsonl"), the line's 0-based
 * index in that file and its text without the newline (borrowed for the
 * call). An error it returns (with err set) fails the add call. The run
 * keeps the lines in its store this way. */
typedef enum rp_err (*rp_dataset_line_fn)(const char *file, size_t seq, const char *line, size_t len,
                                          void *ud, struct rp_error *err);
void rp_dataset_on_line(struct rp_dataset *ds, rp_dataset_line_fn fn, void *ud);

enum rp_err rp_dataset_add_chunk(struct rp_dataset *ds, const struct rp_origin *o, const char *text,
                                 size_t n_tokens, struct rp_error *err);
/* The id rp_dataset_add_pair() gives a pair: derived from the chunk, the
 * model, the pair's position and its question, so reruns give the same
 * ids. */
void rp_dataset_pair_id(const struct rp_origin *o, size_t pair_index, const char *question, char id[17]);

/* Writes an accepted pair with its id, its assessment (o->quality) and the
 * RAN entities its question and answer name. */
enum rp_err rp_dataset_add_pair(struct rp_dataset *ds, const struct rp_origin *o, size_t pair_index,
                                const char *question, const char *answer, const char *type,
                                struct rp_error *err);
/* Writes a reject: stage ("ingest", "generate", "parse"), reason, and
 * whatever text there was (question/answer/raw may be NULL). */
enum rp_err rp_dataset_add_reject(struct rp_dataset *ds, const struct rp_origin *o, const char *stage,
                                  const char *reason, const char *question, const char *answer,
                                  const char *raw, struct rp_error *err);
/* Records a chunk that waits for an LLM tier, with the reason. */
enum rp_err rp_dataset_add_pending(struct rp_dataset *ds, const struct rp_origin *o, const char *reason,
                                   struct rp_error *err);
size_t rp_dataset_n_pending(const struct rp_dataset *ds);

/* Flushes, syncs and renames the files into place. */
enum rp_err rp_dataset_commit(struct rp_dataset *ds, struct rp_error *err);

size_t rp_dataset_n_pairs(const struct rp_dataset *ds);
size_t rp_dataset_n_rejects(const struct rp_dataset *ds);

#endif /* RANPIPE_DATASET_H */
