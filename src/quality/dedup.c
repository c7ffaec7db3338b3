/*
 * dedup.c - MinHash + LSH near-duplicate detector (see include/ranpipe/dedup.h).
 *
 * Layout. Records live in two parallel arrays: nfp[i] (one byte: the number
 * of stored fingerprints, or NFP_MINHASH) and sig[i * sig_bytes] (sorted
 * 24-bit fingerprints of 3 bytes each, or the packed 2-bit MinHash, 32
 * values per 64-bit word). The LSH table is one array of (key, id) slots for all bands, probed
 * linearly from fastrange(key); key 0 marks an empty slot. Keys carry their
 * own position, so the table can be rebuilt at twice the size from the
 * slots alone when it passes its load limit.
 *
 * Hashes. Words are XXH3-64 of their normalised bytes; an n-gram is a
 * splitmix-style chain over its word hashes (no byte order involved); its
 * fingerprint is the top 24 bits. For MinHash every fingerprint is first
 * spread to a 32-bit key x = mix(fp), and permutation i is the bijection
 * x -> a_i * x + b_i (mod 2^32, a_i odd) with (a_i, b_i) from the seeded
 * generator; its minimum is what banding hashes, and the top two bits of
 * min * golden are what the signature keeps (the lowest bits of a_i*x+b_i
 * depend only on the lowest bits of x, so they are not used). 32-bit
 * arithmetic lets AVX2 run 8 permutations per instruction, with results
 * identical to the portable loop; the estimate's bias and spread are
 * checked by test_dedup against the binomial figures.
 */
#include "ranpipe/dedup.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "quality/dedup_int.h"
#include "ranpipe/hash.h"

#define NFP_MINHASH 0xFFu
#define BUCKET_MAX 32     /* records kept under one band key */
#define MAX_LOAD 0.75     /* table load that triggers doubling */
#define AUTO_MAX_BANDS 12 /* bands the automatic choice may use */
#define AUTO_RECALL 0.985 /* P(candidate | J = threshold) it aims for */
#define MIN_RECORDS 16
#define MAX_RECORDS UINT32_MAX /* exclusive: UINT32_MAX reports "none" */

#define MH_BLOCK 16 /* permutations per pass of the vector MinHash */

/* out[i] = min over x in xs[0..n) of a[i] * x + b[i] (mod 2^32), i < k; k is
 * a multiple of MH_BLOCK. */
typedef void minhash_fn(const uint32_t *xs, size_t n, const uint32_t *a, const uint32_t *b,
                        size_t k, uint32_t *out);

struct slot {
    uint32_t key; /* 0: empty */
    uint32_t id;
};

struct rp_dedup {
    struct rp_dedup_params p; /* bands, rows as chosen */
    size_t sig_bytes;         /* num_perm / 4 */
    size_t exact_max;         /* fingerprints a record may keep: sig_bytes / 3 */
    size_t n_band_perm;       /* bands * rows */
    size_t n_band_pad;        /* rounded up to MH_BLOCK */

    /* Permutations: [0, num_perm) for the signature, then n_band_pad for LSH. */
    uint32_t *perm_a, *perm_b;
    minhash_fn *minhash;
    uint64_t begin_mark, end_mark; /* the ^ and $ word hashes */

    /* Records. */
    uint8_t *nfp;
    uint8_t *sig;
    size_t count, rec_cap;

    /* LSH table. */
    struct slot *tab;
    size_t tab_cap, tab_used, tab_limit;

    /* Scratch for one call, kept between calls. */
    char *norm;
    size_t norm_cap;
    uint64_t *words; /* word hashes with the marks around them */
    size_t words_cap;
    uint32_t *fps, *fps_tmp; /* 24-bit fingerprints */
    uint32_t *xs;            /* mix(fp) */
    size_t fps_cap;
    uint32_t *mins; /* one call's minima, num_perm + n_band_pad */
    uint32_t *band_keys;
    uint8_t *qsig; /* the text's 2-bit signature, when computed */
    uint32_t *cand;
    size_t cand_cap;
};

