/*
 * score.c - the quality scorer (see include/ranpipe/quality.h and
 * docs/quality.md).
 *
 * Design: a context is indexed once into hash sets - identifiers (every
 * raw token and its '.', '-', '_' parts, lower-cased), word stems, and
 * canonical numbers (signed and absolute) - plus its sentences as runs of
 * stems, for the contradiction check. A pair is then scored in one pass
 * over its question and answer, with no allocation: per record the cost is
 * a few hash lookups per answer word, so thousands of records per second
 * per core fit easily. Every check that fails writes a reason naming what
 * it found.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quality/text_int.h"
#include "ranpipe/entities.h"
#include "ranpipe/quality.h"

/* The word sets and antonym stems, built once (lexicon_init()). */
static void lexicon(void);
static struct rp__wordset ws_glue;

struct rp_quality_params rp_quality_default_params(void)
{
    struct rp_quality_params p = {
        .threshold = 0.5,
        .question_min_chars = 10,
        .question_max_chars = 400,
        .answer_min_chars = 2,
        .answer_max_chars = 3000,
        .min_support = 0.6,
        .w_grounding = 3,
        .w_support = 2,
        .w_answerable = 1,
        .w_semantic = 1,
        .w_judge = 2,
        .hard_factor = 0.5,
    };
    return p;
}

/* ---- the context index ---------------------------------------------- */

struct rp_quality_ctx {
    struct rp__hset idents;  /* lower-cased tokens and their parts */
    struct rp__hset stems;   /* word stems */
    struct rp__hset numbers; /* canonical numbers, signed and absolute */
    /* Which values belong to what (see note_value()). */
    struct rp__hset defaults;   /* numbers the text gives as a default */
    struct rp__hset owned;      /* (identifier, number) pairs in one sentence */
    struct rp__hset unowned;    /* numbers with no identifier before them in their sentence */
    char *lower;             /* the context lower-cased, for phrase search */
    size_t len;
    /* Sentences as runs of stems: sent_start[i]..sent_start[i+1] in sent_stems. */
    uint64_t *sent_stems;
    size_t n_sent_stems, cap_sent_stems;
    size_t *sent_start;
    unsigned char *sent_neg; /* sentence i has a negation */
    /* Its numbers (hashes of canonical forms, signed and absolute):
     * sent_num_start[i]..sent_num_start[i+1] in sent_nums. */
    uint64_t *sent_nums;
    size_t n_sent_nums, cap_sent_nums;
    size_t *sent_num_start;
    size_t n_sent, cap_sent;
    const char *lang;
};

/* Negation words (lower-case). */
static const char *const negation_words[] = {"not", "no", "never", "cannot", "without", "none", "nor", "neither", NULL};
static struct rp__wordset ws_negation = {negation_words, {NULL, 0, 0}};

static bool is_negation(const char *w, size_t n)
{
    return rp__wordset_has(&ws_negation, rp__word_hash(w, n)) || (n > 3 && memcmp(w + n - 3, "n't", 3) == 0);
}

static bool sentence_end(const char *s, size_t n, size_t i)
{
    char c = s[i];
    if (c == '\n')
        return true;
    if (c == '!' || c == '?' || c == ';')
        return true;
    if (c == '.' && (i + 1 >= n || s[i + 1] == ' ' || s[i + 1] == '\n' || s[i + 1] == '\t'))
        return true;
    return false;
}

static bool push_stem(struct rp_quality_ctx *c, uint64_t h)
{
    bool ok;
    RP__GROW(c->sent_stems, c->n_sent_stems + 1, c->cap_sent_stems, 256, ok);
    if (ok)
        c->sent_stems[c->n_sent_stems++] = h;
    return ok;
}

static bool push_sentence(struct rp_quality_ctx *c, bool neg)
{
    if (c->n_sent + 1 >= c->cap_sent) {
        size_t cap = c->cap_sent ? c->cap_sent * 2 : 32;
        size_t *p = realloc(c->sent_start, cap * sizeof *p);
        if (!p)
            return false;
        c->sent_start = p;
        unsigned char *q = realloc(c->sent_neg, cap);
        if (!q)
            return false;
        c->sent_neg = q;
        size_t *r = realloc(c->sent_num_start, cap * sizeof *r);
        if (!r)
            return false;
        c->sent_num_start = r;
        c->cap_sent = cap;
    }
    c->sent_neg[c->n_sent] = neg;
    c->n_sent++;
    c->sent_start[c->n_sent] = c->n_sent_stems;
    c->sent_num_start[c->n_sent] = c->n_sent_nums;
    return true;
}

static bool push_num(struct rp_quality_ctx *c, uint64_t h)
{
    bool ok;
    RP__GROW(c->sent_nums, c->n_sent_nums + 1, c->cap_sent_nums, 64, ok);
    if (ok)
        c->sent_nums[c->n_sent_nums++] = h;
    return ok;
}

/* Adds the parts of a lower-cased token split at '.', '-', '_'. */
static bool add_parts(struct rp_quality_ctx *c, const char *w, size_t n)
{
    size_t a = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || w[i] == '.' || w[i] == '-' || w[i] == '_') {
            if (i > a) {
                if (!rp__hset_add(&c->idents, rp__word_hash(w + a, i - a)) ||
                    !rp__hset_add(&c->stems, rp__stem_hash(w + a, i - a)))
                    return false;
                char canon[64];
                if (rp__number_canon(w + a, i - a, false, canon, sizeof canon) &&
                    !rp__hset_add(&c->numbers, rp__word_hash(canon, strlen(canon))))
                    return false;
            }
            a = i + 1;
        }
    }
    return true;
}

/* The words inside a camelCase name count as words of the context:
 * csfbMeasurementBased supports "measurement based". */
static bool add_camel_stems(struct rp_quality_ctx *c, const char *raw, size_t n)
{
    size_t a = 0;
    char lw[64];
    for (size_t i = 1; i <= n; i++) {
        bool cut = i == n || (raw[i] >= 'A' && raw[i] <= 'Z' && raw[i - 1] >= 'a' && raw[i - 1] <= 'z') ||
                   raw[i] == '.' || raw[i] == '_' || raw[i] == '-';
        if (!cut)
            continue;
        if (i - a >= 3 && i - a < sizeof lw) {
            size_t m = rp__lower(raw + a, i - a, lw, sizeof lw);
            if (!rp__hset_add(&c->stems, rp__stem_hash(lw, m)))
                return false;
        }
        a = (i < n && (raw[i] == '.' || raw[i] == '_' || raw[i] == '-')) ? i + 1 : i;
    }
    return true;
}

/* Value association. A number belongs to the identifiers that precede it
 * in its sentence (at most OWNER_WINDOW tokens back) and is "a default"
 * when it is the first number within DEFAULT_WINDOW tokens after the word
 * "default", or stands right before it ("128 (default)"). Answers are held
 * to the same reading: "X defaults to 4" needs 4 to be a default in the
 * context, and to be given in a sentence that names X. */
#define OWNER_WINDOW 40
#define DEFAULT_WINDOW 6
#define RECENT 16

struct value_tracker {
    uint64_t ident[RECENT];
    size_t ident_at[RECENT];
    size_t n_ident; /* ring: the last RECENT identifiers of the sentence */
    size_t default_at;
    bool default_open; /* no number yet since the last "default" */
    uint64_t last_num[2];
    size_t last_num_at[2];
    size_t tok; /* token index */
    bool prev_by; /* the previous token was "by" ("10 % by default") */
};

static uint64_t pair_hash(uint64_t ident, uint64_t num)
{
    uint64_t h = ident * 0x9E3779B97F4A7C15ull ^ (num + 0x632BE59BD9B4E019ull);
    return h ? h : 1;
}

static void tracker_sentence(struct value_tracker *v)
{
    v->n_ident = 0;
    v->default_open = false;
    v->last_num_at[0] = v->last_num_at[1] = SIZE_MAX;
}

static bool is_default_word(const char *lw, size_t n)
{
    return (n == 7 && memcmp(lw, "default", 7) == 0) || (n == 8 && memcmp(lw, "defaults", 8) == 0) ||
           (n == 9 && memcmp(lw, "defaulted", 9) == 0);
}

/* Words that may stand between "default" and its value ("the default
 * value of qRxLevMin is -140"); anything else ends the look-ahead. */
static const char *const bridge_words[] = {"value", "values", "setting", "set", "configured", "parameter",
                                           "attribute", "equal", "equals", "defaults", NULL};
static struct rp__wordset ws_bridge = {bridge_words, {NULL, 0, 0}};

static bool default_bridge(const char *lw, size_t n, enum rp__tok_kind k)
{
    return k == RP__TK_IDENT || rp__is_stopword(lw, n) || rp__wordset_has(&ws_bridge, rp__word_hash(lw, n));
}

/* The identifier hashes a token stands for: the whole name, lower-cased,
 * and its last dotted part (EUtranCellFDD.qRxLevMin -> qrxlevmin). */
