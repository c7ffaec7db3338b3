/*
 * dedup.h - near-duplicate detection of texts (MinHash + LSH) in bounded memory.
 *
 * A detector holds the texts it has accepted as records 0, 1, 2, ... and
 * answers, for each new text, whether an earlier record is a near-duplicate
 * of it: whether the Jaccard similarity of their shingle sets is at least
 * the threshold. Only a compact signature of each record is kept, never its
 * text, so 10^6 records take about 198 MB (see "Memory" below).
 *
 * Normalisation. ASCII letters are case-folded; every other ASCII byte that
 * is not a letter or digit, NBSP, the General Punctuation block
 * (U+2000-U+206F: typographic quotes, dashes, thin spaces), U+3000-U+303F and
 * the BOM separate words; other non-ASCII bytes are word bytes, kept as
 * they are (no Unicode case folding). The articles "a", "an" and "the" are
 * dropped (unless the text has no other word), so "the qRxLevMin" and
 * "qRxLevMin" are the same.
 *
 * Shingles. A text of n words w1..wn has the set of its words plus every
 * word n-gram up to params.shingle words over ^ w1 .. wn $ (^ and $ mark the
 * start and the end). With the default shingle = 2 that is n words and n+1
 * bigrams, 2n+1 shingles, and every word is in exactly three of them
 * wherever it stands, so for n distinct words:
 *   one word substituted:      J = (n-1)/(n+2)   n=6: 0.63  10: 0.75
 *                                                 12: 0.79  13: 0.80
 *                                                 20: 0.86  30: 0.91  60: 0.95
 *   one word inserted/deleted: J = n/(n+2)       n=10: 0.83
 * At the default threshold 0.8, two questions of up to 12 words (articles
 * not counted) that differ by one identifier ("What is the default value of
 * qRxLevMin?" vs "... of qQualMin?", J = 0.63) are therefore NOT duplicates,
 * while in a text of 13 words or more a single substituted word, identifier
 * or not, is a near-duplicate (30 words: 0.91). Raise the threshold for
 * long texts that must keep such differences apart. Word trigrams
 * (shingle = 3) were not taken as the default: a one-word change in a
 * 20-word text then gives J = 0.71, so near-duplicates of that size would
 * be missed at 0.8; unigrams alone (shingle = 1) give 0.82 for the
 * 10-word question and would merge different parameters.
 *
 * Signatures. Shingles are hashed to 24-bit fingerprints. A record with at
 * most num_perm * 2/24 distinct fingerprints (26 by default: 12 distinct
 * words, which covers typical questions) keeps them, sorted, and is
 * compared EXACTLY, so the formulas above hold to the digit for questions.
 * A larger record keeps a 2-bit MinHash of num_perm permutations (b-bit
 * MinHash, Li & Koenig); the similarity is estimated from the fraction P of
 * equal 2-bit values as J = (P - 1/4) / (3/4), the correction for the 1/4
 * chance that two different minima share their low bits. Its standard error
 * is sqrt(P(1-P)/num_perm) / (3/4): 0.023 at J = 0.86 and 0.029 at J = 0.75
 * with 320 permutations, against 0.039 for the same 80 bytes spent as 80
 * one-byte values. A text is always compared with a record from its full
 * shingle set, so the comparison is exact whenever the record is small,
 * whatever the text's own length. (16-bit fingerprints would fit 40 in the
 * same bytes, but among 1250 template questions one identifier apart they
 * let 4 pairs at J = 0.73 collide into 0.81.)
 *
 * Candidates. Only records that share an LSH band with the text are
 * compared: bands x rows further MinHash values (independent of the
 * signature's) are hashed band by band into one open-addressing table of
 * (32-bit band key, 32-bit record number) slots. bands = rows = 0 lets the
 * detector choose them from the threshold: the most rows per band such that
 * at most 12 bands find a pair at J = threshold with probability >= 0.985;
 * for 0.8 that is 11 bands of 5 rows, which finds 98.7% of pairs at J = 0.8,
 * 99.6% at 0.833, 99.9% at 0.86, 29% at 0.5 and 0.01% at 0.1 (its S-curve
 * midpoint (1/bands)^(1/rows) is 0.62, below the threshold, because every
 * candidate is verified and what matters is not to miss pairs near the
 * threshold). At most 32 records are kept under one band key (more only
 * arise from near-identical templates; a record skipped in one band is
 * still in its others), which bounds the work of one call to about
 * bands x 32 comparisons. The best-scoring candidate is reported; ties go
 * to the lower record number.
 *
 * Recall near the threshold is limited by the estimate: one word changed in
 * a 20-word text (J about 0.86, with repeated words 0.81-0.90) is found
 * about 98% of the time (98.7% of test_dedup's 1000); one word inserted into
 * a question of 10-12 words (exact, J >= 0.83) 99.6% of the time, which is
 * what the bands find.
 *
 * Memory. Per record: num_perm/4 signature bytes + 1 count byte + bands
 * table slots of 8 bytes at a load of at most 0.75. With the defaults
 * (320 permutations, 11 bands) that is 80 + 1 + 117.3 = 198.3 bytes per
 * record when expected_records is right: 10^6 records take 198 MB, two
 * detectors (questions, question + answer) 397 MB. Past expected_records
 * the record arrays and the table double (up to about 2x until they fill).
 * rp_dedup_memory() counts every byte allocated, scratch buffers included.
 *
 * Determinism: for a given seed and the same texts in the same order the
 * answers are the same on every run and machine (the AVX2 MinHash loop,
 * used where the CPU has it, computes the same numbers as the portable one).
 *
 * Thread contract: a detector belongs to one thread at a time; different
 * detectors are independent.
 */
