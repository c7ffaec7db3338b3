/*
 * export.c - dataset.jsonl into trainer formats and document-level splits
 * (see include/ranpipe/export.h).
 *
 * The dataset is streamed one line at a time, so its size is bounded by the
 * disk, not memory: what is kept across lines is one 64-bit hash per
 * document (to count documents per split). Each line is parsed with
 * jansson, checked, and the output object is built from the parsed values
 * and dumped straight into a reused buffer. Output objects list their keys
 * in a fixed order, so the same input always gives the same bytes.
 */
#include "ranpipe/export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ranpipe/fs.h"
#include "ranpipe/hash.h"
#include "ranpipe/log.h"
#include "ranpipe/store.h"

/* Longest dataset line read; a longer one is reported and skipped. */
#define MAX_LINE (16u << 20)

static const char *const format_names[RP_EXPORT_FORMAT__COUNT] = {"messages", "sharegpt", "alpaca",
                                                                  "completions", "text"};
static const char *const split_names[RP_EXPORT_SPLIT__COUNT] = {"train", "valid", "test"};

struct rp_export_params rp_export_default_params(void)
{
    struct rp_export_params p = {
        .format = RP_EXPORT_FORMAT_MESSAGES,
        .split = {100, 0, 0},
        .keep_metadata = true,
    };
    return p;
}

const char *rp_export_format_name(enum rp_export_format f)
{
    return (unsigned)f < RP_EXPORT_FORMAT__COUNT ? format_names[f] : NULL;
}

bool rp_export_format_parse(const char *s, enum rp_export_format *out)
{
    for (int i = 0; i < RP_EXPORT_FORMAT__COUNT; i++) {
        if (strcmp(s, format_names[i]) == 0) {
            *out = (enum rp_export_format)i;
            return true;
        }
    }
    return false;
}

const char *rp_export_split_name(enum rp_export_split s)
{
    return (unsigned)s < RP_EXPORT_SPLIT__COUNT ? split_names[s] : NULL;
}

bool rp_export_split_parse(const char *s, unsigned pct[RP_EXPORT_SPLIT__COUNT])
{
    unsigned v[RP_EXPORT_SPLIT__COUNT];
    unsigned sum = 0;
    for (int i = 0; i < RP_EXPORT_SPLIT__COUNT; i++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned x = 0;
        for (int digits = 0; *s >= '0' && *s <= '9'; s++, digits++) {
            if (digits == 3)
                return false;
            x = x * 10 + (unsigned)(*s - '0');
        }
        if (x > 100)
            return false;
        v[i] = x;
        sum += x;
        if (i < RP_EXPORT_SPLIT__COUNT - 1 && *s++ != '/')
            return false;
    }
    if (*s || sum != 100)
        return false;
    memcpy(pct, v, sizeof(v));
    return true;
}

/* The top 53 bits of the document's seeded hash: its point times 2^53. */
static uint64_t split_bits(const char *source, uint64_t seed)
{
    return rp_hash64_seeded(source, strlen(source), seed) >> 11;
}

double rp_export_split_point(const char *source, uint64_t seed)
{
    return (double)split_bits(source, seed) * 0x1p-53;
}

enum rp_export_split rp_export_split_of(const unsigned pct[RP_EXPORT_SPLIT__COUNT],
                                        const char *source, uint64_t seed)
{
    /* point < T/100  <=>  bits * 100 < T * 2^53, exactly (no rounding). */
    uint64_t x = split_bits(source, seed) * 100;
    if (x < (uint64_t)pct[0] << 53)
        return RP_EXPORT_SPLIT_TRAIN;
    if (x < (uint64_t)(pct[0] + pct[1]) << 53)
        return RP_EXPORT_SPLIT_VALID;
    return RP_EXPORT_SPLIT_TEST;
}

/* ---- one line ---- */

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* The content of message m if it is {"role": role, "content": non-blank
 * text}; NULL with the reason in err otherwise. */
