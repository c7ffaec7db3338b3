/*
 * store.h - the run's state in one SQLite database: runs, documents,
 * chunks, the generation cache, QA records and the routing history.
 *
 * The store is the source of truth of a run (docs/store.md): every output
 * line can be rebuilt from it, a killed run resumes from it, a rerun on
 * unchanged inputs answers every generation from its cache, and the router
 * learns from its history. This header is the store module only; which
 * parts `ranpipe run` uses is said in docs/store.md.
 *
 * Database. SQLite in WAL mode (journal_mode=WAL, synchronous=NORMAL,
 * foreign_keys=ON, a busy timeout), so one writer and any number of
 * readers (other connections, other processes such as `ranpipe status`)
 * work at once, and a crash or SIGKILL loses at most the transaction in
 * flight, never a committed one and never the file's integrity.
 * synchronous=NORMAL means a power loss (not a process crash) may lose the
 * last few committed transactions; they are regenerated on resume (cache
 * and idempotent record ids make that safe).
 *
 * Schema. Versioned with PRAGMA user_version; rp_store_open() applies the
 * missing migrations in order, each in its own transaction, so a database
 * is always at exactly one version. A database newer than this code knows
 * is refused with an error naming the file and both versions.
 *
 * Errors. Every failure fills err with a message naming the database file
 * and the operation: "cannot open 'out/ranpipe.db': file is not a
 * database". SQLite errors map to RP_ERR_IO (RP_ERR_NOMEM for out of
 * memory, RP_ERR_INVAL for constraint violations, i.e. bad input).
 *
 * Thread contract: a struct rp_store is one SQLite connection and belongs
 * to one thread at a time (no internal locking). Several stores may be
 * open on the same file in several threads or processes: SQLite serialises
 * the writers (waiting up to busy_timeout_ms) and readers see the last
 * committed state. The run is meant to give the store its own writer
 * thread, fed through a bounded queue, and to batch many writes into one
 * transaction; readers (status, export) open their own store.
 */
#ifndef RANPIPE_STORE_H
#define RANPIPE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "ranpipe/error.h"

struct rp_store;

/* The schema version this code writes (the number of migrations). */
#define RP_STORE_SCHEMA_VERSION 2

struct rp_store_params {
    int busy_timeout_ms; /* how long a write waits for another writer (5000) */
    bool create;         /* create the file when missing (true); false: RP_ERR_NOENT */
};

struct rp_store_params rp_store_default_params(void);

/* Opens (and creates, when params->create) the database at path
 * (borrowed), sets WAL mode and the pragmas, and migrates the schema to
 * RP_STORE_SCHEMA_VERSION. params may be NULL for the defaults. On success
 * *out is a new store (free with rp_store_close()); on failure *out is NULL
 * and err names the file: a corrupt file, a newer schema, a missing file
 * without create. */
enum rp_err rp_store_open(const char *path, const struct rp_store_params *params,
                          struct rp_store **out, struct rp_error *err);

/* Closes the connection and frees s. NULL is a no-op. An open transaction
 * is rolled back. */
void rp_store_close(struct rp_store *s);

/* The path s was opened with (owned by s). */
const char *rp_store_path(const struct rp_store *s);

/* The schema version of the open database (RP_STORE_SCHEMA_VERSION once
 * open succeeded). */
int rp_store_schema_version(const struct rp_store *s);

/* ---- transactions ----
 * Every write below runs in its own transaction unless one is open.
 * rp_store_begin() opens a write transaction (BEGIN IMMEDIATE: the write
 * lock is taken now, so a later write cannot fail on a busy upgrade);
 * transactions do not nest (RP_ERR_INVAL). Batching writes in one
 * transaction is both faster and what makes "a chunk's records appear all
 * or none" true. */
enum rp_err rp_store_begin(struct rp_store *s, struct rp_error *err);
/* Commits the open transaction (RP_ERR_INVAL when none is open). When the
 * commit fails (disk full, I/O error) the transaction is rolled back, so
 * the store is never left inside a half-finished one; redo the batch. */
enum rp_err rp_store_commit(struct rp_store *s, struct rp_error *err);
/* Rolls back the open transaction; does nothing when none is open. */
enum rp_err rp_store_rollback(struct rp_store *s, struct rp_error *err);

/* ---- runs ---- */

