/*
 * store.c - the run's state in SQLite (see include/ranpipe/store.h and
 * docs/store.md).
 *
 * Design. A struct rp_store is one connection plus a cache of prepared
 * statements, prepared on first use (SQLITE_PREPARE_PERSISTENT) and reset
 * after each use, so the hot paths (cache lookups, record inserts) never
 * re-parse SQL. Writes that take several statements (an upsert that
 * reads, then writes) run inside an operation bracket: BEGIN IMMEDIATE when
 * no transaction is open, a SAVEPOINT inside the caller's, so each
 * operation is all or nothing either way and never fails on a busy
 * read-to-write upgrade.
 *
 * Errors name the file and the operation: "cannot <what> '<path>': <sqlite
 * message>", so a user reading one line knows which database to look at.
 */
#include "store/store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "ranpipe/hash.h"

#define RP_NOW_SQL "((julianday('now') - 2440587.5) * 86400.0)"

enum stmt_id {
    ST_RUN_START,
    ST_RUN_FINISH,
    ST_DOC_GET,
    ST_DOC_INSERT,
    ST_DOC_UPDATE,
    ST_DOC_MARK_DELETED,
    ST_DOC_FAIL,
    ST_CHUNK_GET,
    ST_CHUNK_DELETE,
    ST_CHUNK_INSERT,
    ST_CHUNK_UPDATE,
    ST_CHUNK_TRIM,
    ST_CHUNK_FAIL,
    ST_CACHE_GET,
    ST_CACHE_PUT,
    ST_REC_INSERT,
    ST_REC_MARK,
    ST_REC_ITER,
    ST_HIST_APPEND,
    ST_HIST_ITER,
    ST_FAIL_ITER,
    ST_OUT_ADD,
    ST_OUT_COMPLETE,
    ST_OUT_PRUNE,
    ST_OUT_RUN,
    ST_OUT_ITER,
    ST__COUNT
};

static const char *const stmt_sql[ST__COUNT] = {
    [ST_RUN_START] = "INSERT INTO runs(config_hash) VALUES (?1)",
    [ST_RUN_FINISH] = "UPDATE runs SET finished = " RP_NOW_SQL ", status = ?2 WHERE id = ?1",
    [ST_DOC_GET] = "SELECT id, content_hash, status FROM documents WHERE path = ?1",
    [ST_DOC_INSERT] = "INSERT INTO documents(path, content_hash, size, mtime, first_seen_run,"
                      " last_seen_run) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    /* ?6: the content changed (status back to ok, error cleared); a deleted
     * document that reappears is ok again either way. */
    [ST_DOC_UPDATE] = "UPDATE documents SET content_hash = ?2, size = ?3, mtime = ?4,"
                      " last_seen_run = ?5,"
                      " status = CASE WHEN ?6 OR status = 'deleted' THEN 'ok' ELSE status END,"
                      " error = CASE WHEN ?6 OR status = 'deleted' THEN NULL ELSE error END"
                      " WHERE id = ?1",
    [ST_DOC_MARK_DELETED] = "UPDATE documents SET status = 'deleted' WHERE status <> 'deleted'"
                            " AND (last_seen_run IS NULL OR last_seen_run <> ?1)",
    [ST_DOC_FAIL] = "UPDATE documents SET status = 'failed', error = ?2 WHERE id = ?1",
    [ST_CHUNK_GET] = "SELECT chunk_id FROM chunks WHERE document_id = ?1 AND idx = ?2",
    [ST_CHUNK_DELETE] = "DELETE FROM chunks WHERE document_id = ?1 AND idx = ?2",
    [ST_CHUNK_INSERT] = "INSERT INTO chunks(document_id, idx, chunk_id, heading_path, tokens,"
                        " complexity, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_CHUNK_UPDATE] = "UPDATE chunks SET heading_path = ?4, tokens = ?5, complexity = ?6,"
                        " text = ?7, status = 'ok', error = NULL"
                        " WHERE document_id = ?1 AND idx = ?2 AND chunk_id = ?3",
    [ST_CHUNK_TRIM] = "DELETE FROM chunks WHERE document_id = ?1 AND idx >= ?2",
    [ST_CHUNK_FAIL] = "UPDATE chunks SET status = 'failed', error = ?3"
                      " WHERE document_id = ?1 AND idx = ?2",
    [ST_CACHE_GET] = "SELECT chunk_id, model, prompt_version, params, output, tier,"
                     " n_prompt_tokens, n_gen_tokens, seconds, created"
                     " FROM generations WHERE key = ?1",
    [ST_CACHE_PUT] =
        "INSERT INTO generations(key, chunk_id, model, prompt_version, params, output, tier,"
        " n_prompt_tokens, n_gen_tokens, seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        " ON CONFLICT(key) DO UPDATE SET chunk_id = excluded.chunk_id, model = excluded.model,"
        " prompt_version = excluded.prompt_version, params = excluded.params,"
        " output = excluded.output, tier = excluded.tier,"
        " n_prompt_tokens = excluded.n_prompt_tokens, n_gen_tokens = excluded.n_gen_tokens,"
        " seconds = excluded.seconds, created = " RP_NOW_SQL,
    [ST_REC_INSERT] =
        "INSERT INTO records(pair_id, run_id, document_id, chunk_index, chunk_id, question,"
        " answer, type, tier, model, verdict, score, quality, reasons, line)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        " ON CONFLICT(pair_id) DO NOTHING",
    [ST_REC_MARK] = "UPDATE records SET written = 1 WHERE written = 0 AND seq <= ?1",
    [ST_REC_ITER] = "SELECT r.seq, r.pair_id, r.run_id, r.document_id, r.chunk_index,"
                    " r.chunk_id, r.question, r.answer, r.type, r.tier, r.model, r.verdict,"
                    " r.score, r.quality, r.reasons, r.line, r.written, d.path"
                    " FROM records r JOIN documents d ON d.id = r.document_id"
                    " WHERE d.status <> 'deleted'"
                    " AND ((?1 AND r.verdict = 'accept') OR (?2 AND r.verdict = 'reject'))"
                    " AND (NOT ?3 OR r.written = 0)"
                    " ORDER BY r.seq",
    [ST_HIST_APPEND] = "INSERT INTO history(run_id, chunk_id, attempt, complexity, features,"
                       " tier, model, latency, n_prompt_tokens, n_gen_tokens, accepted,"
                       " mean_quality) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_HIST_ITER] = "SELECT id, run_id, chunk_id, attempt, complexity, features, tier, model,"
                     " latency, n_prompt_tokens, n_gen_tokens, accepted, mean_quality, created"
                     " FROM history WHERE ?1 < 0 OR tier = ?1 ORDER BY id",
    [ST_FAIL_ITER] = "SELECT id, path, -1, NULL, error FROM documents WHERE status = 'failed'"
                     " UNION ALL"
                     " SELECT c.document_id, d.path, c.idx, c.chunk_id, c.error"
                     " FROM chunks c JOIN documents d ON d.id = c.document_id"
                     " WHERE c.status = 'failed' AND d.status <> 'deleted'"
                     " ORDER BY 2, 3",
    [ST_OUT_ADD] = "INSERT OR REPLACE INTO output_lines(run_id, file, seq, line) VALUES (?1, ?2, ?3, ?4)",
    [ST_OUT_COMPLETE] = "UPDATE runs SET outputs = (id = ?1)",
    [ST_OUT_PRUNE] = "DELETE FROM output_lines WHERE run_id <> ?1",
    /* ?1: unfinished; the last run of all or the last complete one. */
    [ST_OUT_RUN] = "SELECT id, outputs FROM runs WHERE ?1 OR outputs = 1 ORDER BY id DESC LIMIT 1",
    [ST_OUT_ITER] = "SELECT line FROM output_lines WHERE run_id = ?1 AND file = ?2 ORDER BY seq",
};