static json_t *message_content(json_t *m, size_t i, const char *role, const char *what,
                               struct rp_error *err)
{
    json_t *r = json_object_get(m, "role"), *c = json_object_get(m, "content");
    if (!json_is_object(m) || !json_is_string(r) || strcmp(json_string_value(r), role) != 0 ||
        !json_is_string(c)) {
        rp_error_set(err, RP_ERR_PARSE,
                     "messages[%zu] is not {\"role\":\"%s\",\"content\":TEXT} (the %s)", i, role,
                     what);
        return NULL;
    }
    if (blank(json_string_value(c), json_string_length(c))) {
        rp_error_set(err, RP_ERR_PARSE, "the %s (messages[%zu]) is empty", what, i);
        return NULL;
    }
    return c;
}

/* A JSON string of a, b and c (each with its length) joined; tmp is scratch. */
static json_t *joined(struct rp_buf *tmp, const char *a, size_t na, const char *b, size_t nb,
                      const char *c, size_t nc)
{
    rp_buf_reset(tmp);
    if (rp_buf_add(tmp, a, na) || rp_buf_add(tmp, b, nb) || rp_buf_add(tmp, c, nc))
        return NULL;
    return json_stringn(tmp->data, tmp->len);
}

static json_t *role_msg(const char *key_role, const char *role, const char *key_text, json_t *text)
{
    json_t *m = json_object();
    if (m && (json_object_set_new(m, key_role, json_string(role)) ||
              json_object_set(m, key_text, text))) {
        json_decref(m);
        return NULL;
    }
    return m;
}

/* The format's own keys for question q and answer a, set on o. sys is the
 * system prompt as a JSON string or NULL. false when out of memory. */
static bool render(const struct rp_export_params *p, json_t *o, json_t *sys, json_t *q, json_t *a,
                   struct rp_buf *tmp)
{
    const char *sv = sys ? json_string_value(sys) : "";
    size_t sn = sys ? json_string_length(sys) : 0;
    const char *sep = sys ? "\n\n" : "";
    size_t sepn = sys ? 2 : 0;
    json_t *arr;
    switch (p->format) {
    case RP_EXPORT_FORMAT_MESSAGES:
    case RP_EXPORT_FORMAT_SHAREGPT: {
        bool msgs = p->format == RP_EXPORT_FORMAT_MESSAGES;
        const char *kr = msgs ? "role" : "from", *kt = msgs ? "content" : "value";
        arr = json_array();
        if (!arr || json_object_set_new(o, msgs ? "messages" : "conversations", arr))
            return false;
        if (sys && json_array_append_new(arr, role_msg(kr, "system", kt, sys)))
            return false;
        return !json_array_append_new(arr, role_msg(kr, msgs ? "user" : "human", kt, q)) &&
               !json_array_append_new(arr, role_msg(kr, msgs ? "assistant" : "gpt", kt, a));
    }
    case RP_EXPORT_FORMAT_ALPACA:
        return !json_object_set(o, "instruction", q) &&
               !json_object_set_new(o, "input", json_string("")) &&
               !json_object_set(o, "output", a) && (!sys || !json_object_set(o, "system", sys));
    case RP_EXPORT_FORMAT_COMPLETIONS:
        return !json_object_set_new(
                   o, "prompt",
                   joined(tmp, sv, sn, sep, sepn, json_string_value(q), json_string_length(q))) &&
               !json_object_set(o, "completion", a);
    case RP_EXPORT_FORMAT_TEXT: {
        rp_buf_reset(tmp);
        if (rp_buf_add(tmp, sv, sn) || rp_buf_add(tmp, sep, sepn) ||
            rp_buf_adds(tmp, "Question: ") ||
            rp_buf_add(tmp, json_string_value(q), json_string_length(q)) ||
            rp_buf_adds(tmp, "\nAnswer: ") ||
            rp_buf_add(tmp, json_string_value(a), json_string_length(a)))
            return false;
        return !json_object_set_new(o, "text", json_stringn(tmp->data, tmp->len));
    }
    case RP_EXPORT_FORMAT__COUNT:
        break;
    }
    return false;
}