/* ---- small helpers ---- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int popcount64(uint64_t x)
{
#if defined(__GNUC__)
    return __builtin_popcountll(x);
#else
    int n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
#endif
}

/* Returns p grown to hold at least need (>= 1) elements of size es, updating
 * *cap; p itself when it is large enough; NULL when out of memory (p is
 * then still valid and *cap unchanged). */
static void *grow(void *p, size_t *cap, size_t need, size_t es)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > SIZE_MAX / 2 / es)
            return NULL;
        c *= 2;
    }
    void *q = realloc(p, c * es);
    if (q)
        *cap = c;
    return q;
}

/* ---- parameters ---- */

struct rp_dedup_params rp_dedup_default_params(void)
{
    struct rp_dedup_params p = {
        .threshold = 0.8,
        .num_perm = 320,
        .bands = 0,
        .rows = 0,
        .shingle = 2,
        .seed = 0,
    };
    return p;
}

/* The most rows per band such that at most AUTO_MAX_BANDS bands find a pair
 * at J = t with probability AUTO_RECALL; below about 0.3 single-row bands,
 * more of them. */
static void choose_banding(double t, int *bands, int *rows)
{
    for (int r = 16; r >= 1; r--) {
        double q = pow(t, r); /* one band matches */
        if (q >= 1.0) {
            *bands = 1;
            *rows = r;
            return;
        }
        double b = ceil(log(1.0 - AUTO_RECALL) / log(1.0 - q));
        if (b <= AUTO_MAX_BANDS) {
            *bands = b < 1 ? 1 : (int)b;
            *rows = r;
            return;
        }
    }
    /* Low thresholds: single rows, as many bands as the recall needs. */
    double b = ceil(log(1.0 - AUTO_RECALL) / log(1.0 - t));
    *bands = b > 64 ? 64 : (int)b;
    *rows = 1;
}

static enum rp_err check_params(struct rp_dedup_params *p, struct rp_error *err)
{
    if (!(p->threshold > 0.0 && p->threshold <= 1.0))
        return rp_error_set(err, RP_ERR_INVAL, "dedup: threshold %g is not in (0, 1]",
                            p->threshold);
    if (p->num_perm < 32 || p->num_perm > 1024 || p->num_perm % 32)
        return rp_error_set(err, RP_ERR_INVAL,
                            "dedup: num_perm %d is not a multiple of 32 in 32..1024", p->num_perm);
    if (p->shingle < 1 || p->shingle > 4)
        return rp_error_set(err, RP_ERR_INVAL, "dedup: shingle %d is not in 1..4", p->shingle);
    if (p->bands == 0 && p->rows == 0) {
        choose_banding(p->threshold, &p->bands, &p->rows);
    } else if (p->bands < 1 || p->bands > 64 || p->rows < 1 || p->rows > 16) {
        return rp_error_set(err, RP_ERR_INVAL,
                            "dedup: bands %d and rows %d are not in 1..64 and 1..16 (or both 0)",
                            p->bands, p->rows);
    }
    return RP_OK;
}

/* ---- lifecycle ---- */

static minhash_fn *minhash_impl(void);

static size_t table_cap_for(size_t records, size_t bands)
{
    double want = ceil((double)records * (double)bands / MAX_LOAD) + 1.0;
    if (want < 64.0)
        want = 64.0;
    if (want > (double)UINT32_MAX)
        return 0; /* fastrange below maps 32-bit keys onto at most 2^32 slots */
    return (size_t)want;
}

