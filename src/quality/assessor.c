/*
 * assessor.c - scorer + embeddings + judge + near-duplicates + consistency
 * claims, one record at a time (see include/ranpipe/assess.h).
 *
 * Consistency claims: in an accepted answer, a sentence that names exactly
 * one identifier and says "default" gives the claim (identifier, default,
 * the first number after the word, else the last one before it); one that
 * says "range" gives (identifier, range, the first two numbers after the
 * word that are not the default, else the last two before it). A sentence
 * may give both. The identifier is keyed by its last dotted part
 * lower-cased, so EUtranCellFDD.qRxLevMin and qRxLevMin meet. Two accepted
 * records that claim different values for the same key are a conflict.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "quality/text_int.h"
#include "ranpipe/assess.h"
#include "ranpipe/buf.h"
#include "ranpipe/dedup.h"
#include "ranpipe/embed.h"

struct claim_value {
    char *value, *id, *source;
};

struct claim {
    uint64_t key;
    char *ident;
    const char *attr; /* static */
    struct claim_value v[8];
    size_t n;
    bool conflict;
};

struct rp_assessor {
    struct rp_assess_params p;
    struct rp_dedup *dq, *dqa; /* questions; question + answer */
    char **ids;                /* id of each record the dedup indexes hold, by record number */
    size_t n_ids, cap_ids;
    size_t id_bytes;
    uint32_t *map_q, *map_qa; /* dedup record number -> ids[] index */
    size_t n_map_q, cap_map_q, n_map_qa, cap_map_qa;
    uint64_t *key_q, *key_qa; /* names_key() of each indexed record */
    size_t n_key_q, cap_key_q, n_key_qa, cap_key_qa;
    struct claim *claims;
    size_t n_claims, cap_claims;
    size_t claim_bytes;
    struct rp_assess_stats st;
    struct rp_buf *scratch;
};

struct rp_assess_params rp_assess_default_params(void)
{
    struct rp_assess_params p = {
        .quality = rp_quality_default_params(),
        .dedup = true,
        .dedup_threshold = 0.8,
        .dedup_pair_threshold = 0.55,
        .expected_records = 100000,
    };
    return p;
}

struct rp_assessor *rp_assessor_new(const struct rp_assess_params *p, struct rp_error *err)
{
    struct rp_assessor *a = calloc(1, sizeof *a);
    if (!a) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    a->p = *p;
    if (p->dedup) {
        struct rp_dedup_params dp = rp_dedup_default_params();
        dp.threshold = p->dedup_threshold;
        a->dq = rp_dedup_new(&dp, p->expected_records, err);
        dp.threshold = p->dedup_pair_threshold;
        if (a->dq)
            a->dqa = rp_dedup_new(&dp, p->expected_records, err);
        if (!a->dq || !a->dqa) {
            rp_assessor_free(a);
            return NULL;
        }
    }
    return a;
}

void rp_assessor_free(struct rp_assessor *a)
{
    if (!a)
        return;
    rp_dedup_free(a->dq);
    rp_dedup_free(a->dqa);
    for (size_t i = 0; i < a->n_ids; i++)
        free(a->ids[i]);
    free(a->ids);
    free(a->map_q);
    free(a->map_qa);
    free(a->key_q);
    free(a->key_qa);
    for (size_t i = 0; i < a->n_claims; i++) {
        free(a->claims[i].ident);
        for (size_t k = 0; k < a->claims[i].n; k++) {
            free(a->claims[i].v[k].value);
            free(a->claims[i].v[k].id);
            free(a->claims[i].v[k].source);
        }
    }
    free(a->claims);
    free(a);
}

static char *dup_or(const char *s, const char *fallback)
{
    return strdup(s ? s : fallback);
}

/* ---- consistency claims ------------------------------------------------ */

