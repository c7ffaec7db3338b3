/*
 * text.c - tokenizer, stemmer, number normalisation and hash set for the
 * scorer (see text_int.h).
 *
 * The tokenizer keeps what a RAN text uses as one name in one token: '.',
 * '-', '_' and '/'-free runs of letters, digits and non-ASCII letters, with
 * '.' and '-' kept when both neighbours are letters or digits, so
 * "EUtranCellFDD.qRxLevMin", "38.331", "inter-frequency" and "RRC_IDLE" are
 * single tokens while "-140..-44" gives "140" and "44", each marked
 * negative. A comma between a digit and exactly three digits is a thousands
 * separator and stays in the number ("1,000"); other commas separate. Typographic punctuation (U+2010..U+206F, the minus sign
 * U+2212) separates tokens.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quality/text_int.h"
#include "ranpipe/hash.h"

static bool ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Length of the UTF-8 punctuation sequence at s[i] (general punctuation
 * E2 80..81 xx, the minus sign E2 88 92, no-break space C2 A0, guillemets
 * C2 AB/BB), else 0. */
static size_t uni_punct(const char *s, size_t n, size_t i)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[i] == 0xE2 && i + 2 < n && (u[i + 1] == 0x80 || u[i + 1] == 0x81))
        return 3;
    if (u[i] == 0xE2 && i + 2 < n && u[i + 1] == 0x88 && u[i + 2] == 0x92)
        return 3;
    if (u[i] == 0xC2 && i + 1 < n && (u[i + 1] == 0xA0 || u[i + 1] == 0xAB || u[i + 1] == 0xBB))
        return 2;
    return 0;
}

static bool word_byte(const char *s, size_t n, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x80)
        return uni_punct(s, n, i) == 0;
    return ascii_alnum(c) || c == '_';
}

static bool ascii_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Whether the comma at s[i] separates thousands in a number that starts at
 * s[start]: "1,000", "65,535", "1,000,000" (a digit before it, exactly three
 * after it). Without it "1,000" would be the two numbers 1 and 0, and
 * would neither match "1000" nor stop "1" or "0" from matching it. */
static bool thousands_comma(const char *s, size_t n, size_t start, size_t i)
{
    const unsigned char *u = (const unsigned char *)s;
    if (i == start || i + 3 >= n || !ascii_digit(u[start]) || !ascii_digit(u[i - 1]))
        return false;
    if (!ascii_digit(u[i + 1]) || !ascii_digit(u[i + 2]) || !ascii_digit(u[i + 3]))
        return false;
    return i + 4 >= n || !ascii_digit(u[i + 4]);
}

bool rp__tok_next(const char *s, size_t n, size_t *pos, struct rp__tok *t)
{
    size_t i = *pos;
    while (i < n && !word_byte(s, n, i)) {
        size_t k = uni_punct(s, n, i);
        i += k ? k : 1;
    }
    if (i >= n) {
        *pos = n;
        return false;
    }
    t->start = i;
    while (i < n) {
        if (word_byte(s, n, i)) {
            i++;
            continue;
        }
        if ((s[i] == '.' || s[i] == '-') && i + 1 < n && i > t->start && ascii_alnum((unsigned char)s[i - 1]) &&
            ascii_alnum((unsigned char)s[i + 1])) {
            i++;
            continue;
        }
        if (s[i] == ',' && thousands_comma(s, n, t->start, i)) {
            i++;
            continue;
        }
        break;
    }
    t->end = i;
    *pos = i;
    size_t b = t->start;
    t->neg = false;
    if (b >= 1 && s[b - 1] == '-' && (b < 2 || !ascii_alnum((unsigned char)s[b - 2])))
        t->neg = true;
    if (b >= 3 && (unsigned char)s[b - 3] == 0xE2 && (unsigned char)s[b - 2] == 0x88 &&
        (unsigned char)s[b - 1] == 0x92)
        t->neg = true;
    size_t j = b;
    while (j > 0 && (s[j - 1] == ' ' || s[j - 1] == '\t' || s[j - 1] == '-' || s[j - 1] == '*'))
        j--;
    t->line_start = j == 0 || s[j - 1] == '\n';
    return true;
}

size_t rp__lower(const char *s, size_t n, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    if (n > cap - 1)
        n = cap - 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return n;
}

uint64_t rp__word_hash(const char *w, size_t n)
{
    uint64_t h = rp_hash64(w, n);
    return h ? h : 1;
}

static bool ends_with(const char *w, size_t n, const char *suf, size_t k)
{
    return n >= k && memcmp(w + n - k, suf, k) == 0;
}