static size_t ident_keys(const char *lw, size_t n, uint64_t out[2])
{
    out[0] = rp__word_hash(lw, n);
    const char *dot = memchr(lw, '.', n);
    if (!dot)
        return 1;
    const char *last = lw + n;
    while (last > lw && last[-1] != '.')
        last--;
    out[1] = rp__word_hash(last, (size_t)(lw + n - last));
    return 2;
}

/* An enumerated value as 3GPP writes them: one to three lower-case
 * letters and then digits (sl80, ms40, rf32, n4). It names a value, not a
 * thing, so the value checks treat it like a number. */
static bool enum_value(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && i < 3 && s[i] >= 'a' && s[i] <= 'z')
        i++;
    if (i == 0 || i == n)
        return false;
    for (size_t j = i; j < n; j++)
        if (!(s[j] >= '0' && s[j] <= '9'))
            return false;
    return true;
}

static bool note_value(struct rp_quality_ctx *c, struct value_tracker *v, const char *raw, size_t n, const char *lw,
                       bool neg, bool after_paren)
{
    size_t at = v->tok++;
    bool by = v->prev_by;
    v->prev_by = n == 2 && lw[0] == 'b' && lw[1] == 'y';
    if (is_default_word(lw, n)) {
        v->default_at = at;
        v->default_open = !by;
        /* "10 % by default", "128 (default)": the value before it. */
        for (int i = 0; i < 2 && (by || after_paren); i++)
            if (v->last_num_at[i] != SIZE_MAX && at - v->last_num_at[i] <= 2 &&
                !rp__hset_add(&c->defaults, v->last_num[i]))
                return false;
        return true;
    }
    enum rp__tok_kind k = rp__classify(raw, n);
    bool ev = enum_value(raw, n);
    if (k != RP__TK_NUMBER && !ev && !default_bridge(lw, n, k))
        v->default_open = false;
    if ((k == RP__TK_IDENT || k == RP__TK_ACRONYM) && !ev) {
        uint64_t keys[2];
        size_t nk = ident_keys(lw, n, keys);
        for (size_t i = 0; i < nk; i++) {
            v->ident[v->n_ident % RECENT] = keys[i];
            v->ident_at[v->n_ident % RECENT] = at;
            v->n_ident++;
        }
        return true;
    }
    char canon[64];
    uint64_t h, habs;
    if (ev) {
        h = habs = rp__word_hash(lw, n);
        if (!rp__hset_add(&c->numbers, h))
            return false;
    } else {
        if (k != RP__TK_NUMBER || !rp__number_canon(raw, n, neg, canon, sizeof canon))
            return true;
        h = rp__word_hash(canon, strlen(canon));
        habs = neg ? rp__word_hash(canon + 1, strlen(canon + 1)) : h;
    }
    v->last_num[1] = v->last_num[0];
    v->last_num_at[1] = v->last_num_at[0];
    v->last_num[0] = h;
    v->last_num_at[0] = at;
    if (v->default_open && at - v->default_at <= DEFAULT_WINDOW &&
        (!rp__hset_add(&c->defaults, h) || !rp__hset_add(&c->defaults, habs)))
        return false;
    v->default_open = false;
    bool owned = false;
    size_t from = v->n_ident > RECENT ? v->n_ident - RECENT : 0;
    for (size_t i = from; i < v->n_ident; i++) {
        if (at - v->ident_at[i % RECENT] > OWNER_WINDOW)
            continue;
        owned = true;
        if (!rp__hset_add(&c->owned, pair_hash(v->ident[i % RECENT], h)) ||
            !rp__hset_add(&c->owned, pair_hash(v->ident[i % RECENT], habs)))
            return false;
    }
    if (!owned && (!rp__hset_add(&c->unowned, h) || !rp__hset_add(&c->unowned, habs)))
        return false;
    return true;
}

struct rp_quality_ctx *rp_quality_ctx_new(const char *context, size_t len)
{
    lexicon();
    struct rp_quality_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    rp__hset_init(&c->idents);
    rp__hset_init(&c->stems);
    rp__hset_init(&c->numbers);
    rp__hset_init(&c->defaults);
    rp__hset_init(&c->owned);
    rp__hset_init(&c->unowned);
    c->lower = malloc(len + 1);
    c->sent_start = malloc(32 * sizeof *c->sent_start);
    c->sent_num_start = malloc(32 * sizeof *c->sent_num_start);
    c->sent_neg = malloc(32);
    if (!c->lower || !c->sent_start || !c->sent_neg || !c->sent_num_start)
        goto fail;
    c->cap_sent = 32;
    c->sent_start[0] = 0;
    c->sent_num_start[0] = 0;
    rp__lower(context, len, c->lower, len + 1);
    c->len = len;
    c->lang = rp_quality_language(context, len);

    size_t pos = 0, sent_from = 0;
    bool neg = false;
    struct rp__tok t;
    struct value_tracker vt = {0};
    tracker_sentence(&vt);
    while (rp__tok_next(context, len, &pos, &t)) {
        /* Close the sentences that ended between the last token and this one. */
        for (size_t i = sent_from; i < t.start; i++) {
            if (!sentence_end(context, len, i))
                continue;
            tracker_sentence(&vt);
            if (c->sent_start[c->n_sent] < c->n_sent_stems || c->sent_num_start[c->n_sent] < c->n_sent_nums) {
                if (!push_sentence(c, neg))
                    goto fail;
                neg = false;
            }
        }
        sent_from = t.end;
        const char *w = c->lower + t.start;
        size_t n = t.end - t.start;
        if (!rp__hset_add(&c->idents, rp__word_hash(w, n)) || !add_parts(c, w, n) ||
            !add_camel_stems(c, context + t.start, n) ||
            !note_value(c, &vt, context + t.start, n, w, t.neg, t.start > 0 && context[t.start - 1] == '('))
            goto fail;
        char canon[64];
        if (rp__number_canon(context + t.start, n, t.neg, canon, sizeof canon)) {
            if (!rp__hset_add(&c->numbers, rp__word_hash(canon, strlen(canon))) ||
                !push_num(c, rp__word_hash(canon, strlen(canon))) ||
                (t.neg && !push_num(c, rp__word_hash(canon + 1, strlen(canon + 1)))))
                goto fail;
            if (t.neg && !rp__hset_add(&c->numbers, rp__word_hash(canon + 1, strlen(canon + 1))))
                goto fail;
        }
        if (enum_value(context + t.start, n) && !push_num(c, rp__word_hash(w, n)))
            goto fail;
        int nw = rp__number_word(w, n);
        if (nw >= 0) {
            int k = snprintf(canon, sizeof canon, "%d", nw);
            if (!rp__hset_add(&c->numbers, rp__word_hash(canon, (size_t)k)))
                goto fail;
        }
        if (is_negation(w, n))
            neg = true;
        if (!rp__is_stopword(w, n) && !(w[0] >= '0' && w[0] <= '9') && !push_stem(c, rp__stem_hash(w, n)))
            goto fail;
    }
    if ((c->sent_start[c->n_sent] < c->n_sent_stems || c->sent_num_start[c->n_sent] < c->n_sent_nums) &&
        !push_sentence(c, neg))
        goto fail;
    return c;
fail:
    rp_quality_ctx_free(c);
    return NULL;
}

void rp_quality_ctx_free(struct rp_quality_ctx *c)
{
    if (!c)
        return;
    rp__hset_release(&c->idents);
    rp__hset_release(&c->stems);
    rp__hset_release(&c->numbers);
    rp__hset_release(&c->defaults);
    rp__hset_release(&c->owned);
    rp__hset_release(&c->unowned);
    free(c->lower);
    free(c->sent_stems);
    free(c->sent_start);
    free(c->sent_neg);
    free(c->sent_nums);
    free(c->sent_num_start);
    free(c);
}

/* ---- reasons --------------------------------------------------------- */

static size_t text_used(const struct rp_quality *q)
{
    if (q->n_reasons == 0)
        return 0;
    const char *last = q->reasons[q->n_reasons - 1];
    return (size_t)(last - q->text) + strlen(last) + 1;
}

static void vadd_reason(struct rp_quality *q, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 0)))
#endif
    ;
static void vadd_reason(struct rp_quality *q, const char *fmt, va_list ap)
{
    size_t used = text_used(q);
    if (q->n_reasons >= RP_QUALITY_MAX_REASONS || used + 2 >= sizeof q->text)
        return;
    char *dst = q->text + used;
    size_t room = sizeof q->text - used;
    int w = vsnprintf(dst, room, fmt, ap);
    if (w < 0)
        return;
    q->reasons[q->n_reasons++] = dst;
}

bool rp_quality_judge_poor(double judge)
{
    /* Rubric means are sums of fifths: 0.5 may come out a hair below it. */
    return judge >= 0 && judge < 0.5 - 1e-9;
}

