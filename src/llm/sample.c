/*
 * sample.c - token sampling with a cheap grammar check.
 *
 * Top-k is a single pass over the logits keeping the k best in a min-heap
 * (k is small, the vocabulary is 152k), then softmax with temperature,
 * top-p cut, and one draw from the sequence's splitmix64 generator, so a
 * request's output depends only on its seed and the logits.
 *
 * Only the drawn token is checked: that its bytes keep the output valid
 * UTF-8 (byte-level vocabularies can produce any byte sequence, and llama's
 * grammar accepts invalid ones) and, with a grammar, that the grammar
 * accepts it (a one-element candidate array through llama_sampler_apply).
 * When it is rejected, the draw is repeated over the k best acceptable
 * tokens - exactly what filtering the whole vocabulary followed by top-k
 * would give - found in stages, cheapest first:
 *   1. the best 8k, then 64k tokens by logit: if k of them are accepted,
 *      no token outside them can be among the k best accepted ones;
 *   2. every token whose first byte the grammar accepts (the vocabulary
 *      index: one probe per byte rules out most of the vocabulary);
 *   3. the whole vocabulary, so the stages can never cause a dead end.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm_int.h"

bool rp__vocab_index_build(struct rp__vocab_index *ix, const struct llama_vocab *vocab)
{
    int n = llama_vocab_n_tokens(vocab);
    memset(ix, 0, sizeof(*ix));
    int16_t *first = malloc((size_t)n * sizeof(*first));
    size_t text_cap = (size_t)n * 8;
    ix->by_byte = malloc((size_t)n * sizeof(*ix->by_byte));
    ix->other = malloc((size_t)n * sizeof(*ix->other));
    ix->text_off = malloc(((size_t)n + 1) * sizeof(*ix->text_off));
    ix->text = malloc(text_cap);
    if (!first || !ix->by_byte || !ix->other || !ix->text_off || !ix->text)
        goto fail;
    for (int b = 0; b < 256; b++)
        ix->probe[b] = -1;
    int32_t count[256] = {0};
    size_t text_len = 0;
    for (int t = 0; t < n; t++) {
        char piece[256];
        /* Output text, as appended to a sequence's result. */
        int32_t len = llama_token_to_piece(vocab, t, piece, sizeof(piece), 0, false);
        if (len < 0)
            len = 0;
        if (text_len + (size_t)len > text_cap) {
            text_cap = 2 * text_cap + (size_t)len;
            char *p = realloc(ix->text, text_cap);
            if (!p)
                goto fail;
            ix->text = p;
        }
        memcpy(ix->text + text_len, piece, (size_t)len);
        ix->text_off[t] = (uint32_t)text_len;
        text_len += (size_t)len;

        /* The grammar sees special tokens rendered. */
        len = llama_token_to_piece(vocab, t, piece, sizeof(piece), 0, true);
        if (len <= 0 || piece[0] == 0 || llama_vocab_is_eog(vocab, t)) {
            first[t] = -1;
            ix->other[ix->n_other++] = t;
            continue;
        }
        unsigned char b = (unsigned char)piece[0];
        first[t] = b;
        count[b]++;
        if (len == 1 && ix->probe[b] < 0)
            ix->probe[b] = t;
    }
    ix->text_off[n] = (uint32_t)text_len;
    ix->start[0] = 0;
    for (int b = 0; b < 256; b++)
        ix->start[b + 1] = ix->start[b] + count[b];
    int32_t fill[256];
    memcpy(fill, ix->start, sizeof(fill));
    for (int t = 0; t < n; t++)
        if (first[t] >= 0)
            ix->by_byte[fill[first[t]]++] = t;
    free(first);
    return true;
fail:
    free(first);
    rp__vocab_index_release(ix);
    return false;
}

void rp__vocab_index_release(struct rp__vocab_index *ix)
{
    free(ix->by_byte);
    free(ix->other);
    free(ix->text);
    free(ix->text_off);
    memset(ix, 0, sizeof(*ix));
}

bool rp__utf8_step(struct rp__utf8 *st, const char *s, size_t n)
{
    struct rp__utf8 x = *st;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (x.need) {
            if (c < x.lo || c > x.hi)
                return false;
            x.need--;
            x.lo = 0x80;
            x.hi = 0xBF;
            continue;
        }
        x.lo = 0x80;
        x.hi = 0xBF;
        if (c < 0x80)
            continue;
        if (c >= 0xC2 && c <= 0xDF) {
            x.need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            x.need = 2;
            if (c == 0xE0)
                x.lo = 0xA0; /* no overlong forms */
            else if (c == 0xED)
                x.hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            x.need = 3;
            if (c == 0xF0)
                x.lo = 0x90;
            else if (c == 0xF4)
                x.hi = 0x8F; /* nothing above U+10FFFF */
        } else {
            return false;
        }
    }
    *st = x;
    return true;
}