struct rp_dedup *rp_dedup_new(const struct rp_dedup_params *params, size_t expected_records,
                              struct rp_error *err)
{
    struct rp_dedup_params p = params ? *params : rp_dedup_default_params();
    if (check_params(&p, err) != RP_OK)
        return NULL;
    if (expected_records >= MAX_RECORDS) {
        rp_error_set(err, RP_ERR_INVAL, "dedup: expected_records %zu is 2^32 - 1 or more",
                     expected_records);
        return NULL;
    }
    struct rp_dedup *d = calloc(1, sizeof(*d));
    if (!d)
        goto nomem;
    d->p = p;
    d->sig_bytes = (size_t)p.num_perm / 4;
    d->exact_max = d->sig_bytes / 3;
    d->n_band_perm = (size_t)p.bands * (size_t)p.rows;
    d->n_band_pad = (d->n_band_perm + MH_BLOCK - 1) / MH_BLOCK * MH_BLOCK;
    d->minhash = minhash_impl();

    size_t n_perm = (size_t)p.num_perm + d->n_band_pad;
    d->perm_a = malloc(n_perm * sizeof(uint32_t));
    d->perm_b = malloc(n_perm * sizeof(uint32_t));
    d->mins = malloc(n_perm * sizeof(uint32_t));
    d->band_keys = malloc((size_t)p.bands * sizeof(uint32_t));
    d->qsig = malloc(d->sig_bytes);
    if (!d->perm_a || !d->perm_b || !d->mins || !d->band_keys || !d->qsig)
        goto nomem;
    struct rp_rng rng;
    rp_rng_seed(&rng, p.seed ^ 0x6465647570ull); /* "dedup" */
    for (size_t i = 0; i < n_perm; i++) {
        uint64_t v = rp_rng_next(&rng);
        d->perm_a[i] = (uint32_t)v | 1u;
        d->perm_b[i] = (uint32_t)(v >> 32);
    }
    d->begin_mark = rp_rng_next(&rng);
    d->end_mark = rp_rng_next(&rng);

    d->rec_cap = expected_records > MIN_RECORDS ? expected_records : MIN_RECORDS;
    if (d->rec_cap > SIZE_MAX / d->sig_bytes)
        goto nomem;
    d->nfp = malloc(d->rec_cap);
    d->sig = malloc(d->rec_cap * d->sig_bytes);
    d->tab_cap = table_cap_for(d->rec_cap, (size_t)p.bands);
    if (!d->tab_cap) {
        rp_error_set(err, RP_ERR_TOOBIG, "dedup: a table for %zu records exceeds 2^32 slots",
                     expected_records);
        rp_dedup_free(d);
        return NULL;
    }
    d->tab_limit = (size_t)((double)d->tab_cap * MAX_LOAD);
    d->tab = calloc(d->tab_cap, sizeof(struct slot));
    if (!d->nfp || !d->sig || !d->tab)
        goto nomem;
    rp_error_clear(err);
    return d;

nomem:
    rp_dedup_free(d);
    rp_error_set(err, RP_ERR_NOMEM, "dedup: cannot allocate a detector for %zu records",
                 expected_records);
    return NULL;
}

void rp_dedup_free(struct rp_dedup *d)
{
    if (!d)
        return;
    free(d->perm_a);
    free(d->perm_b);
    free(d->mins);
    free(d->band_keys);
    free(d->qsig);
    free(d->nfp);
    free(d->sig);
    free(d->tab);
    free(d->norm);
    free(d->words);
    free(d->fps);
    free(d->fps_tmp);
    free(d->xs);
    free(d->cand);
    free(d);
}

size_t rp_dedup_count(const struct rp_dedup *d)
{
    return d ? d->count : 0;
}

size_t rp_dedup_memory(const struct rp_dedup *d)
{
    if (!d)
        return 0;
    size_t n_perm = (size_t)d->p.num_perm + d->n_band_pad;
    return sizeof(*d) + n_perm * 3 * sizeof(uint32_t) + (size_t)d->p.bands * sizeof(uint32_t) +
           d->sig_bytes + d->rec_cap * (1 + d->sig_bytes) + d->tab_cap * sizeof(struct slot) +
           d->norm_cap + d->words_cap * sizeof(uint64_t) + d->fps_cap * 3 * sizeof(uint32_t) +
           d->cand_cap * sizeof(uint32_t);
}

