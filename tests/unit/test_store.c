/*
 * test_store.c - the run's SQLite store (include/ranpipe/store.h).
 *
 * Each test works on a fresh database in its own directory under
 * $RANPIPE_TEST_TMP (or /tmp), removed at the end. The file is also read
 * with SQLite directly where the test must see what is really on disk
 * (journal mode, user_version, integrity_check). The crash test forks a
 * child that writes batches of records in transactions and SIGKILLs it
 * mid-way, five times, resuming each time; the concurrency test runs a
 * writer thread against a reader on another connection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ranpipe/error.h"
#include "ranpipe/store.h"
#include "store/store_int.h"

/* ---- helpers ---- */

struct fx {
    char dir[512];
    char db[600];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    const char *t = getenv("RANPIPE_TEST_TMP");
    snprintf(f->dir, sizeof f->dir, "%s/store-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof f->db, "%s/ranpipe.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        char p[640];
        snprintf(p, sizeof p, "%s%s", f->db, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static struct rp_store *open_ok(const char *path)
{
    struct rp_store *s = NULL;
    struct rp_error err;
    rp_error_clear(&err);
    if (rp_store_open(path, NULL, &s, &err) != RP_OK)
        fail_msg("open '%s' failed: %s", path, err.msg);
    return s;
}

#define OK(call)                                                                                   \
    do {                                                                                           \
        struct rp_error e_;                                                                        \
        rp_error_clear(&e_);                                                                       \
        enum rp_err rc_ = (call);                                                                  \
        if (rc_ != RP_OK)                                                                          \
            fail_msg("%s failed (%d): %s", #call, (int)rc_, e_.msg);                               \
    } while (0)
/* OK() needs the call to take &e_ as its error. */
#define E (&e_)

/* One value from a query on the file, through a separate raw connection. */
static char *query1(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    char *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        out = strdup(t ? t : "(null)");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static long long query_int(const char *path, const char *sql)
{
    char *t = query1(path, sql);
    assert_non_null(t);
    long long v = strtoll(t, NULL, 10);
    free(t);
    return v;
}

static void exec_raw(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

/* A document with one chunk per index in [0, n); returns its id. */
static int64_t add_doc(struct rp_store *s, int64_t run, const char *path, const char *hash, int n)
{
    int64_t id = 0;
    struct rp_store_document d = {path, hash, 100, 1700000000};
    OK(rp_store_document_upsert(s, run, &d, &id, NULL, NULL, E));
    for (int i = 0; i < n; i++) {
        char cid[17], text[64];
        snprintf(cid, sizeof cid, "%08x%08x", (unsigned)id, (unsigned)i);
        snprintf(text, sizeof text, "text %d of %s", i, path);
        struct rp_store_chunk c = {id, i, cid, "A > B", 42, 0.5, text};
        OK(rp_store_chunk_upsert(s, &c, NULL, E));
    }
    return id;
}

static struct rp_store_record rec(const char *pair_id, int64_t doc, int idx, const char *q)
{
    struct rp_store_record r = {
        .pair_id = pair_id,
        .run_id = 0,
        .document_id = doc,
        .chunk_index = idx,
        .chunk_id = "0000000000000000",
        .question = q,
        .answer = "an answer",
        .type = "factual",
        .tier = 1,
        .model = "qwen3-1.7b",
        .verdict = RP_STORE_ACCEPT,
        .score = 0.8,
        .quality_json = "{\"score\":0.8}",
    };
    return r;
}

/* Collects records' pair ids, comma-separated, into a fixed buffer. */
struct ids {
    char buf[1024];
    int n;
    int stop_after; /* 0: never */
};

static int collect(const struct rp_store_record *r, void *ud)
{
    struct ids *ids = ud;
    size_t len = strlen(ids->buf);
    snprintf(ids->buf + len, sizeof ids->buf - len, "%s%s", ids->n ? "," : "", r->pair_id);
    ids->n++;
    assert_non_null(r->source);
    return ids->stop_after && ids->n >= ids->stop_after;
}

static const char *iter_ids(struct rp_store *s, unsigned flags, struct ids *ids)
{
    memset(ids, 0, sizeof *ids);
    OK(rp_store_records_foreach(s, flags, collect, ids, E));
    return ids->buf;
}

/* ---- open, schema, migrations ---- */

static void test_open_and_reopen(void **state)
{
    struct fx *f = *state;
    struct rp_store *s = open_ok(f->db);
    assert_int_equal(rp_store_schema_version(s), RP_STORE_SCHEMA_VERSION);
    assert_string_equal(rp_store_path(s), f->db);
    int64_t run = 0;
    OK(rp_store_run_start(s, "cfg1", &run, E));
    assert_true(run > 0);

    /* What is on disk, seen by another connection while s is open. */
    char *mode = query1(f->db, "PRAGMA journal_mode");
    assert_string_equal(mode, "wal");
    free(mode);
    assert_int_equal(query_int(f->db, "PRAGMA user_version"), RP_STORE_SCHEMA_VERSION);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                                      " AND name IN ('runs', 'documents', 'chunks',"
                                      " 'generations', 'records', 'history')"),
                     6);
    OK(rp_store_run_finish(s, run, RP_STORE_RUN_DONE, E));
    struct rp_error err;
    assert_int_equal(rp_store_run_finish(s, run + 100, RP_STORE_RUN_DONE, &err), RP_ERR_NOENT);
    rp_store_close(s);
    rp_store_close(NULL);

    /* Reopen: nothing migrates again, the data is there. */
    s = open_ok(f->db);
    assert_int_equal(rp_store_schema_version(s), RP_STORE_SCHEMA_VERSION);
    int64_t run2 = 0;
    OK(rp_store_run_start(s, "cfg1", &run2, E));
    assert_true(run2 > run);
    rp_store_close(s);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM runs"), 2);
    char *st = query1(f->db, "SELECT status FROM runs ORDER BY id LIMIT 1");
    assert_string_equal(st, "done");
    free(st);
}

static void test_missing_file_without_create(void **state)
{
    struct fx *f = *state;
    struct rp_store_params p = rp_store_default_params();
    p.create = false;
    struct rp_store *s = (struct rp_store *)1;
    struct rp_error err;
    assert_int_equal(rp_store_open(f->db, &p, &s, &err), RP_ERR_NOENT);
    assert_null(s);
    assert_non_null(strstr(err.msg, f->db));
    assert_int_equal(access(f->db, F_OK), -1); /* not created */
}

/* A database from before the store existed (user_version 0, a foreign
 * table) migrates to the current version and keeps what it had. */
static void test_migrate_from_v0(void **state)
{
    struct fx *f = *state;
    exec_raw(f->db, "CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES ('kept');");
    assert_int_equal(query_int(f->db, "PRAGMA user_version"), 0);
    struct rp_store *s = open_ok(f->db);
    assert_int_equal(rp_store_schema_version(s), RP_STORE_SCHEMA_VERSION);
    rp_store_close(s);
    assert_int_equal(query_int(f->db, "PRAGMA user_version"), RP_STORE_SCHEMA_VERSION);
    char *t = query1(f->db, "SELECT x FROM notes");
    assert_string_equal(t, "kept");
    free(t);
}

/* Stepwise: v1 with data, then the real later steps (the data survives
 * them), then a step this code does not know: a newer file than the code
 * is refused with both versions named. */
static void test_migrate_steps_and_newer(void **state)
{
    struct fx *f = *state;
    struct rp_error err;
    struct rp_store *s = NULL;
    const char *v1[] = {rp__store_migrations[0]};
    assert_int_equal(rp__store_open_with(f->db, NULL, v1, 1, &s, &err), RP_OK);
    int64_t run;
    OK(rp_store_run_start(s, "c", &run, E));
    OK(rp_store_run_finish(s, run, RP_STORE_RUN_DONE, E));
    rp_store_close(s);

    /* The real steps from v1 on: the run is still there, and a run from
     * before schema version 2 has no output lines to rebuild from. */
    assert_int_equal(rp_store_open(f->db, NULL, &s, &err), RP_OK);
    assert_int_equal(rp_store_schema_version(s), RP_STORE_SCHEMA_VERSION);
    int64_t out_run = 0;
    bool complete = true;
    assert_int_equal(rp_store_output_run(s, false, &out_run, &complete, &err), RP_ERR_NOENT);
    assert_non_null(strstr(err.msg, "schema version 2"));
    rp_store_close(s);
    char *t = query1(f->db, "SELECT config_hash || status FROM runs");
    assert_string_equal(t, "cdone");
    free(t);

    /* One step more than this code knows. */
    const char *next[RP_STORE_SCHEMA_VERSION + 1];
    for (int i = 0; i < RP_STORE_SCHEMA_VERSION; i++)
        next[i] = rp__store_migrations[i];
    next[RP_STORE_SCHEMA_VERSION] = "ALTER TABLE runs ADD COLUMN note TEXT DEFAULT 'x';"
                                    "CREATE INDEX runs_note ON runs(note);";
    assert_int_equal(rp__store_open_with(f->db, NULL, next, RP_STORE_SCHEMA_VERSION + 1, &s, &err), RP_OK);
    assert_int_equal(rp_store_schema_version(s), RP_STORE_SCHEMA_VERSION + 1);
    rp_store_close(s);
    t = query1(f->db, "SELECT note FROM runs");
    assert_string_equal(t, "x");
    free(t);

    s = (struct rp_store *)1;
    assert_int_equal(rp_store_open(f->db, NULL, &s, &err), RP_ERR_UNSUPPORTED);
    assert_null(s);
    assert_non_null(strstr(err.msg, f->db));
    char want[64];
    snprintf(want, sizeof(want), "version %d", RP_STORE_SCHEMA_VERSION + 1);
    assert_non_null(strstr(err.msg, want));
    snprintf(want, sizeof(want), "version %d", RP_STORE_SCHEMA_VERSION);
    assert_non_null(strstr(err.msg, want));
}

/* Output lines: kept per run and file in order; a run marked complete
 * drops every other run's lines; the rebuild run is the last complete one,
 * or with unfinished the last of all. */
static void test_output_lines(void **state)
{
    struct fx *f = *state;
    struct rp_error err;
    struct rp_store *s = NULL;
    assert_int_equal(rp_store_open(f->db, NULL, &s, &err), RP_OK);
    int64_t r1, r2, got;
    bool complete;
    OK(rp_store_run_start(s, "c", &r1, E));
    assert_int_equal(rp_store_output_run(s, false, &got, &complete, &err), RP_ERR_NOENT);
    OK(rp_store_output_run(s, true, &got, &complete, E));
    assert_int_equal(got, r1);
    assert_false(complete);
    OK(rp_store_begin(s, E));
    OK(rp_store_output_add(s, r1, "dataset.jsonl", 0, "{\"a\":1}", 7, E));
    OK(rp_store_output_add(s, r1, "dataset.jsonl", 1, "{\"a\":2}xx", 7, E));
    OK(rp_store_output_add(s, r1, "rejects.jsonl", 0, "{\"r\":1}", 7, E));
    /* A name that is not an output file is refused by the schema. */
    assert_int_not_equal(rp_store_output_add(s, r1, "../evil", 0, "x", 1, &err), RP_OK);
    OK(rp_store_commit(s, E));
    OK(rp_store_outputs_complete(s, r1, E));
    OK(rp_store_output_run(s, false, &got, &complete, E));
    assert_int_equal(got, r1);
    assert_true(complete);

    /* A second run, stopped part-way: the first stays the rebuild run. */
    OK(rp_store_run_start(s, "c", &r2, E));
    OK(rp_store_output_add(s, r2, "dataset.jsonl", 0, "{\"b\":1}", 7, E));
    OK(rp_store_output_run(s, false, &got, &complete, E));
    assert_int_equal(got, r1);
    OK(rp_store_output_run(s, true, &got, &complete, E));
    assert_int_equal(got, r2);
    assert_false(complete);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM output_lines"), 4);

    /* It completes: only its lines are kept. */
    OK(rp_store_outputs_complete(s, r2, E));
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM output_lines"), 1);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM runs WHERE outputs = 1"), 1);
    OK(rp_store_output_run(s, false, &got, &complete, E));
    assert_int_equal(got, r2);
    rp_store_close(s);
}

/* A failing step leaves the database at the version before it, whole. */
static void test_migration_failure_rolls_back(void **state)
{
    struct fx *f = *state;
    struct rp_error err;
    struct rp_store *s = NULL;
    const char *bad[] = {rp__store_migrations[0], "CREATE TABLE half(x); THIS IS NOT SQL;"};
    assert_int_equal(rp__store_open_with(f->db, NULL, bad, 2, &s, &err), RP_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(err.msg, f->db));
    assert_non_null(strstr(err.msg, "migrate from schema version 1 to 2"));
    assert_int_equal(query_int(f->db, "PRAGMA user_version"), 1);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name = 'half'"), 0);
    s = open_ok(f->db); /* the code's own list still opens it */
    rp_store_close(s);
}

/* Garbage bytes: a clear error naming the file, no crash. */
static void test_corrupt_file(void **state)
{
    struct fx *f = *state;
    FILE *fp = fopen(f->db, "wb");
    assert_non_null(fp);
    for (int i = 0; i < 8192; i++)
        fputc((i * 131 + 7) & 0xff, fp);
    fclose(fp);
    struct rp_store *s = (struct rp_store *)1;
    struct rp_error err;
    assert_int_equal(rp_store_open(f->db, NULL, &s, &err), RP_ERR_IO);
    assert_null(s);
    char want[700];
    snprintf(want, sizeof want, "cannot open '%s': file is not a database", f->db);
    assert_string_equal(err.msg, want);
}

/* A real database whose pages after the first are overwritten: opening or
 * reading reports an error naming the file; nothing crashes. */
static void test_corrupt_pages(void **state)
{
    struct fx *f = *state;
    struct rp_store *s = open_ok(f->db);
    int64_t doc = add_doc(s, 0, "a.md", "h1", 3);
    char id[17];
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "%016x", i);
        struct rp_store_record r = rec(id, doc, i % 3, "What is the question number one?");
        OK(rp_store_record_insert(s, &r, NULL, E));
    }
    rp_store_close(s); /* checkpoints the WAL into the file */
    int fd = open(f->db, O_WRONLY);
    assert_true(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    assert_true(size > 8192);
    char junk[4096];
    memset(junk, 0xA5, sizeof junk);
    for (off_t o = 4096; o < size; o += (off_t)sizeof junk)
        assert_int_equal(pwrite(fd, junk, sizeof junk, o), (ssize_t)sizeof junk);
    close(fd);

    struct rp_error err;
    rp_error_clear(&err);
    enum rp_err rc = rp_store_open(f->db, NULL, &s, &err);
    if (rc == RP_OK) {
        struct ids ids;
        memset(&ids, 0, sizeof ids);
        rc = rp_store_records_foreach(s, RP_STORE_ITER_ACCEPTED, collect, &ids, &err);
        rp_store_close(s);
    }
    assert_int_not_equal(rc, RP_OK);
    assert_non_null(strstr(err.msg, f->db));
    assert_non_null(strstr(err.msg, "malformed"));
}

/* ---- documents and chunks ---- */

static void test_documents_change_detection(void **state)
{
    struct fx *f = *state;
    struct rp_store *s = open_ok(f->db);
    int64_t r1, r2, r3, a, b, c, id;
    enum rp_store_change ch;
    enum rp_store_doc_status prev;
    OK(rp_store_run_start(s, "cfg", &r1, E));
    struct rp_store_document da = {"docs/a.md", "aaaa", 10, 1}, db = {"docs/b.md", "bbbb", 20, 2},
                             dc = {"docs/c.md", "cccc", 30, 3};
    OK(rp_store_document_upsert(s, r1, &da, &a, &ch, &prev, E));
    assert_int_equal(ch, RP_STORE_NEW);
    assert_int_equal(prev, RP_STORE_DOC_OK);
    OK(rp_store_document_upsert(s, r1, &db, &b, &ch, NULL, E));
    assert_int_equal(ch, RP_STORE_NEW);
    OK(rp_store_document_upsert(s, r1, &dc, &c, &ch, NULL, E));
    assert_int_equal(ch, RP_STORE_NEW);
    int64_t n = -1;
    OK(rp_store_documents_mark_deleted(s, r1, &n, E));
    assert_int_equal(n, 0);
    OK(rp_store_run_finish(s, r1, RP_STORE_RUN_DONE, E));

    /* Run 2: a unchanged, b edited, c gone. */
    OK(rp_store_run_start(s, "cfg", &r2, E));
    OK(rp_store_document_upsert(s, r2, &da, &id, &ch, NULL, E));
    assert_int_equal(ch, RP_STORE_UNCHANGED);
    assert_int_equal(id, a);
    db.content_hash = "bbb2";
    OK(rp_store_document_upsert(s, r2, &db, &id, &ch, NULL, E));
    assert_int_equal(ch, RP_STORE_CHANGED);
    assert_int_equal(id, b);
    OK(rp_store_documents_mark_deleted(s, r2, &n, E));
    assert_int_equal(n, 1);
    OK(rp_store_documents_mark_deleted(s, r2, &n, E)); /* idempotent */
    assert_int_equal(n, 0);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM documents WHERE status = 'deleted'"
                                      " AND path = 'docs/c.md'"),
                     1);

    /* Run 3: c comes back unchanged (ok again); b fails, then stays failed
     * while unchanged and becomes ok when it changes. */
    OK(rp_store_run_start(s, "cfg", &r3, E));
    OK(rp_store_document_upsert(s, r3, &dc, &id, &ch, &prev, E));
    assert_int_equal(ch, RP_STORE_UNCHANGED);
    assert_int_equal(prev, RP_STORE_DOC_DELETED);
    assert_int_equal(id, c);
    OK(rp_store_document_fail(s, b, "cannot parse 'docs/b.md': bad zip", E));
    OK(rp_store_document_upsert(s, r3, &db, &id, &ch, &prev, E));
    assert_int_equal(ch, RP_STORE_UNCHANGED);
    assert_int_equal(prev, RP_STORE_DOC_FAILED);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM documents WHERE status = 'failed'"), 1);
    db.content_hash = "bbb3";
    OK(rp_store_document_upsert(s, r3, &db, &id, &ch, &prev, E));
    assert_int_equal(ch, RP_STORE_CHANGED);
    assert_int_equal(prev, RP_STORE_DOC_FAILED);
    char *t = query1(f->db, "SELECT status || ':' || ifnull(error, '-') || ':' || first_seen_run"
                            " || ':' || last_seen_run FROM documents WHERE path = 'docs/b.md'");
    char want[64];
    snprintf(want, sizeof want, "ok:-:%lld:%lld", (long long)r1, (long long)r3);
    assert_string_equal(t, want);
    free(t);
    struct rp_error err;
    assert_int_equal(rp_store_document_fail(s, 9999, "x", &err), RP_ERR_NOENT);
    rp_store_close(s);
}