void rp_quality_copy(struct rp_quality *dst, const struct rp_quality *src)
{
    if (dst == src)
        return;
    memcpy(dst, src, sizeof *dst);
    for (size_t i = 0; i < src->n_reasons; i++)
        dst->reasons[i] = dst->text + (src->reasons[i] - src->text);
}

void rp_quality_add_reason(struct rp_quality *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vadd_reason(q, fmt, ap);
    va_end(ap);
    q->accept = false;
}

static void reason(struct rp_quality *q, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void reason(struct rp_quality *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vadd_reason(q, fmt, ap);
    va_end(ap);
}

/* ---- language ---------------------------------------------------------- */

struct lang_words {
    const char *lang;
    struct rp__wordset *set;
};

static const char *const w_en[] = {"the", "is", "and", "of", "to", "in", "are", "which", "with", "for", "when", "that", "this", "by", "be", NULL};
static const char *const w_de[] = {"der", "die", "das", "und", "ist", "wird", "werden", "mit", "nicht", "ein", "eine", "von", "für", "auf", "den", "dem", "zu", NULL};
static const char *const w_fr[] = {"le", "la", "les", "et", "est", "des", "une", "un", "du", "pour", "dans", "avec", "sont", "qui", "pas", "ce", NULL};
static const char *const w_es[] = {"el", "los", "las", "y", "es", "del", "una", "por", "para", "con", "que", "se", "son", "lo", "como", NULL};
static const char *const w_sv[] = {"och", "är", "att", "det", "som", "en", "ett", "för", "med", "inte", "av", "på", "till", "den", "om", NULL};
static const char *const w_it[] = {"il", "di", "che", "è", "della", "per", "gli", "con", "sono", "non", "una", "delle", "nel", "alla", NULL};
static const char *const w_pt[] = {"o", "os", "da", "do", "não", "em", "uma", "com", "para", "são", "que", "dos", "das", "pelo", NULL};
static struct rp__wordset ws_lang[] = {
    {w_en, {NULL, 0, 0}}, {w_de, {NULL, 0, 0}}, {w_fr, {NULL, 0, 0}}, {w_es, {NULL, 0, 0}},
    {w_sv, {NULL, 0, 0}}, {w_it, {NULL, 0, 0}}, {w_pt, {NULL, 0, 0}},
};
static const struct lang_words langs[] = {
    {"en", &ws_lang[0]}, {"de", &ws_lang[1]}, {"fr", &ws_lang[2]}, {"es", &ws_lang[3]},
    {"sv", &ws_lang[4]}, {"it", &ws_lang[5]}, {"pt", &ws_lang[6]},
};

static bool in_list(const char *const *list, const char *w, size_t n)
{
    for (; *list; list++)
        if (strlen(*list) == n && memcmp(*list, w, n) == 0)
            return true;
    return false;
}

const char *rp_quality_language(const char *text, size_t len)
{
    lexicon();
    /* Scripts first: a text mostly in CJK, Hangul, Cyrillic or Arabic. */
    const unsigned char *u = (const unsigned char *)text;
    size_t latin = 0, han = 0, kana = 0, hangul = 0, cyr = 0, arab = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = u[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            latin++;
        else if (c == 0xE3 && i + 1 < len && u[i + 1] >= 0x81 && u[i + 1] <= 0x83)
            kana += 2;
        else if (c >= 0xE4 && c <= 0xE9)
            han += 2;
        else if (c >= 0xEA && c <= 0xED)
            hangul += 2;
        else if (c == 0xD0 || c == 0xD1)
            cyr++;
        else if (c >= 0xD8 && c <= 0xDB)
            arab++;
    }
    size_t script = han + kana + hangul + cyr + arab;
    if (script > latin) {
        if (kana > 0 && kana * 5 >= han)
            return "ja";
        if (han >= hangul && han >= cyr && han >= arab)
            return "zh";
        if (hangul >= cyr && hangul >= arab)
            return "ko";
        return cyr >= arab ? "ru" : "ar";
    }
    size_t hits[sizeof langs / sizeof langs[0]] = {0};
    size_t pos = 0;
    struct rp__tok t;
    char w[32];
    while (rp__tok_next(text, len, &pos, &t)) {
        size_t n = t.end - t.start;
        if (n >= sizeof w)
            continue;
        rp__lower(text + t.start, n, w, sizeof w);
        uint64_t h = rp__word_hash(w, n);
        for (size_t l = 0; l < sizeof langs / sizeof langs[0]; l++)
            hits[l] += rp__wordset_has(langs[l].set, h);
    }
    size_t best = 0, second = 0, bi = 0;
    for (size_t l = 0; l < sizeof langs / sizeof langs[0]; l++) {
        if (hits[l] > best) {
            second = best;
            best = hits[l];
            bi = l;
        } else if (hits[l] > second) {
            second = hits[l];
        }
    }
    if (best < 2 || best < second * 2)
        return "";
    return langs[bi].lang;
}

/* ---- phrase lists ------------------------------------------------------ */

static bool contains_any(const char *lower, const char *const *list, const char **hit)
{
    for (; *list; list++)
        if (strstr(lower, *list)) {
            *hit = *list;
            return true;
        }
    return false;
}

/* What assistants wrap around an answer instead of the answer. */
static const char *const artefacts[] = {
    "as an ai", "language model", "i'm sorry", "i am sorry", "i cannot", "i can't", "according to the text",
    "according to the provided", "according to the given", "according to the passage", "according to the context",
    "according to the document", "the provided text", "the text provided", "the provided context",
    "the context provided", "the given context", "the given text", "based on the context", "based on the text",
    "based on the provided", "based on the given", "in the provided", "the passage", "<think>", "</think>",
    "```", "\"question\"", "\"answer\"", "{\"", "\"}", "<|", "|>", "<br", "</", "**", "[insert", "lorem ipsum",
    NULL,
};

/* Answers that decline to answer. */
static const char *const evasions[] = {
    "not specified", "does not specify", "doesn't specify", "does not mention", "doesn't mention",
    "is not mentioned", "are not mentioned", "not mentioned in", "not provided in", "is not provided",
    "no information", "not stated", "does not state", "cannot be determined", "can't be determined",
    "not explicitly", "does not provide", "doesn't provide", "not described in", "does not describe",
    "not covered", "no details", "not given in", "is not given", "unknown from", "not available in the",
    NULL,
};

/* Questions about the document rather than its subject. */
static const char *const trivial_q[] = {
    "title of", "what is the title", "the name of this document", "the name of the document", "this document about",
    "the document about", "this text about", "the text about", "this section about", "the section about",
    "this passage about", "this chapter about", "what does the document", "what does this document",
    "what does the text", "what does this text", "what does the section", "what does this section",
    "what does the passage", "what does the context", "what is described in", "what is discussed",
    "what topic", "which topic", "what is covered", "what does it say", "what does the chapter",
    "who wrote", "who is the author", "described here", "described above", " described?", "procedure described",
    "feature described", "in this document", "mentioned here", "covered here", NULL,
};

/* Words a question starts with. */
static const char *const opener_words[] = {
        "what", "which", "how", "why", "when", "where", "who", "whom", "whose", "is", "are", "does", "do", "did",
        "can", "could", "should", "would", "will", "was", "were", "has", "have", "may", "must", "shall", "list",
        "describe", "explain", "name", "give", "compare", "state", "summarize", "summarise", "identify",
        "outline", "define", "in", "under", "for", "at", "if", "according", "during", "on", "to", "by", "with",
        "after", "before", "from", "write", "walk", "show", "provide", "calculate", "compute", "derive", "tell",
        "enumerate", "specify", "distinguish", "contrast", "detail", "summarize", "what's", "how's", "why's",
        "suppose", "assume", "consider", "given", NULL,
};
static struct rp__wordset ws_opener = {opener_words, {NULL, 0, 0}};

static bool question_opener(const char *w, size_t n)
{
    return rp__wordset_has(&ws_opener, rp__word_hash(w, n));
}

/* Question words that carry no topic: "what is the default value of X". */
static const char *const generic_words[] = {
        "value", "values", "default", "purpose", "role", "describe", "explain", "mean", "means", "meaning",
        "used", "use", "list", "name", "give", "happens", "happen", "role", "function", "main", "type", "kind",
        "difference", "differences", "compare", "between", "define", "definition", "stand", "stands",
        "affect", "affects", "work", "works", "relationship", "relate", "specify", "specifies", "configured",
        "set", "range", "unit", "example", NULL,
};
static struct rp__wordset ws_generic = {generic_words, {NULL, 0, 0}};

static bool generic_question_word(const char *w, size_t n)
{
    return rp__wordset_has(&ws_generic, rp__word_hash(w, n));
}

/* Terms of the trade that are not names of anything in a document. */
static const char *const common_words[] = {"3gpp", "2g", "3g", "4g", "5g", "5gc", "6g", "ok", "id", "ids",
                                           "gnodeb", "enodeb", "gnb", "enb", "ue", "ues", NULL};
static struct rp__wordset ws_common = {common_words, {NULL, 0, 0}};

static bool common_term(const char *w, size_t n)
{
    return rp__wordset_has(&ws_common, rp__word_hash(w, n));
}

/* ---- antonyms ------------------------------------------------------------ */

struct antonym {
    const char *a, *b;
};

static const struct antonym antonyms[] = {
    {"enabled", "disabled"},   {"enable", "disable"},     {"activated", "deactivated"}, {"activate", "deactivate"},
    {"increase", "decrease"},  {"increases", "decreases"}, {"increased", "decreased"},  {"higher", "lower"},
    {"maximum", "minimum"},    {"uplink", "downlink"},     {"above", "below"},          {"before", "after"},
    {"added", "removed"},      {"add", "remove"},          {"start", "stop"},           {"starts", "stops"},
    {"true", "false"},         {"mandatory", "optional"},  {"idle", "connected"},       {"more", "less"},
    {"longer", "shorter"},     {"larger", "smaller"},      {"earlier", "later"},        {"inter", "intra"},
    {"static", "dynamic"},      {"allowed", "forbidden"},    {"allowed", "prohibited"},
    {"first", "last"},         {"exceeds", "falls"},       {"better", "worse"},         {"stronger", "weaker"},
    {"accepted", "rejected"},   {"success", "failure"},      {"successful", "failed"},
    {"on", "off"},             {"automatically", "manually"}, {"automatic", "manual"},  {"centralized", "distributed"},
    {"centralised", "distributed"}, {"included", "excluded"}, {"supported", "unsupported"}, {"always", "never"},
    {"fdd", "tdd"},            {"lte", "nr"},              {"enb", "gnb"},              {"x2", "xn"},
    {"s1", "ng"},              {"periodic", "aperiodic"},  {"reduces", "increases"},    {"reduce", "increase"},
    {"raises", "lowers"},      {"raise", "lower"},         {"added", "subtracted"},     {"add", "subtract"},         {"shortens", "lengthens"},   {"gains", "loses"},  {"long", "short"},           {"high", "low"},
};

#define N_ANTONYMS (sizeof antonyms / sizeof antonyms[0])
static uint64_t antonym_hash[N_ANTONYMS][2];
static pthread_once_t lexicon_once = PTHREAD_ONCE_INIT;

/* Builds the word sets and the antonyms' stems once. A set that cannot be
 * built (out of memory) stays empty: its check finds nothing. */
static void lexicon_init(void)
{
    struct rp__wordset *sets[] = {&ws_negation, &ws_bridge, &ws_glue, &ws_opener, &ws_generic, &ws_common};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        rp__wordset_build(sets[i]);
    for (size_t i = 0; i < sizeof ws_lang / sizeof ws_lang[0]; i++)
        rp__wordset_build(&ws_lang[i]);
    for (size_t k = 0; k < N_ANTONYMS; k++) {
        antonym_hash[k][0] = rp__stem_hash(antonyms[k].a, strlen(antonyms[k].a));
        antonym_hash[k][1] = rp__stem_hash(antonyms[k].b, strlen(antonyms[k].b));
    }
}

static void lexicon(void)
{
    pthread_once(&lexicon_once, lexicon_init);
}

/* Whether stem h occurs in stems[from..to). */
static bool has_stem(const uint64_t *stems, size_t from, size_t to, uint64_t h)
{
    for (size_t i = from; i < to; i++)
        if (stems[i] == h)
            return true;
    return false;
}

/* ---- scoring ------------------------------------------------------------- */

#define MAX_WORDS 512

struct words {
    uint64_t stem[MAX_WORDS];
    uint32_t start[MAX_WORDS], len[MAX_WORDS]; /* in the original text */
    unsigned char neg_word[MAX_WORDS];
    size_t n;
};

/* Words any answer about a parameter or term may use whatever the context
 * says ("the allowed values of X are ..."): not claims of their own. */
static const char *const glue_words[] = {"value", "values", "allowed", "possible", "range", "unit", "units", "type",
                                         "default", "parameter", "parameters", "attribute", "called", "named",
                                         "means", "stands", "refers", "used", "set", "given", "example", NULL};
static struct rp__wordset ws_glue = {glue_words, {NULL, 0, 0}};

static bool glue_word(const char *w, size_t n)
{
    return rp__wordset_has(&ws_glue, rp__word_hash(w, n));
}

/* Content words of s: not stopwords, not numbers; stems and positions. */
static void content_words(const char *s, size_t n, struct words *out, bool *has_neg)
{
    out->n = 0;
    *has_neg = false;
    size_t pos = 0;
    struct rp__tok t;
    char w[128];
    while (rp__tok_next(s, n, &pos, &t) && out->n < MAX_WORDS) {
        size_t k = rp__lower(s + t.start, t.end - t.start, w, sizeof w);
        if (is_negation(w, k))
            *has_neg = true;
        if (rp__is_stopword(w, k) || (w[0] >= '0' && w[0] <= '9') || glue_word(w, k))
            continue;
        if (k < 2)
            continue;
        out->stem[out->n] = rp__stem_hash(w, k);
        out->start[out->n] = (uint32_t)t.start;
        out->len[out->n] = (uint32_t)(t.end - t.start);
        out->n++;
    }
}

enum rp__tok_kind rp__classify(const char *s, size_t n)
{
    static const char *const units[] = {"dBm", "dB", "dBi", "dBc", "kHz", "MHz", "GHz", "Hz", "kbps", "Mbps",
                                        "Gbps", "kB", "MB", "GB", "ms", "mW", "km", NULL};
    for (const char *const *u = units; *u; u++)
        if (strlen(*u) == n && memcmp(*u, s, n) == 0)
            return RP__TK_WORD;
    size_t up = 0, low = 0, dig = 0, und = 0, dot = 0;
    bool camel = false, caps_then_lower = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') {
            up++;
            if (i > 0 && s[i - 1] >= 'a' && s[i - 1] <= 'z')
                camel = true;
        } else if (c >= 'a' && c <= 'z') {
            low++;
            if (i >= 2 && s[i - 1] >= 'A' && s[i - 1] <= 'Z' && s[i - 2] >= 'A' && s[i - 2] <= 'Z')
                caps_then_lower = true;
        } else if (c >= '0' && c <= '9') {
            dig++;
        } else if (c == '_') {
            und++;
        } else if (c == '.') {
            dot++;
        }
    }
    if (dig > 0 && s[0] >= '0' && s[0] <= '9') {
        char canon[64];
        if (rp__number_canon(s, n, false, canon, sizeof canon))
            return RP__TK_NUMBER;
    }
    if ((dig && (up || low)) || und || (dot && (up || low)) || camel || caps_then_lower)
        return RP__TK_IDENT;
    if (up >= 2 && low == 0) {
        /* A state or compound name in capitals (CM-IDLE, EN-DC) names one
         * thing, unlike a bare acronym: held to the identifier rule. */
        const char *h = memchr(s, '-', n);
        if (h && h - s >= 2 && n - (size_t)(h - s) > 2)
            return RP__TK_IDENT;
        return RP__TK_ACRONYM;
    }
    if (up >= 2 && low == 1 && s[n - 1] == 's')
        return RP__TK_ACRONYM; /* UEs, PRBs */
    return RP__TK_WORD;
}