#ifndef RANPIPE_DEDUP_H
#define RANPIPE_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ranpipe/error.h"

struct rp_dedup_params {
    double threshold; /* Jaccard at or above which two texts are near-duplicates,
                       * (0, 1]; default 0.8 */
    int num_perm;     /* 2-bit MinHash permutations, a multiple of 32 in 32..1024;
                       * default 320 (80 signature bytes) */
    int bands;        /* LSH bands, 1..64, and rows per band, 1..16; both 0 (the */
    int rows;         /* default): chosen from threshold (11 x 5 for 0.8) */
    int shingle;      /* longest word n-gram in the set, 1..4; default 2 */
    uint64_t seed;    /* hashes and permutations; default 0 */
};

struct rp_dedup_params rp_dedup_default_params(void);

struct rp_dedup;

/* Returns a new detector sized for expected_records (it grows past that;
 * 0 is allowed), or NULL with err set: RP_ERR_INVAL for parameters out of
 * range (p may be NULL for the defaults), RP_ERR_NOMEM. The caller frees it
 * with rp_dedup_free(). */
struct rp_dedup *rp_dedup_new(const struct rp_dedup_params *p, size_t expected_records,
                              struct rp_error *err);

/* Frees d; NULL is a no-op. */
void rp_dedup_free(struct rp_dedup *d);

/* Normalises text[0..len) (borrowed; need not be NUL-terminated; may be NULL
 * when len is 0) and looks for an earlier record whose similarity to it is
 * at least the threshold.
 *  - Found: *is_dup = true, *dup_of = that record's number, *similarity = its
 *    similarity (exact or estimated, see above); the text is NOT added, so
 *    the first occurrence stays the representative.
 *  - Not found: *is_dup = false, the text becomes record rp_dedup_count(d)
 *    as it was before the call, and *dup_of is set to that number and
 *    *similarity to the best similarity seen among the candidates (0 if none).
 *  - A text without words (empty, whitespace or punctuation only): *is_dup =
 *    false, nothing is added (rp_dedup_count() is unchanged; *dup_of is set
 *    to UINT32_MAX and *similarity to 0): it can never be the original of
 *    another text.
 * dup_of and similarity may be NULL. Errors: RP_ERR_INVAL (d or is_dup NULL,
 * or text NULL with len > 0), RP_ERR_NOMEM, RP_ERR_TOOBIG (2^32 - 1
 * records); on error the detector is unchanged. */
enum rp_err rp_dedup_check_add(struct rp_dedup *d, const char *text, size_t len, bool *is_dup,
                               uint32_t *dup_of, double *similarity, struct rp_error *err);

/* Number of records held (texts added, not duplicates or empty texts). */
size_t rp_dedup_count(const struct rp_dedup *d);

/* Bytes held by d: the structure, record arrays, table and scratch buffers. */
size_t rp_dedup_memory(const struct rp_dedup *d);

/* The parameters in effect, with bands and rows as chosen. */
struct rp_dedup_params rp_dedup_get_params(const struct rp_dedup *d);

#endif /* RANPIPE_DEDUP_H */
