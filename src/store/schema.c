/*
 * schema.c - the store's schema, as an ordered list of migrations.
 *
 * Step i takes a database from PRAGMA user_version i to i + 1; store.c
 * runs each missing step in its own transaction with the version bump, so
 * a crash mid-migration leaves the database at the previous version.
 * Released steps are never edited: a change to the schema is a new step
 * appended here (ALTER TABLE, CREATE INDEX, or a table rebuild), and
 * RP_STORE_SCHEMA_VERSION in store.h is raised to match. docs/store.md
 * describes the tables.
 *
 * Times are REAL seconds since the epoch (SQLite 3.40 has no
 * unixepoch('subsec'), hence the julianday arithmetic). Enumerations are
 * TEXT with CHECK constraints, so the database reads well in the sqlite3
 * shell and a bad value is refused, not stored.
 */
#include "store/store_int.h"

#define RP_NOW "((julianday('now') - 2440587.5) * 86400.0)"

const char *const rp__store_migrations[] = {
    /* 0 -> 1: the initial schema. */
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  started REAL NOT NULL DEFAULT " RP_NOW ","
    "  finished REAL,"
    "  config_hash TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'running'"
    "    CHECK (status IN ('running', 'done', 'failed', 'interrupted')));"

    /* One row per input path ever seen; the path is the key, the content
     * hash says whether it changed. */
    "CREATE TABLE documents ("
    "  id INTEGER PRIMARY KEY,"
    "  path TEXT NOT NULL UNIQUE,"
    "  content_hash TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  mtime INTEGER NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'failed', 'deleted')),"
    "  error TEXT,"
    "  first_seen_run INTEGER REFERENCES runs(id),"
    "  last_seen_run INTEGER REFERENCES runs(id));"
    "CREATE INDEX documents_status ON documents(status);"
    "CREATE INDEX documents_last_seen ON documents(last_seen_run);"

    /* A chunk's place is (document, index); chunk_id is its content hash,
     * which identical boilerplate in two documents shares. */
    "CREATE TABLE chunks ("
    "  document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL CHECK (idx >= 0),"
    "  chunk_id TEXT NOT NULL,"
    "  heading_path TEXT NOT NULL DEFAULT '',"
    "  tokens INTEGER NOT NULL,"
    "  complexity REAL NOT NULL,"
    "  text TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'failed')),"
    "  error TEXT,"
    "  PRIMARY KEY (document_id, idx)) WITHOUT ROWID;"
    "CREATE INDEX chunks_chunk_id ON chunks(chunk_id);"
    "CREATE INDEX chunks_failed ON chunks(status) WHERE status <> 'ok';"

    /* The generation cache. No foreign key to chunks on purpose: an entry
     * outlives its chunk, so text that comes back (a reverted edit, the
     * same boilerplate elsewhere) is a hit. The key parts are kept in full
     * so a 64-bit key collision is detected. */
    "CREATE TABLE generations ("
    "  key TEXT PRIMARY KEY,"
    "  chunk_id TEXT NOT NULL,"
    "  model TEXT NOT NULL,"
    "  prompt_version TEXT NOT NULL,"
    "  params TEXT NOT NULL,"
    "  output TEXT NOT NULL,"
    "  tier INTEGER NOT NULL,"
    "  n_prompt_tokens INTEGER NOT NULL,"
    "  n_gen_tokens INTEGER NOT NULL,"
    "  seconds REAL NOT NULL,"
    "  created REAL NOT NULL DEFAULT " RP_NOW ");"
    "CREATE INDEX generations_chunk ON generations(chunk_id);"

    /* Accepted pairs and rejects. seq is the output order (the rowid:
     * increasing with insertion); pair_id makes inserts idempotent. A
     * chunk that is replaced or trimmed takes its records with it. */
    "CREATE TABLE records ("
    "  seq INTEGER PRIMARY KEY,"
    "  pair_id TEXT NOT NULL UNIQUE,"
    "  run_id INTEGER REFERENCES runs(id),"
    "  document_id INTEGER NOT NULL,"
    "  chunk_index INTEGER NOT NULL,"
    "  chunk_id TEXT NOT NULL,"
    "  question TEXT,"
    "  answer TEXT,"
    "  type TEXT,"
    "  tier INTEGER NOT NULL,"
    "  model TEXT,"
    "  verdict TEXT NOT NULL CHECK (verdict IN ('accept', 'reject')),"
    "  score REAL NOT NULL,"
    "  quality TEXT,"
    "  reasons TEXT,"
    "  line TEXT,"
    "  written INTEGER NOT NULL DEFAULT 0 CHECK (written IN (0, 1)),"
    "  created REAL NOT NULL DEFAULT " RP_NOW ","
    "  FOREIGN KEY (document_id, chunk_index) REFERENCES chunks(document_id, idx)"
    "    ON DELETE CASCADE);"
    "CREATE INDEX records_chunk ON records(document_id, chunk_index);"
    "CREATE INDEX records_unwritten ON records(seq) WHERE written = 0;"

    /* Every attempt at a chunk with a tier: what adaptive routing fits its
     * pass-rate and cost curves to. Kept when chunks go (it is learning
     * data, not state), hence chunk_id without a foreign key. */
    "CREATE TABLE history ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER REFERENCES runs(id),"
    "  chunk_id TEXT NOT NULL,"
    "  attempt INTEGER NOT NULL,"
    "  complexity REAL NOT NULL,"
    "  features TEXT,"
    "  tier INTEGER NOT NULL,"
    "  model TEXT,"
    "  latency REAL NOT NULL,"
    "  n_prompt_tokens INTEGER NOT NULL,"
    "  n_gen_tokens INTEGER NOT NULL,"
    "  accepted INTEGER NOT NULL,"
    "  mean_quality REAL NOT NULL,"
    "  created REAL NOT NULL DEFAULT " RP_NOW ");"
    "CREATE INDEX history_tier ON history(tier, complexity);"
    "CREATE INDEX history_chunk ON history(chunk_id);",

    /* 1 -> 2: the output files, line by line, so that every one of them can
     * be rebuilt from the store (ranpipe export --rebuild). A run's lines
     * are committed with the records they come from; runs.outputs = 1 once
     * a run has written all of its lines, and the lines of every other run
     * are then dropped, so the store holds one complete set (plus the lines
     * of a run that was stopped after it). */
    "ALTER TABLE runs ADD COLUMN outputs INTEGER NOT NULL DEFAULT 0 CHECK (outputs IN (0, 1));"
    "CREATE TABLE output_lines ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  file TEXT NOT NULL CHECK (file IN ('dataset.jsonl', 'rejects.jsonl', 'chunks.jsonl',"
    "    'pending.jsonl', 'conflicts.jsonl')),"
    "  seq INTEGER NOT NULL CHECK (seq >= 0),"
    "  line TEXT NOT NULL,"
    "  PRIMARY KEY (run_id, file, seq)) WITHOUT ROWID;",
};

const int rp__store_n_migrations =
    (int)(sizeof rp__store_migrations / sizeof rp__store_migrations[0]);

_Static_assert(sizeof rp__store_migrations / sizeof rp__store_migrations[0] ==
                   RP_STORE_SCHEMA_VERSION,
               "RP_STORE_SCHEMA_VERSION must equal the number of migrations");