static struct claim *claim_find(struct rp_assessor *a, uint64_t key, const char *attr)
{
    for (size_t i = 0; i < a->n_claims; i++)
        if (a->claims[i].key == key && a->claims[i].attr == attr)
            return &a->claims[i];
    return NULL;
}

/* A linear table is enough for the claims of a dataset's parameters (a few
 * thousand keys); a hash index would replace claim_find() beyond that. */
static enum rp_err claim_add(struct rp_assessor *a, const char *ident, size_t ilen, const char *attr,
                             const char *value, const char *id, const char *source)
{
    char lw[128];
    size_t m = rp__lower(ident, ilen, lw, sizeof lw);
    uint64_t key = rp__word_hash(lw, m);
    struct claim *c = claim_find(a, key, attr);
    if (!c) {
        if (a->n_claims == a->cap_claims) {
            size_t cap = a->cap_claims ? a->cap_claims * 2 : 64;
            struct claim *p = realloc(a->claims, cap * sizeof *p);
            if (!p)
                return RP_ERR_NOMEM;
            a->claims = p;
            a->cap_claims = cap;
        }
        c = &a->claims[a->n_claims];
        memset(c, 0, sizeof *c);
        c->key = key;
        c->attr = attr;
        c->ident = strndup(ident, ilen);
        if (!c->ident)
            return RP_ERR_NOMEM;
        a->n_claims++;
        a->claim_bytes += sizeof *c + ilen + 1;
    }
    for (size_t k = 0; k < c->n; k++)
        if (strcmp(c->v[k].value, value) == 0)
            return RP_ERR_OK;
    if (c->n == sizeof c->v / sizeof c->v[0])
        return RP_ERR_OK;
    struct claim_value *v = &c->v[c->n];
    v->value = strdup(value);
    v->id = dup_or(id, "");
    v->source = dup_or(source, "");
    if (!v->value || !v->id || !v->source)
        return RP_ERR_NOMEM;
    a->claim_bytes += strlen(value) + strlen(v->id) + strlen(v->source) + 3;
    c->n++;
    if (c->n == 2) {
        c->conflict = true;
        a->st.conflicts++;
    }
    return RP_ERR_OK;
}

static bool word_is(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    if (n < k)
        return false;
    for (size_t i = 0; i < k; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != w[i])
            return false;
    }
    return n == k || (n == k + 1 && s[k] == 's');
}