static void test_chunks_and_records(void **state)
{
    struct fx *f = *state;
    struct rp_store *s = open_ok(f->db);
    int64_t doc = add_doc(s, 0, "a.md", "h", 0);
    enum rp_store_change ch;
    struct rp_store_chunk c0 = {doc, 0, "1111111111111111", "", 10, 0.1, "zero"};
    struct rp_store_chunk c1 = {doc, 1, "2222222222222222", "H", 11, 0.2, "one"};
    struct rp_store_chunk c2 = {doc, 2, "3333333333333333", "H", 12, 0.3, "two"};
    OK(rp_store_chunk_upsert(s, &c0, &ch, E));
    assert_int_equal(ch, RP_STORE_NEW);
    OK(rp_store_chunk_upsert(s, &c1, &ch, E));
    OK(rp_store_chunk_upsert(s, &c2, &ch, E));
    OK(rp_store_chunk_upsert(s, &c0, &ch, E));
    assert_int_equal(ch, RP_STORE_UNCHANGED);

    bool ins = false;
    struct rp_store_record r = rec("aaaaaaaaaaaaaaa0", doc, 0, "Q0?");
    OK(rp_store_record_insert(s, &r, &ins, E));
    assert_true(ins);
    OK(rp_store_record_insert(s, &r, &ins, E)); /* the same id again: no-op */
    assert_false(ins);
    r = rec("aaaaaaaaaaaaaaa1", doc, 1, "Q1?");
    OK(rp_store_record_insert(s, &r, &ins, E));
    r = rec("aaaaaaaaaaaaaaa2", doc, 2, "Q2?");
    OK(rp_store_record_insert(s, &r, &ins, E));
    struct ids ids;
    assert_string_equal(iter_ids(s, RP_STORE_ITER_ACCEPTED, &ids),
                        "aaaaaaaaaaaaaaa0,aaaaaaaaaaaaaaa1,aaaaaaaaaaaaaaa2");

    /* The chunk at index 1 now holds other text: its record goes. */
    c1.chunk_id = "4444444444444444";
    OK(rp_store_chunk_upsert(s, &c1, &ch, E));
    assert_int_equal(ch, RP_STORE_CHANGED);
    assert_string_equal(iter_ids(s, RP_STORE_ITER_ACCEPTED, &ids),
                        "aaaaaaaaaaaaaaa0,aaaaaaaaaaaaaaa2");
    /* The document got shorter: chunk 2 and its record go. */
    OK(rp_store_chunks_trim(s, doc, 2, E));
    assert_string_equal(iter_ids(s, RP_STORE_ITER_ACCEPTED, &ids), "aaaaaaaaaaaaaaa0");
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM chunks"), 2);

    /* A record of a chunk that does not exist, a chunk of a document that
     * does not exist: refused, naming the file. */
    struct rp_error err;
    r = rec("bbbbbbbbbbbbbbbb", doc, 7, "Q?");
    assert_int_equal(rp_store_record_insert(s, &r, &ins, &err), RP_ERR_INVAL);
    assert_non_null(strstr(err.msg, f->db));
    assert_non_null(strstr(err.msg, "FOREIGN KEY"));
    struct rp_store_chunk orphan = {doc + 50, 0, "5555555555555555", "", 1, 0, "x"};
    assert_int_equal(rp_store_chunk_upsert(s, &orphan, &ch, &err), RP_ERR_INVAL);
    rp_store_close(s);
}

