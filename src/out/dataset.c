/*
 * dataset.c - output files (see include/ranpipe/dataset.h).
 */
#include "ranpipe/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ranpipe/assess.h"
#include "ranpipe/buf.h"
#include "ranpipe/entities.h"
#include "ranpipe/fs.h"
#include "ranpipe/hash.h"
#include "ranpipe/prompt.h"
#include "ranpipe/utf8.h"

enum { F_DATASET, F_REJECTS, F_CHUNKS, F_PENDING, F__COUNT };
static const char *const file_names[F__COUNT] = {"dataset.jsonl", "rejects.jsonl", "chunks.jsonl",
                                                 "pending.jsonl"};

struct rp_dataset {
    char *dir;
    FILE *f[F__COUNT];
    size_t n_lines[F__COUNT];
    size_t n_pairs, n_rejects, n_pending;
    rp_dataset_line_fn on_line;
    void *on_line_ud;
};

void rp_dataset_on_line(struct rp_dataset *ds, rp_dataset_line_fn fn, void *ud)
{
    ds->on_line = fn;
    ds->on_line_ud = ud;
}

static enum rp_err path_of(const struct rp_dataset *ds, int i, const char *suffix, struct rp_buf *out)
{
    return rp_buf_addf(out, "%s/%s%s", ds->dir, file_names[i], suffix);
}

struct rp_dataset *rp_dataset_open(const char *out_dir, struct rp_error *err)
{
    if (rp_fs_mkdir_p(out_dir, err))
        return NULL;
    struct rp_dataset *ds = calloc(1, sizeof(*ds));
    if (!ds) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    ds->dir = strdup(out_dir);
    struct rp_buf p;
    rp_buf_init(&p, 8192);
    for (int i = 0; i < F__COUNT && ds->dir; i++) {
        rp_buf_reset(&p);
        if (path_of(ds, i, ".partial", &p)) {
            rp_error_set(err, RP_ERR_TOOBIG, "output path too long: '%s'", out_dir);
            goto fail;
        }
        ds->f[i] = fopen(p.data, "w");
        if (!ds->f[i]) {
            rp_error_set(err, RP_ERR_IO, "cannot create '%s': %s", p.data, strerror(errno));
            goto fail;
        }
    }
    if (!ds->dir) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    rp_buf_release(&p);
    return ds;
fail:
    rp_buf_release(&p);
    rp_dataset_free(ds);
    return NULL;
}

void rp_dataset_free(struct rp_dataset *ds)
{
    if (!ds)
        return;
    struct rp_buf p;
    rp_buf_init(&p, 8192);
    for (int i = 0; i < F__COUNT; i++) {
        if (!ds->f[i])
            continue;
        fclose(ds->f[i]);
        rp_buf_reset(&p);
        if (ds->dir && !path_of(ds, i, ".partial", &p))
            unlink(p.data);
    }
    rp_buf_release(&p);
    free(ds->dir);
    free(ds);
}

json_t *rp_json_text(const char *s)
{
    if (!s)
        s = "";
    json_t *j = json_string(s);
    if (j)
        return j;
    struct rp_buf b;
    rp_buf_init(&b, RP_BUF_NO_CAP);
    if (rp_utf8_repair(s, strlen(s), &b) == RP_OK)
        j = json_string(b.data);
    rp_buf_release(&b);
    return j;
}

static json_t *origin_json(const struct rp_origin *o)
{
    char chunk_id[17];
    rp_hash_hex(o->chunk_hash, chunk_id);
    json_t *m = json_object();
    json_object_set_new(m, "source", rp_json_text(o->source ? o->source : ""));
    if (o->title)
        json_object_set_new(m, "title", rp_json_text(o->title));
    json_object_set_new(m, "section", rp_json_text(o->section ? o->section : ""));
    json_object_set_new(m, "chunk", json_integer((json_int_t)o->chunk_index));
    json_object_set_new(m, "chunk_id", json_string(chunk_id));
    if (o->tier)
        json_object_set_new(m, "tier", json_string(o->tier));
    if (o->complexity >= 0)
        json_object_set_new(m, "complexity", json_real(round((double)o->complexity * 1000) / 1000));
    return m;
}