static enum rp_err extract_claims(struct rp_assessor *a, const char *ans, const char *id, const char *source)
{
    size_t n = strlen(ans);
    size_t a0 = 0;
    for (size_t i = 0; i <= n; i++) {
        bool end = i == n || ans[i] == '\n' || ((ans[i] == '.' || ans[i] == ';') && (i + 1 == n || ans[i + 1] == ' '));
        if (!end)
            continue;
        const char *s = ans + a0;
        size_t sn = i - a0;
        a0 = i + 1;
        size_t pos = 0, n_ident = 0, n_num = 0;
        struct rp__tok t;
        size_t id_s = 0, id_e = 0;
        /* The sentence's numbers, and how many of them came before the
         * first "default" and the first "range" (SIZE_MAX: no such word). */
        char nums[8][64];
        size_t default_at = SIZE_MAX, range_at = SIZE_MAX;
        while (rp__tok_next(s, sn, &pos, &t)) {
            size_t len = t.end - t.start;
            const char *raw = s + t.start;
            if (word_is(raw, len, "default")) {
                if (default_at == SIZE_MAX)
                    default_at = n_num;
                continue;
            }
            if (word_is(raw, len, "range") && range_at == SIZE_MAX)
                range_at = n_num;
            enum rp__tok_kind k = rp__classify(raw, len);
            if (k == RP__TK_IDENT) {
                n_ident++;
                id_s = t.start;
                id_e = t.end;
            } else if (k == RP__TK_NUMBER && n_num < sizeof nums / sizeof nums[0]) {
                if (rp__number_canon(raw, len, t.neg, nums[n_num], sizeof nums[n_num]))
                    n_num++;
            }
        }
        if (n_ident != 1 || n_num == 0)
            continue;
        /* Key on the attribute: the last dotted part. */
        const char *ident = s + id_s;
        size_t ilen = id_e - id_s;
        for (size_t k = ilen; k > 0; k--)
            if (ident[k - 1] == '.') {
                ident += k;
                ilen -= k;
                break;
            }
        /* The default: the first number after the word, else the last one
         * before it ("-140 dBm by default"). */
        size_t def = SIZE_MAX;
        if (default_at != SIZE_MAX)
            def = default_at < n_num ? default_at : n_num - 1;
        /* The range: the first two numbers after the word that are not the
         * default, else the last two before it ("-156..-44 is the range"). */
        size_t r[2], nr = 0;
        if (range_at != SIZE_MAX) {
            for (size_t k = range_at; k < n_num && nr < 2; k++)
                if (k != def)
                    r[nr++] = k;
            if (nr < 2) {
                nr = 0;
                for (size_t k = range_at; k > 0 && nr < 2; k--)
                    if (k - 1 != def)
                        r[nr++] = k - 1;
                if (nr == 2) {
                    size_t x = r[0];
                    r[0] = r[1];
                    r[1] = x;
                }
            }
        }
        enum rp_err rc = RP_ERR_OK;
        if (nr == 2) {
            char v[132];
            snprintf(v, sizeof v, "%s..%s", nums[r[0]], nums[r[1]]);
            rc = claim_add(a, ident, ilen, "range", v, id, source);
        }
        if (rc == RP_ERR_OK && def != SIZE_MAX)
            rc = claim_add(a, ident, ilen, "default", nums[def], id, source);
        if (rc != RP_ERR_OK)
            return rc;
    }
    return RP_ERR_OK;
}

/* ---- checking ---------------------------------------------------------- */

static enum rp_err semantic(struct rp_assessor *a, const struct rp_assess_item *it, struct rp_quality_extra *x,
                            struct rp_error *err)
{
    struct rp_embedder *e = a->p.embedder;
    int dim = rp_embedder_dim(e);
    float *v = malloc(3 * (size_t)dim * sizeof *v);
    if (!v)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    const char *texts[3] = {it->context ? it->context : "", it->question ? it->question : "",
                            it->answer ? it->answer : ""};
    size_t lens[3] = {strlen(texts[0]), strlen(texts[1]), strlen(texts[2])};
    enum rp_err rc = rp_embed_batch(e, texts, lens, 3, v, err);
    if (rc == RP_ERR_OK) {
        x->semantic_question = rp_embed_cosine(v, v + dim, dim);
        x->semantic_answer = rp_embed_cosine(v, v + 2 * (size_t)dim, dim);
    }
    free(v);
    return rc;
}

static enum rp_err remember_id(struct rp_assessor *a, const struct rp_assess_item *it)
{
    if (a->n_ids == a->cap_ids) {
        size_t cap = a->cap_ids ? a->cap_ids * 2 : 1024;
        char **p = realloc(a->ids, cap * sizeof *p);
        if (!p)
            return RP_ERR_NOMEM;
        a->ids = p;
        a->cap_ids = cap;
    }
    char num[32];
    snprintf(num, sizeof num, "#%zu", a->st.records);
    char *id = dup_or(it->id, num);
    if (!id)
        return RP_ERR_NOMEM;
    a->ids[a->n_ids++] = id;
    a->id_bytes += strlen(id) + 1;
    return RP_ERR_OK;
}

static bool push_map(uint32_t **map, size_t *n, size_t *cap, uint32_t v)
{
    bool ok;
    RP__GROW(*map, *n + 1, *cap, 1024, ok);
    if (ok)
        (*map)[(*n)++] = v;
    return ok;
}