/* Whether the lower-cased context contains s: all len bytes of it, NULs
 * included (strstr would stop at the first). */
static bool ctx_contains(const struct rp_quality_ctx *c, const char *s)
{
    size_t k = strlen(s);
    if (k == 0)
        return true;
    for (const char *p = c->lower, *end = c->lower + c->len; (size_t)(end - p) >= k; p++) {
        p = memchr(p, s[0], (size_t)(end - p) - k + 1);
        if (!p)
            return false;
        if (memcmp(p, s, k) == 0)
            return true;
    }
    return false;
}

static bool ctx_has_ident(const struct rp_quality_ctx *c, const char *lw, size_t n, bool allow_parts)
{
    if (rp__hset_has(&c->idents, rp__word_hash(lw, n)))
        return true;
    if (n > 2 && lw[n - 1] == 's' && rp__hset_has(&c->idents, rp__word_hash(lw, n - 1)))
        return true;
    /* The context has the plural: SCells for SCell. */
    if (n + 1 < 128) {
        char pl[128];
        memcpy(pl, lw, n);
        pl[n] = 's';
        if (rp__hset_has(&c->idents, rp__word_hash(pl, n + 1)))
            return true;
    }
    /* The application protocol of an interface: X2AP, S1AP, XnAP, NGAP. */
    if (n > 3 && n < 8 && lw[n - 2] == 'a' && lw[n - 1] == 'p' && rp__hset_has(&c->idents, rp__word_hash(lw, n - 2)))
        return true;
    if (!allow_parts)
        return false;
    size_t a = 0, parts = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || lw[i] == '.' || lw[i] == '-' || lw[i] == '_') {
            if (i > a) {
                parts++;
                if (!rp__hset_has(&c->idents, rp__word_hash(lw + a, i - a)))
                    return false;
            }
            a = i + 1;
        }
    }
    return parts > 1;
}