size_t rp__stem(const char *w, size_t n, char buf[64])
{
    /* British and American spellings share a stem: neighbour/neighbor. */
    size_t m = 0;
    for (size_t i = 0; i < n && m < 64; i++) {
        if (w[i] == 'u' && i >= 2 && w[i - 1] == 'o' && i + 1 < n && w[i + 1] == 'r')
            continue;
        buf[m++] = w[i];
    }
    if (m > 4 && ends_with(buf, m, "ies", 3))
        m -= 2, buf[m - 1] = 'y';
    else if (m > 5 && ends_with(buf, m, "sses", 4))
        m -= 2;
    else if (m > 5 && ends_with(buf, m, "ing", 3))
        m -= 3;
    else if (m > 4 && ends_with(buf, m, "ed", 2))
        m -= 2;
    else if (m > 4 && ends_with(buf, m, "ly", 2))
        m -= 2;
    else if (m > 3 && ends_with(buf, m, "es", 2) && (buf[m - 3] == 's' || buf[m - 3] == 'x' || buf[m - 3] == 'h'))
        m -= 2;
    else if (m > 3 && buf[m - 1] == 's' && buf[m - 2] != 's' && buf[m - 2] != 'u' && buf[m - 2] != 'i')
        m -= 1;
    if (m > 6)
        m = 6;
    return m;
}

uint64_t rp__stem_hash(const char *w, size_t n)
{
    char buf[64];
    size_t m = rp__stem(w, n, buf);
    return rp__word_hash(buf, m);
}

static const char *const stopwords[] = {
    "a",       "about",  "above",  "after",   "again",   "all",     "also",   "am",      "an",      "and",
    "any",     "are",    "as",     "at",      "be",      "been",    "being",  "both",    "but",     "by",
    "can",     "could",  "did",    "do",      "does",    "doing",   "done",   "during",  "each",    "either",
    "etc",     "for",    "from",   "further", "had",     "has",     "have",   "having",  "he",      "her",
    "here",    "his",    "how",    "however", "i",       "if",      "in",     "into",    "is",      "it",
    "its",     "itself", "just",   "may",     "me",      "might",   "must",    "my",
    "neither", "nor",    "of",     "on",      "once",    "one",     "only",   "or",      "other",   "our",
    "out",     "over",   "own",    "same",    "shall",   "she",     "should", "so",      "some",    "such",
    "than",    "that",   "the",    "their",   "them",    "then",    "there",  "these",   "they",    "this",
    "those",   "through", "thus",  "to",      "too",     "under",   "until",  "up",      "upon",    "us",
    "very",    "via",    "was",    "we",      "were",    "what",    "when",   "where",   "whether", "which",
    "while",   "who",    "whom",   "whose",   "why",     "will",    "with",   "within",  "would",   "you",
    "your",
};

static struct rp__wordset stopword_set;
static pthread_once_t stopword_once = PTHREAD_ONCE_INIT;
static const char *stopword_list[sizeof stopwords / sizeof stopwords[0] + 1];

static void stopword_init(void)
{
    memcpy(stopword_list, stopwords, sizeof stopwords);
    stopword_set.words = stopword_list;
    rp__wordset_build(&stopword_set); /* out of memory: no stop words, never a crash */
}

bool rp__is_stopword(const char *w, size_t n)
{
    if (n == 0 || n > 8)
        return false;
    pthread_once(&stopword_once, stopword_init);
    return rp__wordset_has(&stopword_set, rp__word_hash(w, n));
}

/* Units a number may carry in the same token ("3dB", "10ms"), and ordinal
 * suffixes. Lower-case. */
static const char *const unit_suffixes[] = {
    "db", "dbm", "dbi", "ms", "s", "us", "ns", "min", "h", "hz", "khz", "mhz", "ghz", "prb", "prbs", "bps",
    "kbps", "mbps", "gbps", "km", "m", "w", "mw", "x", "st", "nd", "rd", "th", "k", "kb", "mb", "gb",
};