static int dump_to_buf(const char *buffer, size_t size, void *data)
{
    return rp_buf_add(data, buffer, size) ? -1 : 0;
}

enum rp_err rp_export_convert(const struct rp_export_params *p, const char *line, size_t n,
                              struct rp_buf *out, struct rp_buf *source, struct rp_error *err)
{
    if ((unsigned)p->format >= RP_EXPORT_FORMAT__COUNT)
        return rp_error_set(err, RP_ERR_INVAL, "unknown export format %d", (int)p->format);
    size_t out_len = out->len, source_len = source->len;
    enum rp_err rc = RP_OK;
    json_t *o = NULL, *sys = NULL;
    struct rp_buf tmp;
    rp_buf_init(&tmp, RP_BUF_NO_CAP);

    json_error_t je;
    json_t *in = json_loadb(line, n, 0, &je);
    if (!in) {
        rc = rp_error_set(err, RP_ERR_PARSE, "not valid JSON: %s (column %d)", je.text, je.column);
        goto out;
    }
    if (!json_is_object(in)) {
        rc = rp_error_set(err, RP_ERR_PARSE, "not a JSON object");
        goto out;
    }
    json_t *msgs = json_object_get(in, "messages");
    if (!json_is_array(msgs)) {
        rc = rp_error_set(err, RP_ERR_PARSE, "no \"messages\" array");
        goto out;
    }
    if (json_array_size(msgs) != 2) {
        rc = rp_error_set(err, RP_ERR_PARSE,
                          "\"messages\" holds %zu messages, not a user question and an "
                          "assistant answer",
                          json_array_size(msgs));
        goto out;
    }
    json_t *q = message_content(json_array_get(msgs, 0), 0, "user", "question", err);
    json_t *a = q ? message_content(json_array_get(msgs, 1), 1, "assistant", "answer", err) : NULL;
    if (!a) {
        rc = RP_ERR_PARSE;
        goto out;
    }
    json_t *meta = json_object_get(in, "metadata");
    json_t *src = json_object_get(meta, "source");
    if (!json_is_object(meta)) {
        rc = rp_error_set(err, RP_ERR_PARSE, "no \"metadata\" object");
        goto out;
    }
    if (!json_is_string(src) || json_string_length(src) == 0 ||
        strlen(json_string_value(src)) != json_string_length(src)) {
        rc = rp_error_set(err, RP_ERR_PARSE,
                          "no \"metadata.source\" text (the document the split goes by)");
        goto out;
    }
    json_t *id = json_object_get(in, "id");
    if (id && !json_is_string(id)) {
        rc = rp_error_set(err, RP_ERR_PARSE, "\"id\" is not a string");
        goto out;
    }
    if (p->system_prompt && *p->system_prompt) {
        sys = json_string(p->system_prompt);
        if (!sys) {
            rc = rp_error_set(err, RP_ERR_INVAL, "the system prompt is not valid UTF-8");
            goto out;
        }
    }

    o = json_object();
    if (!o || (p->keep_metadata && id && json_object_set(o, "id", id)) ||
        !render(p, o, sys, q, a, &tmp) ||
        (p->keep_metadata && json_object_set(o, "metadata", meta))) {
        rc = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (json_dump_callback(o, dump_to_buf, out, JSON_COMPACT) != 0) {
        rc = rp_error_set(err, RP_ERR_NOMEM, "cannot encode the %s line (out of memory)",
                          format_names[p->format]);
        goto out;
    }
    if (rp_buf_add(source, json_string_value(src), json_string_length(src)))
        rc = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
out:
    if (rc) {
        rp_buf_truncate(out, out_len);
        rp_buf_truncate(source, source_len);
    }
    rp_buf_release(&tmp);
    json_decref(o);
    json_decref(sys);
    json_decref(in);
    return rc;
}

/* ---- documents seen: an open-addressing set of 64-bit source hashes ---- */

struct doc_set {
    uint64_t *keys; /* 0: empty slot */
    size_t cap, n;  /* cap: a power of two */
};

/* 1 when key is new, 0 when it was there, -1 when out of memory. */
static int doc_set_add(struct doc_set *s, uint64_t key)
{
    if (key == 0)
        key = 1;
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint64_t *keys = calloc(cap, sizeof(*keys));
        if (!keys)
            return -1;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->keys[i])
                continue;
            size_t j = s->keys[i] & (cap - 1);
            while (keys[j])
                j = (j + 1) & (cap - 1);
            keys[j] = s->keys[i];
        }
        free(s->keys);
        s->keys = keys;
        s->cap = cap;
    }
    size_t j = key & (s->cap - 1);
    while (s->keys[j]) {
        if (s->keys[j] == key)
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->keys[j] = key;
    s->n++;
    return 1;
}