static bool ctx_has_acronym(const struct rp_quality_ctx *c, const char *raw, size_t n, const char *lw)
{
    if (ctx_has_ident(c, lw, n, true))
        return true;
    size_t m = n;
    if (m > 2 && raw[m - 1] == 's')
        m--;
    const char *exp = rp_glossary_lookup(raw, m);
    if (exp) {
        char le[160];
        rp__lower(exp, strlen(exp), le, sizeof le);
        if (ctx_contains(c, le))
            return true;
    }
    return false;
}

/* Checks every identifier, number and acronym of s against the context.
 * what: "answer" or "question". Returns found / total weights through
 * *found, *total and counts the hard misses. */
static void ground(const struct rp_quality_ctx *c, const char *s, size_t n, bool is_answer, struct rp_quality *q,
                   double *found, double *total, unsigned *hard_missing)
{
    size_t pos = 0;
    struct rp__tok t;
    char lw[128];
    /* Report each missing item once. */
    uint64_t seen[32];
    size_t n_seen = 0;
    while (rp__tok_next(s, n, &pos, &t)) {
        size_t len = t.end - t.start;
        const char *raw = s + t.start;
        if (len >= sizeof lw)
            continue;
        /* Possessive "'s" and a trailing dot are not part of the name. */
        enum rp__tok_kind k = rp__classify(raw, len);
        if (k == RP__TK_WORD)
            continue;
        size_t m = rp__lower(raw, len, lw, sizeof lw);
        if (common_term(lw, m))
            continue;
        bool ok;
        double weight = 1.0;
        const char *kind;
        char shown[96];
        if (k == RP__TK_NUMBER) {
            char canon[64];
            rp__number_canon(raw, len, t.neg, canon, sizeof canon);
            /* List markers ("1." at the start of a line) are not claims. */
            if (t.line_start && t.end < n && (s[t.end] == '.' || s[t.end] == ')') && strlen(canon) <= 2)
                continue;
            ok = rp__hset_has(&c->numbers, rp__word_hash(canon, strlen(canon)));
            if (!ok && !t.neg) {
                /* Unsigned "140" for "-140": the sign is often dropped in prose. */
                char alt[66];
                snprintf(alt, sizeof alt, "-%s", canon);
                ok = rp__hset_has(&c->numbers, rp__word_hash(alt, strlen(alt)));
            }
            kind = "value";
            snprintf(shown, sizeof shown, "%s%.*s", t.neg ? "-" : "", (int)len, raw);
            /* Show the unit that follows, if any ("-130 dBm"). */
            size_t u = t.end;
            if (u < n && s[u] == ' ') {
                size_t ue = u + 1;
                while (ue < n && ue - u < 6 && ((s[ue] >= 'a' && s[ue] <= 'z') || (s[ue] >= 'A' && s[ue] <= 'Z')))
                    ue++;
                char unit[8];
                size_t ul = rp__lower(s + u + 1, ue - u - 1, unit, sizeof unit);
                static const char *const units[] = {"db", "dbm", "ms", "s", "mhz", "khz", "ghz", "hz", "prb",
                                                    "prbs", "kbps", "mbps", "%", "km", "m", "dbi", "w", "mw", NULL};
                if (ul && in_list(units, unit, ul)) {
                    size_t sl = strlen(shown);
                    snprintf(shown + sl, sizeof shown - sl, " %.*s", (int)(ue - u - 1), s + u + 1);
                }
            }
        } else if (k == RP__TK_IDENT) {
            ok = ctx_has_ident(c, lw, m, strchr(lw, '.') || strchr(lw, '_') || strchr(lw, '-'));
            kind = "identifier";
            snprintf(shown, sizeof shown, "%.*s", (int)len, raw);
        } else {
            ok = ctx_has_acronym(c, raw, len, lw);
            kind = "acronym";
            weight = 0.5;
            snprintf(shown, sizeof shown, "%.*s", (int)len, raw);
        }
        *total += weight;
        if (ok) {
            *found += weight;
            continue;
        }
        uint64_t h = rp__word_hash(lw, m);
        bool dup = false;
        for (size_t i = 0; i < n_seen; i++)
            dup |= seen[i] == h;
        if (dup)
            continue;
        if (n_seen < 32)
            seen[n_seen++] = h;
        /* An unknown acronym lowers the score but is no proof of invention
         * (the context may spell it out differently). */
        if (k == RP__TK_ACRONYM)
            continue;
        (*hard_missing)++;
        if (is_answer)
            reason(q, "hallucinated %s '%s' (not in the context)", kind, shown);
        else
            reason(q, "unanswerable: the question asks about %s '%s', which the context does not mention", kind,
                   shown);
    }
}

/* Copies s lower-cased into buf (truncated) and returns it. */
static const char *lowered(const char *s, size_t n, char *buf, size_t cap)
{
    rp__lower(s, n, buf, cap);
    return buf;
}

static size_t count_words(const char *s, size_t n)
{
    size_t pos = 0, k = 0;
    struct rp__tok t;
    while (rp__tok_next(s, n, &pos, &t))
        k++;
    return k;
}

static void check_structure(const struct rp_quality_params *p, const struct rp_quality_ctx *c, const char *qs,
                            size_t qn, const char *as, size_t an, const char *ql, const char *al,
                            struct rp_quality *q)
{
    unsigned before = q->n_structural;
    const char *hit;
    /* The question. */
    size_t qe = qn;
    while (qe > 0 && (qs[qe - 1] == ' ' || qs[qe - 1] == '\n' || qs[qe - 1] == '\t'))
        qe--;
    size_t pos = 0;
    struct rp__tok t;
    char first[32] = "";
    if (rp__tok_next(qs, qn, &pos, &t))
        rp__lower(qs + t.start, t.end - t.start, first, sizeof first);
    if (qn == 0) {
        reason(q, "malformed: the question is empty");
        q->n_structural++;
    } else if (first[0] == '\0') {
        /* "?????": punctuation alone; nothing in it for the other checks to miss. */
        reason(q, "malformed: the question has no words");
        q->n_structural++;
    } else if (!(qe > 0 && qs[qe - 1] == '?') && !question_opener(first, strlen(first))) {
        reason(q, "malformed: the question is not a question");
        q->n_structural++;
    }
    if (qn > 0 && qn < p->question_min_chars) {
        reason(q, "malformed: the question is too short (%zu characters, at least %zu)", qn, p->question_min_chars);
        q->n_structural++;
    }
    if (qn > p->question_max_chars) {
        reason(q, "malformed: the question is too long (%zu characters, at most %zu)", qn, p->question_max_chars);
        q->n_structural++;
    }
    if (contains_any(ql, trivial_q, &hit)) {
        reason(q, "trivial: the question asks about the document, not its subject ('%s')", hit);
        q->n_structural++;
    }
    /* The answer. */
    size_t ae = an;
    while (ae > 0 && (as[ae - 1] == ' ' || as[ae - 1] == '\n' || as[ae - 1] == '\t'))
        ae--;
    size_t awords = count_words(as, an);
    static const char *const placeholders[] = {"n/a", "na", "none", "null", "unknown", "tbd", "todo", "-", "...",
                                               "no answer", "not applicable", "answer", NULL};
    char ans_trim[32];
    size_t as0 = 0;
    while (as0 < ae && (as[as0] == ' ' || as[as0] == '\n' || as[as0] == '\t'))
        as0++;
    size_t tl = rp__lower(as + as0, ae - as0, ans_trim, sizeof ans_trim);
    while (tl > 0 && ans_trim[tl - 1] == '.')
        ans_trim[--tl] = '\0';
    if (ae < p->answer_min_chars || awords == 0) {
        reason(q, "malformed: the answer is empty");
        q->n_structural++;
    } else if (ae - as0 < sizeof ans_trim && in_list(placeholders, ans_trim, tl)) {
        reason(q, "malformed: the answer is a placeholder ('%s')", ans_trim);
        q->n_structural++;
    } else {
        if (an > p->answer_max_chars) {
            reason(q, "malformed: the answer is too long (%zu characters, at most %zu)", an, p->answer_max_chars);
            q->n_structural++;
        }
        char last = as[ae - 1];
        bool ellipsis = (ae >= 3 && memcmp(as + ae - 3, "...", 3) == 0) ||
                        (ae >= 3 && memcmp(as + ae - 3, "\xE2\x80\xA6", 3) == 0);
        bool terminal = strchr(".!?)]\"'`:", last) != NULL || (ae >= 3 && (unsigned char)as[ae - 3] == 0xE2 &&
                                                                           (unsigned char)as[ae - 2] == 0x80);
        bool dangling = strchr(",;-(/&", last) != NULL;
        if (ellipsis || dangling || (!terminal && awords >= 6)) {
            reason(q, "malformed: the answer is cut off mid-sentence");
            q->n_structural++;
        }
    }
    if (contains_any(al, artefacts, &hit) || contains_any(ql, artefacts, &hit)) {
        reason(q, "malformed: assistant artefact '%s'", hit);
        q->n_structural++;
    }
    /* Repeats the question: the answer adds no word of its own. */
    if (awords > 0 && qn > 0) {
        size_t qp = 0, ap = 0, new_words = 0, words = 0;
        struct rp__tok qt, at;
        char w[128];
        uint64_t qh[MAX_WORDS];
        size_t nq = 0;
        while (rp__tok_next(qs, qn, &qp, &qt) && nq < MAX_WORDS) {
            size_t k = rp__lower(qs + qt.start, qt.end - qt.start, w, sizeof w);
            qh[nq++] = rp__word_hash(w, k);
        }
        while (rp__tok_next(as, an, &ap, &at)) {
            size_t k = rp__lower(as + at.start, at.end - at.start, w, sizeof w);
            if (rp__is_stopword(w, k))
                continue;
            words++;
            uint64_t h = rp__word_hash(w, k);
            bool in_q = false;
            for (size_t i = 0; i < nq && !in_q; i++)
                in_q = qh[i] == h;
            new_words += !in_q;
        }
        if (words >= 2 && new_words == 0) {
            reason(q, "malformed: the answer repeats the question");
            q->n_structural++;
        }
    }
    /* Language. */
    if (awords >= 4 && c->lang[0]) {
        const char *al_ = rp_quality_language(as, an);
        if (al_[0] && strcmp(al_, c->lang) != 0) {
            reason(q, "malformed: the answer is in '%s', the source in '%s'", al_, c->lang);
            q->n_structural++;
        }
    }
    q->structure = 1.0;
    for (unsigned i = before; i < q->n_structural; i++)
        q->structure *= p->hard_factor;
}

