/*
 * complexity.c - chunk and document complexity (see include/ranpipe/complexity.h).
 *
 * Design. One call of rp_entities_find() over the chunk text gives the
 * entity counts and, through the same callback, the number of words that
 * lie inside entities (the domain share); a second linear pass counts all
 * words and the bytes of rendered table lines ("a | b | c"). No allocation
 * unless the chunk defines acronyms (then rp_entities_find() allocates; if
 * that fails the entity features are 0 and the rest is still measured).
 *
 * Features and their mapping to 0..1:
 *   length   tokens / length_norm_tokens
 *   params, counters, terms, numeric
 *            entities per 100 tokens / density_norm
 *   tables   share of the text's bytes on table lines (already 0..1)
 *   depth    depth / depth_norm (depth = heading levels in the path,
 *            0 for the preamble)
 *   domain   share of words inside entities (already 0..1)
 * each capped at 1; the score is the weighted mean of the eight (negative
 * weights count as 0; all-zero weights give 0).
 *
 * Why these defaults. The score decides which model writes the QA pairs,
 * so it should rise with what makes small models fail. Tables come first
 * (tables, weight 3): a model must keep each value with its row's
 * parameter and column, which small models get wrong most often. Exact
 * identifiers come next (params, 2; counters, 1): they must be copied
 * without a typo. Numbers with units (numeric, 1.5) must stay attached to
 * the right parameter. Acronyms and references are easier, the glossary
 * explains them (terms, 0.5); a long chunk offers more to ask about but
 * is not harder to read (length, 1); a deep section and a high share of
 * RAN words only hint at narrow detail (depth, 0.5; domain, 0.5).
 * density_norm = 4 per 100 tokens is about what a dense parameter table
 * reaches with the token estimate (digits are one token each and
 * camelCase names split at every hump, so a row "EUtranCellFDD.qRxLevMin |
 * -140..-44 | -140 dBm | ..." costs 30..40 tokens), while prose rarely
 * names more than one or two parameters per 100 tokens. length_norm = 384
 * is the chunker's default maximum, so a full chunk scores 1 on length;
 * depth_norm = 4 because RAN documents rarely nest deeper than
 * "Feature > Chapter > Section > Subsection".
 * With these the texts of tests/unit/test_complexity.c score: a short
 * definition paragraph 0.09, a 365-token lock/unlock procedure with
 * commands and counters 0.31, a six-row parameter table with MO-qualified
 * names and values with units 0.72; the test holds that ordering. A real
 * table whose units sit in a column of their own (no value entities)
 * lands around 0.45..0.55.
 */
#include "ranpipe/complexity.h"

#include <math.h>
#include <string.h>

#include "ranpipe/entities.h"

struct rp_complexity_params rp_complexity_default_params(void)
{
    struct rp_complexity_params p = {
        .w_length = 1.0f,
        .w_params = 2.0f,
        .w_counters = 1.0f,
        .w_terms = 0.5f,
        .w_numeric = 1.5f,
        .w_tables = 3.0f,
        .w_depth = 0.5f,
        .w_domain = 0.5f,
        .length_norm_tokens = 384,
        .density_norm = 4.0f,
        .depth_norm = 4,
    };
    return p;
}

static int word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           c >= 0x80;
}

/* Number of words that start in s[from..to). */
static size_t word_starts(const char *s, size_t from, size_t to)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        if (word_byte((unsigned char)s[i]) && (i == 0 || !word_byte((unsigned char)s[i - 1])))
            n++;
    return n;
}

struct measure {
    const char *text;
    size_t len;
    size_t count[RP_ENTITY__COUNT];
    size_t covered_to; /* end of the entities seen so far */
    size_t domain_words;
};

static void on_entity(const struct rp_entity *e, void *ud)
{
    struct measure *m = ud;
    if ((int)e->type >= 0 && e->type < RP_ENTITY__COUNT)
        m->count[e->type]++;
    size_t from = e->offset > m->covered_to ? e->offset : m->covered_to;
    size_t to = e->offset + e->len;
    if (to > m->len)
        to = m->len;
    if (to > from) {
        m->domain_words += word_starts(m->text, from, to);
        m->covered_to = to;
    }
}

/* Share of the bytes of s[0..n) on lines that hold " | " (table rows). */
static float table_share(const char *s, size_t n)
{
    size_t table = 0, total = 0;
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n;
        size_t line = e - i;
        total += line;
        for (size_t k = i; k + 2 < e; k++) {
            if (s[k] == ' ' && s[k + 1] == '|' && s[k + 2] == ' ') {
                table += line;
                break;
            }
        }
        i = e + 1;
    }
    return total ? (float)table / (float)total : 0.0f;
}

static int heading_depth(const char *path)
{
    if (!path || !*path)
        return 0;
    int d = 1;
    for (const char *p = strstr(path, " > "); p; p = strstr(p + 3, " > "))
        d++;
    return d;
}

static float unit(float x)
{
    if (!(x > 0.0f)) /* also NaN */
        return 0.0f;
    return x > 1.0f ? 1.0f : x;
}

