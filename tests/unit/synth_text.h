/*
 * synth_text.h - seeded synthetic RAN-flavoured texts for the near-duplicate
 * test (tests/unit/test_dedup.c) and benchmark (bench/bench_dedup.c).
 *
 * A text is a list of word numbers: below SYNTH_COMMON a word of the fixed
 * vocabulary, drawn with a Zipf-like skew (function words first, so they
 * repeat as in real text); above it an identifier of a numbered family
 * ("T310", "SIB12", "qOffsetCell7"), 4096 of them. No word has a hyphen or a
 * dot, so each is one word to the detector too and an edit of one word here
 * is an edit of one word there. Rendering writes the words as a sentence;
 * its style can add the case and punctuation noise that the detector must
 * see through.
 *
 * Thread contract: reentrant (the generator state is the caller's).
 */
#ifndef RANPIPE_TEST_SYNTH_TEXT_H
#define RANPIPE_TEST_SYNTH_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ranpipe/hash.h"

#define SYNTH_MAX_WORDS 96
#define SYNTH_IDENTS 4096
#define SYNTH_BUF 4096 /* enough for SYNTH_MAX_WORDS rendered words */

/* clang-format off */
static const char *const synth_vocab[] = {
    /* function words first: the skew makes them the most frequent */
    "the", "of", "is", "in", "to", "and", "for", "when", "what", "which", "does", "by", "with",
    "on", "a", "how", "from", "if", "at", "be", "are", "after", "before", "during", "between",
    "an", "not", "per", "each", "all", "its", "this", "that", "used", "can", "may", "shall",
    /* RAN vocabulary */
    "UE", "gNB", "eNB", "cell", "cells", "serving", "neighbour", "handover", "measurement",
    "report", "reporting", "event", "threshold", "offset", "hysteresis", "timer", "expiry",
    "value", "default", "range", "parameter", "configured", "configuration", "signalled",
    "broadcast", "system", "information", "block", "message", "RRC", "connection", "setup",
    "reestablishment", "release", "resume", "suspend", "idle", "inactive", "connected", "mode",
    "state", "selection", "reselection", "priority", "frequency", "carrier", "band", "bandwidth",
    "part", "BWP", "numerology", "subcarrier", "spacing", "slot", "symbol", "frame", "subframe",
    "PDCCH", "PDSCH", "PUSCH", "PUCCH", "PRACH", "SSB", "CSI", "RS", "SRS", "DMRS", "beam",
    "beams", "failure", "recovery", "radio", "link", "monitoring", "RLF", "RSRP", "RSRQ", "SINR",
    "quality", "level", "minimum", "maximum", "required", "received", "power", "control",
    "uplink", "downlink", "transmission", "retransmission", "HARQ", "process", "feedback",
    "acknowledgement", "scheduling", "request", "grant", "resource", "allocation", "random",
    "access", "preamble", "procedure", "contention", "based", "free", "backoff", "window",
    "response", "MAC", "RLC", "PDCP", "SDAP", "layer", "entity", "bearer", "DRB", "SRB",
    "security", "integrity", "ciphering", "key", "AMF", "core", "network", "NAS", "registration",
    "paging", "occasion", "cycle", "DRX", "discontinuous", "reception", "active", "time",
    "inactivity", "duration", "sequence", "number", "PLMN", "tracking", "area", "code",
    "identity", "RNTI", "capability", "enquiry", "aggregation", "secondary", "primary",
    "PCell", "SCell", "PSCell", "dual", "connectivity", "split", "master", "node", "interface",
    "Xn", "NG", "F1", "E1", "fronthaul", "option", "central", "unit", "distributed", "antenna",
    "port", "precoding", "matrix", "indicator", "rank", "CQI", "table", "modulation", "coding",
    "scheme", "MCS", "transport", "size", "TBS", "codeword", "layers", "mapping", "triggered",
    "periodic", "aperiodic", "persistent", "trigger", "condition", "entering", "leaving",
    "specified", "clause", "TS", "Rel15", "Rel16", "Rel17", "Rel18", "LTE", "NR",
    "specification", "field", "absent", "present", "optional", "mandatory", "applies", "UEs",
    "slice", "indicates", "indicated", "starts", "stops", "restarts", "expires", "running",
    "counter", "incremented", "reset", "consecutive", "desynchronised", "synchronised", "indications",
    "physical", "higher", "lower", "sublayer", "reported", "measured", "averaged", "filtered",
    "coefficient", "quantity", "objects", "identifiers", "list", "blacklisted", "whitelisted",
};