static enum rp_err write_line(struct rp_dataset *ds, int f, json_t *obj, struct rp_error *err)
{
    enum rp_err rc = RP_OK;
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    if (!s) {
        rc = rp_error_set(err, RP_ERR_NOMEM, "cannot encode a record for %s (invalid text?)",
                          file_names[f]);
    } else if (ds->on_line &&
               (rc = ds->on_line(file_names[f], ds->n_lines[f], s, strlen(s), ds->on_line_ud, err)) != RP_OK) {
        /* not written: the file and the store keep the same lines */
    } else if (fputs(s, ds->f[f]) == EOF || fputc('\n', ds->f[f]) == EOF) {
        rc = rp_error_set(err, RP_ERR_IO, "cannot write '%s/%s.partial': %s", ds->dir, file_names[f],
                          strerror(errno));
    } else {
        ds->n_lines[f]++;
    }
    free(s);
    json_decref(obj);
    return rc;
}

enum rp_err rp_dataset_add_chunk(struct rp_dataset *ds, const struct rp_origin *o, const char *text,
                                 size_t n_tokens, struct rp_error *err)
{
    json_t *c = origin_json(o);
    json_object_set_new(c, "tokens", json_integer((json_int_t)n_tokens));
    json_object_set_new(c, "text", rp_json_text(text));
    return write_line(ds, F_CHUNKS, c, err);
}

void rp_dataset_pair_id(const struct rp_origin *o, size_t pair_index, const char *question, char id[17])
{
    uint64_t h = rp_hash64_seeded(&pair_index, sizeof(pair_index), o->chunk_hash);
    if (o->model)
        h = rp_hash64_seeded(o->model, strlen(o->model), h);
    h = rp_hash64_seeded(question, strlen(question), h);
    rp_hash_hex(h, id);
}

struct entity_acc {
    json_t *list;
    json_t *seen; /* "type:text" keys already listed */
};

static void add_entity(const struct rp_entity *e, void *ud)
{
    struct entity_acc *a = ud;
    char key[200];
    snprintf(key, sizeof(key), "%s:%s", rp_entity_type_name(e->type), e->norm);
    if (json_object_get(a->seen, key) || json_array_size(a->list) >= 64)
        return;
    json_object_set_new(a->seen, key, json_true());
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(rp_entity_type_name(e->type)));
    json_object_set_new(o, "text", rp_json_text(e->norm));
    json_array_append_new(a->list, o);
}

/* The RAN entities named in the question and the answer, each once. */
static json_t *entities_json(const char *question, const char *answer)
{
    struct entity_acc a = {json_array(), json_object()};
    rp_entities_find(question, strlen(question), add_entity, &a);
    rp_entities_find(answer, strlen(answer), add_entity, &a);
    json_decref(a.seen);
    return a.list;
}

enum rp_err rp_dataset_add_pair(struct rp_dataset *ds, const struct rp_origin *o, size_t pair_index,
                                const char *question, const char *answer, const char *type,
                                struct rp_error *err)
{
    char id[17];
    rp_dataset_pair_id(o, pair_index, question, id);