struct rp_dedup_params rp_dedup_get_params(const struct rp_dedup *d)
{
    return d->p;
}

/* ---- normalisation and shingles ---- */

/* Length of the separator sequence at s[i..n) other than ASCII (NBSP,
 * U+2000-U+206F, U+3000-U+303F, BOM), or 0 when s[i] starts a word byte. */
static size_t unicode_separator(const unsigned char *s, size_t i, size_t n)
{
    if (s[i] == 0xC2 && i + 1 < n && s[i + 1] == 0xA0)
        return 2;
    if (i + 2 >= n)
        return 0;
    unsigned c1 = s[i + 1], c2 = s[i + 2];
    if ((c2 & 0xC0) != 0x80)
        return 0;
    if (s[i] == 0xE2 && (c1 == 0x80 || (c1 == 0x81 && c2 <= 0xAF)))
        return 3;
    if (s[i] == 0xE3 && c1 == 0x80)
        return 3;
    if (s[i] == 0xEF && c1 == 0xBB && c2 == 0xBF)
        return 3;
    return 0;
}

static bool is_article(const char *w, size_t n)
{
    return (n == 1 && w[0] == 'a') || (n == 2 && w[0] == 'a' && w[1] == 'n') ||
           (n == 3 && w[0] == 't' && w[1] == 'h' && w[2] == 'e');
}

/* Writes the normalised words of text into d->norm, separated by single
 * spaces, and their XXH3 hashes into d->words[1..] with the marks around
 * them. Returns the number of words (articles dropped unless there is no
 * other word), or -1 when out of memory. */
static long tokenize(struct rp_dedup *d, const char *text, size_t len)
{
    if (len > SIZE_MAX / 4)
        return -1;
    char *norm = grow(d->norm, &d->norm_cap, len + 1, 1);
    if (!norm)
        return -1;
    d->norm = norm;
    const unsigned char *s = (const unsigned char *)text;
    size_t o = 0;
    size_t n_words = 0, n_articles = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t sep = 0;
        if (c < 0x80)
            sep = ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') ? 0 : 1;
        else
            sep = unicode_separator(s, i, len);
        if (sep) {
            if (o && d->norm[o - 1] != ' ')
                d->norm[o++] = ' ';
            i += sep;
            continue;
        }
        if (!o || d->norm[o - 1] == ' ')
            n_words++;
        d->norm[o++] = c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : (char)c;
        i++;
    }
    if (o && d->norm[o - 1] == ' ')
        o--;
    uint64_t *words = grow(d->words, &d->words_cap, n_words + 2, sizeof(uint64_t));
    if (!words)
        return -1;
    d->words = words;
    /* Two passes: count articles first so that an all-article text keeps them. */
    for (size_t i = 0; i < o;) {
        size_t j = i;
        while (j < o && d->norm[j] != ' ')
            j++;
        n_articles += is_article(d->norm + i, j - i);
        i = j + 1;
    }
    bool drop = n_articles < n_words;
    size_t w = 1;
    for (size_t i = 0; i < o;) {
        size_t j = i;
        while (j < o && d->norm[j] != ' ')
            j++;
        if (!(drop && is_article(d->norm + i, j - i)))
            d->words[w++] = XXH3_64bits_withSeed(d->norm + i, j - i, d->p.seed);
        i = j + 1;
    }
    d->words[0] = d->begin_mark;
    d->words[w] = d->end_mark;
    return (long)(w - 1);
}

static void sort_fps(uint32_t *a, uint32_t *tmp, size_t n)
{
    if (n <= 48) {
        for (size_t i = 1; i < n; i++) {
            uint32_t v = a[i];
            size_t j = i;
            for (; j > 0 && a[j - 1] > v; j--)
                a[j] = a[j - 1];
            a[j] = v;
        }
        return;
    }
    /* Three passes of a byte-wise radix sort over the 24 bits. */
    for (int shift = 0; shift < 24; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((a[i] >> shift) & 0xFF) + 1]++;
        for (int k = 0; k < 256; k++)
            count[k + 1] += count[k];
        for (size_t i = 0; i < n; i++)
            tmp[count[(a[i] >> shift) & 0xFF]++] = a[i];
        memcpy(a, tmp, n * sizeof(*a));
    }
}

