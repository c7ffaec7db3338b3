/*
 * text_int.h - word-level text helpers the quality module's files share:
 * a raw tokenizer that keeps identifiers whole (EUtranCellFDD.qRxLevMin,
 * RRC_CONNECTED, 38.331, Rel-15), a light stemmer, number normalisation
 * and a small open-addressing set of 64-bit hashes.
 *
 * Thread contract: reentrant; sets are owned by one thread while written.
 */
#ifndef RANPIPE_QUALITY_TEXT_INT_H
#define RANPIPE_QUALITY_TEXT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A raw token: text[start..end). neg: a minus sign (ASCII or U+2212)
 * stands right before it. line_start: only blanks precede it on its line. */
struct rp__tok {
    size_t start, end;
    bool neg, line_start;
};

/* Finds the first token at or after *pos; returns false at the end.
 * Advances *pos past it. */
bool rp__tok_next(const char *s, size_t n, size_t *pos, struct rp__tok *t);

/* Lower-cases s[0..n) (ASCII letters only) into out (cap bytes incl. NUL,
 * truncating) and returns the length written. */
size_t rp__lower(const char *s, size_t n, char *out, size_t cap);

/* Stem of an already lower-cased word: common English suffixes removed,
 * then at most 6 bytes kept. Returns its hash (never 0). */
uint64_t rp__stem_hash(const char *w, size_t n);
/* The stem itself, written to buf (not NUL-terminated); returns its length. */
size_t rp__stem(const char *w, size_t n, char buf[64]);
/* Hash of lower-cased bytes (never 0). */
uint64_t rp__word_hash(const char *w, size_t n);

/* English function words (lower-case input). */
bool rp__is_stopword(const char *w, size_t n);

/* When tok (raw, as written) is a number - digits with optional thousands
 * commas and dots, optionally followed by a unit (dB, ms, MHz, ...) or an
 * ordinal suffix - writes its canonical form (sign included when neg) to
 * out and returns true. "1,000" and "1000", "3.0" and "3" are the same. */
bool rp__number_canon(const char *tok, size_t n, bool neg, char *out, size_t cap);
/* Number words ("two", "ten") to their value, or -1. Lower-case input. */
int rp__number_word(const char *w, size_t n);

/* What a raw token (as written) is to the grounding check: a plain word, a
 * number (with unit suffix), an identifier (camelCase, dotted, snake_case,
 * letters with digits, MixedCAPS) or an all-caps acronym. */
enum rp__tok_kind { RP__TK_WORD, RP__TK_NUMBER, RP__TK_IDENT, RP__TK_ACRONYM };
enum rp__tok_kind rp__classify(const char *s, size_t n);

/* Makes room for need elements in the growable array arr of capacity cap
 * (doubling, starting at first); ok is false when out of memory (arr and
 * cap are then unchanged). */
#define RP__GROW(arr, need, cap, first, ok)                                                                  \
    do {                                                                                                    \
        (ok) = true;                                                                                        \
        if ((need) > (cap)) {                                                                               \
            size_t rp__c = (cap) ? (cap) * 2 : (first);                                                     \
            while (rp__c < (need))                                                                          \
                rp__c *= 2;                                                                                 \
            void *rp__p = realloc((arr), rp__c * sizeof *(arr));                                            \
            if (rp__p) {                                                                                    \
                (arr) = rp__p;                                                                              \
                (cap) = rp__c;                                                                              \
            } else {                                                                                        \
                (ok) = false;                                                                               \
            }                                                                                               \
        }                                                                                                   \
    } while (0)

/* A fixed set of lower-case words, looked up by rp__word_hash(): built once
 * by rp__wordset_build() (not thread-safe: call it under pthread_once),
 * read by any thread afterwards. */
struct rp__hset {
    uint64_t *keys;
    size_t cap, n; /* cap a power of two, or 0 */
};

struct rp__wordset {
    const char *const *words; /* NULL-terminated */
    struct rp__hset set;
};

/* Returns false when out of memory. */
bool rp__wordset_build(struct rp__wordset *s);
bool rp__wordset_has(const struct rp__wordset *s, uint64_t h);

void rp__hset_init(struct rp__hset *h);
void rp__hset_release(struct rp__hset *h);
/* Returns false when out of memory. key 0 is stored as 1. */
bool rp__hset_add(struct rp__hset *h, uint64_t key);
bool rp__hset_has(const struct rp__hset *h, uint64_t key);

#endif /* RANPIPE_QUALITY_TEXT_INT_H */