/* What the near-duplicate indexes see of a text, made in one pass over
 * its tokens:
 * - its words, appended to out: plain words lower-cased and stemmed
 *   (neighboring cells / neighbor cells), names and numbers as they are,
 *   lower-cased (rp_buf keeps out NUL-terminated);
 * - the hashes of its names and numbers (identifier, acronym and number
 *   tokens), appended to names[*n_names..cap): two pairs that differ in
 *   them (the same template about qRxLevMin and about qQualMin, or the
 *   same question with another default) are not duplicates, however
 *   similar their words.
 * False when out of memory. */
#define MAX_NAMES 128

static bool dedup_view(const char *s, size_t n, struct rp_buf *out, uint64_t *names, size_t *n_names)
{
    size_t pos = 0;
    struct rp__tok t;
    char lw[128], st[64];
    while (rp__tok_next(s, n, &pos, &t)) {
        size_t len = t.end - t.start;
        const char *w = s + t.start;
        size_t m;
        const char *put;
        if (len < sizeof lw && rp__classify(w, len) == RP__TK_WORD) {
            size_t k = rp__lower(w, len, lw, sizeof lw);
            m = rp__stem(lw, k, st);
            put = st;
        } else {
            m = rp__lower(w, len < sizeof lw ? len : sizeof lw - 1, lw, sizeof lw);
            put = lw;
            if (len < sizeof lw && *n_names < MAX_NAMES)
                names[(*n_names)++] = rp__word_hash(lw, m);
        }
        if ((out->len && rp_buf_add(out, " ", 1)) || rp_buf_add(out, put, m))
            return false;
    }
    return true;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* One hash for a set of names: sorted, each once (h is reordered). */
static uint64_t names_key(uint64_t *h, size_t k)
{
    qsort(h, k, sizeof h[0], cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || h[u - 1] != h[i])
            h[u++] = h[i];
    return rp__word_hash((const char *)h, u * sizeof h[0]);
}

static bool push_u64(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
    bool ok;
    RP__GROW(*v, *n + 1, *cap, 1024, ok);
    if (ok)
        (*v)[(*n)++] = x;
    return ok;
}

static enum rp_err dedup_pair(struct rp_assessor *a, const struct rp_assess_item *it, struct rp_quality *q,
                              const struct rp_buf *tq, const struct rp_buf *tqa, uint64_t kq, uint64_t kqa,
                              struct rp_error *err);

/* Near-duplicates: the question first, then question + answer. Each index
 * numbers its own records; map_q / map_qa turn those numbers into the
 * index of the record's id, key_q / key_qa hold their names_key(). A
 * text the index matched but whose names differ is kept (and, not being
 * in that index, is not itself matched later: a rare miss, not a loss). */
static enum rp_err dedup(struct rp_assessor *a, const struct rp_assess_item *it, struct rp_quality *q,
                         struct rp_error *err)
{
    const char *qs = it->question ? it->question : "";
    const char *as = it->answer ? it->answer : "";
    size_t qn = strlen(qs), an = strlen(as);
    /* The question is read once: its view starts the pair's. */
    uint64_t qnames[MAX_NAMES], names[MAX_NAMES];
    size_t n_qnames = 0, n_names = 0;
    struct rp_buf tq, tqa;
    rp_buf_init(&tq, RP_BUF_NO_CAP);
    rp_buf_init(&tqa, RP_BUF_NO_CAP);
    bool ok = dedup_view(qs, qn, &tq, qnames, &n_qnames);
    if (ok) {
        memcpy(names, qnames, n_qnames * sizeof names[0]);
        n_names = n_qnames;
        ok = rp_buf_add(&tqa, tq.data, tq.len) == RP_ERR_OK && rp_buf_add(&tqa, " \n ", 3) == RP_ERR_OK &&
             dedup_view(as, an, &tqa, names, &n_names);
    }
    if (!ok) {
        rp_buf_release(&tq);
        rp_buf_release(&tqa);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    uint64_t kq = names_key(qnames, n_qnames), kqa = names_key(names, n_names);
    enum rp_err rc = dedup_pair(a, it, q, &tq, &tqa, kq, kqa, err);
    rp_buf_release(&tq);
    rp_buf_release(&tqa);
    return rc;
}

static enum rp_err dedup_pair(struct rp_assessor *a, const struct rp_assess_item *it, struct rp_quality *q,
                              const struct rp_buf *tq, const struct rp_buf *tqa, uint64_t kq, uint64_t kqa,
                              struct rp_error *err)
{
    bool dup = false;
    uint32_t of = 0;
    double sim = 0;
    enum rp_err rc = rp_dedup_check_add(a->dq, tq->data ? tq->data : "", tq->len, &dup, &of, &sim, err);
    if (rc != RP_ERR_OK)
        return rc;
    if (dup && of < a->n_map_q && a->key_q[of] == kq) {
        rp_quality_add_reason(q, "near duplicate of '%s' (question similarity %.2f)", a->ids[a->map_q[of]], sim);
        a->st.duplicates++;
        return RP_ERR_OK;
    }
    if (remember_id(a, it) != RP_ERR_OK)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    /* A text without words is not added to an index (dedup.h): no entry. */
    bool q_indexed = !dup && of != UINT32_MAX;
    if (q_indexed && (!push_map(&a->map_q, &a->n_map_q, &a->cap_map_q, (uint32_t)(a->n_ids - 1)) ||
                 !push_u64(&a->key_q, &a->n_key_q, &a->cap_key_q, kq)))
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    rc = rp_dedup_check_add(a->dqa, tqa->data ? tqa->data : "", tqa->len, &dup, &of, &sim, err);
    if (rc != RP_ERR_OK)
        return rc;
    if (dup && of < a->n_map_qa && a->key_qa[of] == kqa) {
        rp_quality_add_reason(q, "near duplicate of '%s' (question+answer similarity %.2f)", a->ids[a->map_qa[of]],
                              sim);
        a->st.duplicates++;
        /* This record is no original, but its question is already in the
         * question index: it stands for the record it duplicates there, so
         * a later copy of it names a record of the dataset. Its own id is
         * named nowhere now. */
        if (q_indexed)
            a->map_q[a->n_map_q - 1] = a->map_qa[of];
        a->n_ids--;
        a->id_bytes -= strlen(a->ids[a->n_ids]) + 1;
        free(a->ids[a->n_ids]);
        return RP_ERR_OK;
    }
    if (!dup && of != UINT32_MAX && (!push_map(&a->map_qa, &a->n_map_qa, &a->cap_map_qa, (uint32_t)(a->n_ids - 1)) ||
                 !push_u64(&a->key_qa, &a->n_key_qa, &a->cap_key_qa, kqa)))
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    return RP_ERR_OK;
}

enum rp_err rp_assessor_check(struct rp_assessor *a, const struct rp_assess_item *it, struct rp_quality *out,
                              struct rp_error *err)
{
    struct rp_quality_ctx *own = NULL;
    const struct rp_quality_ctx *ctx = it->ctx;
    if (!ctx) {
        const char *c = it->context ? it->context : "";
        own = rp_quality_ctx_new(c, strlen(c));
        if (!own)
            return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        ctx = own;
    }
    struct rp_quality_extra x = {.semantic_question = -2, .semantic_answer = -2, .judge = -1};
    char why[256] = "";
    enum rp_err rc = RP_ERR_OK;
    if (a->p.embedder && (rc = semantic(a, it, &x, err)) != RP_ERR_OK)
        goto out;
    /* The judge is the costly check: ask it only about pairs the
     * deterministic checks let through. */
    struct rp_quality pre;
    rp_quality_assess(&a->p.quality, ctx, it->question, it->answer, &x, &pre);
    if (a->p.judge && pre.accept) {
        double j = a->p.judge(a->p.judge_ud, it->context ? it->context : "", it->question ? it->question : "",
                              it->answer ? it->answer : "", why, sizeof why);
        if (j >= 0) {
            x.judge = j;
            x.judge_reason = why[0] ? why : NULL;
            rp_quality_assess(&a->p.quality, ctx, it->question, it->answer, &x, out);
        } else {
            rp_quality_copy(out, &pre);
        }
    } else {
        rp_quality_copy(out, &pre);
    }
    if (out->accept && a->dq && (rc = dedup(a, it, out, err)) != RP_ERR_OK)
        goto out;
    if (out->accept && (rc = extract_claims(a, it->answer ? it->answer : "", it->id, it->source)) != RP_ERR_OK) {
        rp_error_set(err, rc, "out of memory");
        goto out;
    }
    a->st.records++;
    if (out->accept)
        a->st.accepted++;
    else
        a->st.rejected++;
    a->st.structural += out->n_structural > 0;
    a->st.hallucinated += out->n_hallucinated > 0;
    a->st.unsupported += out->n_unsupported > 0;
    a->st.contradictions += out->n_contradictions > 0;
    a->st.unanswerable += (out->n_unanswerable + out->n_evasive) > 0;
    a->st.judged_poor += rp_quality_judge_poor(out->judge);
out:
    rp_quality_ctx_free(own);
    return rc;
}

void rp_assessor_stats(const struct rp_assessor *a, struct rp_assess_stats *out)
{
    *out = a->st;
}

size_t rp_assessor_memory(const struct rp_assessor *a)
{
    size_t m = sizeof *a + a->id_bytes + a->claim_bytes + a->cap_ids * sizeof(char *) +
               (a->cap_map_q + a->cap_map_qa) * sizeof(uint32_t) +
               (a->cap_key_q + a->cap_key_qa) * sizeof(uint64_t);
    if (a->dq)
        m += rp_dedup_memory(a->dq) + rp_dedup_memory(a->dqa);
    return m;
}

size_t rp_assessor_write_conflicts(const struct rp_assessor *a, FILE *f)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n_claims; i++) {
        const struct claim *c = &a->claims[i];
        if (!c->conflict)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "identifier", json_string(c->ident));
        json_object_set_new(o, "attribute", json_string(c->attr));
        json_t *vs = json_array();
        for (size_t k = 0; k < c->n; k++) {
            json_t *v = json_object();
            json_object_set_new(v, "value", json_string(c->v[k].value));
            json_object_set_new(v, "id", json_string(c->v[k].id));
            json_object_set_new(v, "source", json_string(c->v[k].source));
            json_array_append_new(vs, v);
        }
        json_object_set_new(o, "values", vs);
        char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (s) {
            fprintf(f, "%s\n", s);
            free(s);
            n++;
        }
        json_decref(o);
    }
    return n;
}

/* Rounded to 3 decimals so outputs are stable. */
static json_t *real3(double x)
{
    return json_real(round(x * 1000) / 1000);
}

void *rp_quality_to_json(const struct rp_quality *q)
{
    json_t *o = json_object();
    json_object_set_new(o, "score", real3(q->score));
    json_object_set_new(o, "verdict", json_string(q->accept ? "accept" : "reject"));
    json_t *r = json_array();
    for (size_t i = 0; i < q->n_reasons; i++)
        json_array_append_new(r, json_string(q->reasons[i]));
    json_object_set_new(o, "reasons", r);
    json_t *c = json_object();
    json_object_set_new(c, "structure", real3(q->structure));
    json_object_set_new(c, "grounding", real3(q->grounding));
    json_object_set_new(c, "support", real3(q->support));
    json_object_set_new(c, "answerable", real3(q->answerable));
    json_object_set_new(c, "consistency", real3(q->consistency));
    json_object_set_new(c, "semantic", q->semantic >= 0 ? real3(q->semantic) : json_null());
    json_object_set_new(c, "judge", q->judge >= 0 ? real3(q->judge) : json_null());
    json_object_set_new(o, "checks", c);
    return o;
}