static bool utf8_ok(const struct rp__sampler *s, llama_token t)
{
    struct rp__utf8 st = s->utf8;
    const struct rp__vocab_index *ix = s->ix;
    return rp__utf8_step(&st, ix->text + ix->text_off[t], ix->text_off[t + 1] - ix->text_off[t]);
}

/* ---- top-k heap ---- */

static bool topk_init(struct rp__topk *h, size_t cap)
{
    h->alloc = cap;
    h->cap = cap;
    h->have = 0;
    h->val = malloc(cap * sizeof(*h->val));
    h->id = malloc(cap * sizeof(*h->id));
    return h->val && h->id;
}

static void topk_release(struct rp__topk *h)
{
    free(h->val);
    free(h->id);
    h->val = NULL;
    h->id = NULL;
}

static void heap_down(struct rp__topk *h, size_t i)
{
    float *val = h->val;
    int32_t *id = h->id;
    size_t n = h->have;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && val[l] < val[m])
            m = l;
        if (r < n && val[r] < val[m])
            m = r;
        if (m == i)
            return;
        float tv = val[i];
        val[i] = val[m];
        val[m] = tv;
        int32_t ti = id[i];
        id[i] = id[m];
        id[m] = ti;
        i = m;
    }
}

static void topk_offer(struct rp__topk *h, float v, int32_t id)
{
    if (h->have < h->cap) {
        h->val[h->have] = v;
        h->id[h->have] = id;
        h->have++;
        if (h->have == h->cap)
            for (size_t j = h->cap / 2 + 1; j-- > 0;)
                heap_down(h, j);
    } else if (v > h->val[0]) {
        h->val[0] = v;
        h->id[0] = id;
        heap_down(h, 0);
    }
}

/* Keeps the best `limit` (at most h->alloc) finite logits. */
static void topk_scan(struct rp__topk *h, const float *logits, size_t n, size_t limit)
{
    h->cap = limit < h->alloc ? limit : h->alloc;
    h->have = 0;
    size_t i = 0;
    for (; i < n && h->have < h->cap; i++)
        if (logits[i] != -INFINITY && !isnan(logits[i]))
            topk_offer(h, logits[i], (int32_t)i);
    /* Heap full: most logits lose to the current minimum at once. */
    for (; i < n; i++)
        if (logits[i] > h->val[0])
            topk_offer(h, logits[i], (int32_t)i);
}

enum rp_err rp__sampler_init(struct rp__sampler *s, struct llama_sampler *grammar,
                             const struct rp__vocab_index *ix, uint64_t seed, int n_vocab,
                             const struct rp_sampling *p)
{
    memset(s, 0, sizeof(*s));
    s->grammar = grammar;
    s->ix = ix;
    rp_rng_seed(&s->rng, seed);
    size_t k = p->top_k > 0 && p->top_k < n_vocab ? (size_t)p->top_k : (size_t)n_vocab;
    if (p->temperature <= 0)
        k = 1;
    size_t wide = 64 * k < (size_t)n_vocab ? 64 * k : (size_t)n_vocab;
    if (!topk_init(&s->top, k) || !topk_init(&s->wide, wide) ||
        !(s->probs = malloc(k * sizeof(*s->probs)))) {
        rp__sampler_release(s);
        return RP_ERR_NOMEM;
    }
    return RP_OK;
}

void rp__sampler_release(struct rp__sampler *s)
{
    if (s->grammar)
        llama_sampler_free(s->grammar);
    topk_release(&s->top);
    topk_release(&s->wide);
    free(s->cand);
    free(s->probs);
    memset(s, 0, sizeof(*s));
}

/* Draws one of the candidates in s->top. */
static llama_token draw(struct rp__sampler *s, const struct rp_sampling *p)
{
    struct rp__topk *h = &s->top;
    size_t have = h->have;
    if (have == 0)
        return -1;
    /* Sort descending (insertion sort: k is small). Ties keep the lower id
     * first so the order is deterministic. */
    for (size_t i = 1; i < have; i++) {
        float v = h->val[i];
        int32_t id = h->id[i];
        size_t j = i;
        while (j > 0 && (h->val[j - 1] < v || (h->val[j - 1] == v && h->id[j - 1] > id))) {
            h->val[j] = h->val[j - 1];
            h->id[j] = h->id[j - 1];
            j--;
        }
        h->val[j] = v;
        h->id[j] = id;
    }
    if (p->temperature <= 0 || have == 1)
        return h->id[0];
    double sum = 0;
    for (size_t i = 0; i < have; i++) {
        s->probs[i] = expf((h->val[i] - h->val[0]) / p->temperature);
        sum += s->probs[i];
    }
    size_t keep = have;
    if (p->top_p > 0 && p->top_p < 1) {
        double cum = 0;
        for (size_t i = 0; i < have; i++) {
            cum += s->probs[i] / sum;
            if (cum >= p->top_p) {
                keep = i + 1;
                break;
            }
        }
        sum = 0;
        for (size_t i = 0; i < keep; i++)
            sum += s->probs[i];
    }
    double r = rp_rng_uniform(&s->rng) * sum;
    for (size_t i = 0; i < keep; i++) {
        r -= s->probs[i];
        if (r < 0)
            return h->id[i];
    }
    return h->id[keep - 1];
}