bool rp__number_canon(const char *tok, size_t n, bool neg, char *out, size_t cap)
{
    if (n == 0 || !(tok[0] >= '0' && tok[0] <= '9') || cap < 4)
        return false;
    size_t i = 0, dots = 0, commas = 0;
    while (i < n && ((tok[i] >= '0' && tok[i] <= '9') || tok[i] == '.' || tok[i] == ',')) {
        dots += tok[i] == '.';
        commas += tok[i] == ',';
        i++;
    }
    if (i < n) {
        char suf[8];
        size_t k = n - i;
        if (k >= sizeof suf)
            return false;
        rp__lower(tok + i, k, suf, sizeof suf);
        bool unit = false;
        for (size_t u = 0; u < sizeof unit_suffixes / sizeof unit_suffixes[0]; u++)
            if (strcmp(suf, unit_suffixes[u]) == 0)
                unit = true;
        if (!unit)
            return false;
    }
    size_t len = i;
    while (len > 0 && (tok[len - 1] == '.' || tok[len - 1] == ','))
        len--;
    char num[64];
    size_t m = 0;
    bool thousands = commas > 0 && dots <= 1;
    for (size_t j = 0; j < len && m + 1 < sizeof num; j++) {
        if (tok[j] == ',') {
            if (!thousands)
                num[m++] = '.'; /* decimal comma */
            continue;
        }
        num[m++] = tok[j];
    }
    num[m] = '\0';
    size_t ndots = 0;
    for (size_t j = 0; j < m; j++)
        ndots += num[j] == '.';
    int w;
    if (ndots <= 1) {
        /* 15 significant digits: what a double holds exactly, so numbers
         * written the same way compare equal and counter maxima, cell
         * identities and frequencies in Hz (10-12 digits) stay apart. */
        double v = strtod(num, NULL);
        w = snprintf(out, cap, "%s%.15g", neg && v != 0 ? "-" : "", v);
    } else {
        w = snprintf(out, cap, "%s%s", neg ? "-" : "", num); /* clause numbers: 5.3.3 */
    }
    return w > 0 && (size_t)w < cap;
}

int rp__number_word(const char *w, size_t n)
{
    static const char *const words[] = {"zero", "one", "two",   "three",  "four",   "five",  "six",
                                        "seven", "eight", "nine", "ten", "eleven", "twelve"};
    for (int i = 0; i < (int)(sizeof words / sizeof words[0]); i++)
        if (strlen(words[i]) == n && memcmp(words[i], w, n) == 0)
            return i;
    if (n == 6 && memcmp(w, "single", 6) == 0)
        return 1;
    if (n == 4 && memcmp(w, "once", 4) == 0)
        return 1;
    if (n == 5 && memcmp(w, "twice", 5) == 0)
        return 2;
    if (n == 6 && memcmp(w, "double", 6) == 0)
        return 2;
    if (n == 6 && memcmp(w, "triple", 6) == 0)
        return 3;
    return -1;
}

void rp__hset_init(struct rp__hset *h)
{
    h->keys = NULL;
    h->cap = h->n = 0;
}

void rp__hset_release(struct rp__hset *h)
{
    free(h->keys);
    rp__hset_init(h);
}

static bool hset_grow(struct rp__hset *h)
{
    size_t cap = h->cap ? h->cap * 2 : 64;
    uint64_t *keys = calloc(cap, sizeof *keys);
    if (!keys)
        return false;
    for (size_t i = 0; i < h->cap; i++) {
        uint64_t k = h->keys[i];
        if (!k)
            continue;
        size_t j = (size_t)(k * 0x9E3779B97F4A7C15ull >> 17) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = k;
    }
    free(h->keys);
    h->keys = keys;
    h->cap = cap;
    return true;
}

bool rp__hset_add(struct rp__hset *h, uint64_t key)
{
    if (!key)
        key = 1;
    if ((h->n + 1) * 2 > h->cap && !hset_grow(h))
        return false;
    size_t j = (size_t)(key * 0x9E3779B97F4A7C15ull >> 17) & (h->cap - 1);
    while (h->keys[j]) {
        if (h->keys[j] == key)
            return true;
        j = (j + 1) & (h->cap - 1);
    }
    h->keys[j] = key;
    h->n++;
    return true;
}

bool rp__hset_has(const struct rp__hset *h, uint64_t key)
{
    if (!key)
        key = 1;
    if (!h->cap)
        return false;
    size_t j = (size_t)(key * 0x9E3779B97F4A7C15ull >> 17) & (h->cap - 1);
    while (h->keys[j]) {
        if (h->keys[j] == key)
            return true;
        j = (j + 1) & (h->cap - 1);
    }
    return false;
}

bool rp__wordset_build(struct rp__wordset *s)
{
    rp__hset_init(&s->set);
    for (size_t i = 0; s->words[i]; i++)
        if (!rp__hset_add(&s->set, rp__word_hash(s->words[i], strlen(s->words[i]))))
            return false;
    return true;
}

bool rp__wordset_has(const struct rp__wordset *s, uint64_t h)
{
    return rp__hset_has(&s->set, h);
}