/* ---- cache ---- */

static void test_cache_round_trip(void **state)
{
    struct fx *f = *state;
    struct rp_store *s = open_ok(f->db);
    struct rp_store_gen_key k = {"0123456789abcdef", "qwen3-1.7b-q8_0@5c1e", "qa-v3",
                                 "temp=0.7;top_p=0.9;max=512;seed=1"};
    char *out = (char *)"sentinel";
    struct rp_error err;
    assert_int_equal(rp_store_cache_get(s, &k, &out, NULL, &err), RP_ERR_NOENT);
    assert_null(out);

    struct rp_store_gen_stats st = {
        .tier = 2, .n_prompt_tokens = 300, .n_gen_tokens = 120, .seconds = 1.25};
    OK(rp_store_cache_put(s, &k, "[{\"question\":\"Q\",\"answer\":\"A\"}]", &st, E));
    struct rp_store_gen_stats got;
    memset(&got, 0, sizeof got);
    OK(rp_store_cache_get(s, &k, &out, &got, E));
    assert_string_equal(out, "[{\"question\":\"Q\",\"answer\":\"A\"}]");
    free(out);
    assert_int_equal(got.tier, 2);
    assert_int_equal(got.n_prompt_tokens, 300);
    assert_int_equal(got.n_gen_tokens, 120);
    assert_true(got.seconds == 1.25);
    assert_true(got.created > 1.7e9 && got.created < 1e10);

    /* Each key part changes the key. */
    struct rp_store_gen_key k2 = k;
    k2.model = "qwen3-8b-q4_k_m@77aa";
    assert_int_equal(rp_store_cache_get(s, &k2, &out, NULL, &err), RP_ERR_NOENT);
    k2 = k;
    k2.prompt_version = "qa-v4";
    assert_int_equal(rp_store_cache_get(s, &k2, &out, NULL, &err), RP_ERR_NOENT);
    k2 = k;
    k2.params = "temp=0.2;top_p=0.9;max=512;seed=1";
    assert_int_equal(rp_store_cache_get(s, &k2, &out, NULL, &err), RP_ERR_NOENT);
    k2 = k;
    k2.chunk_id = "fedcba9876543210";
    assert_int_equal(rp_store_cache_get(s, &k2, &out, NULL, &err), RP_ERR_NOENT);
    assert_null(out);

    /* Parts do not run together: ("ab", "c") is not ("a", "bc"). */
    struct rp_store_gen_key x = {"ab", "c", "p", "q"}, y = {"a", "bc", "p", "q"};
    char hx[17], hy[17], hx2[17];
    rp_store_gen_key_hex(&x, hx);
    rp_store_gen_key_hex(&y, hy);
    rp_store_gen_key_hex(&x, hx2);
    assert_string_not_equal(hx, hy);
    assert_string_equal(hx, hx2);
    assert_int_equal(strlen(hx), 16);

    /* A put under the same key replaces (a --no-cache rerun). */
    st.n_gen_tokens = 99;
    OK(rp_store_cache_put(s, &k, "new", &st, E));
    OK(rp_store_cache_get(s, &k, &out, &got, E));
    assert_string_equal(out, "new");
    assert_int_equal(got.n_gen_tokens, 99);
    free(out);
    rp_store_close(s);

    /* And it survives a reopen. */
    s = open_ok(f->db);
    OK(rp_store_cache_get(s, &k, &out, NULL, E));
    assert_string_equal(out, "new");
    free(out);
    rp_store_close(s);
}