/* Whether, in some context sentence, the word after stem verb (after
 * "verb pair", when its pair follows it) is one of objs[0..n_obj). */
static bool ctx_says(const struct rp_quality_ctx *c, uint64_t verb, uint64_t pair, const uint64_t *objs,
                     size_t n_obj)
{
    for (size_t cs = 0; cs < c->n_sent; cs++) {
        size_t from = c->sent_start[cs], to = c->sent_start[cs + 1];
        for (size_t j = from; j < to; j++) {
            if (c->sent_stems[j] != verb)
                continue;
            /* "4 downlink and 4 uplink BWPs": the pair's other word between
             * them is coordination; the object is the word after it. */
            size_t first = j + 1 < to && c->sent_stems[j + 1] == pair ? j + 2 : j + 1;
            size_t hi = first + 1 < to ? first + 1 : to;
            for (size_t x = first; x < hi; x++)
                for (size_t o = 0; o < n_obj; o++)
                    if (x != j && c->sent_stems[x] == objs[o])
                        return true;
        }
    }
    return false;
}

/* An effect stated the other way round: the answer says "increases power
 * consumption" where the context says "reduces UE power consumption" and
 * never "increases" near those words. Unlike the sentence-level check this
 * holds when the context sentence has both words of a pair ("reduces X
 * but increases Y"). */
static void check_opposite_effect(const struct rp_quality_params *p, const struct rp_quality_ctx *c,
                                  const struct words *w, size_t sent_no, struct rp_quality *q)
{
    for (size_t k = 0; k < sizeof antonyms / sizeof antonyms[0]; k++) {
        uint64_t pair[2] = {antonym_hash[k][0], antonym_hash[k][1]};
        for (int side = 0; side < 2; side++) {
            uint64_t said = pair[side], other = pair[1 - side];
            if (has_stem(w->stem, 0, w->n, other))
                continue; /* the answer uses both words of the pair */
            for (size_t i = 0; i < w->n; i++) {
                if (w->stem[i] != said)
                    continue;
                /* The word the effect is on: the next content word. */
                uint64_t objs[1];
                size_t n_obj = 0;
                if (i + 1 < w->n && w->stem[i + 1] != other && w->stem[i + 1] != said)
                    objs[n_obj++] = w->stem[i + 1];
                if (n_obj == 0 || !ctx_says(c, other, said, objs, n_obj) || ctx_says(c, said, other, objs, n_obj))
                    continue;
                const char *sw = side ? antonyms[k].b : antonyms[k].a, *ow = side ? antonyms[k].a : antonyms[k].b;
                reason(q, "contradicts the context: sentence %zu says '%s' where the context says '%s' about the "
                          "same thing",
                       sent_no, sw, ow);
                q->n_contradictions++;
                q->consistency *= p->hard_factor;
                return;
            }
        }
    }
}

/* Support of each answer sentence by the context; contradictions against
 * the context sentence each matches best. */
static void check_support(const struct rp_quality_params *p, const struct rp_quality_ctx *c, const char *as,
                          size_t an, struct rp_quality *q)
{
    double min_support = 1.0;
    size_t sent_no = 0;
    size_t a = 0;
    struct words *w = malloc(sizeof *w);
    if (!w) {
        q->support = 1.0;
        q->consistency = 1.0;
        return;
    }
    q->consistency = 1.0;
    for (size_t i = 0; i <= an; i++) {
        if (i < an && !sentence_end(as, an, i))
            continue;
        size_t b = i;
        if (b > a) {
            bool neg;
            content_words(as + a, b - a, w, &neg);
            (void)neg;
            if (w->n > 0) {
                sent_no++;
                size_t found = 0;
                char missing[200] = "";
                size_t ml = 0, n_missing = 0;
                for (size_t k = 0; k < w->n; k++) {
                    if (rp__hset_has(&c->stems, w->stem[k]) ||
                        rp__hset_has(&c->idents, rp__word_hash(as + a + w->start[k], w->len[k]))) {
                        found++;
                        continue;
                    }
                    /* An identifier the context spells as its parts. */
                    char lw[128];
                    size_t m = rp__lower(as + a + w->start[k], w->len[k], lw, sizeof lw);
                    if (ctx_has_ident(c, lw, m, true)) {
                        found++;
                        continue;
                    }
                    if (n_missing < 6 && ml + w->len[k] + 3 < sizeof missing) {
                        int wr = snprintf(missing + ml, sizeof missing - ml, "%s%.*s", ml ? ", " : "",
                                          (int)w->len[k], as + a + w->start[k]);
                        if (wr > 0)
                            ml += (size_t)wr;
                    }
                    n_missing++;
                }
                double s = (double)found / (double)w->n;
                if (w->n >= 3 && s < min_support)
                    min_support = s;
                if (w->n >= 3 && s < p->min_support) {
                    reason(q, "ungrounded claim: sentence %zu is not supported by the context (%.0f%% of its words; "
                              "missing: %s)",
                           sent_no, s * 100, missing);
                    q->n_unsupported++;
                }
                /* Best-matching context sentence. */
                size_t best = SIZE_MAX, best_hits = 0;
                for (size_t cs = 0; cs < c->n_sent; cs++) {
                    size_t from = c->sent_start[cs], to = c->sent_start[cs + 1], hits = 0;
                    for (size_t k = 0; k < w->n; k++)
                        hits += has_stem(c->sent_stems, from, to, w->stem[k]);
                    if (hits > best_hits) {
                        best_hits = hits;
                        best = cs;
                    }
                }
                if (best != SIZE_MAX && best_hits >= 2) {
                    size_t from = c->sent_start[best], to = c->sent_start[best + 1];
                    for (size_t k = 0; k < sizeof antonyms / sizeof antonyms[0]; k++) {
                        uint64_t ha = antonym_hash[k][0], hb = antonym_hash[k][1];
                        bool ans_a = has_stem(w->stem, 0, w->n, ha), ans_b = has_stem(w->stem, 0, w->n, hb);
                        bool ctx_a = has_stem(c->sent_stems, from, to, ha), ctx_b = has_stem(c->sent_stems, from, to, hb);
                        const char *said = NULL, *ctx_said = NULL;
                        if (ans_a && !ans_b && ctx_b && !ctx_a)
                            said = antonyms[k].a, ctx_said = antonyms[k].b;
                        else if (ans_b && !ans_a && ctx_a && !ctx_b)
                            said = antonyms[k].b, ctx_said = antonyms[k].a;
                        if (said) {
                            reason(q, "contradicts the context: sentence %zu says '%s' where the context says '%s'",
                                   sent_no, said, ctx_said);
                            q->n_contradictions++;
                            q->consistency *= p->hard_factor;
                            break;
                        }
                    }
                }
                if (q->n_contradictions == 0)
                    check_opposite_effect(p, c, w, sent_no, q);
            }
        }
        a = i + 1;
    }
    free(w);
    q->support = min_support;
}

/* Values given to the wrong thing: a number the context has, but as the
 * default of something else, or for another identifier (see note_value()). */
/* A parameter name: camelCase or dotted, starting lower-case, with a word
 * in it (qRxLevMin, beamFailureDetectionTimer; not eMBB). */