#define SYNTH_COMMON (sizeof(synth_vocab) / sizeof(synth_vocab[0]))

static const char *const synth_ident_prefix[16] = {
    "T3", "N3", "SIB", "qOffsetCell", "a3Offset", "timeToTrigger", "maxHARQ", "pMax",
    "qRxLevMinOffset", "sMeasure", "ssbIndex", "bwpId", "csiRsIndex", "drbId", "tReselectionNR",
    "raResponseWindow",
};
/* clang-format on */

struct synth_text {
    uint16_t w[SYNTH_MAX_WORDS];
    size_t n;
};

/* A word number: 15% identifiers, otherwise the vocabulary skewed by u^2. */
static inline uint16_t synth_word(struct rp_rng *r)
{
    double u = rp_rng_uniform(r);
    if (u < 0.15)
        return (uint16_t)(SYNTH_COMMON + rp_rng_next(r) % SYNTH_IDENTS);
    double v = rp_rng_uniform(r);
    return (uint16_t)((double)SYNTH_COMMON * v * v);
}

static inline void synth_words(struct rp_rng *r, size_t n, struct synth_text *t)
{
    t->n = n < SYNTH_MAX_WORDS ? n : SYNTH_MAX_WORDS;
    for (size_t i = 0; i < t->n; i++)
        t->w[i] = synth_word(r);
}

/* Writes word number w into out (NUL-terminated); returns its length. */
static inline size_t synth_spell(uint16_t w, char *out, size_t cap)
{
    /* By hand rather than snprintf: the 10^6-record test spends its time here. */
    const char *s = w < SYNTH_COMMON ? synth_vocab[w] : synth_ident_prefix[(w - SYNTH_COMMON) % 16];
    size_t k = strlen(s);
    if (k + 4 > cap)
        k = cap > 4 ? cap - 4 : 0;
    memcpy(out, s, k);
    if (w >= SYNTH_COMMON) {
        unsigned v = (unsigned)((w - SYNTH_COMMON) / 16); /* < 256 */
        char digits[3];
        size_t nd = 0;
        do {
            digits[nd++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        while (nd)
            out[k++] = digits[--nd];
    }
    out[k] = '\0';
    return k;
}

enum {
    SYNTH_QUESTION = 1, /* ends with '?' instead of '.' */
    SYNTH_NOISE = 2,    /* random upper-casing, commas, doubled spaces, "??" */
};

/* Renders t into buf[SYNTH_BUF] as a sentence with a capital first letter;
 * r is only used with SYNTH_NOISE. Returns the length. */
static inline size_t synth_render(const struct synth_text *t, unsigned style, struct rp_rng *r,
                                  char *buf)
{
    size_t o = 0;
    char word[64];
    for (size_t i = 0; i < t->n; i++) {
        size_t k = synth_spell(t->w[i], word, sizeof(word));
        if (i == 0 && word[0] >= 'a' && word[0] <= 'z')
            word[0] = (char)(word[0] - 32);
        if ((style & SYNTH_NOISE) && rp_rng_uniform(r) < 0.2)
            for (size_t j = 0; j < k; j++)
                if (word[j] >= 'a' && word[j] <= 'z')
                    word[j] = (char)(word[j] - 32);
        if (i) {
            if ((style & SYNTH_NOISE) && rp_rng_uniform(r) < 0.15)
                buf[o++] = ',';
            buf[o++] = ' ';
            if ((style & SYNTH_NOISE) && rp_rng_uniform(r) < 0.1)
                buf[o++] = ' ';
        }
        memcpy(buf + o, word, k);
        o += k;
    }
    buf[o++] = (style & SYNTH_QUESTION) ? '?' : '.';
    if (style & SYNTH_NOISE)
        buf[o++] = '?';
    buf[o] = '\0';
    return o;
}

#endif /* RANPIPE_TEST_SYNTH_TEXT_H */