/* ---- the whole file ---- */

struct split_file {
    FILE *f;
    struct rp_buf partial, final;
};

static void default_bad_line(const char *path, size_t line, const char *reason, void *ud)
{
    (void)ud;
    rp_errorf("%s:%zu: %s", path, line, reason);
}

/* Sets *path to the dataset file that input names and *base to the
 * directory the default output goes under; *db to the store to read
 * instead when p->source says so (empty otherwise). */
static enum rp_err resolve_input(const char *input, const struct rp_export_params *p, struct rp_buf *path,
                                 struct rp_buf *base, struct rp_buf *db, struct rp_error *err)
{
    struct stat st;
    if (stat(input, &st) != 0)
        return rp_error_set(err, errno == ENOENT ? RP_ERR_NOENT : RP_ERR_IO, "cannot open '%s': %s",
                            input, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        if (rp_buf_addf(path, "%s/dataset.jsonl", input) || rp_buf_adds(base, input) ||
            rp_buf_addf(db, "%s/ranpipe.db", input))
            return rp_error_set(err, RP_ERR_TOOBIG, "path too long: '%s'", input);
        bool have_db = stat(db->data, &st) == 0;
        if (p->source == RP_EXPORT_SOURCE_FILE || (p->source == RP_EXPORT_SOURCE_AUTO && !have_db))
            rp_buf_reset(db);
        return RP_OK;
    }
    if (p->source == RP_EXPORT_SOURCE_STORE)
        return rp_error_set(err, RP_ERR_INVAL,
                            "'%s' is a file: exporting from the store needs the run's output directory",
                            input);
    const char *slash = strrchr(input, '/');
    if (rp_buf_adds(path, input) ||
        (slash ? rp_buf_add(base, input, slash == input ? 1 : (size_t)(slash - input))
               : rp_buf_adds(base, ".")))
        return rp_error_set(err, RP_ERR_TOOBIG, "path too long: '%s'", input);
    return RP_OK;
}

/* One export in progress: where each line goes and what was counted. */
struct export_ctx {
    const struct rp_export_params *p;
    struct rp_export_summary *sum;
    struct split_file *files;
    struct doc_set docs;
    struct rp_buf out, source;
    rp_export_bad_line_fn bad;
    const char *label; /* the input as bad lines name it */
    enum rp_err rc;    /* a failure that stops the export (with err) */
    struct rp_error *err;
};

/* Converts one dataset line and writes it to its split. A line that cannot
 * be converted is reported and skipped; any other failure is returned. */