/* Fills d->fps with the sorted distinct fingerprints of the text's shingles
 * and d->xs with their spread keys. Returns their number, or -1 when out of
 * memory. */
static long shingles(struct rp_dedup *d, size_t n_words)
{
    size_t g_max = (size_t)d->p.shingle;
    size_t need = n_words * g_max + g_max;
    if (need > d->fps_cap) {
        /* Three arrays of one capacity: grow the two others first, so that
         * fps_cap never exceeds what they hold. */
        size_t cap = d->fps_cap;
        uint32_t *t = grow(d->fps_tmp, &cap, need, sizeof(uint32_t));
        if (!t)
            return -1;
        d->fps_tmp = t;
        cap = d->fps_cap;
        uint32_t *x = grow(d->xs, &cap, need, sizeof(uint32_t));
        if (!x)
            return -1;
        d->xs = x;
        cap = d->fps_cap;
        uint32_t *f = grow(d->fps, &cap, need, sizeof(uint32_t));
        if (!f)
            return -1;
        d->fps = f;
        d->fps_cap = cap;
    }

    const uint64_t *w = d->words; /* w[0] = ^, w[1..n_words], w[n_words+1] = $ */
    size_t n = 0;
    for (size_t i = 1; i <= n_words; i++) /* words, without the marks */
        d->fps[n++] = (uint32_t)(mix64(w[i] ^ 0x9E3779B97F4A7C15ull) >> 40);
    for (size_t g = 2; g <= g_max; g++) {
        for (size_t i = 0; i + g <= n_words + 2; i++) {
            uint64_t h = (uint64_t)g * 0xD6E8FEB86659FD93ull;
            for (size_t k = 0; k < g; k++)
                h = mix64(h ^ w[i + k]);
            d->fps[n++] = (uint32_t)(h >> 40);
        }
    }
    sort_fps(d->fps, d->fps_tmp, n);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (!u || d->fps[i] != d->fps[u - 1])
            d->fps[u++] = d->fps[i];
    for (size_t i = 0; i < u; i++)
        d->xs[i] = (uint32_t)mix64((uint64_t)d->fps[i] + 0x243F6A8885A308D3ull);
    return (long)u;
}

/* ---- MinHash ---- */

/* Portable MinHash: four permutations per pass over xs, so that four
 * independent minimum chains keep the multiplier busy. */
static void minhash_scalar(const uint32_t *xs, size_t n, const uint32_t *a, const uint32_t *b,
                           size_t k, uint32_t *out)
{
    for (size_t i = 0; i < k; i += 4) {
        uint32_t m0 = UINT32_MAX, m1 = UINT32_MAX, m2 = UINT32_MAX, m3 = UINT32_MAX;
        uint32_t a0 = a[i], a1 = a[i + 1], a2 = a[i + 2], a3 = a[i + 3];
        uint32_t b0 = b[i], b1 = b[i + 1], b2 = b[i + 2], b3 = b[i + 3];
        for (size_t j = 0; j < n; j++) {
            uint32_t x = xs[j];
            uint32_t v0 = a0 * x + b0, v1 = a1 * x + b1, v2 = a2 * x + b2, v3 = a3 * x + b3;
            m0 = v0 < m0 ? v0 : m0;
            m1 = v1 < m1 ? v1 : m1;
            m2 = v2 < m2 ? v2 : m2;
            m3 = v3 < m3 ? v3 : m3;
        }
        out[i] = m0;
        out[i + 1] = m1;
        out[i + 2] = m2;
        out[i + 3] = m3;
    }
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

/* The same with AVX2, 16 permutations per pass and the same numbers (the
 * whole test_dedup went from 11.0 to 5.5 s of CPU with it); chosen at run
 * time, so the build needs no -mavx2. */
__attribute__((target("avx2"))) static void minhash_avx2(const uint32_t *xs, size_t n,
                                                         const uint32_t *a, const uint32_t *b,
                                                         size_t k, uint32_t *out)
{
    for (size_t i = 0; i < k; i += 16) {
        __m256i a0 = _mm256_loadu_si256((const __m256i *)(const void *)(a + i));
        __m256i a1 = _mm256_loadu_si256((const __m256i *)(const void *)(a + i + 8));
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)(b + i));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(b + i + 8));
        __m256i m0 = _mm256_set1_epi32(-1), m1 = m0;
        for (size_t j = 0; j < n; j++) {
            __m256i x = _mm256_set1_epi32((int)xs[j]);
            m0 = _mm256_min_epu32(m0, _mm256_add_epi32(_mm256_mullo_epi32(a0, x), b0));
            m1 = _mm256_min_epu32(m1, _mm256_add_epi32(_mm256_mullo_epi32(a1, x), b1));
        }
        _mm256_storeu_si256((__m256i *)(void *)(out + i), m0);
        _mm256_storeu_si256((__m256i *)(void *)(out + i + 8), m1);
    }
}