struct rp_store {
    sqlite3 *db;
    char *path;
    int version;
    sqlite3_stmt *stmts[ST__COUNT];
};

struct rp_store_params rp_store_default_params(void)
{
    struct rp_store_params p = {
        .busy_timeout_ms = 5000,
        .create = true,
    };
    return p;
}

/* ---- errors ---- */

static enum rp_err code_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return RP_ERR_NOMEM;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
        return RP_ERR_INVAL;
    default:
        return RP_ERR_IO;
    }
}

/* Fills err from the connection's last error: "cannot <what> '<path>': <msg>". */
static enum rp_err db_fail(const struct rp_store *s, const char *what, struct rp_error *err)
{
    int rc = sqlite3_extended_errcode(s->db);
    return rp_error_set(err, code_of(rc), "cannot %s '%s': %s", what, s->path,
                        sqlite3_errmsg(s->db));
}

/* ---- statements ---- */

/* The cached statement id, reset and unbound; NULL (err set) on failure. */
static sqlite3_stmt *stmt_get(struct rp_store *s, enum stmt_id id, const char *what,
                              struct rp_error *err)
{
    if (!s->stmts[id]) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id],
                               NULL) != SQLITE_OK) {
            db_fail(s, what, err);
            s->stmts[id] = NULL;
            return NULL;
        }
    }
    return s->stmts[id];
}

/* Resets st for its next use; bound text was borrowed (SQLITE_STATIC), so
 * bindings are cleared too. */
static void stmt_done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