/* ---- records ---- */

static int count_cb(const struct rp_store_record *r, void *ud)
{
    (void)r;
    (*(int *)ud)++;
    return 0;
}

static void test_records_order_and_filters(void **state)
{
    struct fx *f = *state;
    struct rp_store *s = open_ok(f->db);
    int64_t a = add_doc(s, 0, "a.md", "ha", 2), b = add_doc(s, 0, "b.md", "hb", 1);
    /* Inserted in this order, whatever the ids: output order is insertion. */
    const char *order[] = {"ffff000000000000", "0000000000000001", "8888000000000000",
                           "1111000000000000"};
    for (int i = 0; i < 4; i++) {
        struct rp_store_record r = rec(order[i], i == 2 ? b : a, i % 2, "Q?");
        if (i == 3) {
            r.verdict = RP_STORE_REJECT;
            r.question = NULL;
            r.reasons = "ungrounded: 'qRxLevMin' not in source";
            r.score = 0.2;
        }
        r.line = "{\"id\":\"x\"}";
        OK(rp_store_record_insert(s, &r, NULL, E));
    }
    struct rp_store_record again = rec(order[0], a, 0, "Q?"); /* resumed run: no duplicate */
    OK(rp_store_record_insert(s, &again, NULL, E));
    struct ids ids;
    assert_string_equal(iter_ids(s, RP_STORE_ITER_ACCEPTED, &ids),
                        "ffff000000000000,0000000000000001,8888000000000000");
    assert_string_equal(iter_ids(s, RP_STORE_ITER_REJECTED, &ids), "1111000000000000");
    assert_string_equal(iter_ids(s, RP_STORE_ITER_ACCEPTED | RP_STORE_ITER_REJECTED, &ids),
                        "ffff000000000000,0000000000000001,8888000000000000,1111000000000000");

    /* Written up to the second record: the rest is what a resume writes. */
    int64_t seq2 = query_int(f->db, "SELECT seq FROM records WHERE pair_id = '0000000000000001'");
    OK(rp_store_records_mark_written(s, seq2, E));
    assert_string_equal(iter_ids(s, RP_STORE_ITER_ACCEPTED | RP_STORE_ITER_UNWRITTEN, &ids),
                        "8888000000000000");

    /* A deleted document's records leave the output. */
    int64_t run;
    OK(rp_store_run_start(s, "c", &run, E));
    struct rp_store_document da = {"a.md", "ha", 100, 1700000000};
    int64_t id;
    OK(rp_store_document_upsert(s, run, &da, &id, NULL, NULL, E));
    OK(rp_store_documents_mark_deleted(s, run, NULL, E)); /* b.md not seen */
    assert_string_equal(iter_ids(s, RP_STORE_ITER_ACCEPTED, &ids),
                        "ffff000000000000,0000000000000001");

    /* A callback that stops. */
    memset(&ids, 0, sizeof ids);
    ids.stop_after = 1;
    struct rp_error err;
    assert_int_equal(rp_store_records_foreach(s, RP_STORE_ITER_ACCEPTED, collect, &ids, &err),
                     RP_ERR_CANCELLED);
    assert_int_equal(ids.n, 1);
    int n = 0; /* the statement was reset: a new iteration starts over */
    OK(rp_store_records_foreach(s, RP_STORE_ITER_ACCEPTED, count_cb, &n, E));
    assert_int_equal(n, 2);
    rp_store_close(s);
}