static minhash_fn *minhash_impl(void)
{
    /* libgcc's constructor has filled the CPU model (no __builtin_cpu_init
     * here: it would write shared state from whichever thread calls). */
    return __builtin_cpu_supports("avx2") ? minhash_avx2 : minhash_scalar;
}
#else
static minhash_fn *minhash_impl(void)
{
    return minhash_scalar;
}
#endif

bool rp__dedup_use_portable(struct rp_dedup *d)
{
    bool other = d->minhash != minhash_scalar;
    d->minhash = minhash_scalar;
    return other;
}

/* The text's 2-bit signature into d->qsig, packed 32 values per 64-bit word. */
static void signature(struct rp_dedup *d, size_t n_fp)
{
    size_t k = (size_t)d->p.num_perm;
    d->minhash(d->xs, n_fp, d->perm_a, d->perm_b, k, d->mins);
    for (size_t w = 0; w < k / 32; w++) {
        uint64_t word = 0;
        for (size_t j = 0; j < 32; j++) {
            uint32_t v = (d->mins[w * 32 + j] * 0x9E3779B9u) >> 30;
            word |= (uint64_t)v << (2 * j);
        }
        memcpy(d->qsig + w * 8, &word, 8);
    }
}

static void band_keys(struct rp_dedup *d, size_t n_fp)
{
    size_t k = (size_t)d->p.num_perm, r = (size_t)d->p.rows;
    uint32_t *m = d->mins + k;
    d->minhash(d->xs, n_fp, d->perm_a + k, d->perm_b + k, d->n_band_pad, m);
    for (size_t b = 0; b < (size_t)d->p.bands; b++) {
        uint64_t h = d->p.seed ^ ((uint64_t)(b + 1) * 0xA0761D6478BD642Full);
        for (size_t j = 0; j < r; j++)
            h = mix64(h ^ m[b * r + j]);
        uint32_t key = (uint32_t)(h >> 32);
        d->band_keys[b] = key ? key : 1;
    }
}

/* ---- similarity ---- */