static enum rp_err export_line(struct export_ctx *x, const char *line, size_t n)
{
    struct rp_export_summary *sum = x->sum;
    sum->lines++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (blank(line, n))
        return RP_OK;
    struct rp_error lerr;
    rp_error_clear(&lerr);
    rp_buf_reset(&x->out);
    rp_buf_reset(&x->source);
    enum rp_err lrc = n > MAX_LINE ? rp_error_set(&lerr, RP_ERR_PARSE, "line longer than %u MiB", MAX_LINE >> 20)
                                   : rp_export_convert(x->p, line, n, &x->out, &x->source, &lerr);
    if (lrc == RP_ERR_PARSE) {
        sum->bad_lines++;
        x->bad(x->label, sum->lines, lerr.msg, x->p->ud);
        return RP_OK;
    }
    if (lrc)
        return rp_error_set(x->err, lrc, "%s:%zu: %s", x->label, sum->lines, lerr.msg);
    enum rp_export_split s = rp_export_split_of(x->p->split, x->source.data, x->p->seed);
    FILE *f = x->files[s].f;
    if (fwrite(x->out.data, 1, x->out.len, f) != x->out.len || fputc('\n', f) == EOF)
        return rp_error_set(x->err, RP_ERR_IO, "cannot write '%s': %s", x->files[s].partial.data,
                            strerror(errno));
    sum->pairs++;
    sum->split_pairs[s]++;
    int added = doc_set_add(&x->docs, rp_hash64(x->source.data, x->source.len));
    if (added < 0)
        return rp_error_set(x->err, RP_ERR_NOMEM, "out of memory");
    sum->docs += (size_t)added;
    sum->split_docs[s] += (size_t)added;
    return RP_OK;
}

static int export_stored_line(const char *line, size_t len, void *ud)
{
    struct export_ctx *x = ud;
    x->rc = export_line(x, line, len);
    return x->rc != RP_OK;
}

/* Opens the existing store at db and finds the run whose lines rebuild the
 * outputs (see rp_store_output_run()). On failure *st may still need
 * closing. */
static enum rp_err open_output_run(const char *db, bool unfinished, struct rp_store **st, int64_t *run_id,
                                   bool *complete, struct rp_error *err)
{
    struct rp_store_params sp = rp_store_default_params();
    sp.create = false;
    enum rp_err rc = rp_store_open(db, &sp, st, err);
    return rc ? rc : rp_store_output_run(*st, unfinished, run_id, complete, err);
}

/* Feeds the dataset lines of the store at db (its last complete run) to
 * x. */
static enum rp_err export_from_store(struct export_ctx *x, const char *db, struct rp_error *err)
{
    struct rp_store *st = NULL;
    int64_t run_id = 0;
    bool complete = false;
    enum rp_err rc = open_output_run(db, false, &st, &run_id, &complete, err);
    if (!rc) {
        snprintf(x->sum->from, sizeof(x->sum->from), "%s (run %lld)", db, (long long)run_id);
        rc = rp_store_output_foreach(st, run_id, "dataset.jsonl", export_stored_line, x, err);
        if (rc == RP_ERR_CANCELLED && x->rc)
            rc = x->rc; /* err already says why */
    }
    rp_store_close(st);
    return rc;
}

enum rp_err rp_export_run(const char *input, const struct rp_export_params *p,
                          struct rp_export_summary *sum, struct rp_error *err)
{
    memset(sum, 0, sizeof(*sum));
    rp_error_clear(err);
    if ((unsigned)p->format >= RP_EXPORT_FORMAT__COUNT)
        return rp_error_set(err, RP_ERR_INVAL, "unknown export format %d", (int)p->format);
    if (p->split[0] > 100 || p->split[1] > 100 || p->split[2] > 100 ||
        p->split[0] + p->split[1] + p->split[2] != 100)
        return rp_error_set(err, RP_ERR_INVAL, "split %u/%u/%u does not add up to 100", p->split[0],
                            p->split[1], p->split[2]);
    if (p->system_prompt && *p->system_prompt) {
        json_t *s = json_string(p->system_prompt);
        if (!s)
            return rp_error_set(err, RP_ERR_INVAL, "the system prompt is not valid UTF-8");
        json_decref(s);
    }

    enum rp_err rc = RP_OK;
    struct rp_buf path, base, db;
    rp_buf_init(&path, 4096);
    rp_buf_init(&base, 4096);
    rp_buf_init(&db, 4096);
    struct split_file files[RP_EXPORT_SPLIT__COUNT];
    for (int i = 0; i < RP_EXPORT_SPLIT__COUNT; i++) {
        files[i].f = NULL;
        rp_buf_init(&files[i].partial, 4096);
        rp_buf_init(&files[i].final, 4096);
    }
    struct export_ctx x = {.p = p, .sum = sum, .files = files, .err = err,
                           .bad = p->on_bad_line ? p->on_bad_line : default_bad_line};
    rp_buf_init(&x.out, RP_BUF_NO_CAP);
    rp_buf_init(&x.source, RP_BUF_NO_CAP);
    FILE *in = NULL;
    char *line = NULL;
    size_t line_cap = 0;