static bool param_like(const char *s, size_t n, const char *lw)
{
    size_t low = 0;
    for (size_t i = 0; i < n; i++)
        low += s[i] >= 'a' && s[i] <= 'z';
    return ((s[0] >= 'a' && s[0] <= 'z') && low >= 3) || memchr(lw, '.', n) != NULL;
}

struct answer_value {
    uint64_t h, habs;
    bool is_default;
    unsigned clause;
    uint64_t owner[2]; /* the nearest parameter name before it in the sentence */
    size_t n_owner;
    uint64_t label;    /* the name right before it ("QCI 5", "SST 2"), or 0 */
    char owner_shown[48], label_shown[24], shown[40];
};

static void check_one_value(const struct rp_quality_ctx *c, const struct answer_value *v, struct rp_quality *q)
{
    uint64_t h = v->h, habs = v->habs;
    if (!rp__hset_has(&c->numbers, h) && !rp__hset_has(&c->numbers, habs))
        return; /* the grounding check names it */
    if (v->is_default && c->defaults.n > 0 && !rp__hset_has(&c->defaults, h) && !rp__hset_has(&c->defaults, habs)) {
        reason(q, "hallucinated value '%s': the context does not give it as a default", v->shown);
        q->n_hallucinated++;
        return;
    }
    if (rp__hset_has(&c->unowned, h) || rp__hset_has(&c->unowned, habs))
        return; /* the context also gives it on its own: no owner to check */
    bool known = false, owned = false;
    for (size_t j = 0; j < v->n_owner; j++) {
        known |= rp__hset_has(&c->idents, v->owner[j]);
        owned |= rp__hset_has(&c->owned, pair_hash(v->owner[j], h)) || rp__hset_has(&c->owned, pair_hash(v->owner[j], habs));
    }
    if (known && !owned) {
        reason(q, "hallucinated value '%s': the context does not give it for '%s'", v->shown, v->owner_shown);
        q->n_hallucinated++;
        return;
    }
    if (v->label && rp__hset_has(&c->idents, v->label) && !rp__hset_has(&c->owned, pair_hash(v->label, h)) &&
        !rp__hset_has(&c->owned, pair_hash(v->label, habs))) {
        reason(q, "hallucinated value '%s %s': the context does not give that %s", v->label_shown, v->shown,
               v->label_shown);
        q->n_hallucinated++;
    }
}

/* Values given to the wrong thing: a number (or an enumerated value such
 * as sl80) the context has, but as the default of something else, for
 * another parameter, or after another label (see note_value()). */
static void check_values(const struct rp_quality_ctx *c, const char *as, size_t an, struct rp_quality *q)
{
    size_t a = 0;
    struct answer_value *nums = malloc(16 * sizeof *nums);
    if (!nums)
        return;
    for (size_t i = 0; i <= an; i++) {
        if (i < an && !sentence_end(as, an, i))
            continue;
        const char *s = as + a;
        size_t sn = i - a;
        a = i + 1;
        size_t pos = 0, tok = 0, default_at = 0, last_num_at = SIZE_MAX;
        bool default_open = false, prev_by = false;
        uint64_t owner[2] = {0, 0}, label = 0;
        size_t n_owner = 0, label_at = SIZE_MAX;
        char owner_shown[48] = "", label_shown[24] = "";
        unsigned clause = 0;
        size_t prev_end = 0;
        size_t n_nums = 0;
        struct rp__tok t;
        char lw[128];
        while (rp__tok_next(s, sn, &pos, &t)) {
            size_t at = tok++;
            size_t len = t.end - t.start;
            if (len >= sizeof lw)
                continue;
            size_t m = rp__lower(s + t.start, len, lw, sizeof lw);
            /* Clauses: ';', ':' and contrasting words separate what a
             * number pair may be read as saying together. */
            for (size_t x = prev_end; x < t.start; x++)
                clause += s[x] == ';' || s[x] == ':' || s[x] == '(';
            prev_end = t.end;
            if ((m == 5 && memcmp(lw, "while", 5) == 0) || (m == 7 && memcmp(lw, "whereas", 7) == 0) ||
                (m == 3 && memcmp(lw, "but", 3) == 0) || (m == 3 && memcmp(lw, "and", 3) == 0))
                clause++;
            bool by = prev_by;
            prev_by = m == 2 && lw[0] == 'b' && lw[1] == 'y';
            if (is_default_word(lw, m)) {
                default_open = !by;
                default_at = at;
                /* "24 hours by default": the value before it. */
                if (by && last_num_at != SIZE_MAX && at - last_num_at <= 3 && n_nums > 0)
                    nums[n_nums - 1].is_default = true;
                continue;
            }
            enum rp__tok_kind k = rp__classify(s + t.start, len);
            bool ev = enum_value(s + t.start, len);
            if (k != RP__TK_NUMBER && !ev && !default_bridge(lw, m, k))
                default_open = false;
            if ((k == RP__TK_IDENT || k == RP__TK_ACRONYM) && !ev && !common_term(lw, m)) {
                if (k == RP__TK_IDENT && param_like(s + t.start, len, lw)) {
                    n_owner = ident_keys(lw, m, owner);
                    snprintf(owner_shown, sizeof owner_shown, "%.*s", (int)len, s + t.start);
                }
                label = rp__word_hash(lw, m);
                label_at = at;
                snprintf(label_shown, sizeof label_shown, "%.*s", (int)len, s + t.start);
                continue;
            }
            char canon[64];
            uint64_t h, habs;
            if (ev) {
                h = habs = rp__word_hash(lw, m);
            } else {
                if (k != RP__TK_NUMBER || !rp__number_canon(s + t.start, len, t.neg, canon, sizeof canon))
                    continue;
                /* List markers: "1." at the start of a line or sentence. */
                size_t b = t.start;
                while (b > 0 && (s[b - 1] == ' ' || s[b - 1] == '\t'))
                    b--;
                bool starts = t.line_start || b == 0 || strchr(".:;\n", s[b - 1]);
                if (starts && t.end < sn && (s[t.end] == '.' || s[t.end] == ')'))
                    continue;
                h = rp__word_hash(canon, strlen(canon));
                habs = t.neg ? rp__word_hash(canon + 1, strlen(canon + 1)) : h;
            }
            if (n_nums == 16)
                continue;
            struct answer_value *v = &nums[n_nums];
            memset(v, 0, sizeof *v);
            v->h = h;
            v->habs = habs;
            v->is_default = default_open && at - default_at <= DEFAULT_WINDOW;
            v->clause = clause;
            v->n_owner = n_owner;
            memcpy(v->owner, owner, sizeof owner);
            snprintf(v->owner_shown, sizeof v->owner_shown, "%s", owner_shown);
            if (label_at != SIZE_MAX && label_at + 1 == at) {
                v->label = label;
                snprintf(v->label_shown, sizeof v->label_shown, "%s", label_shown);
            }
            snprintf(v->shown, sizeof v->shown, "%s%.*s", t.neg ? "-" : "", (int)len, s + t.start);
            default_open = false;
            last_num_at = at;
            n_nums++;
        }
        /* Two numbers said together in one clause ("5QI 1 ... 150 ms")
         * must stand together in some sentence of the context. */
        for (size_t k = 1; k < n_nums; k++) {
            if (nums[k].clause != nums[k - 1].clause)
                continue;
            bool in_k = rp__hset_has(&c->numbers, nums[k].h), in_p = rp__hset_has(&c->numbers, nums[k - 1].h);
            if (!in_k || !in_p || nums[k].h == nums[k - 1].h)
                continue;
            bool together = false;
            for (size_t cs = 0; cs < c->n_sent && !together; cs++) {
                bool has_p = false, has_k = false;
                for (size_t x = c->sent_num_start[cs]; x < c->sent_num_start[cs + 1]; x++) {
                    has_p |= c->sent_nums[x] == nums[k - 1].h;
                    has_k |= c->sent_nums[x] == nums[k].h;
                }
                together = has_p && has_k;
            }
            if (!together) {
                reason(q, "hallucinated value '%s': the context never gives it together with '%s'", nums[k].shown,
                       nums[k - 1].shown);
                q->n_hallucinated++;
            }
        }
        for (size_t k = 0; k < n_nums; k++)
            check_one_value(c, &nums[k], q);
    }
    free(nums);
}

static bool all_caps_word(const char *s, size_t n)
{
    size_t up = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'a' && s[i] <= 'z')
            return false;
        up += s[i] >= 'A' && s[i] <= 'Z';
    }
    return up >= 2 || (n == 1 && up == 1);
}

/* A word of a name: starts with a capital and is not a function word
 * ("The" starting a sentence). strong: two capitals or more (SN, SgNB). */