static void test_transactions(void **state)
{
    struct fx *f = *state;
    struct rp_store *s = open_ok(f->db);
    int64_t doc = add_doc(s, 0, "a.md", "h", 1);
    struct rp_error err;
    OK(rp_store_begin(s, E));
    assert_int_equal(rp_store_begin(s, &err), RP_ERR_INVAL);
    struct rp_store_record r = rec("aaaaaaaaaaaaaaaa", doc, 0, "Q?");
    OK(rp_store_record_insert(s, &r, NULL, E));
    /* A multi-statement operation inside the caller's transaction. */
    struct rp_store_chunk c = {doc, 1, "9999999999999999", "", 1, 0, "x"};
    OK(rp_store_chunk_upsert(s, &c, NULL, E));
    OK(rp_store_rollback(s, E));
    int n = 0;
    OK(rp_store_records_foreach(s, RP_STORE_ITER_ACCEPTED, count_cb, &n, E));
    assert_int_equal(n, 0);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM chunks"), 1);
    assert_int_equal(rp_store_commit(s, &err), RP_ERR_INVAL);
    OK(rp_store_rollback(s, E)); /* none open: no-op */

    OK(rp_store_begin(s, E));
    OK(rp_store_record_insert(s, &r, NULL, E));
    /* A failing operation inside the transaction undoes only itself. */
    struct rp_store_chunk bad = {doc + 9, 0, "9999999999999999", "", 1, 0, "x"};
    assert_int_equal(rp_store_chunk_upsert(s, &bad, NULL, &err), RP_ERR_INVAL);
    OK(rp_store_commit(s, E));
    n = 0;
    OK(rp_store_records_foreach(s, RP_STORE_ITER_ACCEPTED, count_cb, &n, E));
    assert_int_equal(n, 1);
    rp_store_close(s);
}