enum rp_store_run_status {
    RP_STORE_RUN_RUNNING,     /* started, not finished (or killed) */
    RP_STORE_RUN_DONE,        /* finished normally */
    RP_STORE_RUN_FAILED,      /* stopped by an error */
    RP_STORE_RUN_INTERRUPTED, /* stopped by SIGINT/SIGTERM after draining */
};

/* Records the start of a run with the hash of its configuration (borrowed,
 * any text); *run_id is its id (ids increase). */
enum rp_err rp_store_run_start(struct rp_store *s, const char *config_hash, int64_t *run_id,
                               struct rp_error *err);
/* Records the end of run_id with status. RP_ERR_NOENT for an unknown run. */
enum rp_err rp_store_run_finish(struct rp_store *s, int64_t run_id, enum rp_store_run_status status,
                                struct rp_error *err);

/* ---- documents ---- */

enum rp_store_change {
    RP_STORE_NEW,       /* not in the store before */
    RP_STORE_CHANGED,   /* in the store with another content hash */
    RP_STORE_UNCHANGED, /* in the store with the same content hash */
};

enum rp_store_doc_status {
    RP_STORE_DOC_OK,
    RP_STORE_DOC_FAILED,  /* could not be ingested; error says why */
    RP_STORE_DOC_DELETED, /* not seen by the last run that looked */
};

/* A document as seen on disk; all strings borrowed. */
struct rp_store_document {
    const char *path;         /* the key: as the run names it */
    const char *content_hash; /* e.g. 16 hex digits of rp_hash64 of the bytes */
    int64_t size;             /* bytes */
    int64_t mtime;            /* seconds since the epoch */
};

/* Inserts or updates the document with d->path, seen in run_id: sets its
 * hash, size, mtime and last_seen_run (first_seen_run when new). *change
 * says whether it is new, changed (another hash) or unchanged; a new or
 * changed document's status becomes ok and its error is cleared, while an
 * unchanged one keeps a failed status (retrying it is the caller's choice)
 * and a deleted one that reappears unchanged becomes ok again.
 * prev_status (may be NULL) receives the status before this call (ok for
 * a new one). *doc_id is the document's id. A changed document keeps its
 * chunks until rp_store_chunk_upsert() replaces them and
 * rp_store_chunks_trim() cuts the rest. */
enum rp_err rp_store_document_upsert(struct rp_store *s, int64_t run_id,
                                     const struct rp_store_document *d, int64_t *doc_id,
                                     enum rp_store_change *change,
                                     enum rp_store_doc_status *prev_status, struct rp_error *err);

/* Marks deleted every document not deleted already whose last_seen_run is
 * not run_id (the files this run did not find); *n_deleted (may be NULL)
 * is how many. Their chunks and records stay but are left out of
 * rp_store_records_foreach(). */
enum rp_err rp_store_documents_mark_deleted(struct rp_store *s, int64_t run_id, int64_t *n_deleted,
                                            struct rp_error *err);

/* Marks doc_id failed with reason (borrowed): a dead letter that
 * rp_store_failures_foreach() lists. RP_ERR_NOENT for an unknown id. */
enum rp_err rp_store_document_fail(struct rp_store *s, int64_t doc_id, const char *reason,
                                   struct rp_error *err);

/* ---- chunks ---- */

/* A chunk of a document; strings borrowed. (document_id, index) is the
 * chunk's place; chunk_id its content hash (heading path + text), which
 * two documents may share. */
struct rp_store_chunk {
    int64_t document_id;
    int index;                /* 0, 1, ... within the document */
    const char *chunk_id;     /* 16 hex digits */
    const char *heading_path; /* "A > B" or "" */
    int tokens;
    double complexity;
    const char *text;
};

/* Inserts or updates the chunk at (document_id, index). *change (may be
 * NULL): new; changed (another chunk_id was there: that chunk and its
 * records are deleted first, since they describe text that is gone);
 * unchanged (same chunk_id: tokens, complexity and text are refreshed and
 * its records kept). A chunk upserted again is ok (a failed one is
 * retried). RP_ERR_INVAL when the document does not exist. */
enum rp_err rp_store_chunk_upsert(struct rp_store *s, const struct rp_store_chunk *c,
                                  enum rp_store_change *change, struct rp_error *err);

/* Deletes doc_id's chunks with index >= n_chunks (and their records): the
 * tail of a document that got shorter. */