    json_t *rec = json_object();
    json_object_set_new(rec, "id", json_string(id));
    json_t *msgs = json_array();
    json_array_append_new(msgs, json_pack("{s:s,s:o}", "role", "user", "content", rp_json_text(question)));
    json_array_append_new(msgs, json_pack("{s:s,s:o}", "role", "assistant", "content", rp_json_text(answer)));
    json_object_set_new(rec, "messages", msgs);
    json_t *meta = origin_json(o);
    json_object_set_new(meta, "type", rp_json_text(type));
    if (o->model)
        json_object_set_new(meta, "model", rp_json_text(o->model));
    if (o->rule) {
        json_object_set_new(meta, "rule", json_string(o->rule));
        if (o->evidence)
            json_object_set_new(meta, "evidence", rp_json_text(o->evidence));
    } else {
        json_object_set_new(meta, "prompt", json_string(o->prompt_version ? o->prompt_version
                                                                            : RP_PROMPT_VERSION));
        char seed[17];
        rp_hash_hex(o->seed, seed);
        json_object_set_new(meta, "seed", json_string(seed));
    }
    if (o->quality)
        json_object_set_new(meta, "quality", rp_quality_to_json(o->quality));
    json_object_set_new(meta, "entities", entities_json(question, answer));
    json_object_set_new(rec, "metadata", meta);
    enum rp_err rc = write_line(ds, F_DATASET, rec, err);
    if (!rc)
        ds->n_pairs++;
    return rc;
}

enum rp_err rp_dataset_add_reject(struct rp_dataset *ds, const struct rp_origin *o, const char *stage,
                                  const char *reason, const char *question, const char *answer,
                                  const char *raw, struct rp_error *err)
{
    json_t *rec = json_object();
    json_object_set_new(rec, "stage", json_string(stage));
    json_object_set_new(rec, "reason", rp_json_text(reason));
    if (question)
        json_object_set_new(rec, "question", rp_json_text(question));
    if (answer)
        json_object_set_new(rec, "answer", rp_json_text(answer));
    if (raw)
        json_object_set_new(rec, "raw", rp_json_text(raw));
    if (o->quality)
        json_object_set_new(rec, "quality", rp_quality_to_json(o->quality));
    json_t *meta = origin_json(o);
    if (o->model)
        json_object_set_new(meta, "model", rp_json_text(o->model));
    json_object_set_new(rec, "metadata", meta);
    enum rp_err rc = write_line(ds, F_REJECTS, rec, err);
    if (!rc)
        ds->n_rejects++;
    return rc;
}

enum rp_err rp_dataset_add_pending(struct rp_dataset *ds, const struct rp_origin *o, const char *reason,
                                   struct rp_error *err)
{
    json_t *rec = origin_json(o);
    json_object_set_new(rec, "reason", rp_json_text(reason));
    enum rp_err rc = write_line(ds, F_PENDING, rec, err);
    if (!rc)
        ds->n_pending++;
    return rc;
}

size_t rp_dataset_n_pending(const struct rp_dataset *ds)
{
    return ds->n_pending;
}

enum rp_err rp_dataset_commit(struct rp_dataset *ds, struct rp_error *err)
{
    struct rp_buf from, to;
    rp_buf_init(&from, 8192);
    rp_buf_init(&to, 8192);
    enum rp_err rc = RP_OK;
    for (int i = 0; i < F__COUNT && !rc; i++) {
        if (!ds->f[i])
            continue;
        rp_buf_reset(&from);
        rp_buf_reset(&to);
        path_of(ds, i, ".partial", &from);
        path_of(ds, i, "", &to);
        if (fflush(ds->f[i]) != 0 || fsync(fileno(ds->f[i])) != 0) {
            rc = rp_error_set(err, RP_ERR_IO, "cannot write '%s': %s", from.data, strerror(errno));
            break;
        }
        fclose(ds->f[i]);
        ds->f[i] = NULL;
        if (rename(from.data, to.data) != 0)
            rc = rp_error_set(err, RP_ERR_IO, "cannot rename '%s' to '%s': %s", from.data, to.data,
                              strerror(errno));
    }
    rp_buf_release(&from);
    rp_buf_release(&to);
    return rc;
}

size_t rp_dataset_n_pairs(const struct rp_dataset *ds)
{
    return ds->n_pairs;
}

size_t rp_dataset_n_rejects(const struct rp_dataset *ds)
{
    return ds->n_rejects;
}