    if ((rc = resolve_input(input, p, &path, &base, &db, err)))
        goto out;
    if (!db.len) {
        in = fopen(path.data, "r");
        if (!in) {
            rc = rp_error_set(err, errno == ENOENT ? RP_ERR_NOENT : RP_ERR_IO, "cannot open '%s': %s",
                              path.data, strerror(errno));
            goto out;
        }
        snprintf(sum->from, sizeof(sum->from), "%s", path.data);
    }
    x.label = db.len ? db.data : path.data;
    int w = p->out_dir ? snprintf(sum->dir, sizeof(sum->dir), "%s", p->out_dir)
                       : snprintf(sum->dir, sizeof(sum->dir), "%s/export-%s", base.data,
                                  format_names[p->format]);
    if (w < 0 || (size_t)w >= sizeof(sum->dir)) {
        rc = rp_error_set(err, RP_ERR_TOOBIG, "output path too long: '%s'", sum->dir);
        goto out;
    }
    if ((rc = rp_fs_mkdir_p(sum->dir, err)))
        goto out;
    for (int i = 0; i < RP_EXPORT_SPLIT__COUNT; i++) {
        if (rp_buf_addf(&files[i].final, "%s/%s.jsonl", sum->dir, split_names[i]) ||
            rp_buf_addf(&files[i].partial, "%s.partial", files[i].final.data)) {
            rc = rp_error_set(err, RP_ERR_TOOBIG, "output path too long: '%s'", sum->dir);
            goto out;
        }
        if (p->split[i] == 0)
            continue;
        files[i].f = fopen(files[i].partial.data, "w");
        if (!files[i].f) {
            rc = rp_error_set(err, RP_ERR_IO, "cannot create '%s': %s", files[i].partial.data,
                              strerror(errno));
            goto out;
        }
    }

    if (db.len) {
        if ((rc = export_from_store(&x, db.data, err)))
            goto out;
    } else {
        ssize_t got;
        errno = 0;
        while ((got = getline(&line, &line_cap, in)) != -1)
            if ((rc = export_line(&x, line, (size_t)got)))
                goto out;
        if (ferror(in)) {
            rc = rp_error_set(err, RP_ERR_IO, "cannot read '%s': %s", path.data, strerror(errno));
            goto out;
        }
    }

    /* Every file complete on disk before any is renamed into place. */
    for (int i = 0; i < RP_EXPORT_SPLIT__COUNT; i++) {
        if (!files[i].f)
            continue;
        int bad_close = fflush(files[i].f) != 0 || fsync(fileno(files[i].f)) != 0;
        bad_close |= fclose(files[i].f) != 0;
        files[i].f = NULL;
        if (bad_close) {
            rc = rp_error_set(err, RP_ERR_IO, "cannot write '%s': %s", files[i].partial.data,
                              strerror(errno));
            goto out;
        }
    }
    for (int i = 0; i < RP_EXPORT_SPLIT__COUNT; i++) {
        if (p->split[i] == 0) {
            /* A stale split from an earlier export would be read with this one. */
            if (unlink(files[i].final.data) != 0 && errno != ENOENT) {
                rc = rp_error_set(err, RP_ERR_IO, "cannot remove the stale '%s': %s",
                                  files[i].final.data, strerror(errno));
                goto out;
            }
            continue;
        }
        if (rename(files[i].partial.data, files[i].final.data) != 0) {
            rc = rp_error_set(err, RP_ERR_IO, "cannot rename '%s' to '%s': %s",
                              files[i].partial.data, files[i].final.data, strerror(errno));
            goto out;
        }
        sum->written[i] = true;
    }
out:
    for (int i = 0; i < RP_EXPORT_SPLIT__COUNT; i++) {
        if (files[i].f)
            fclose(files[i].f);
        if (rc && p->split[i] && !sum->written[i] && files[i].partial.len)
            unlink(files[i].partial.data);
        rp_buf_release(&files[i].partial);
        rp_buf_release(&files[i].final);
    }
    if (in)
        fclose(in);
    free(line);
    free(x.docs.keys);
    rp_buf_release(&path);
    rp_buf_release(&base);
    rp_buf_release(&db);
    rp_buf_release(&x.out);
    rp_buf_release(&x.source);
    return rc;
}