enum rp_err rp_store_chunks_trim(struct rp_store *s, int64_t doc_id, int n_chunks,
                                 struct rp_error *err);

/* Marks the chunk at (doc_id, index) failed with reason (borrowed), e.g.
 * every backend exhausted. RP_ERR_NOENT when there is no such chunk. */
enum rp_err rp_store_chunk_fail(struct rp_store *s, int64_t doc_id, int index, const char *reason,
                                struct rp_error *err);

/* ---- generation cache ---- */

/* What a generation depends on; all borrowed, none NULL. params is a
 * canonical text of every generation parameter that changes the output
 * (temperature, top_p, max tokens, seed, grammar, ...): the caller makes it
 * so that equal settings give equal text. */
struct rp_store_gen_key {
    const char *chunk_id;       /* the chunk's content hash */
    const char *model;          /* model identity: file hash or server model name */
    const char *prompt_version; /* e.g. "qa-v3" */
    const char *params;
};

/* Writes the cache key of k, 16 hex digits + NUL: XXH3-64 over the four
 * parts, each length-prefixed so that no two different keys run together. */
void rp_store_gen_key_hex(const struct rp_store_gen_key *k, char out[17]);

struct rp_store_gen_stats {
    int tier;
    int64_t n_prompt_tokens;
    int64_t n_gen_tokens;
    double seconds; /* wall time of the generation */
    double created; /* seconds since the epoch; set by the store, ignored by put */
};

/* Looks k up. A hit sets *output to a new NUL-terminated copy of the raw
 * model output (caller frees) and *stats (may be NULL); a miss returns
 * RP_ERR_NOENT with *output NULL. Key parts are compared in full, so a
 * 64-bit key collision is a miss, never a wrong answer. */
enum rp_err rp_store_cache_get(struct rp_store *s, const struct rp_store_gen_key *k, char **output,
                               struct rp_store_gen_stats *stats, struct rp_error *err);

/* Stores output (borrowed) and stats under k, replacing an earlier entry
 * (a --no-cache run overwrites what it regenerated). */
enum rp_err rp_store_cache_put(struct rp_store *s, const struct rp_store_gen_key *k,
                               const char *output, const struct rp_store_gen_stats *stats,
                               struct rp_error *err);

/* ---- records ---- */

enum rp_store_verdict {
    RP_STORE_ACCEPT,
    RP_STORE_REJECT,
};

/* One QA record (an accepted pair or a reject). For insert, strings are
 * borrowed and seq, written and source are ignored; in a foreach callback
 * every pointer is valid only during the call. */
struct rp_store_record {
    const char *pair_id; /* 16 hex digits; the key */
    int64_t run_id;      /* the run that made it */
    int64_t document_id; /* with chunk_index: the chunk it came from */
    int chunk_index;
    const char *chunk_id;
    const char *question; /* may be NULL for a reject */
    const char *answer;   /* may be NULL for a reject */
    const char *type;     /* may be NULL */
    int tier;
    const char *model; /* may be NULL (tier 0) */
    enum rp_store_verdict verdict;
    double score;
    const char *quality_json; /* the assessment as JSON; may be NULL */
    const char *reasons;      /* why rejected (or notes); may be NULL */
    const char *line;         /* the output line as written; may be NULL */
    int64_t seq;              /* out: output order, increasing with insertion */
    bool written;             /* out: marked written to the output file */
    const char *source;       /* out: the document's path */
};

/* Inserts r unless a record with r->pair_id exists: inserting the same id
 * again is a no-op (*inserted false), so a resumed run never duplicates.
 * inserted may be NULL. RP_ERR_INVAL when the chunk does not exist. */
enum rp_err rp_store_record_insert(struct rp_store *s, const struct rp_store_record *r,
                                   bool *inserted, struct rp_error *err);

/* Marks every record with seq <= upto_seq written (the output file holds
 * them, flushed). */
enum rp_err rp_store_records_mark_written(struct rp_store *s, int64_t upto_seq,
                                          struct rp_error *err);

/* Which records rp_store_records_foreach() visits: ACCEPTED and/or
 * REJECTED (neither visits nothing), optionally narrowed by UNWRITTEN. */