static bool grammar_allows(struct llama_sampler *g, llama_token tok, float logit)
{
    llama_token_data td = {tok, logit, 0.0f};
    llama_token_data_array arr = {&td, 1, -1, false};
    llama_sampler_apply(g, &arr);
    return td.logit != -INFINITY;
}

/* Keeps the best acceptable tokens of s->cand[0..n) in s->top: those that
 * keep the output valid UTF-8 and that the grammar (if any) accepts. */
static void filter_candidates(struct rp__sampler *s, size_t n)
{
    /* The grammar first: it removes most candidates, and UTF-8 is then
     * checked only on the survivors. */
    if (s->grammar && n > 0) {
        llama_token_data_array arr = {s->cand, n, -1, false};
        llama_sampler_apply(s->grammar, &arr);
    }
    s->top.cap = s->top.alloc;
    s->top.have = 0;
    for (size_t i = 0; i < n; i++) {
        float v = s->cand[i].logit;
        if (v == -INFINITY || isnan(v))
            continue;
        if (s->top.have == s->top.cap && v <= s->top.val[0])
            continue; /* would not enter the heap anyway */
        if (utf8_ok(s, s->cand[i].id))
            topk_offer(&s->top, v, s->cand[i].id);
    }
}

/* Finds the k best acceptable tokens (see the file comment). */
static void find_candidates(struct rp__sampler *s, const float *logits, int n_vocab)
{
    /* Stage 1: the best 8k, then 64k, tokens (wide.cap is 64k or the vocabulary). */
    size_t widths[2] = {8 * s->top.alloc, s->wide.alloc};
    for (int w = 0; w < 2; w++) {
        if (widths[w] > s->wide.alloc || (w == 1 && widths[1] <= widths[0]))
            continue;
        topk_scan(&s->wide, logits, (size_t)n_vocab, widths[w]);
        size_t n = s->wide.have;
        for (size_t i = 0; i < n; i++)
            s->cand[i] = (llama_token_data){s->wide.id[i], s->wide.val[i], 0.0f};
        filter_candidates(s, n);
        /* Every token left out scores no higher than those looked at, so k
         * accepted ones among them are the k best accepted overall; and when
         * fewer than the width were finite, nothing was left out. */
        if (s->top.have == s->top.alloc || (n < widths[w] && s->top.have > 0))
            return;
    }
    /* Stage 2: tokens whose first byte the grammar accepts. */
    if (s->grammar) {
        const struct rp__vocab_index *ix = s->ix;
        size_t n = 0;
        for (int b = 0; b < 256; b++) {
            if (ix->start[b] == ix->start[b + 1])
                continue;
            if (ix->probe[b] >= 0 && !grammar_allows(s->grammar, ix->probe[b], 0.0f))
                continue;
            for (int32_t k = ix->start[b]; k < ix->start[b + 1]; k++) {
                int32_t t = ix->by_byte[k];
                s->cand[n++] = (llama_token_data){t, logits[t], 0.0f};
            }
        }
        for (size_t k = 0; k < ix->n_other; k++) {
            int32_t t = ix->other[k];
            s->cand[n++] = (llama_token_data){t, logits[t], 0.0f};
        }
        filter_candidates(s, n);
        if (s->top.have > 0)
            return;
    }
    /* Stage 3: the whole vocabulary. */
    for (int i = 0; i < n_vocab; i++)
        s->cand[i] = (llama_token_data){i, logits[i], 0.0f};
    filter_candidates(s, (size_t)n_vocab);
}

static void accept(struct rp__sampler *s, llama_token tok)
{
    const struct rp__vocab_index *ix = s->ix;
    rp__utf8_step(&s->utf8, ix->text + ix->text_off[tok], ix->text_off[tok + 1] - ix->text_off[tok]);
    if (s->grammar)
        llama_sampler_accept(s->grammar, tok);
}

llama_token rp__sampler_sample(struct rp__sampler *s, const struct rp_sampling *p,
                               const float *logits, int n_vocab, bool *fallback)
{
    *fallback = false;
    topk_scan(&s->top, logits, (size_t)n_vocab, s->top.alloc);
    llama_token tok = draw(s, p);
    if (tok >= 0 && utf8_ok(s, tok) && (!s->grammar || grammar_allows(s->grammar, tok, logits[tok]))) {
        accept(s, tok);
        return tok;
    }
    *fallback = true;
    if (!s->cand) {
        s->cand = malloc((size_t)n_vocab * sizeof(*s->cand));
        if (!s->cand)
            return -1;
    }
    find_candidates(s, logits, n_vocab);
    tok = draw(s, p);
    if (tok >= 0)
        accept(s, tok);
    return tok;
}