/* ---- rebuilding a run's own files from its store ---- */

struct rebuild_file {
    FILE *f;
    const char *path;
    size_t lines;
    int err_no;
};

static int rebuild_line(const char *line, size_t len, void *ud)
{
    struct rebuild_file *rf = ud;
    if (fwrite(line, 1, len, rf->f) != len || fputc('\n', rf->f) == EOF) {
        rf->err_no = errno;
        return 1;
    }
    rf->lines++;
    return 0;
}

enum rp_err rp_export_rebuild(const char *out_dir, bool unfinished, struct rp_export_rebuild_summary *sum,
                              struct rp_error *err)
{
    memset(sum, 0, sizeof(*sum));
    rp_error_clear(err);
    enum { N = sizeof(rp_store_output_files) / sizeof(rp_store_output_files[0]) };
    _Static_assert(N == RP_EXPORT_REBUILD_FILES, "one count per output file");
    char db[4096], partial[N][4200], final[N][4200];
    if ((size_t)snprintf(db, sizeof(db), "%s/ranpipe.db", out_dir) >= sizeof(db))
        return rp_error_set(err, RP_ERR_TOOBIG, "path too long: '%s'", out_dir);
    struct stat st;
    if (stat(db, &st) != 0)
        return rp_error_set(err, errno == ENOENT ? RP_ERR_NOENT : RP_ERR_IO,
                            "cannot open '%s': %s (is '%s' the output directory of a run?)", db, strerror(errno),
                            out_dir);
    struct rp_store *s = NULL;
    enum rp_err rc = open_output_run(db, unfinished, &s, &sum->run_id, &sum->complete, err);
    size_t n_open = 0;
    for (size_t i = 0; !rc && i < N; i++) {
        snprintf(final[i], sizeof(final[i]), "%s/%s", out_dir, rp_store_output_files[i]);
        snprintf(partial[i], sizeof(partial[i]), "%s.partial", final[i]);
        struct rebuild_file rf = {.f = fopen(partial[i], "w"), .path = partial[i]};
        if (!rf.f) {
            rc = rp_error_set(err, RP_ERR_IO, "cannot create '%s': %s", partial[i], strerror(errno));
            break;
        }
        n_open = i + 1;
        rc = rp_store_output_foreach(s, sum->run_id, rp_store_output_files[i], rebuild_line, &rf, err);
        if (rc == RP_ERR_CANCELLED && rf.err_no)
            rc = rp_error_set(err, RP_ERR_IO, "cannot write '%s': %s", partial[i], strerror(rf.err_no));
        int bad = fflush(rf.f) != 0 || fsync(fileno(rf.f)) != 0;
        bad |= fclose(rf.f) != 0;
        if (!rc && bad)
            rc = rp_error_set(err, RP_ERR_IO, "cannot write '%s': %s", partial[i], strerror(errno));
        sum->lines[i] = rf.lines;
    }
    rp_store_close(s);
    /* Every file complete on disk before any is renamed into place. */
    for (size_t i = 0; !rc && i < N; i++)
        if (rename(partial[i], final[i]) != 0)
            rc = rp_error_set(err, RP_ERR_IO, "cannot rename '%s' to '%s': %s", partial[i], final[i],
                              strerror(errno));
    if (rc)
        for (size_t i = 0; i < n_open; i++)
            unlink(partial[i]);
    return rc;
}