enum {
    RP_STORE_ITER_ACCEPTED = 1u << 0,  /* verdict accept */
    RP_STORE_ITER_REJECTED = 1u << 1,  /* verdict reject */
    RP_STORE_ITER_UNWRITTEN = 1u << 2, /* only those not marked written */
};

/* Calls cb for each record of a document that is not deleted, matching
 * flags, in output order (seq ascending). cb returns 0 to go on, nonzero
 * to stop: then the call returns RP_ERR_CANCELLED. cb must not use s. */
typedef int (*rp_store_record_cb)(const struct rp_store_record *r, void *ud);
enum rp_err rp_store_records_foreach(struct rp_store *s, unsigned flags, rp_store_record_cb cb,
                                     void *ud, struct rp_error *err);

/* ---- history (what routing learns from) ---- */

/* One attempt at one chunk with one tier. Strings borrowed on append,
 * valid during the callback in foreach. */
struct rp_store_history {
    int64_t id; /* out: increasing */
    int64_t run_id;
    const char *chunk_id;
    int attempt; /* 0, 1, ...: escalations of the same chunk */
    double complexity;
    const char *features_json; /* the complexity features; may be NULL */
    int tier;
    const char *model; /* may be NULL */
    double latency_s;
    int64_t n_prompt_tokens;
    int64_t n_gen_tokens;
    int accepted;        /* pairs accepted */
    double mean_quality; /* mean score of the pairs assessed */
    double created;      /* out: seconds since the epoch */
};

enum rp_err rp_store_history_append(struct rp_store *s, const struct rp_store_history *h,
                                    struct rp_error *err);

/* Calls cb for each history row of tier (all tiers when tier < 0) in the
 * order appended. Stopping and cb's limits as in rp_store_records_foreach(). */
typedef int (*rp_store_history_cb)(const struct rp_store_history *h, void *ud);
enum rp_err rp_store_history_foreach(struct rp_store *s, int tier, rp_store_history_cb cb, void *ud,
                                     struct rp_error *err);

/* ---- dead letters ---- */

/* A failed document (chunk_index -1, chunk_id NULL) or chunk; pointers valid
 * during the callback. */
struct rp_store_failure {
    int64_t document_id;
    const char *path;
    int chunk_index;
    const char *chunk_id;
    const char *reason;
};

/* Calls cb for each failed document and chunk (of documents not deleted),
 * by path then chunk index, a document before its chunks. Stopping as in
 * rp_store_records_foreach(). */
typedef int (*rp_store_failure_cb)(const struct rp_store_failure *f, void *ud);
enum rp_err rp_store_failures_foreach(struct rp_store *s, rp_store_failure_cb cb, void *ud,
                                      struct rp_error *err);

/* ---- output lines (what rebuilds the output files) ---- */

/* The files a run writes into its output directory, as the store names
 * them; rp_store_output_add() refuses any other name. */
extern const char *const rp_store_output_files[5];

/* Keeps line seq (0, 1, ... per file and run) of file for run_id. line[0..len)
 * is one JSON line without its newline. Part of the caller's transaction
 * when one is open: commit it with the records the line comes from. */
enum rp_err rp_store_output_add(struct rp_store *s, int64_t run_id, const char *file, int64_t seq,
                                const char *line, size_t len, struct rp_error *err);

/* Marks run_id's lines complete (every output line is in) and drops the
 * lines of every other run: one complete set is kept. */
enum rp_err rp_store_outputs_complete(struct rp_store *s, int64_t run_id, struct rp_error *err);

/* The run whose lines rebuild the output files: the last run marked
 * complete, or with unfinished the last run of all (one that was stopped
 * keeps the lines it committed). *complete says whether its lines are
 * complete. RP_ERR_NOENT with a message when the store has no such run (a
 * store written before schema version 2 has none until the next run). */
enum rp_err rp_store_output_run(struct rp_store *s, bool unfinished, int64_t *run_id, bool *complete,
                                struct rp_error *err);

/* Calls cb for each line of file kept for run_id, in order; line is not
 * NUL-terminated past len. Stopping as in rp_store_records_foreach(). */
typedef int (*rp_store_line_cb)(const char *line, size_t len, void *ud);
enum rp_err rp_store_output_foreach(struct rp_store *s, int64_t run_id, const char *file,
                                    rp_store_line_cb cb, void *ud, struct rp_error *err);

#endif /* RANPIPE_STORE_H */