/* ---- history and dead letters ---- */

struct hist_acc {
    int n;
    double sum_quality;
    int64_t last_id;
    char models[256];
};

static int hist_cb(const struct rp_store_history *h, void *ud)
{
    struct hist_acc *a = ud;
    assert_true(h->id > a->last_id);
    a->last_id = h->id;
    a->n++;
    a->sum_quality += h->mean_quality;
    size_t len = strlen(a->models);
    snprintf(a->models + len, sizeof a->models - len, "%s%s/%d/%d", a->n > 1 ? "," : "",
             h->model ? h->model : "-", h->tier, h->attempt);
    assert_true(h->created > 1.7e9);
    return 0;
}

static void test_history(void **state)
{
    struct fx *f = *state;
    struct rp_store *s = open_ok(f->db);
    int64_t run;
    OK(rp_store_run_start(s, "c", &run, E));
    struct rp_store_history rows[] = {
        {.run_id = run,
         .chunk_id = "c1",
         .attempt = 0,
         .complexity = 0.1,
         .tier = 0,
         .accepted = 3,
         .mean_quality = 0.9},
        {.run_id = run,
         .chunk_id = "c2",
         .attempt = 0,
         .complexity = 0.7,
         .features_json = "{\"tables\":2}",
         .tier = 1,
         .model = "small",
         .latency_s = 2.0,
         .n_prompt_tokens = 500,
         .n_gen_tokens = 200,
         .accepted = 0,
         .mean_quality = 0.3},
        {.run_id = run,
         .chunk_id = "c2",
         .attempt = 1,
         .complexity = 0.7,
         .tier = 2,
         .model = "medium",
         .latency_s = 6.5,
         .n_prompt_tokens = 500,
         .n_gen_tokens = 260,
         .accepted = 2,
         .mean_quality = 0.8},
        {.run_id = 0,
         .chunk_id = "c3",
         .attempt = 0,
         .complexity = 0.4,
         .tier = 1,
         .model = "small",
         .accepted = 1,
         .mean_quality = 0.6},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        OK(rp_store_history_append(s, &rows[i], E));
    struct hist_acc all = {0}, t1 = {0};
    OK(rp_store_history_foreach(s, -1, hist_cb, &all, E));
    assert_int_equal(all.n, 4);
    assert_string_equal(all.models, "-/0/0,small/1/0,medium/2/1,small/1/0");
    OK(rp_store_history_foreach(s, 1, hist_cb, &t1, E));
    assert_int_equal(t1.n, 2);
    assert_true(t1.sum_quality > 0.89 && t1.sum_quality < 0.91);
    rp_store_close(s);
    /* History is kept across runs (a reopen). */
    s = open_ok(f->db);
    struct hist_acc again = {0};
    OK(rp_store_history_foreach(s, -1, hist_cb, &again, E));
    assert_int_equal(again.n, 4);
    rp_store_close(s);
}

struct fail_acc {
    char buf[1024];
    int n;
};

static int fail_cb(const struct rp_store_failure *fl, void *ud)
{
    struct fail_acc *a = ud;
    size_t len = strlen(a->buf);
    snprintf(a->buf + len, sizeof a->buf - len, "%s%s#%d:%s", a->n++ ? "|" : "", fl->path,
             fl->chunk_index, fl->reason);
    assert_true((fl->chunk_index < 0) == (fl->chunk_id == NULL));
    return 0;
}

static void test_failures(void **state)
{
    struct fx *f = *state;
    struct rp_store *s = open_ok(f->db);
    int64_t run;
    OK(rp_store_run_start(s, "c", &run, E));
    int64_t a = add_doc(s, run, "z.md", "h1", 3), b = add_doc(s, run, "b.pdf", "h2", 0),
            c = add_doc(s, run, "c.md", "h3", 2);
    OK(rp_store_chunk_fail(s, a, 2, "every backend failed: tier 3 circuit open", E));
    OK(rp_store_chunk_fail(s, a, 0, "timeout after 3 retries", E));
    OK(rp_store_document_fail(s, b, "cannot parse 'b.pdf': encrypted", E));
    OK(rp_store_chunk_fail(s, c, 1, "hidden once c.md is deleted", E));
    struct rp_error err;
    assert_int_equal(rp_store_chunk_fail(s, a, 9, "x", &err), RP_ERR_NOENT);

    /* c.md goes away: its dead letters with it. */
    int64_t run2, id;
    OK(rp_store_run_start(s, "c", &run2, E));
    struct rp_store_document da = {"z.md", "h1", 100, 1700000000},
                             dbb = {"b.pdf", "h2", 100, 1700000000};
    OK(rp_store_document_upsert(s, run2, &da, &id, NULL, NULL, E));
    OK(rp_store_document_upsert(s, run2, &dbb, &id, NULL, NULL, E));
    OK(rp_store_documents_mark_deleted(s, run2, NULL, E));

    struct fail_acc acc = {{0}, 0};
    OK(rp_store_failures_foreach(s, fail_cb, &acc, E));
    assert_string_equal(acc.buf, "b.pdf#-1:cannot parse 'b.pdf': encrypted|"
                                 "z.md#0:timeout after 3 retries|"
                                 "z.md#2:every backend failed: tier 3 circuit open");

    /* Upserting a failed chunk again retries it: it leaves the list. */
    struct rp_store_chunk c0 = {a, 0, "", "A > B", 42, 0.5, "text 0 of z.md"};
    char cid[17];
    snprintf(cid, sizeof cid, "%08x%08x", (unsigned)a, 0u);
    c0.chunk_id = cid;
    OK(rp_store_chunk_upsert(s, &c0, NULL, E));
    memset(&acc, 0, sizeof acc);
    OK(rp_store_failures_foreach(s, fail_cb, &acc, E));
    assert_int_equal(acc.n, 2);
    rp_store_close(s);
}

/* ---- crash safety ---- */

#define BATCH 10

/* The child: resumes from what is committed (redoing the last batch,
 * whose inserts must be no-ops), then commits batches of BATCH records
 * forever, reporting each committed batch on fd. Never returns. */
static void crash_child(const char *path, int fd)
{
    struct rp_store *s = NULL;
    struct rp_error err;
    if (rp_store_open(path, NULL, &s, &err) != RP_OK)
        _exit(2);
    int64_t run = 0, doc = 0;
    struct rp_store_document d = {"d.md", "h", 1, 1};
    if (rp_store_run_start(s, "cfg", &run, &err) ||
        rp_store_document_upsert(s, run, &d, &doc, NULL, NULL, &err))
        _exit(3);
    struct rp_store_chunk c = {doc, 0, "abababababababab", "", 5, 0.1, "chunk text"};
    if (rp_store_chunk_upsert(s, &c, NULL, &err))
        _exit(4);
    int n = 0;
    if (rp_store_records_foreach(s, RP_STORE_ITER_ACCEPTED, count_cb, &n, &err))
        _exit(5);
    int batch = n / BATCH > 0 ? n / BATCH - 1 : 0;
    char text[4096];
    memset(text, 'x', sizeof text - 1); /* long lines: many pages per transaction */
    text[sizeof text - 1] = '\0';
    for (;; batch++) {
        if (rp_store_begin(s, &err))
            _exit(6);
        for (int i = 0; i < BATCH; i++) {
            char id[17];
            snprintf(id, sizeof id, "%08x%08x", (unsigned)batch, (unsigned)i);
            struct rp_store_record r = rec(id, doc, 0, "Q?");
            r.answer = text;
            if (rp_store_record_insert(s, &r, NULL, &err))
                _exit(7);
        }
        if (rp_store_commit(s, &err))
            _exit(8);
        if (write(fd, &batch, sizeof batch) != (ssize_t)sizeof batch)
            _exit(9);
    }
}

static int batch_check_cb(const struct rp_store_record *r, void *ud)
{
    int *counts = ud; /* counts[batch]++ */
    unsigned b = 0, i = 0;
    assert_int_equal(sscanf(r->pair_id, "%8x%8x", &b, &i), 2);
    assert_true(b < 4096 && i < BATCH);
    counts[b]++;
    return 0;
}

static void test_crash_safety(void **state)
{
    struct fx *f = *state;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    srand((unsigned)ts.tv_nsec);
    int last_reported = -1;
    for (int round = 0; round < 5; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(f->db, p[1]);
        }
        close(p[1]);
        /* Let it commit at least two batches, then kill it at a random
         * moment, most likely inside a transaction. */
        int b, seen = 0;
        while (seen < 2 && read(p[0], &b, sizeof b) == (ssize_t)sizeof b) {
            last_reported = b;
            seen++;
        }
        assert_int_equal(seen, 2);
        struct timespec nap = {0, (long)(rand() % 20000) * 1000L};
        nanosleep(&nap, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        while (read(p[0], &b, sizeof b) == (ssize_t)sizeof b)
            last_reported = b;
        close(p[0]);

        /* Only whole batches, at least every one reported committed, at
         * most one more (committed, killed before reporting). */
        struct rp_store *s = open_ok(f->db);
        static int counts[4096];
        memset(counts, 0, sizeof counts);
        OK(rp_store_records_foreach(s, RP_STORE_ITER_ACCEPTED, batch_check_cb, counts, E));
        rp_store_close(s);
        int batches = 0;
        for (int i = 0; i < 4096; i++) {
            if (counts[i] == 0)
                break;
            assert_int_equal(counts[i], BATCH);
            batches++;
        }
        for (int i = batches; i < 4096; i++)
            assert_int_equal(counts[i], 0);
        assert_true(batches >= last_reported + 1);
        assert_true(batches <= last_reported + 2);
        char *ic = query1(f->db, "PRAGMA integrity_check");
        assert_string_equal(ic, "ok");
        free(ic);
        assert_int_equal(query_int(f->db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    }
}

/* ---- a reader while a writer writes (WAL) ---- */

struct writer_arg {
    const char *path;
    int64_t doc;
    int batches;
    enum rp_err rc;
    char msg[RP_ERROR_MSG_MAX];
};

static void *writer_main(void *p)
{
    struct writer_arg *a = p;
    struct rp_store *s = NULL;
    struct rp_error err;
    rp_error_clear(&err);
    a->rc = rp_store_open(a->path, NULL, &s, &err);
    for (int b = 0; !a->rc && b < a->batches; b++) {
        if ((a->rc = rp_store_begin(s, &err)))
            break;
        for (int i = 0; !a->rc && i < BATCH; i++) {
            char id[17];
            snprintf(id, sizeof id, "%08x%08x", (unsigned)b, (unsigned)i);
            struct rp_store_record r = rec(id, a->doc, 0, "Q?");
            a->rc = rp_store_record_insert(s, &r, NULL, &err);
        }
        if (!a->rc)
            a->rc = rp_store_commit(s, &err);
    }
    memcpy(a->msg, err.msg, sizeof a->msg);
    rp_store_close(s);
    return NULL;
}

static void test_concurrent_reader(void **state)
{
    struct fx *f = *state;
    struct rp_store *s = open_ok(f->db);
    int64_t doc = add_doc(s, 0, "a.md", "h", 1);

    /* Same thread, two connections: an open write transaction is invisible
     * to the reader and does not block it. */
    struct rp_store *w = open_ok(f->db);
    OK(rp_store_begin(w, E));
    struct rp_store_record r = rec("cccccccccccccccc", doc, 0, "Q?");
    OK(rp_store_record_insert(w, &r, NULL, E));
    int n = 0;
    OK(rp_store_records_foreach(s, RP_STORE_ITER_ACCEPTED, count_cb, &n, E));
    assert_int_equal(n, 0);
    OK(rp_store_commit(w, E));
    n = 0;
    OK(rp_store_records_foreach(s, RP_STORE_ITER_ACCEPTED, count_cb, &n, E));
    assert_int_equal(n, 1);
    rp_store_close(w);

    /* A writer thread; this thread reads all the while and only ever sees
     * whole batches, never fewer than before. */
    struct writer_arg a = {.path = f->db, .doc = doc, .batches = 100};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, &a), 0);
    int prev = 1, reads = 0;
    for (;;) {
        n = 0;
        OK(rp_store_records_foreach(s, RP_STORE_ITER_ACCEPTED, count_cb, &n, E));
        reads++;
        assert_int_equal((n - 1) % BATCH, 0);
        assert_true(n >= prev);
        prev = n;
        if (n == 1 + a.batches * BATCH)
            break;
        if (reads > 1000000)
            fail_msg("the writer never finished");
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    if (a.rc)
        fail_msg("writer failed: %s", a.msg);
    rp_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_without_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v0, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_steps_and_newer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_failure_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_documents_change_detection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunks_and_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records_order_and_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_reader, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