/* Stored fingerprints are 3 bytes each, least significant first. */
static uint32_t fp_at(const uint8_t *rec, size_t i)
{
    const uint8_t *p = rec + 3 * i;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

static double exact_jaccard(const uint32_t *a, size_t na, const uint8_t *rec, size_t nb)
{
    size_t i = 0, j = 0, inter = 0;
    uint32_t b = nb ? fp_at(rec, 0) : 0;
    while (i < na && j < nb) {
        if (a[i] < b) {
            i++;
        } else if (a[i] > b) {
            if (++j < nb)
                b = fp_at(rec, j);
        } else {
            inter++;
            i++;
            if (++j < nb)
                b = fp_at(rec, j);
        }
    }
    return (double)inter / (double)(na + nb - inter);
}

static double estimated_jaccard(const uint8_t *qs, const uint8_t *rs, size_t sig_bytes)
{
    size_t differ = 0;
    for (size_t w = 0; w < sig_bytes; w += 8) {
        uint64_t a, b;
        memcpy(&a, qs + w, 8);
        memcpy(&b, rs + w, 8);
        uint64_t x = a ^ b;
        differ += (size_t)popcount64((x | (x >> 1)) & 0x5555555555555555ull);
    }
    double k = (double)(sig_bytes * 4);
    double p = (k - (double)differ) / k;
    double j = (p - 0.25) / 0.75;
    return j < 0.0 ? 0.0 : j;
}

/* ---- LSH table ---- */

static size_t slot_of(uint32_t key, size_t cap)
{
    return (size_t)(((uint64_t)key * (uint64_t)cap) >> 32);
}

/* Appends the ids stored under key to d->cand[*n..]. -1 when out of memory. */
static int table_collect(struct rp_dedup *d, uint32_t key, size_t *n)
{
    for (size_t i = slot_of(key, d->tab_cap);; i = i + 1 == d->tab_cap ? 0 : i + 1) {
        const struct slot *s = &d->tab[i];
        if (!s->key)
            return 0;
        if (s->key == key) {
            uint32_t *c = grow(d->cand, &d->cand_cap, *n + 1, sizeof(uint32_t));
            if (!c)
                return -1;
            d->cand = c;
            d->cand[(*n)++] = s->id;
        }
    }
}

/* Stores (key, id) unless BUCKET_MAX records are already under key.
 * The caller has made room. */
static void table_put(struct rp_dedup *d, uint32_t key, uint32_t id)
{
    size_t same = 0;
    for (size_t i = slot_of(key, d->tab_cap);; i = i + 1 == d->tab_cap ? 0 : i + 1) {
        struct slot *s = &d->tab[i];
        if (!s->key) {
            s->key = key;
            s->id = id;
            d->tab_used++;
            return;
        }
        if (s->key == key && ++same >= BUCKET_MAX)
            return;
    }
}

/* Doubles the table when one more record's bands would pass the load limit. */
static int table_reserve(struct rp_dedup *d)
{
    if (d->tab_used + (size_t)d->p.bands <= d->tab_limit)
        return 0;
    if (d->tab_cap > UINT32_MAX / 2)
        return -1;
    size_t cap = d->tab_cap * 2;
    struct slot *t = calloc(cap, sizeof(*t));
    if (!t)
        return -1;
    for (size_t i = 0; i < d->tab_cap; i++) {
        struct slot s = d->tab[i];
        if (!s.key)
            continue;
        size_t j = slot_of(s.key, cap);
        while (t[j].key)
            j = j + 1 == cap ? 0 : j + 1;
        t[j] = s;
    }
    free(d->tab);
    d->tab = t;
    d->tab_cap = cap;
    d->tab_limit = (size_t)((double)cap * MAX_LOAD);
    return 0;
}

static int records_reserve(struct rp_dedup *d)
{
    if (d->count < d->rec_cap)
        return 0;
    size_t cap = d->rec_cap * 2;
    if (cap > MAX_RECORDS)
        cap = MAX_RECORDS;
    if (cap > SIZE_MAX / d->sig_bytes)
        return -1;
    uint8_t *nfp = realloc(d->nfp, cap);
    if (!nfp)
        return -1;
    d->nfp = nfp;
    uint8_t *sig = realloc(d->sig, cap * d->sig_bytes);
    if (!sig)
        return -1; /* nfp grew, which is harmless */
    d->sig = sig;
    d->rec_cap = cap;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- the call ---- */

enum rp_err rp_dedup_check_add(struct rp_dedup *d, const char *text, size_t len, bool *is_dup,
                               uint32_t *dup_of, double *similarity, struct rp_error *err)
{
    if (!d || !is_dup || (!text && len))
        return rp_error_set(err, RP_ERR_INVAL, "dedup: %s is NULL",
                            !d        ? "the detector"
                            : !is_dup ? "is_dup"
                                      : "text");
    *is_dup = false;
    if (dup_of)
        *dup_of = UINT32_MAX;
    if (similarity)
        *similarity = 0.0;

    long n_words = tokenize(d, text, len);
    if (n_words < 0)
        goto nomem;
    if (n_words == 0) {
        rp_error_clear(err);
        return RP_OK;
    }
    long n_fp_l = shingles(d, (size_t)n_words);
    if (n_fp_l < 0)
        goto nomem;
    size_t n_fp = (size_t)n_fp_l;
    band_keys(d, n_fp);

    size_t n_cand = 0;
#if defined(__GNUC__)
    /* The bands' slots are far apart in a large table: start all the cache
     * misses at once rather than one after the other. */
    for (size_t b = 0; b < (size_t)d->p.bands; b++)
        __builtin_prefetch(&d->tab[slot_of(d->band_keys[b], d->tab_cap)]);
#endif
    for (size_t b = 0; b < (size_t)d->p.bands; b++)
        if (table_collect(d, d->band_keys[b], &n_cand))
            goto nomem;
    if (n_cand > 1)
        qsort(d->cand, n_cand, sizeof(uint32_t), cmp_u32);

    bool have_qsig = false;
    double best = -1.0;
    uint32_t best_id = UINT32_MAX;
    for (size_t i = 0; i < n_cand; i++) {
        uint32_t id = d->cand[i];
        if (i && id == d->cand[i - 1])
            continue;
        const uint8_t *rec = d->sig + (size_t)id * d->sig_bytes;
        double s;
        if (d->nfp[id] != NFP_MINHASH) {
            s = exact_jaccard(d->fps, n_fp, rec, d->nfp[id]);
        } else {
            if (!have_qsig) {
                signature(d, n_fp);
                have_qsig = true;
            }
            s = estimated_jaccard(d->qsig, rec, d->sig_bytes);
        }
        if (s > best) {
            best = s;
            best_id = id;
        }
    }
    if (best >= d->p.threshold - 1e-12) {
        *is_dup = true;
        if (dup_of)
            *dup_of = best_id;
        if (similarity)
            *similarity = best;
        rp_error_clear(err);
        return RP_OK;
    }

    /* A new record. Make room first so that a failure changes nothing. */
    if (d->count >= MAX_RECORDS - 1)
        return rp_error_set(err, RP_ERR_TOOBIG, "dedup: the detector holds %zu records, the most",
                            d->count);
    if (records_reserve(d) || table_reserve(d))
        goto nomem;
    uint32_t id = (uint32_t)d->count;
    uint8_t *rec = d->sig + (size_t)id * d->sig_bytes;
    if (n_fp <= d->exact_max) {
        d->nfp[id] = (uint8_t)n_fp;
        memset(rec, 0, d->sig_bytes);
        for (size_t i = 0; i < n_fp; i++) {
            rec[3 * i] = (uint8_t)d->fps[i];
            rec[3 * i + 1] = (uint8_t)(d->fps[i] >> 8);
            rec[3 * i + 2] = (uint8_t)(d->fps[i] >> 16);
        }
    } else {
        if (!have_qsig)
            signature(d, n_fp);
        d->nfp[id] = NFP_MINHASH;
        memcpy(rec, d->qsig, d->sig_bytes);
    }
    for (size_t b = 0; b < (size_t)d->p.bands; b++)
        table_put(d, d->band_keys[b], id);
    d->count++;
    if (dup_of)
        *dup_of = id;
    if (similarity)
        *similarity = best < 0.0 ? 0.0 : best;
    rp_error_clear(err);
    return RP_OK;

nomem:
    return rp_error_set(err, RP_ERR_NOMEM, "dedup: out of memory for a text of %zu bytes", len);
}