static void bind_text(sqlite3_stmt *st, int i, const char *t)
{
    if (t)
        sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Binds an id that is NULL when not positive (no run, for instance). */
static void bind_id(sqlite3_stmt *st, int i, int64_t id)
{
    if (id > 0)
        sqlite3_bind_int64(st, i, id);
    else
        sqlite3_bind_null(st, i);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* Runs st, which returns no rows, to completion; resets it. */
static enum rp_err stmt_exec(struct rp_store *s, sqlite3_stmt *st, const char *what,
                             struct rp_error *err)
{
    int rc = sqlite3_step(st);
    enum rp_err e = RP_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = db_fail(s, what, err);
    stmt_done(st);
    return e;
}

static enum rp_err exec_sql(struct rp_store *s, const char *sql, const char *what,
                            struct rp_error *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        enum rp_err e = rp_error_set(err, code_of(rc), "cannot %s '%s': %s", what, s->path,
                                     msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return e;
    }
    return RP_OK;
}

/* ---- operation brackets ---- */

/* Starts an all-or-nothing operation: its own write transaction when none
 * is open, a savepoint in the caller's otherwise. *own says which. */
static enum rp_err op_begin(struct rp_store *s, bool *own, const char *what, struct rp_error *err)
{
    *own = sqlite3_get_autocommit(s->db) != 0;
    return exec_sql(s, *own ? "BEGIN IMMEDIATE" : "SAVEPOINT rp_op", what, err);
}

/* Ends the operation: commits it when e is RP_OK, undoes it otherwise.
 * Returns e, or the commit's error. */
static enum rp_err op_end(struct rp_store *s, bool own, enum rp_err e, const char *what,
                          struct rp_error *err)
{
    if (e == RP_OK)
        return exec_sql(s, own ? "COMMIT" : "RELEASE rp_op", what, err);
    if (own) {
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    } else {
        sqlite3_exec(s->db, "ROLLBACK TO rp_op; RELEASE rp_op", NULL, NULL, NULL);
    }
    return e;
}

/* ---- open, migrate, close ---- */

static enum rp_err read_version(struct rp_store *s, int *version, struct rp_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "open", err);
    enum rp_err e = RP_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    else
        e = db_fail(s, "open", err);
    sqlite3_finalize(st);
    return e;
}

/* Applies steps[v..n) to a database at version v, each in one transaction
 * with its user_version bump. The version is read again inside each
 * transaction, so two processes opening one old database at once migrate
 * it once. */
static enum rp_err migrate(struct rp_store *s, const char *const *steps, int n,
                           struct rp_error *err)
{
    enum rp_err e = read_version(s, &s->version, err);
    if (e)
        return e;
    if (s->version > n)
        return rp_error_set(err, RP_ERR_UNSUPPORTED,
                            "cannot open '%s': its schema is version %d, newer than version %d "
                            "that this ranpipe knows; use a newer ranpipe or another output "
                            "directory",
                            s->path, s->version, n);
    while (s->version < n) {
        int from = s->version;
        char what[96];
        snprintf(what, sizeof what, "migrate from schema version %d to %d", from, from + 1);
        if ((e = exec_sql(s, "BEGIN IMMEDIATE", what, err)))
            return e;
        int now = 0;
        if ((e = read_version(s, &now, err)))
            goto fail;
        if (now == from) {
            if ((e = exec_sql(s, steps[from], what, err)))
                goto fail;
            char bump[48];
            snprintf(bump, sizeof bump, "PRAGMA user_version = %d", from + 1);
            if ((e = exec_sql(s, bump, what, err)))
                goto fail;
            now = from + 1;
        } else if (now > n) {
            exec_sql(s, "ROLLBACK", what, NULL);
            s->version = now;
            return migrate(s, steps, n, err); /* reports the newer version */
        }
        if ((e = exec_sql(s, "COMMIT", what, err)))
            goto fail;
        s->version = now;
    }
    return RP_OK;
fail:
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return e;
}

/* Runs a pragma that returns one text row and checks it (journal_mode). */
static enum rp_err pragma_expect(struct rp_store *s, const char *sql, const char *want,
                                 struct rp_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "open", err);
    enum rp_err e = RP_OK;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        e = db_fail(s, "open", err);
    else if (want && sqlite3_stricmp(col_text(st, 0) ? col_text(st, 0) : "", want) != 0)
        e = rp_error_set(err, RP_ERR_IO, "cannot open '%s': %s gave '%s', not '%s'", s->path, sql,
                         col_text(st, 0) ? col_text(st, 0) : "", want);
    sqlite3_finalize(st);
    return e;
}

enum rp_err rp__store_open_with(const char *path, const struct rp_store_params *params,
                                const char *const *steps, int n_steps, struct rp_store **out,
                                struct rp_error *err)
{
    *out = NULL;
    struct rp_store_params p = params ? *params : rp_store_default_params();
    if (!path || !*path)
        return rp_error_set(err, RP_ERR_INVAL, "cannot open the store: no path given");
    if (!p.create) {
        struct stat sb;
        if (stat(path, &sb) != 0)
            return rp_error_set(err, errno == ENOENT ? RP_ERR_NOENT : RP_ERR_IO,
                                "cannot open '%s': %s", path, strerror(errno));
    }
    struct rp_store *s = calloc(1, sizeof *s);
    if (!s)
        return rp_error_set(err, RP_ERR_NOMEM, "cannot open '%s': out of memory", path);
    size_t len = strlen(path);
    s->path = malloc(len + 1);
    if (!s->path) {
        free(s);
        return rp_error_set(err, RP_ERR_NOMEM, "cannot open '%s': out of memory", path);
    }
    memcpy(s->path, path, len + 1);