static bool name_word(const char *s, size_t n, bool *strong)
{
    size_t up = 0;
    for (size_t i = 0; i < n; i++)
        up += s[i] >= 'A' && s[i] <= 'Z';
    *strong = up >= 2 || all_caps_word(s, n);
    if (!(s[0] >= 'A' && s[0] <= 'Z'))
        return false;
    /* "CQI-based", "PRB-level": an adjective made from a name. */
    const char *h = memchr(s, '-', n);
    if (h && h + 1 < s + n && h[1] >= 'a' && h[1] <= 'z')
        return false;
    char lw[16];
    if (n < sizeof lw) {
        size_t m = rp__lower(s, n, lw, sizeof lw);
        if (rp__is_stopword(lw, m))
            return false;
    }
    return true;
}

/* Message and procedure names (HANDOVER REQUEST, SN STATUS TRANSFER,
 * SgNB Addition Request, RRC Connection Setup): a run of two or more
 * capitalised words, one with two capitals or more and one at least five
 * letters long, must occur as a phrase in the context (any case). Single
 * words are the identifier check's. */
static void check_phrases(const struct rp_quality_ctx *c, const char *as, size_t an, struct rp_quality *q)
{
    size_t pos = 0;
    struct rp__tok t;
    size_t run_start = 0, run_end = 0, run_words = 0;
    bool run_long = false, run_strong = false;
    for (;;) {
        bool more = rp__tok_next(as, an, &pos, &t);
        bool strong = false;
        bool caps = more && name_word(as + t.start, t.end - t.start, &strong);
        if (caps && !strong && run_words == 0) {
            /* A sentence's first word is capitalised anyway ("Every"). */
            size_t b = t.start;
            while (b > 0 && (as[b - 1] == ' ' || as[b - 1] == '\t' || as[b - 1] == '"'))
                b--;
            if (b == 0 || strchr(".!?:\n", as[b - 1]))
                caps = false;
        }
        bool joins = more && caps && run_words > 0 && t.start == run_end + 1 && as[run_end] == ' ';
        if (!joins && run_words >= 2 && run_long && run_strong) {
            char phrase[160];
            size_t m = rp__lower(as + run_start, run_end - run_start, phrase, sizeof phrase);
            if (m == run_end - run_start && !ctx_contains(c, phrase)) {
                reason(q, "hallucinated identifier '%.*s' (not in the context)", (int)(run_end - run_start),
                       as + run_start);
                q->n_hallucinated++;
            }
        }
        if (!more)
            break;
        if (caps && joins) {
            run_end = t.end;
            run_words++;
            run_long |= t.end - t.start >= 5;
            run_strong |= strong;
        } else if (caps) {
            run_start = t.start;
            run_end = t.end;
            run_words = 1;
            run_long = t.end - t.start >= 5;
            run_strong = strong;
        } else {
            run_words = 0;
        }
    }
}

/* "Yes." to a question whose best-matching context sentence says no: the
 * commonest contradiction of small models (asked "can X do Y?", the
 * context says X never does Y). */
static void check_yes(const struct rp_quality_params *p, const struct rp_quality_ctx *c, const char *qs, size_t qn,
                      const char *as, size_t an, struct rp_quality *q)
{
    size_t pos = 0;
    struct rp__tok t;
    char first[8];
    if (!rp__tok_next(as, an, &pos, &t) || t.end - t.start != 3)
        return;
    rp__lower(as + t.start, 3, first, sizeof first);
    if (strcmp(first, "yes") != 0)
        return;
    struct words *w = malloc(sizeof *w);
    if (!w)
        return;
    bool neg;
    content_words(qs, qn, w, &neg);
    size_t best = SIZE_MAX, best_hits = 0;
    for (size_t cs = 0; cs < c->n_sent; cs++) {
        size_t from = c->sent_start[cs], to = c->sent_start[cs + 1], hits = 0;
        for (size_t k = 0; k < w->n; k++)
            hits += has_stem(c->sent_stems, from, to, w->stem[k]);
        if (hits > best_hits) {
            best_hits = hits;
            best = cs;
        }
    }
    if (best != SIZE_MAX && !neg && c->sent_neg[best] && best_hits * 2 >= w->n) {
        reason(q, "contradicts the context: the answer says yes where the matching context sentence has a negation");
        q->n_contradictions++;
        q->consistency *= p->hard_factor;
    }
    free(w);
}

/* How much of the question the context covers. */
static void check_answerable(const struct rp_quality_ctx *c, const char *qs, size_t qn, struct rp_quality *q)
{
    size_t pos = 0, words = 0, found = 0;
    struct rp__tok t;
    char w[128];
    char missing[200] = "";
    size_t ml = 0;
    while (rp__tok_next(qs, qn, &pos, &t)) {
        size_t k = rp__lower(qs + t.start, t.end - t.start, w, sizeof w);
        if (rp__is_stopword(w, k) || question_opener(w, k) || generic_question_word(w, k) || k < 3 ||
            (w[0] >= '0' && w[0] <= '9'))
            continue;
        words++;
        if (rp__hset_has(&c->stems, rp__stem_hash(w, k)) || ctx_has_ident(c, w, k, true)) {
            found++;
        } else if (ml + (t.end - t.start) + 3 < sizeof missing) {
            int wr = snprintf(missing + ml, sizeof missing - ml, "%s%.*s", ml ? ", " : "", (int)(t.end - t.start),
                              qs + t.start);
            if (wr > 0)
                ml += (size_t)wr;
        }
    }
    double cov = words ? (double)found / (double)words : 1.0;
    double f = 0, tot = 0;
    unsigned hard = 0;
    ground(c, qs, qn, false, q, &f, &tot, &hard);
    if (hard)
        q->n_unanswerable += hard;
    if (tot > 0)
        cov = cov * (f / tot);
    if (words >= 3 && found * 3 < words) {
        reason(q, "unanswerable: the context does not cover the question (missing: %s)", missing);
        q->n_unanswerable++;
    }
    q->answerable = cov;
}

void rp_quality_assess(const struct rp_quality_params *p, const struct rp_quality_ctx *c, const char *question,
                       const char *answer, const struct rp_quality_extra *extra, struct rp_quality *q)
{
    lexicon();
    memset(q, 0, offsetof(struct rp_quality, text));
    q->text[0] = '\0';
    q->semantic = -1;
    q->judge = -1;
    const char *qs = question ? question : "";
    const char *as = answer ? answer : "";
    size_t qn = strlen(qs), an = strlen(as);
    char ql[1024], al[4096];
    lowered(qs, qn, ql, sizeof ql);
    lowered(as, an, al, sizeof al);

    check_structure(p, c, qs, qn, as, an, ql, al, q);

    /* Grounding of the answer's identifiers and numbers. */
    double found = 0, total = 0;
    ground(c, as, an, true, q, &found, &total, &q->n_hallucinated);
    q->grounding = total > 0 ? found / total : 1.0;

    check_values(c, as, an, q);
    check_support(p, c, as, an, q);
    check_yes(p, c, qs, qn, as, an, q);
    check_phrases(c, as, an, q);
    check_answerable(c, qs, qn, q);

    const char *hit;
    if (contains_any(al, evasions, &hit)) {
        reason(q, "unanswerable: the answer says the context does not give it ('%s')", hit);
        q->n_evasive++;
    }

    /* Optional measurements. */
    double sem = -1;
    if (extra) {
        double s = 0;
        int k = 0;
        if (extra->semantic_question >= -1) {
            s += extra->semantic_question > 0 ? extra->semantic_question : 0;
            k++;
        }
        if (extra->semantic_answer >= -1) {
            s += extra->semantic_answer > 0 ? extra->semantic_answer : 0;
            k++;
        }
        if (k)
            sem = s / k;
        if (extra->judge >= 0) {
            q->judge = extra->judge > 1 ? 1 : extra->judge;
            if (rp_quality_judge_poor(q->judge))
                reason(q, "judge: %s", extra->judge_reason ? extra->judge_reason : "rated the pair poor");
        }
    }
    q->semantic = sem;

    double wsum = p->w_grounding + p->w_support + p->w_answerable;
    double sum = p->w_grounding * q->grounding + p->w_support * q->support + p->w_answerable * q->answerable;
    if (sem >= 0) {
        wsum += p->w_semantic;
        sum += p->w_semantic * sem;
    }
    if (q->judge >= 0) {
        wsum += p->w_judge;
        sum += p->w_judge * q->judge;
    }
    double score = wsum > 0 ? sum / wsum : 0;
    unsigned hard = q->n_structural + q->n_hallucinated + q->n_contradictions + q->n_evasive + q->n_unsupported +
                    q->n_unanswerable;
    for (unsigned i = 0; i < hard && i < 6; i++)
        score *= p->hard_factor;
    q->score = score;
    q->accept = hard == 0 && score >= p->threshold && q->n_reasons == 0;
    if (!q->accept && q->n_reasons == 0)
        reason(q, "score %.2f below the threshold %.2f (grounding %.2f, support %.2f, answerable %.2f)", score,
               p->threshold, q->grounding, q->support, q->answerable);
}