static float weight(float w)
{
    return w > 0.0f ? w : 0.0f;
}

/* The score of figures c under params p. */
static float score_of(const struct rp_complexity *c, const struct rp_complexity_params *p)
{
    float dn = p->density_norm;
    float f_len = p->length_norm_tokens ? (float)c->tokens / (float)p->length_norm_tokens
                                        : (c->tokens ? 1.0f : 0.0f);
    float f_par = dn > 0 ? c->param_density / dn : (c->param_density > 0 ? 1.0f : 0.0f);
    float f_cnt = dn > 0 ? c->counter_density / dn : (c->counter_density > 0 ? 1.0f : 0.0f);
    float f_trm = dn > 0 ? c->term_density / dn : (c->term_density > 0 ? 1.0f : 0.0f);
    float f_num = dn > 0 ? c->numeric_density / dn : (c->numeric_density > 0 ? 1.0f : 0.0f);
    float f_dep =
        p->depth_norm > 0 ? (float)c->depth / (float)p->depth_norm : (c->depth > 0 ? 1.0f : 0.0f);
    float w[8] = {weight(p->w_length), weight(p->w_params),  weight(p->w_counters),
                  weight(p->w_terms),  weight(p->w_numeric), weight(p->w_tables),
                  weight(p->w_depth),  weight(p->w_domain)};
    float f[8] = {unit(f_len), unit(f_par),          unit(f_cnt), unit(f_trm),
                  unit(f_num), unit(c->table_share), unit(f_dep), unit(c->domain)};
    float sum = 0.0f, wsum = 0.0f;
    for (int k = 0; k < 8; k++) {
        sum += w[k] * f[k];
        wsum += w[k];
    }
    return wsum > 0.0f ? unit(sum / wsum) : 0.0f;
}

void rp_complexity_chunk(const struct rp_doc *doc, const struct rp_chunk *chunk,
                         const struct rp_complexity_params *params, struct rp_complexity *out)
{
    (void)doc;
    struct rp_complexity_params defaults = rp_complexity_default_params();
    if (!params)
        params = &defaults;
    memset(out, 0, sizeof(*out));
    const char *text = chunk->text ? chunk->text : "";
    size_t len = strlen(text);
    struct measure m = {.text = text, .len = len};
    if (rp_entities_find(text, len, on_entity, &m) != RP_OK) {
        memset(m.count, 0, sizeof(m.count));
        m.domain_words = 0;
    }
    out->tokens = chunk->n_tokens;
    if (out->tokens) {
        float per100 = 100.0f / (float)out->tokens;
        out->param_density = (float)m.count[RP_ENTITY_PARAMETER] * per100;
        out->counter_density = (float)m.count[RP_ENTITY_COUNTER] * per100;
        out->term_density = (float)(m.count[RP_ENTITY_ACRONYM] + m.count[RP_ENTITY_SPEC_REF] +
                                    m.count[RP_ENTITY_PRODUCT_CODE]) *
                            per100;
        out->numeric_density = (float)m.count[RP_ENTITY_VALUE] * per100;
    }
    out->table_share = table_share(text, len);
    out->depth = heading_depth(chunk->heading_path);
    size_t words = word_starts(text, 0, len);
    out->domain = words ? (float)m.domain_words / (float)words : 0.0f;
    out->score = score_of(out, params);
}

void rp_complexity_doc(const struct rp_doc *doc, const struct rp_chunk_list *chunks,
                       const struct rp_complexity_params *params, struct rp_complexity *out)
{
    memset(out, 0, sizeof(*out));
    if (!chunks || chunks->n == 0)
        return;
    size_t total = 0;
    for (size_t i = 0; i < chunks->n; i++)
        total += chunks->items[i].n_tokens;
    double sum_w = 0, par = 0, cnt = 0, trm = 0, num = 0, tab = 0, dep = 0, dom = 0, sc = 0;
    for (size_t i = 0; i < chunks->n; i++) {
        struct rp_complexity c;
        rp_complexity_chunk(doc, &chunks->items[i], params, &c);
        /* Token-weighted; chunks without tokens count once each when the
         * whole document has none. */
        double w = total ? (double)c.tokens : 1.0;
        sum_w += w;
        par += w * c.param_density;
        cnt += w * c.counter_density;
        trm += w * c.term_density;
        num += w * c.numeric_density;
        tab += w * c.table_share;
        dep += w * c.depth;
        dom += w * c.domain;
        sc += w * c.score;
    }
    out->tokens = total;
    if (sum_w <= 0)
        return;
    out->param_density = (float)(par / sum_w);
    out->counter_density = (float)(cnt / sum_w);
    out->term_density = (float)(trm / sum_w);
    out->numeric_density = (float)(num / sum_w);
    out->table_share = (float)(tab / sum_w);
    out->depth = (int)lround(dep / sum_w);
    out->domain = (float)(dom / sum_w);
    out->score = (float)(sc / sum_w);
}