    enum rp_err e;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (p.create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        if (s->db)
            e = db_fail(s, "open", err);
        else
            e = rp_error_set(err, RP_ERR_NOMEM, "cannot open '%s': out of memory", path);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, p.busy_timeout_ms > 0 ? p.busy_timeout_ms : 0);
    /* The first statement reads the header: a file that is not a database
     * fails here, with SQLite's "file is not a database". */
    if ((e = pragma_expect(s, "PRAGMA journal_mode = WAL", "wal", err)))
        goto fail;
    if ((e = exec_sql(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", "open", err)))
        goto fail;
    if ((e = migrate(s, steps, n_steps, err)))
        goto fail;
    *out = s;
    return RP_OK;
fail:
    rp_store_close(s);
    return e;
}

enum rp_err rp_store_open(const char *path, const struct rp_store_params *params,
                          struct rp_store **out, struct rp_error *err)
{
    return rp__store_open_with(path, params, rp__store_migrations, rp__store_n_migrations, out,
                               err);
}

void rp_store_close(struct rp_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->stmts[i]);
    if (s->db) {
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(s->db);
    }
    free(s->path);
    free(s);
}

const char *rp_store_path(const struct rp_store *s)
{
    return s->path;
}

int rp_store_schema_version(const struct rp_store *s)
{
    return s->version;
}

/* ---- transactions ---- */

enum rp_err rp_store_begin(struct rp_store *s, struct rp_error *err)
{
    if (!sqlite3_get_autocommit(s->db))
        return rp_error_set(err, RP_ERR_INVAL,
                            "cannot begin a transaction on '%s': one is already open", s->path);
    return exec_sql(s, "BEGIN IMMEDIATE", "begin a transaction on", err);
}

enum rp_err rp_store_commit(struct rp_store *s, struct rp_error *err)
{
    if (sqlite3_get_autocommit(s->db))
        return rp_error_set(err, RP_ERR_INVAL, "cannot commit on '%s': no transaction is open",
                            s->path);
    enum rp_err e = exec_sql(s, "COMMIT", "commit to", err);
    if (e && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL); /* never leave it half open */
    return e;
}

enum rp_err rp_store_rollback(struct rp_store *s, struct rp_error *err)
{
    if (sqlite3_get_autocommit(s->db))
        return RP_OK;
    return exec_sql(s, "ROLLBACK", "roll back on", err);
}

/* ---- runs ---- */

enum rp_err rp_store_run_start(struct rp_store *s, const char *config_hash, int64_t *run_id,
                               struct rp_error *err)
{
    const char *what = "record a run in";
    sqlite3_stmt *st = stmt_get(s, ST_RUN_START, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    bind_text(st, 1, config_hash ? config_hash : "");
    enum rp_err e = stmt_exec(s, st, what, err);
    if (!e)
        *run_id = sqlite3_last_insert_rowid(s->db);
    return e;
}

static const char *const run_status_names[] = {
    [RP_STORE_RUN_RUNNING] = "running",
    [RP_STORE_RUN_DONE] = "done",
    [RP_STORE_RUN_FAILED] = "failed",
    [RP_STORE_RUN_INTERRUPTED] = "interrupted",
};

enum rp_err rp_store_run_finish(struct rp_store *s, int64_t run_id, enum rp_store_run_status status,
                                struct rp_error *err)
{
    const char *what = "record the end of a run in";
    if ((unsigned)status > RP_STORE_RUN_INTERRUPTED)
        return rp_error_set(err, RP_ERR_INVAL, "cannot %s '%s': bad status %d", what, s->path,
                            (int)status);
    sqlite3_stmt *st = stmt_get(s, ST_RUN_FINISH, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, run_status_names[status]);
    enum rp_err e = stmt_exec(s, st, what, err);
    if (!e && sqlite3_changes(s->db) == 0)
        e = rp_error_set(err, RP_ERR_NOENT, "cannot %s '%s': no run %lld", what, s->path,
                         (long long)run_id);
    return e;
}

/* ---- documents ---- */

static enum rp_store_doc_status doc_status_of(const char *t)
{
    if (t && strcmp(t, "failed") == 0)
        return RP_STORE_DOC_FAILED;
    if (t && strcmp(t, "deleted") == 0)
        return RP_STORE_DOC_DELETED;
    return RP_STORE_DOC_OK;
}

enum rp_err rp_store_document_upsert(struct rp_store *s, int64_t run_id,
                                     const struct rp_store_document *d, int64_t *doc_id,
                                     enum rp_store_change *change,
                                     enum rp_store_doc_status *prev_status, struct rp_error *err)
{
    const char *what = "record a document in";
    if (!d->path || !d->content_hash)
        return rp_error_set(err, RP_ERR_INVAL, "cannot %s '%s': no path or content hash", what,
                            s->path);
    bool own;
    enum rp_err e = op_begin(s, &own, what, err);
    if (e)
        return e;
    sqlite3_stmt *st = stmt_get(s, ST_DOC_GET, what, err);
    if (!st) {
        e = err ? err->code : RP_ERR_IO;
        goto out;
    }
    bind_text(st, 1, d->path);
    int rc = sqlite3_step(st);
    bool found = rc == SQLITE_ROW, same = false;
    enum rp_store_doc_status prev = RP_STORE_DOC_OK;
    int64_t id = 0;
    if (found) {
        id = sqlite3_column_int64(st, 0);
        same = col_text(st, 1) && strcmp(col_text(st, 1), d->content_hash) == 0;
        prev = doc_status_of(col_text(st, 2));
    } else if (rc != SQLITE_DONE) {
        e = db_fail(s, what, err);
    }
    stmt_done(st);
    if (e)
        goto out;

    if (!found) {
        if (!(st = stmt_get(s, ST_DOC_INSERT, what, err))) {
            e = err ? err->code : RP_ERR_IO;
            goto out;
        }
        bind_text(st, 1, d->path);
        bind_text(st, 2, d->content_hash);
        sqlite3_bind_int64(st, 3, d->size);
        sqlite3_bind_int64(st, 4, d->mtime);
        bind_id(st, 5, run_id);
        if ((e = stmt_exec(s, st, what, err)))
            goto out;
        id = sqlite3_last_insert_rowid(s->db);
    } else {
        if (!(st = stmt_get(s, ST_DOC_UPDATE, what, err))) {
            e = err ? err->code : RP_ERR_IO;
            goto out;
        }
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, d->content_hash);
        sqlite3_bind_int64(st, 3, d->size);
        sqlite3_bind_int64(st, 4, d->mtime);
        bind_id(st, 5, run_id);
        sqlite3_bind_int(st, 6, !same);
        if ((e = stmt_exec(s, st, what, err)))
            goto out;
    }
    *doc_id = id;
    if (change)
        *change = !found ? RP_STORE_NEW : same ? RP_STORE_UNCHANGED : RP_STORE_CHANGED;
    if (prev_status)
        *prev_status = prev;
out:
    return op_end(s, own, e, what, err);
}

enum rp_err rp_store_documents_mark_deleted(struct rp_store *s, int64_t run_id, int64_t *n_deleted,
                                            struct rp_error *err)
{
    const char *what = "mark deleted documents in";
    sqlite3_stmt *st = stmt_get(s, ST_DOC_MARK_DELETED, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    sqlite3_bind_int64(st, 1, run_id);
    enum rp_err e = stmt_exec(s, st, what, err);
    if (!e && n_deleted)
        *n_deleted = sqlite3_changes64(s->db);
    return e;
}

enum rp_err rp_store_document_fail(struct rp_store *s, int64_t doc_id, const char *reason,
                                   struct rp_error *err)
{
    const char *what = "mark a document failed in";
    sqlite3_stmt *st = stmt_get(s, ST_DOC_FAIL, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    sqlite3_bind_int64(st, 1, doc_id);
    bind_text(st, 2, reason ? reason : "unknown error");
    enum rp_err e = stmt_exec(s, st, what, err);
    if (!e && sqlite3_changes(s->db) == 0)
        e = rp_error_set(err, RP_ERR_NOENT, "cannot %s '%s': no document %lld", what, s->path,
                         (long long)doc_id);
    return e;
}

/* ---- chunks ---- */

enum rp_err rp_store_chunk_upsert(struct rp_store *s, const struct rp_store_chunk *c,
                                  enum rp_store_change *change, struct rp_error *err)
{
    const char *what = "record a chunk in";
    if (!c->chunk_id || !c->text || c->index < 0)
        return rp_error_set(err, RP_ERR_INVAL,
                            "cannot %s '%s': no chunk id or text, or a "
                            "negative index",
                            what, s->path);
    bool own;
    enum rp_err e = op_begin(s, &own, what, err);
    if (e)
        return e;
    enum rp_store_change ch = RP_STORE_NEW;
    sqlite3_stmt *st = stmt_get(s, ST_CHUNK_GET, what, err);
    if (!st) {
        e = err ? err->code : RP_ERR_IO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, c->document_id);
    sqlite3_bind_int(st, 2, c->index);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        ch = col_text(st, 0) && strcmp(col_text(st, 0), c->chunk_id) == 0 ? RP_STORE_UNCHANGED
                                                                          : RP_STORE_CHANGED;
    else if (rc != SQLITE_DONE)
        e = db_fail(s, what, err);
    stmt_done(st);
    if (e)
        goto out;

    if (ch == RP_STORE_CHANGED) {
        /* The text at this place is gone: so are its records (cascade). */
        if (!(st = stmt_get(s, ST_CHUNK_DELETE, what, err))) {
            e = err ? err->code : RP_ERR_IO;
            goto out;
        }
        sqlite3_bind_int64(st, 1, c->document_id);
        sqlite3_bind_int(st, 2, c->index);
        if ((e = stmt_exec(s, st, what, err)))
            goto out;
    }
    if (!(st = stmt_get(s, ch == RP_STORE_UNCHANGED ? ST_CHUNK_UPDATE : ST_CHUNK_INSERT, what,
                        err))) {
        e = err ? err->code : RP_ERR_IO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, c->document_id);
    sqlite3_bind_int(st, 2, c->index);
    bind_text(st, 3, c->chunk_id);
    bind_text(st, 4, c->heading_path ? c->heading_path : "");
    sqlite3_bind_int(st, 5, c->tokens);
    sqlite3_bind_double(st, 6, c->complexity);
    bind_text(st, 7, c->text);
    if ((e = stmt_exec(s, st, what, err)))
        goto out;
    if (change)
        *change = ch;
out:
    return op_end(s, own, e, what, err);
}

enum rp_err rp_store_chunks_trim(struct rp_store *s, int64_t doc_id, int n_chunks,
                                 struct rp_error *err)
{
    const char *what = "trim the chunks of a document in";
    sqlite3_stmt *st = stmt_get(s, ST_CHUNK_TRIM, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    sqlite3_bind_int64(st, 1, doc_id);
    sqlite3_bind_int(st, 2, n_chunks < 0 ? 0 : n_chunks);
    return stmt_exec(s, st, what, err);
}

enum rp_err rp_store_chunk_fail(struct rp_store *s, int64_t doc_id, int index, const char *reason,
                                struct rp_error *err)
{
    const char *what = "mark a chunk failed in";
    sqlite3_stmt *st = stmt_get(s, ST_CHUNK_FAIL, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    sqlite3_bind_int64(st, 1, doc_id);
    sqlite3_bind_int(st, 2, index);
    bind_text(st, 3, reason ? reason : "unknown error");
    enum rp_err e = stmt_exec(s, st, what, err);
    if (!e && sqlite3_changes(s->db) == 0)
        e = rp_error_set(err, RP_ERR_NOENT, "cannot %s '%s': no chunk %d of document %lld", what,
                         s->path, index, (long long)doc_id);
    return e;
}

/* ---- generation cache ---- */

static uint64_t hash_part(uint64_t h, const char *part)
{
    size_t n = part ? strlen(part) : 0;
    unsigned char len[8];
    for (int i = 0; i < 8; i++) /* little-endian, so keys agree across machines */
        len[i] = (unsigned char)((uint64_t)n >> (8 * i));
    h = rp_hash64_seeded(len, sizeof len, h);
    return rp_hash64_seeded(part ? part : "", n, h);
}

void rp_store_gen_key_hex(const struct rp_store_gen_key *k, char out[17])
{
    uint64_t h = 0;
    h = hash_part(h, k->chunk_id);
    h = hash_part(h, k->model);
    h = hash_part(h, k->prompt_version);
    h = hash_part(h, k->params);
    rp_hash_hex(h, out);
}

static bool same_text(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

enum rp_err rp_store_cache_get(struct rp_store *s, const struct rp_store_gen_key *k, char **output,
                               struct rp_store_gen_stats *stats, struct rp_error *err)
{
    const char *what = "read the generation cache in";
    *output = NULL;
    char key[17];
    rp_store_gen_key_hex(k, key);
    sqlite3_stmt *st = stmt_get(s, ST_CACHE_GET, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    bind_text(st, 1, key);
    enum rp_err e = RP_OK;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        e = rp_error_set(err, RP_ERR_NOENT, "no cached generation %s in '%s'", key, s->path);
    } else if (rc != SQLITE_ROW) {
        e = db_fail(s, what, err);
    } else if (!same_text(col_text(st, 0), k->chunk_id) || !same_text(col_text(st, 1), k->model) ||
               !same_text(col_text(st, 2), k->prompt_version) ||
               !same_text(col_text(st, 3), k->params)) {
        e = rp_error_set(err, RP_ERR_NOENT,
                         "no cached generation %s in '%s' (another key hashes the same)", key,
                         s->path);
    } else {
        const unsigned char *t = sqlite3_column_text(st, 4);
        size_t n = (size_t)sqlite3_column_bytes(st, 4);
        char *copy = malloc(n + 1);
        if (!copy) {
            e = rp_error_set(err, RP_ERR_NOMEM, "cannot %s '%s': out of memory", what, s->path);
        } else {
            if (n)
                memcpy(copy, t, n);
            copy[n] = '\0';
            *output = copy;
            if (stats) {
                stats->tier = sqlite3_column_int(st, 5);
                stats->n_prompt_tokens = sqlite3_column_int64(st, 6);
                stats->n_gen_tokens = sqlite3_column_int64(st, 7);
                stats->seconds = sqlite3_column_double(st, 8);
                stats->created = sqlite3_column_double(st, 9);
            }
        }
    }
    stmt_done(st);
    return e;
}

enum rp_err rp_store_cache_put(struct rp_store *s, const struct rp_store_gen_key *k,
                               const char *output, const struct rp_store_gen_stats *stats,
                               struct rp_error *err)
{
    const char *what = "write the generation cache in";
    if (!k->chunk_id || !k->model || !k->prompt_version || !k->params || !output)
        return rp_error_set(err, RP_ERR_INVAL,
                            "cannot %s '%s': a key part or the output is "
                            "missing",
                            what, s->path);
    char key[17];
    rp_store_gen_key_hex(k, key);
    sqlite3_stmt *st = stmt_get(s, ST_CACHE_PUT, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    bind_text(st, 1, key);
    bind_text(st, 2, k->chunk_id);
    bind_text(st, 3, k->model);
    bind_text(st, 4, k->prompt_version);
    bind_text(st, 5, k->params);
    bind_text(st, 6, output);
    sqlite3_bind_int(st, 7, stats ? stats->tier : 0);
    sqlite3_bind_int64(st, 8, stats ? stats->n_prompt_tokens : 0);
    sqlite3_bind_int64(st, 9, stats ? stats->n_gen_tokens : 0);
    sqlite3_bind_double(st, 10, stats ? stats->seconds : 0.0);
    return stmt_exec(s, st, what, err);
}

/* ---- records ---- */

enum rp_err rp_store_record_insert(struct rp_store *s, const struct rp_store_record *r,
                                   bool *inserted, struct rp_error *err)
{
    const char *what = "insert a record into";
    if (inserted)
        *inserted = false;
    if (!r->pair_id || !r->chunk_id)
        return rp_error_set(err, RP_ERR_INVAL, "cannot %s '%s': no pair id or chunk id", what,
                            s->path);
    sqlite3_stmt *st = stmt_get(s, ST_REC_INSERT, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    bind_text(st, 1, r->pair_id);
    bind_id(st, 2, r->run_id);
    sqlite3_bind_int64(st, 3, r->document_id);
    sqlite3_bind_int(st, 4, r->chunk_index);
    bind_text(st, 5, r->chunk_id);
    bind_text(st, 6, r->question);
    bind_text(st, 7, r->answer);
    bind_text(st, 8, r->type);
    sqlite3_bind_int(st, 9, r->tier);
    bind_text(st, 10, r->model);
    bind_text(st, 11, r->verdict == RP_STORE_REJECT ? "reject" : "accept");
    sqlite3_bind_double(st, 12, r->score);
    bind_text(st, 13, r->quality_json);
    bind_text(st, 14, r->reasons);
    bind_text(st, 15, r->line);
    enum rp_err e = stmt_exec(s, st, what, err);
    if (!e && inserted)
        *inserted = sqlite3_changes(s->db) > 0;
    return e;
}

enum rp_err rp_store_records_mark_written(struct rp_store *s, int64_t upto_seq,
                                          struct rp_error *err)
{
    const char *what = "mark records written in";
    sqlite3_stmt *st = stmt_get(s, ST_REC_MARK, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    sqlite3_bind_int64(st, 1, upto_seq);
    return stmt_exec(s, st, what, err);
}

/* Steps st through its rows, calling row(st, ctx) for each (ctx holds the
 * caller's typed callback and its data); the common shape of the foreach
 * functions. */
typedef int (*row_fn)(sqlite3_stmt *st, const void *ctx);

static enum rp_err iterate(struct rp_store *s, sqlite3_stmt *st, row_fn row, const void *ctx,
                           const char *what, struct rp_error *err)
{
    enum rp_err e = RP_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (row(st, ctx) != 0) {
            e = rp_error_set(err, RP_ERR_CANCELLED, "cannot %s '%s': stopped by the callback", what,
                             s->path);
            break;
        }
    }
    if (!e && rc != SQLITE_DONE)
        e = db_fail(s, what, err);
    stmt_done(st);
    return e;
}

struct record_ctx {
    rp_store_record_cb cb;
    void *ud;
};

static int record_row(sqlite3_stmt *st, const void *ctx)
{
    struct rp_store_record r = {
        .seq = sqlite3_column_int64(st, 0),
        .pair_id = col_text(st, 1),
        .run_id = sqlite3_column_int64(st, 2),
        .document_id = sqlite3_column_int64(st, 3),
        .chunk_index = sqlite3_column_int(st, 4),
        .chunk_id = col_text(st, 5),
        .question = col_text(st, 6),
        .answer = col_text(st, 7),
        .type = col_text(st, 8),
        .tier = sqlite3_column_int(st, 9),
        .model = col_text(st, 10),
        .score = sqlite3_column_double(st, 12),
        .quality_json = col_text(st, 13),
        .reasons = col_text(st, 14),
        .line = col_text(st, 15),
        .written = sqlite3_column_int(st, 16) != 0,
        .source = col_text(st, 17),
    };
    const char *v = col_text(st, 11);
    r.verdict = v && strcmp(v, "reject") == 0 ? RP_STORE_REJECT : RP_STORE_ACCEPT;
    const struct record_ctx *c = ctx;
    return c->cb(&r, c->ud);
}

enum rp_err rp_store_records_foreach(struct rp_store *s, unsigned flags, rp_store_record_cb cb,
                                     void *ud, struct rp_error *err)
{
    const char *what = "read the records of";
    sqlite3_stmt *st = stmt_get(s, ST_REC_ITER, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    sqlite3_bind_int(st, 1, (flags & RP_STORE_ITER_ACCEPTED) != 0);
    sqlite3_bind_int(st, 2, (flags & RP_STORE_ITER_REJECTED) != 0);
    sqlite3_bind_int(st, 3, (flags & RP_STORE_ITER_UNWRITTEN) != 0);
    struct record_ctx ctx = {cb, ud};
    return iterate(s, st, record_row, &ctx, what, err);
}

/* ---- history ---- */

enum rp_err rp_store_history_append(struct rp_store *s, const struct rp_store_history *h,
                                    struct rp_error *err)
{
    const char *what = "append to the history in";
    if (!h->chunk_id)
        return rp_error_set(err, RP_ERR_INVAL, "cannot %s '%s': no chunk id", what, s->path);
    sqlite3_stmt *st = stmt_get(s, ST_HIST_APPEND, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    bind_id(st, 1, h->run_id);
    bind_text(st, 2, h->chunk_id);
    sqlite3_bind_int(st, 3, h->attempt);
    sqlite3_bind_double(st, 4, h->complexity);
    bind_text(st, 5, h->features_json);
    sqlite3_bind_int(st, 6, h->tier);
    bind_text(st, 7, h->model);
    sqlite3_bind_double(st, 8, h->latency_s);
    sqlite3_bind_int64(st, 9, h->n_prompt_tokens);
    sqlite3_bind_int64(st, 10, h->n_gen_tokens);
    sqlite3_bind_int(st, 11, h->accepted);
    sqlite3_bind_double(st, 12, h->mean_quality);
    return stmt_exec(s, st, what, err);
}

struct history_ctx {
    rp_store_history_cb cb;
    void *ud;
};

static int history_row(sqlite3_stmt *st, const void *ctx)
{
    struct rp_store_history h = {
        .id = sqlite3_column_int64(st, 0),
        .run_id = sqlite3_column_int64(st, 1),
        .chunk_id = col_text(st, 2),
        .attempt = sqlite3_column_int(st, 3),
        .complexity = sqlite3_column_double(st, 4),
        .features_json = col_text(st, 5),
        .tier = sqlite3_column_int(st, 6),
        .model = col_text(st, 7),
        .latency_s = sqlite3_column_double(st, 8),
        .n_prompt_tokens = sqlite3_column_int64(st, 9),
        .n_gen_tokens = sqlite3_column_int64(st, 10),
        .accepted = sqlite3_column_int(st, 11),
        .mean_quality = sqlite3_column_double(st, 12),
        .created = sqlite3_column_double(st, 13),
    };
    const struct history_ctx *c = ctx;
    return c->cb(&h, c->ud);
}

enum rp_err rp_store_history_foreach(struct rp_store *s, int tier, rp_store_history_cb cb, void *ud,
                                     struct rp_error *err)
{
    const char *what = "read the history of";
    sqlite3_stmt *st = stmt_get(s, ST_HIST_ITER, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    sqlite3_bind_int(st, 1, tier < 0 ? -1 : tier);
    struct history_ctx ctx = {cb, ud};
    return iterate(s, st, history_row, &ctx, what, err);
}

/* ---- dead letters ---- */

struct failure_ctx {
    rp_store_failure_cb cb;
    void *ud;
};

static int failure_row(sqlite3_stmt *st, const void *ctx)
{
    struct rp_store_failure f = {
        .document_id = sqlite3_column_int64(st, 0),
        .path = col_text(st, 1),
        .chunk_index = sqlite3_column_int(st, 2),
        .chunk_id = col_text(st, 3),
        .reason = col_text(st, 4),
    };
    const struct failure_ctx *c = ctx;
    return c->cb(&f, c->ud);
}

enum rp_err rp_store_failures_foreach(struct rp_store *s, rp_store_failure_cb cb, void *ud,
                                      struct rp_error *err)
{
    const char *what = "read the failures in";
    sqlite3_stmt *st = stmt_get(s, ST_FAIL_ITER, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    struct failure_ctx ctx = {cb, ud};
    return iterate(s, st, failure_row, &ctx, what, err);
}

/* ---- output lines ---- */

const char *const rp_store_output_files[5] = {"dataset.jsonl", "rejects.jsonl", "chunks.jsonl",
                                              "pending.jsonl", "conflicts.jsonl"};

enum rp_err rp_store_output_add(struct rp_store *s, int64_t run_id, const char *file, int64_t seq,
                                const char *line, size_t len, struct rp_error *err)
{
    const char *what = "keep an output line in";
    sqlite3_stmt *st = stmt_get(s, ST_OUT_ADD, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    bind_id(st, 1, run_id);
    bind_text(st, 2, file);
    sqlite3_bind_int64(st, 3, seq);
    sqlite3_bind_text64(st, 4, line, (sqlite3_uint64)len, SQLITE_STATIC, SQLITE_UTF8);
    return stmt_exec(s, st, what, err);
}

enum rp_err rp_store_outputs_complete(struct rp_store *s, int64_t run_id, struct rp_error *err)
{
    const char *what = "mark a run's output lines complete in";
    bool own;
    enum rp_err e = op_begin(s, &own, what, err);
    if (e)
        return e;
    sqlite3_stmt *st = stmt_get(s, ST_OUT_COMPLETE, what, err);
    e = st ? RP_OK : (err ? err->code : RP_ERR_IO);
    if (!e) {
        bind_id(st, 1, run_id);
        e = stmt_exec(s, st, what, err);
    }
    if (!e) {
        st = stmt_get(s, ST_OUT_PRUNE, what, err);
        e = st ? RP_OK : (err ? err->code : RP_ERR_IO);
    }
    if (!e) {
        bind_id(st, 1, run_id);
        e = stmt_exec(s, st, what, err);
    }
    return op_end(s, own, e, what, err);
}

enum rp_err rp_store_output_run(struct rp_store *s, bool unfinished, int64_t *run_id, bool *complete,
                                struct rp_error *err)
{
    const char *what = "find the output lines in";
    sqlite3_stmt *st = stmt_get(s, ST_OUT_RUN, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    sqlite3_bind_int(st, 1, unfinished ? 1 : 0);
    int rc = sqlite3_step(st);
    enum rp_err e = RP_OK;
    if (rc == SQLITE_ROW) {
        *run_id = sqlite3_column_int64(st, 0);
        *complete = sqlite3_column_int(st, 1) != 0;
    } else if (rc == SQLITE_DONE) {
        e = rp_error_set(err, RP_ERR_NOENT,
                         "'%s' holds no %srun whose output lines are complete (a store from before "
                         "schema version 2 has none until the next run)",
                         s->path, unfinished ? "" : "finished ");
    } else {
        e = db_fail(s, what, err);
    }
    stmt_done(st);
    return e;
}

struct line_ctx {
    rp_store_line_cb cb;
    void *ud;
};

static int line_row(sqlite3_stmt *st, const void *ctx)
{
    const struct line_ctx *c = ctx;
    const char *t = (const char *)sqlite3_column_text(st, 0);
    return c->cb(t ? t : "", (size_t)sqlite3_column_bytes(st, 0), c->ud);
}

enum rp_err rp_store_output_foreach(struct rp_store *s, int64_t run_id, const char *file,
                                    rp_store_line_cb cb, void *ud, struct rp_error *err)
{
    const char *what = "read the output lines of";
    sqlite3_stmt *st = stmt_get(s, ST_OUT_ITER, what, err);
    if (!st)
        return err ? err->code : RP_ERR_IO;
    bind_id(st, 1, run_id);
    bind_text(st, 2, file);
    struct line_ctx ctx = {cb, ud};
    return iterate(s, st, line_row, &ctx, what, err);
}
