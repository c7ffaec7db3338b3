/*
 * entities.c - the RAN entity scanner (see include/ranpipe/entities.h).
 *
 * Design. The scanner runs on every byte of every document, so it is a
 * hand-written single pass with no regular expressions, no backtracking
 * and no allocation on the common path:
 *
 *   1. A pre-pass finds acronym definitions. It only looks at '(' bytes
 *      (memchr), and around each one checks the two shapes
 *      "Long Form Words (LFW)" and "LFW (Long Form Words)": the initials of
 *      the long form must spell the acronym (see initials_match()). The
 *      definitions go into a small hash table so that every occurrence of
 *      the acronym, before or after its definition, gets the expansion.
 *   2. The main pass walks words (maximal runs of ASCII letters, digits and
 *      '_') and sends each to one matcher chosen by its first byte and the
 *      shape collected while walking it (upper/lower/digit/underscore
 *      flags, number of capitals). Each matcher looks ahead a bounded
 *      distance (a few words; for a command the rest of its line, at most
 *      4 KiB) and returns where scanning resumes, always past the word it
 *      was given, so the whole scan is linear in the input.
 *
 * Bytes. Input may be any bytes. Every read is bounds-checked (at()
 * returns 0 past the end). Non-ASCII is handled one way throughout: the
 * Unicode spaces and punctuation RAN documents actually contain (U+00A0
 * to U+00BF except the micro sign, the General Punctuation block
 * U+2000..U+206F with its dashes, quotes and thin spaces, U+2212 minus and
 * U+3000) are separators; every other non-ASCII byte, valid or not, is a
 * word character, so a word glued to a non-ASCII letter ("Müller",
 * "5Gé") is one foreign word and yields nothing. No-break and thin spaces
 * may separate a number from its unit or the parts of a product code.
 *
 * Decisions on the tricky cases (a RAN engineer should agree with each):
 *   - Parameters: "Class.attribute" needs a class with two or more
 *     capitals and a lower-case letter (EUtranCellFDD, NRCellDU,
 *     AnrFunction), so "Node.js" or "Fig.x" are not parameters, and an
 *     attribute that is a file extension ("ReleaseNotes.pdf") is refused.
 *     Bare attributes are lowerCamelCase with a capital after the first
 *     letter, 6..100 bytes, no '_' (formula symbols such as "delta_TF" are
 *     not parameters), not a glossary term (eNodeB, mmWave) and not part
 *     of a dotted name (file names, packages, e-mail addresses).
 *   - "Class=value" pairs of CMEDIT FDNs (SubNetwork=ONRM_ROOT,
 *     MeContext=ERBS01, NRCellDU=NR01-1): the class and the value yield
 *     nothing, except a value that is a product number
 *     (FeatureState=CXC4011319); "attribute=value" yields the attribute
 *     only.
 *   - URLs and e-mail addresses: from "://" or "@" to the next space is
 *     skipped, and so is a token starting with "www.".
 *   - Counters: "pm" + capital + letters/digits, also when MO-qualified
 *     ("EUtranCellFDD.pmRrcConnEstabSucc").
 *   - Spec references: "TS"/"TR" (optionally after "3GPP") and NN.NNN
 *     with an optional -N part and version "V16.2.0". A bare "38.331" is
 *     not a reference; ", section 5.1" is left out of the entity. The norm
 *     is "TS 38.331" or "TS 36.300 V16.2.0".
 *   - Product codes: see PRODUCT_PREFIXES below for the class letters;
 *     "FAJ 121 4219", "CXA 123 4567/1", "CXP9024418/15" (norm
 *     "CXP 902 4418/15"). A class letter group without its number is not
 *     an acronym either.
 *   - Acronyms: 2..10 capitals/digits starting with a letter, optionally a
 *     plural "s" (UEs -> UE). Mixed-case forms (eNB, gNB, PCell, QoS, Xn)
 *     and hyphenated ones (EN-DC, gNB-DU, E-UTRAN, ng-eNB) are acronyms
 *     only when the document defines them or the glossary knows them,
 *     otherwise any CamelCase word would be one. An unknown candidate is
 *     refused when it contains digits (node and cell names: ERBS01, NR01,
 *     CELL1; but the numbered families SIB1.., Msg1.. are accepted), when
 *     it is a roman numeral (II, IV), a shouted English word or enum value
 *     from a short list (NOTE, TRUE, MAX) or six letters or longer (LOCKED,
 *     DISABLED, CRITICAL: real unknown acronyms are shorter), or contains
 *     '_' (NOT_ALLOWED, P0_PUSCH). Units are never acronyms: the mixed-
 *     case ones are not in the glossary, and a unit that follows a number
 *     is part of the value ("100 PRB"), not an acronym.
 *   - Values: a number (sign '-', '+' or U+2212; decimal point allowed)
 *     with a unit from the table below, glued ("10ms") or after spaces.
 *     Ranges are not values: in "-140..-44 dBm", "-5 ... 5 dB", "10-20 MHz"
 *     and "10–20 MHz" neither end is reported, because a value entity is one
 *     quantity the QA grounding can check on its own, and a range belongs
 *     to the parameter record. Numbers continuing something ("v.5",
 *     "1,000", "NR01-1", "16.2.0") are not values either. The norm is
 *     "-140 dBm": '-' kept, '+' dropped, one space, the unit in canonical
 *     form (dbm -> dBm, us/µs/μs -> µs, seconds -> s, PRBs -> PRB).
 *   - Commands: "cmedit" + get|set|create|delete|action|describe, to the
 *     end of the line, or the closing backquote when it follows one, or a
 *     " | " table cell border, or a sentence end (". "), whichever is
 *     first; trailing spaces and [.,;:] are left out; at most 4 KiB. The
 *     entities inside a command (EUtranCellFDD.pZeroNominalPusch,
 *     administrativeState) are reported too, after the command.
 *
 * Positions are byte offsets into the scanned string; entities come out in
 * order of offset (an entity inside a command comes after the command).
 */
#include "ranpipe/entities.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/buf.h"

/* Longest entity reported (a command line); longer ones are dropped. */
#define ENT_MAX 4096
/* Longest acronym expansion taken from a document definition. */
#define EXP_MAX 160
/* Most words in a long form, and most definitions kept per document. */
#define LF_MAX_WORDS 16
#define DEFS_MAX 65536

/* ---- bytes ---- */

enum { C_UP = 1, C_LO = 2, C_DG = 4, C_US = 8, C_SP = 16 };
#define C_ALPHA (C_UP | C_LO)
#define C_ALNUM (C_UP | C_LO | C_DG)
#define C_IDENT (C_ALNUM | C_US)

/* Classes of the ASCII bytes, 16 a row (U upper, L lower, D digit, I the
 * '_' of identifiers, S space); bytes >= 0x80 are handled by uni_sep_len(). */
#define U C_UP
#define L C_LO
#define D C_DG
#define I C_US
#define S C_SP
/* clang-format off */
static const unsigned char ctab[256] = {
    /* 0x00 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, S, S, S, S, S, 0, 0,
    /* 0x10 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x20 */ S, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x30 */ D, D, D, D, D, D, D, D, D, D, 0, 0, 0, 0, 0, 0,
    /* 0x40 */ 0, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,
    /* 0x50 */ U, U, U, U, U, U, U, U, U, U, U, 0, 0, 0, 0, I,
    /* 0x60 */ 0, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
    /* 0x70 */ L, L, L, L, L, L, L, L, L, L, L, 0, 0, 0, 0, 0,
};
/* clang-format on */
#undef U
#undef L
#undef D
#undef I
#undef S

static inline unsigned char at(const unsigned char *s, size_t n, size_t p)
{
    return p < n ? s[p] : 0;
}

static inline bool is_digit(unsigned char c)
{
    return (ctab[c] & C_DG) != 0;
}

static inline unsigned char lower(unsigned char c)
{
    return (ctab[c] & C_UP) ? (unsigned char)(c + 32) : c;
}

/* Length of the Unicode separator (space or punctuation) starting at s[i],
 * 0 when s[i] is not the first byte of one. */
static size_t uni_sep_len(const unsigned char *s, size_t n, size_t i)
{
    unsigned char c = s[i], c1 = at(s, n, i + 1), c2 = at(s, n, i + 2);
    if (c == 0xC2)
        return c1 >= 0xA0 && c1 <= 0xBF && c1 != 0xB5 ? 2 : 0;
    if (c == 0xE2 && i + 2 < n) {
        if ((c1 == 0x80 && c2 >= 0x80 && c2 <= 0xBF) || (c1 == 0x81 && c2 >= 0x80 && c2 <= 0xAF) ||
            (c1 == 0x88 && c2 == 0x92))
            return 3;
    }
    if (c == 0xE3 && c1 == 0x80 && c2 == 0x80)
        return 3;
    return 0;
}

/* Is s[p] a word byte (ASCII letter, digit, '_', or non-separator non-ASCII)? */
static bool word_at(const unsigned char *s, size_t n, size_t p)
{
    if (p >= n)
        return false;
    if (s[p] < 0x80)
        return (ctab[s[p]] & C_IDENT) != 0;
    return uni_sep_len(s, n, p) == 0;
}

/* Is the byte before p a word byte? */
static bool word_before(const unsigned char *s, size_t p)
{
    if (p == 0)
        return false;
    unsigned char c = s[p - 1];
    if (c < 0x80)
        return (ctab[c] & C_IDENT) != 0;
    if (p >= 2 && s[p - 2] == 0xC2 && c >= 0xA0 && c <= 0xBF && c != 0xB5)
        return false;
    if (p >= 3 && s[p - 3] == 0xE2 &&
        ((s[p - 2] == 0x80 && c >= 0x80 && c <= 0xBF) ||
         (s[p - 2] == 0x81 && c >= 0x80 && c <= 0xAF) || (s[p - 2] == 0x88 && c == 0x92)))
        return false;
    if (p >= 3 && s[p - 3] == 0xE3 && s[p - 2] == 0x80 && c == 0x80)
        return false;
    return true;
}

/* Length of the horizontal space at s[p]: ASCII space or tab, no-break
 * space, the U+2000..U+200A spaces, narrow no-break space; else 0. */
static size_t hspace_len(const unsigned char *s, size_t n, size_t p)
{
    unsigned char c = at(s, n, p);
    if (c == ' ' || c == '\t')
        return 1;
    if (c == 0xC2 && at(s, n, p + 1) == 0xA0)
        return 2;
    if (c == 0xE2 && at(s, n, p + 1) == 0x80) {
        unsigned char c2 = at(s, n, p + 2);
        if ((c2 >= 0x80 && c2 <= 0x8A) || c2 == 0xAF)
            return 3;
    }
    return 0;
}

static size_t skip_hspace(const unsigned char *s, size_t n, size_t p)
{
    size_t k;
    while ((k = hspace_len(s, n, p)) != 0)
        p += k;
    return p;
}

/* Skips the rest of a word from p. */
static size_t skip_word(const unsigned char *s, size_t n, size_t p)
{
    while (word_at(s, n, p))
        p++;
    return p;
}

/* Skips to the end of a whitespace-delimited token (URLs, addresses). */
static size_t skip_token(const unsigned char *s, size_t n, size_t p)
{
    while (p < n && !(ctab[s[p]] & C_SP) && s[p] != '"' && s[p] != '<' && s[p] != '>' &&
           s[p] != '|')
        p++;
    return p;
}

/* Skips the value of a "key=value" pair (FDN components, attribute=value). */
static size_t skip_value(const unsigned char *s, size_t n, size_t p)
{
    while (p < n && s[p] != 0 && !(ctab[s[p]] & C_SP) && !strchr(",;)]|\"'", s[p]))
        p++;
    return p;
}

/* Skips what is left of a number that is not a value ("16.2.0", "-44",
 * "NR01-1"): digits, letters, and '.', '-', '+' between them. */
static size_t skip_numeric(const unsigned char *s, size_t n, size_t p)
{
    while (p < n) {
        unsigned char c = s[p];
        if ((ctab[c] & C_IDENT) ||
            ((c == '.' || c == '-' || c == '+') && (ctab[at(s, n, p + 1)] & C_ALNUM)))
            p++;
        else
            break;
    }
    return p;
}

/* Case-insensitive compare of s[0..n) with the NUL-terminated ASCII w. */
static bool eq_ci(const unsigned char *s, size_t n, const char *w)
{
    for (size_t i = 0; i < n; i++)
        if (!w[i] || lower(s[i]) != lower((unsigned char)w[i]))
            return false;
    return w[n] == '\0';
}

static bool eq(const unsigned char *s, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(s, w, n) == 0;
}

/* Binary search of s[0..n) in a sorted array of strings. */
static bool in_sorted(const char *const *list, size_t count, const unsigned char *s, size_t n)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const unsigned char *w = (const unsigned char *)list[mid];
        size_t wl = strlen(list[mid]);
        int c = memcmp(w, s, wl < n ? wl : n);
        if (c == 0)
            c = wl < n ? -1 : wl > n ? 1 : 0;
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Ericsson product number classes (the three letters before the digits).
 * These are the classes RAN documents cite: FAJ features and licensed
 * functions; CXC license keys; CXA, CXP, CXS software products, packages
 * and release sets; CNA and CAX software units and libraries; KRC and KRD
 * radio units; KDU digital units; ROA boards and ASICs; RDH optical and
 * other pluggable modules; RPM cables and installation material. */
static const char *const PRODUCT_PREFIXES[] = {
    "CAX", "CNA", "CXA", "CXC", "CXP", "CXS", "FAJ", "KDU", "KRC", "KRD", "RDH", "ROA", "RPM",
};

/* Upper-case words that are English or enum values, not acronyms, unless
 * the glossary or the document says otherwise (sorted). Words of six
 * letters or more need no entry: unknown ones are refused anyway. BIT,
 * SIZE and NULL are here for ASN.1 excerpts of the specifications. */
static const char *const SHOUTED[] = {
    "ABORT", "ALL",   "ALSO",  "AND",   "ANY",  "ARE",   "BE",    "BIT",   "BUT",  "BY",
    "CAN",   "CLEAR", "DATA",  "DO",    "DOWN", "EACH",  "ELSE",  "EMPTY", "END",  "ERROR",
    "FALSE", "FOR",   "FROM",  "GET",   "HIGH", "IDLE",  "IF",    "IN",    "INFO", "IS",
    "IT",    "LOW",   "MAJOR", "MAX",   "MAY",  "MIN",   "MINOR", "MUST",  "NEW",  "NO",
    "NONE",  "NOT",   "NOTE",  "NULL",  "OF",   "OFF",   "OK",    "OLD",   "ON",   "ONLY",
    "OR",    "OUT",   "READY", "RESET", "SET",  "SHALL", "SIZE",  "START", "STOP", "THE",
    "THIS",  "TIP",   "TO",    "TRUE",  "TYPE", "UP",    "USE",   "WHEN",  "WITH", "YES",
};

/* lowerCamelCase words that are product names, not parameters (sorted). */
static const char *const CAMEL_WORDS[] = {"iPhone", "jQuery", "watchOS"};

/* Attribute parts of "Name.part" that are file extensions or domains. */
static const char *const FILE_EXTS[] = {
    "c",    "cfg", "com", "conf", "csv", "doc",  "docx", "exe",  "gif", "gz",  "h",   "htm",
    "html", "ini", "io",  "jpg",  "js",  "json", "log",  "md",   "net", "org", "pdf", "png",
    "py",   "sh",  "svg", "tar",  "tsv", "txt",  "xml",  "yaml", "yml", "zip",
};

/* Acronym families numbered by a suffix: SIB1, SIB19, MSG3. */
static const char *const NUMBERED[] = {"MSG", "SIB"};

/* Small words a long form may contain without spelling a letter. */
static const char *const SMALL_WORDS[] = {
    "a",  "an", "and",  "at",  "by",   "for", "from", "in",  "into", "of",
    "on", "or", "over", "per", "plus", "the", "to",   "via", "with",
};

/* ---- acronym definitions ---- */

struct def {
    const char *key; /* NULL for an empty slot */
    size_t klen;
    const char *exp;
};

/* Open-addressing hash table of the document's definitions; strings in
 * the arena. The first definition of an acronym wins. */
struct defs {
    struct def *slot; /* malloc'd, cap slots (a power of two) */
    size_t cap, n;
    struct rp_arena arena;
    bool nomem;
};

static void defs_init(struct defs *d)
{
    memset(d, 0, sizeof(*d));
    rp_arena_init(&d->arena);
}

static void defs_release(struct defs *d)
{
    free(d->slot);
    rp_arena_release(&d->arena);
}

static uint32_t hash_bytes(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static const char *defs_get(const struct defs *d, const unsigned char *k, size_t n)
{
    if (!d || d->n == 0)
        return NULL;
    size_t mask = d->cap - 1;
    for (size_t h = hash_bytes(k, n) & mask;; h = (h + 1) & mask) {
        const struct def *e = &d->slot[h];
        if (!e->key)
            return NULL;
        if (e->klen == n && memcmp(e->key, k, n) == 0)
            return e->exp;
    }
}

static void defs_insert(struct def *slot, size_t cap, struct def e)
{
    size_t mask = cap - 1;
    size_t h = hash_bytes((const unsigned char *)e.key, e.klen) & mask;
    while (slot[h].key)
        h = (h + 1) & mask;
    slot[h] = e;
}

static void defs_put(struct defs *d, const unsigned char *k, size_t kn, const char *exp, size_t en)
{
    if (d->nomem || d->n >= DEFS_MAX || defs_get(d, k, kn))
        return;
    if ((d->n + 1) * 2 > d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 64;
        struct def *ns = calloc(ncap, sizeof(*ns));
        if (!ns) {
            d->nomem = true;
            return;
        }
        for (size_t i = 0; i < d->cap; i++)
            if (d->slot[i].key)
                defs_insert(ns, ncap, d->slot[i]);
        free(d->slot);
        d->slot = ns;
        d->cap = ncap;
    }
    struct def e = {
        .key = rp_arena_strndup(&d->arena, (const char *)k, kn),
        .klen = kn,
        .exp = rp_arena_strndup(&d->arena, exp, en),
    };
    if (!e.key || !e.exp) {
        d->nomem = true;
        return;
    }
    defs_insert(d->slot, d->cap, e);
    d->n++;
}

/* The expansion of acronym s[0..n): the document's, else the glossary's. */
static const char *expansion_of(const struct defs *d, const unsigned char *s, size_t n)
{
    const char *e = defs_get(d, s, n);
    return e ? e : rp_glossary_lookup((const char *)s, n);
}

/* Checks that s[b..e) can be a defined acronym ("ANR", "PCell", "EN-DC",
 * "SCells"). Sets *klen to the key length (a plural 's' dropped) and fills
 * letters[0..*m) with what the long form's initials must spell: a leading
 * lower-case letter, the capitals and the digits. */
static bool acronym_key(const unsigned char *s, size_t b, size_t e, size_t *klen,
                        unsigned char *letters, int *m)
{
    size_t len = e - b;
    if (len < 2 || len > 20 || !(ctab[s[b]] & C_ALPHA) || s[e - 1] == '-')
        return false;
    size_t k = len;
    if (s[e - 1] == 's' && len >= 3 &&
        ((ctab[s[e - 2]] & (C_UP | C_DG)) || rp_glossary_lookup((const char *)s + b, len - 1)))
        k = len - 1;
    int n_up = 0, nl = 0;
    for (size_t i = b; i < b + k; i++) {
        unsigned char c = s[i];
        if (c == '-') {
            if (s[i - 1] == '-')
                return false;
            continue;
        }
        if (!(ctab[c] & C_ALNUM))
            return false;
        bool take = (ctab[c] & (C_UP | C_DG)) || (i == b);
        n_up += (ctab[c] & C_UP) != 0;
        if (take) {
            if (nl >= 16)
                return false;
            letters[nl++] = c;
        }
    }
    if (n_up < 2 || nl < 2)
        return false;
    *klen = k;
    *m = nl;
    return true;
}

struct lf_word {
    size_t b, e;
};

static bool lf_byte(unsigned char c)
{
    return (ctab[c] & C_ALNUM) || c == '-' || c == '/' || c == '\'' || c >= 0x80;
}

static bool is_small_word(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < COUNT(SMALL_WORDS); i++)
        if (eq_ci(p, n, SMALL_WORDS[i]))
            return true;
    return false;
}

/*
 * Can the initials of the words w[0..nw) spell the acronym letters
 * a[0..m)? Each word is split at '-' and '/' into parts. The first part of
 * a word must spell the next letter with its first byte, and may spell the
 * letters after it with the bytes that follow it ("BLock Error Rate") or
 * with its later capitals and digits ("E-UTRAN", "HARQ" inside a long
 * form); later parts ("self-Organising") and small words ("Quality of
 * Service") may spell letters or none. reach is the set of how many
 * letters may have been spelled so far; m <= 16 keeps it in a word.
 */
static bool initials_match(const unsigned char *s, const struct lf_word *w, int nw,
                           const unsigned char *a, int m)
{
    uint32_t reach = 1;
    for (int k = 0; k < nw; k++) {
        bool small = is_small_word(s + w[k].b, w[k].e - w[k].b);
        if (k == 0 && small)
            return false;
        int part = 0;
        for (size_t p = w[k].b; p < w[k].e;) {
            size_t q = p;
            while (q < w[k].e && s[q] != '-' && s[q] != '/')
                q++;
            if (q > p) {
                bool mandatory = !small && part == 0;
                uint32_t next = mandatory ? 0 : reach;
                for (int j = 0; j < m; j++) {
                    if (!(reach & (1u << j)) || lower(s[p]) != lower(a[j]))
                        continue;
                    int c1 = 0, c2 = 0;
                    while (j + 1 + c1 < m && p + 1 + (size_t)c1 < q &&
                           lower(s[p + 1 + c1]) == lower(a[j + 1 + c1]))
                        c1++;
                    for (size_t r = p + 1; r < q && j + 1 + c2 < m; r++)
                        if ((ctab[s[r]] & (C_UP | C_DG)) && lower(s[r]) == lower(a[j + 1 + c2]))
                            c2++;
                    int c = c1 > c2 ? c1 : c2;
                    for (int t = 0; t <= c; t++)
                        next |= 1u << (j + 1 + t);
                }
                reach = next;
                if (!reach)
                    return false;
                part++;
            }
            p = q + 1;
        }
    }
    return (reach >> m) & 1u;
}

/* Records the long form w[0..nw) as the expansion of key s[kb..kb+kn)
 * when it has a lower-case letter and fits EXP_MAX (whitespace collapsed).
 * When the acronym was written as a plural ("secondary cells (SCells)")
 * the long form's last word loses its 's' too, since the key is singular. */
static void add_definition(struct defs *d, const unsigned char *s, size_t kb, size_t kn,
                           bool plural, const struct lf_word *w, int nw)
{
    char buf[EXP_MAX];
    size_t len = 0;
    bool has_lower = false;
    for (int k = 0; k < nw; k++) {
        size_t wl = w[k].e - w[k].b;
        if (len + wl + 1 > sizeof(buf))
            return;
        if (k)
            buf[len++] = ' ';
        memcpy(buf + len, s + w[k].b, wl);
        for (size_t i = 0; i < wl; i++)
            has_lower |= (ctab[s[w[k].b + i]] & C_LO) != 0;
        len += wl;
    }
    if (!has_lower || (len == kn && memcmp(buf, s + kb, kn) == 0))
        return;
    if (plural && len >= 3 && buf[len - 1] == 's' && buf[len - 2] != 's' && buf[len - 2] != ' ')
        len--;
    defs_put(d, s + kb, kn, buf, len);
}

/* "Long Form Words (LFW)": '(' at open, the key at s[kb..ke). */
static void definition_before(struct defs *d, const unsigned char *s, size_t kb, size_t kn,
                              bool plural, const unsigned char *letters, int m, size_t open)
{
    struct lf_word rev[LF_MAX_WORDS];
    int nw = 0;
    size_t p = open;
    while (nw < LF_MAX_WORDS) {
        while (p > 0 && (ctab[s[p - 1]] & C_SP))
            p--;
        size_t e = p;
        while (p > 0 && lf_byte(s[p - 1]))
            p--;
        if (p == e)
            break;
        rev[nw].b = p;
        rev[nw].e = e;
        nw++;
        if (p == 0 || !(ctab[s[p - 1]] & C_SP))
            break;
    }
    struct lf_word w[LF_MAX_WORDS];
    for (int k = 0; k < nw; k++)
        w[k] = rev[nw - 1 - k];
    int big = 0;
    for (int start = nw - 1; start >= 0; start--) {
        bool small = is_small_word(s + w[start].b, w[start].e - w[start].b);
        if (!small && ++big > m)
            break;
        if (!small && initials_match(s, w + start, nw - start, letters, m)) {
            add_definition(d, s, kb, kn, plural, w + start, nw - start);
            return;
        }
    }
}

/* "LFW (Long Form Words)": the long form from open + 1 to its ')'. */
static void definition_after(struct defs *d, const unsigned char *s, size_t n, size_t kb, size_t kn,
                             bool plural, const unsigned char *letters, int m, size_t open)
{
    struct lf_word w[LF_MAX_WORDS];
    int nw = 0;
    size_t p = open + 1;
    if (!(ctab[at(s, n, p)] & C_ALPHA))
        return;
    for (;;) {
        while (p < n && (ctab[s[p]] & C_SP))
            p++;
        if (p >= n || p - open > EXP_MAX)
            return;
        if (s[p] == ')')
            break;
        size_t b = p;
        while (p < n && lf_byte(s[p]))
            p++;
        if (p == b || nw == LF_MAX_WORDS)
            return;
        w[nw].b = b;
        w[nw].e = p;
        nw++;
    }
    if (nw >= 2 && initials_match(s, w, nw, letters, m))
        add_definition(d, s, kb, kn, plural, w, nw);
}

/* Finds the acronym definitions of s[0..n) (pre-pass, see the header). */
static void defs_collect(struct defs *d, const unsigned char *s, size_t n)
{
    size_t p = 0;
    while (p < n) {
        const unsigned char *q = memchr(s + p, '(', n - p);
        if (!q)
            break;
        size_t open = (size_t)(q - s);
        p = open + 1;
        unsigned char letters[16];
        int m;
        size_t klen;
        /* (ACR): a candidate alone in the parentheses. */
        size_t e = open + 1;
        while (e < n && e - open <= 21 && ((ctab[s[e]] & C_ALNUM) || s[e] == '-'))
            e++;
        if (at(s, n, e) == ')') {
            if (acronym_key(s, open + 1, e, &klen, letters, &m) && !defs_get(d, s + open + 1, klen))
                definition_before(d, s, open + 1, klen, klen < e - open - 1, letters, m, open);
            continue;
        }
        /* ACR (long form): a candidate word just before the '('. */
        size_t k = open;
        while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'))
            k--;
        size_t ke = k;
        while (k > 0 && ke - k <= 20 && ((ctab[s[k - 1]] & C_ALNUM) || s[k - 1] == '-'))
            k--;
        if (k < ke && !word_before(s, k) && acronym_key(s, k, ke, &klen, letters, &m) &&
            !defs_get(d, s + k, klen))
            definition_after(d, s, n, k, klen, klen < ke - k, letters, m, open);
    }
}

/* ---- the main pass ---- */

typedef int (*emit_fn)(const struct rp_entity *e, void *ud); /* nonzero stops the scan */

struct scanner {
    const unsigned char *s;
    size_t n;
    const struct defs *defs;
    emit_fn fn;
    void *ud;
    bool stop;
    char text[ENT_MAX + 1];
    char norm[ENT_MAX + 1];
    char exp[EXP_MAX + 64];
};

/* A bounded string builder over a scanner buffer. */
struct sb {
    char *p;
    size_t len, cap;
};

static void sb_add(struct sb *b, const void *s, size_t n)
{
    if (n > b->cap - 1 - b->len)
        n = b->cap - 1 - b->len;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_adds(struct sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Reports s[off..off+len) (norm NULL: the text itself). */
static void emit(struct scanner *sc, enum rp_entity_type t, size_t off, size_t len,
                 const char *norm, const char *exp)
{
    if (sc->stop || len == 0 || len > ENT_MAX)
        return;
    memcpy(sc->text, sc->s + off, len);
    sc->text[len] = '\0';
    struct rp_entity e = {
        .type = t,
        .text = sc->text,
        .norm = norm ? norm : sc->text,
        .expansion = exp,
        .block = -1,
        .section = -1,
        .offset = off,
        .len = len,
    };
    if (sc->fn(&e, sc->ud))
        sc->stop = true;
}

/* Reports an acronym s[off..off+len) whose normal form is its first klen
 * bytes (a plural 's' dropped). */
static void emit_acronym(struct scanner *sc, size_t off, size_t len, size_t klen, const char *exp)
{
    struct sb nb = {sc->norm, 0, sizeof(sc->norm)};
    sb_add(&nb, sc->s + off, klen);
    emit(sc, RP_ENTITY_ACRONYM, off, len, sc->norm, exp);
}

/* "TS 38.331", "TR 38.912", "TS 36.300 V16.2.0": start is where the entity
 * starts ("3GPP" or the T), t is at "TS"/"TR". Returns the end, or 0. */
static size_t try_spec(struct scanner *sc, size_t start, size_t t)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n;
    size_t q = skip_hspace(s, n, t + 2);
    if (!is_digit(at(s, n, q)) || !is_digit(at(s, n, q + 1)) || at(s, n, q + 2) != '.' ||
        !is_digit(at(s, n, q + 3)) || !is_digit(at(s, n, q + 4)) || !is_digit(at(s, n, q + 5)))
        return 0;
    size_t e = q + 6;
    if (at(s, n, e) == '-' && is_digit(at(s, n, e + 1))) {
        e++;
        for (int k = 0; k < 2 && is_digit(at(s, n, e)); k++)
            e++;
    }
    if (word_at(s, n, e) || (at(s, n, e) == '.' && is_digit(at(s, n, e + 1))) ||
        (at(s, n, e) == '-' && is_digit(at(s, n, e + 1))))
        return 0;
    size_t end = e, vb = 0, ve = 0;
    size_t v = skip_hspace(s, n, e);
    if (v > e && (at(s, n, v) == 'V' || at(s, n, v) == 'v')) {
        size_t r = v + 1;
        int groups = 0;
        for (;;) {
            size_t d = r;
            while (r < n && r - d < 3 && is_digit(s[r]))
                r++;
            if (r == d)
                break;
            groups++;
            if (groups == 3 || at(s, n, r) != '.' || !is_digit(at(s, n, r + 1)))
                break;
            r++;
        }
        if (groups == 3 && !word_at(s, n, r) &&
            !(at(s, n, r) == '.' && is_digit(at(s, n, r + 1)))) {
            vb = v + 1;
            ve = r;
            end = r;
        }
    }
    struct sb nb = {sc->norm, 0, sizeof(sc->norm)};
    sb_add(&nb, s + t, 2);
    sb_adds(&nb, " ");
    sb_add(&nb, s + q, e - q);
    if (ve) {
        sb_adds(&nb, " V");
        sb_add(&nb, s + vb, ve - vb);
    }
    emit(sc, RP_ENTITY_SPEC_REF, start, end - start, sc->norm, NULL);
    return end;
}

/* "FAJ 121 4219", "CXA 123 4567/1", "CXP9024418/15": the word s[i..j)
 * starts with a product class. Returns the end, or 0. */
static size_t try_product(struct scanner *sc, size_t i, size_t j)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n;
    size_t p = i + 3, g1b, g1e, g2b, g2e, e;
    if (j > p) {
        /* glued: "CXP9024418" */
        for (size_t k = p; k < j; k++)
            if (!is_digit(s[k]))
                return 0;
        if (j - p < 6 || j - p > 7)
            return 0;
        g1b = p;
        g1e = g2b = p + 3;
        g2e = e = j;
    } else {
        size_t q = skip_hspace(s, n, p);
        if (q == p)
            return 0;
        size_t r = q;
        while (r < n && r - q < 8 && is_digit(s[r]))
            r++;
        if (r - q == 6 || r - q == 7) {
            g1b = q;
            g1e = g2b = q + 3;
            g2e = e = r;
        } else if (r - q == 3) {
            size_t q2 = skip_hspace(s, n, r);
            if (q2 == r)
                return 0;
            size_t r2 = q2;
            while (r2 < n && r2 - q2 < 5 && is_digit(s[r2]))
                r2++;
            if (r2 - q2 < 2 || r2 - q2 > 4)
                return 0;
            g1b = q;
            g1e = r;
            g2b = q2;
            g2e = e = r2;
        } else {
            return 0;
        }
    }
    size_t sfx = e;
    if (at(s, n, e) == '/' && is_digit(at(s, n, e + 1))) {
        size_t f = e + 1;
        while (f < n && f - e <= 5 && is_digit(s[f]))
            f++;
        e = f;
    }
    if (word_at(s, n, e) || (at(s, n, e) == '.' && is_digit(at(s, n, e + 1))) ||
        (at(s, n, e) == '/' && is_digit(at(s, n, e + 1))))
        return 0;
    struct sb nb = {sc->norm, 0, sizeof(sc->norm)};
    sb_add(&nb, s + i, 3);
    sb_adds(&nb, " ");
    sb_add(&nb, s + g1b, g1e - g1b);
    sb_adds(&nb, " ");
    sb_add(&nb, s + g2b, g2e - g2b);
    sb_add(&nb, s + sfx, e - sfx);
    emit(sc, RP_ENTITY_PRODUCT_CODE, i, e - i, sc->norm, NULL);
    return e;
}

/* "cmedit get ...": the word s[i..j) is "cmedit". Returns where scanning
 * resumes (after the verb, so the command's own entities are found), or 0. */
static size_t try_command(struct scanner *sc, size_t i, size_t j)
{
    static const char *const verbs[] = {"action", "create", "delete", "describe", "get", "set"};
    const unsigned char *s = sc->s;
    size_t n = sc->n;
    size_t q = j;
    while (at(s, n, q) == ' ' || at(s, n, q) == '\t')
        q++;
    if (q == j)
        return 0;
    size_t v = q;
    while (v < n && (ctab[s[v]] & C_LO))
        v++;
    if (!in_sorted(verbs, COUNT(verbs), s + q, v - q) || word_at(s, n, v) ||
        (v < n && !(ctab[s[v]] & C_SP)))
        return 0;
    bool code = i > 0 && s[i - 1] == '`';
    size_t e = v;
    while (e < n) {
        unsigned char c = s[e];
        if (c == '\n' || c == '\r' || c == '\0' || (code && c == '`'))
            break;
        if (c == '|' && s[e - 1] == ' ' && at(s, n, e + 1) == ' ')
            break;
        if (c == '.' && !code && (e + 1 >= n || (ctab[s[e + 1]] & C_SP)))
            break;
        e++;
        if (e - i > ENT_MAX)
            return v;
    }
    while (e > v && s[e - 1] && (s[e - 1] == ' ' || s[e - 1] == '\t' || strchr(".,;:", s[e - 1])))
        e--;
    struct sb nb = {sc->norm, 0, sizeof(sc->norm)};
    for (size_t k = i; k < e; k++) {
        if (s[k] == ' ' || s[k] == '\t') {
            if (s[k - 1] != ' ' && s[k - 1] != '\t')
                sb_adds(&nb, " ");
        } else {
            sb_add(&nb, s + k, 1);
        }
    }
    emit(sc, RP_ENTITY_COMMAND, i, e - i, sc->norm, NULL);
    return v;
}

/* Units a value may carry. ci: case-insensitive; plural: the canonical
 * form is plural, singular for a count of exactly 1. */
struct unit {
    const char *w;
    const char *canon;
    bool ci, plural;
};

static const struct unit UNITS[] = {
    {"dBm", "dBm", true, false},
    {"dBi", "dBi", true, false},
    {"dB", "dB", true, false},
    {"Hz", "Hz", true, false},
    {"kHz", "kHz", true, false},
    {"MHz", "MHz", true, false},
    {"GHz", "GHz", true, false},
    {"ms", "ms", false, false},
    {"msec", "ms", false, false},
    {"s", "s", false, false},
    {"sec", "s", false, false},
    {"secs", "s", false, false},
    {"second", "s", false, false},
    {"seconds", "s", false, false},
    {"us", "\xC2\xB5s", false, false},
    {"usec", "\xC2\xB5s", false, false},
    {"ns", "ns", false, false},
    {"min", "min", false, false},
    {"mins", "min", false, false},
    {"minute", "min", false, false},
    {"minutes", "min", false, false},
    {"h", "h", false, false},
    {"hr", "h", false, false},
    {"hrs", "h", false, false},
    {"hour", "h", false, false},
    {"hours", "h", false, false},
    {"PRB", "PRB", false, false},
    {"PRBs", "PRB", false, false},
    {"RB", "RB", false, false},
    {"RBs", "RB", false, false},
    {"km", "km", false, false},
    {"m", "m", false, false},
    {"metre", "m", false, false},
    {"metres", "m", false, false},
    {"meter", "m", false, false},
    {"meters", "m", false, false},
    {"W", "W", false, false},
    {"mW", "mW", false, false},
    {"kW", "kW", false, false},
    {"bps", "bps", true, false},
    {"kbps", "kbps", true, false},
    {"Mbps", "Mbps", true, false},
    {"Gbps", "Gbps", true, false},
    {"bit/s", "bps", false, false},
    {"kbit/s", "kbps", false, false},
    {"Mbit/s", "Mbps", false, false},
    {"Gbit/s", "Gbps", false, false},
    {"symbol", "symbols", false, true},
    {"symbols", "symbols", false, true},
    {"slot", "slots", false, true},
    {"slots", "slots", false, true},
    {"subframe", "subframes", false, true},
    {"subframes", "subframes", false, true},
    {"frame", "frames", false, true},
    {"frames", "frames", false, true},
    {"byte", "bytes", false, true},
    {"bytes", "bytes", false, true},
};

/* The unit at s[q]: its entry and end, or NULL. */
static const struct unit *unit_at(const unsigned char *s, size_t n, size_t q, size_t *end)
{
    static const struct unit percent = {"%", "%", false, false};
    static const struct unit micro = {"\xC2\xB5s", "\xC2\xB5s", false, false};
    unsigned char c = at(s, n, q);
    if (c == '%') {
        *end = q + 1;
        return &percent;
    }
    if (((c == 0xC2 && at(s, n, q + 1) == 0xB5) || (c == 0xCE && at(s, n, q + 1) == 0xBC)) &&
        at(s, n, q + 2) == 's') {
        *end = q + 3;
        return &micro;
    }
    size_t r = q;
    while (r < n && r - q < 10 && (ctab[s[r]] & C_ALPHA))
        r++;
    if (r == q)
        return NULL;
    size_t len = r - q;
    if (at(s, n, r) == '/' && at(s, n, r + 1) == 's' && !(ctab[at(s, n, r + 2)] & C_ALPHA))
        len += 2;
    for (int pass = 0; pass < 2; pass++) {
        size_t l = pass == 0 ? len : r - q;
        if (pass == 1 && l == len)
            break;
        for (size_t k = 0; k < COUNT(UNITS); k++) {
            const struct unit *u = &UNITS[k];
            if (u->ci ? eq_ci(s + q, l, u->w) : eq(s + q, l, u->w)) {
                *end = q + l;
                return u;
            }
        }
    }
    return NULL;
}

/* A number at p (with its sign from start): a value when a unit follows.
 * Returns where scanning resumes. */
static size_t scan_number(struct scanner *sc, size_t start, size_t p)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n;
    /* Numbers that continue something: ".5", "v.3", "1,000", "NR01-1", and
     * the second end of a range written with a dash or minus sign. */
    if (start > 0) {
        unsigned char pc = s[start - 1];
        if (pc == '.')
            return skip_numeric(s, n, p);
        if (pc && strchr("-,/:", pc) && start >= 2 && (ctab[s[start - 2]] & C_ALNUM))
            return skip_numeric(s, n, p);
        if (start >= 4 && s[start - 3] == 0xE2 && is_digit(s[start - 4]) &&
            ((s[start - 2] == 0x80 && (pc == 0x93 || pc == 0x94)) ||
             (s[start - 2] == 0x88 && pc == 0x92)))
            return skip_numeric(s, n, p); /* "10–20", "10—20", "10−20" */
    }
    if (start == p && n - p >= 4 && memcmp(s + p, "3GPP", 4) == 0 && !word_at(s, n, p + 4)) {
        size_t t = skip_hspace(s, n, p + 4);
        if (t > p + 4 && at(s, n, t) == 'T' && (at(s, n, t + 1) == 'S' || at(s, n, t + 1) == 'R')) {
            size_t e = try_spec(sc, p, t);
            if (e)
                return e;
        }
        return p + 4;
    }
    size_t d0 = p;
    while (p < n && is_digit(s[p]))
        p++;
    if (p - d0 > 24)
        return skip_numeric(s, n, p);
    if (at(s, n, p) == '.' && is_digit(at(s, n, p + 1))) {
        p++;
        size_t f = p;
        while (p < n && is_digit(s[p]))
            p++;
        if (p - f > 12 || (at(s, n, p) == '.' && is_digit(at(s, n, p + 1))))
            return skip_numeric(s, n, p); /* a version or an address */
    }
    size_t num_end = p;
    /* Ranges: "-140..-44", "-5 ... 5", "10-20", "10–20", "10−20". */
    size_t dots = skip_hspace(s, n, p);
    if (at(s, n, dots) == '.' && at(s, n, dots + 1) == '.') {
        p = dots + 2;
        while (at(s, n, p) == '.')
            p++;
        p = skip_hspace(s, n, p);
        if (at(s, n, p) == '-' || at(s, n, p) == '+')
            p++;
        return skip_numeric(s, n, p);
    }
    if (at(s, n, p) == '-' && is_digit(at(s, n, p + 1)))
        return skip_numeric(s, n, p + 1);
    if (at(s, n, p) == 0xE2 && is_digit(at(s, n, p + 3)) &&
        ((at(s, n, p + 1) == 0x80 && (at(s, n, p + 2) == 0x93 || at(s, n, p + 2) == 0x94)) ||
         (at(s, n, p + 1) == 0x88 && at(s, n, p + 2) == 0x92)))
        return skip_numeric(s, n, p + 3);
    bool glued = word_at(s, n, p);
    size_t q = glued ? p : skip_hspace(s, n, p);
    size_t u_end;
    const struct unit *u = NULL;
    if (glued || q > p || at(s, n, p) == '%')
        u = unit_at(s, n, q, &u_end);
    if (u && !word_at(s, n, u_end)) {
        struct sb nb = {sc->norm, 0, sizeof(sc->norm)};
        if (s[start] == '-' || s[start] == 0xE2)
            sb_adds(&nb, "-");
        sb_add(&nb, s + d0, num_end - d0);
        sb_adds(&nb, " ");
        if (u->plural && num_end - d0 == 1 && s[d0] == '1')
            sb_add(&nb, u->canon, strlen(u->canon) - 1);
        else
            sb_adds(&nb, u->canon);
        emit(sc, RP_ENTITY_VALUE, start, u_end - start, sc->norm, NULL);
        return u_end;
    }
    if (glued)
        return skip_word(s, n, p);
    return num_end;
}

/* The numbered families: "SIB2" -> "System Information Block 2". */
static const char *numbered_expansion(struct scanner *sc, size_t i, size_t j)
{
    const unsigned char *s = sc->s;
    size_t d = i;
    while (d < j && (ctab[s[d]] & C_UP))
        d++;
    if (d == i || j - d < 1 || j - d > 2 || s[d] == '0')
        return NULL;
    for (size_t k = d; k < j; k++)
        if (!is_digit(s[k]))
            return NULL;
    if (!in_sorted(NUMBERED, COUNT(NUMBERED), s + i, d - i))
        return NULL;
    const char *g = rp_glossary_lookup((const char *)s + i, d - i);
    if (!g)
        return NULL;
    struct sb xb = {sc->exp, 0, sizeof(sc->exp)};
    sb_adds(&xb, g);
    sb_adds(&xb, " ");
    sb_add(&xb, s + d, j - d);
    return sc->exp;
}

static bool roman_numeral(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != 'I' && s[i] != 'V' && s[i] != 'X')
            return false;
    return true;
}

/* Hyphenated acronyms the document or the glossary knows: "EN-DC",
 * "gNB-CU-UP", "E-UTRAN", "ng-eNB", "NB-IoTs". Returns the end, or 0. */
static size_t try_compound(struct scanner *sc, size_t i, size_t j)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n;
    size_t ends[3];
    int np = 0;
    size_t p = j;
    while (np < 3 && at(s, n, p) == '-' && (ctab[at(s, n, p + 1)] & C_ALNUM)) {
        size_t q = p + 1;
        while (q < n && (ctab[s[q]] & C_ALNUM))
            q++;
        if (q - i > 24 || (q < n && (s[q] == '_' || (s[q] >= 0x80 && !uni_sep_len(s, n, q)))))
            break;
        ends[np++] = q;
        p = q;
    }
    for (int k = np - 1; k >= 0; k--) {
        size_t e = ends[k];
        bool up = false;
        for (size_t r = i; r < e; r++)
            up |= (ctab[s[r]] & C_UP) != 0;
        if (!up)
            continue;
        const char *x = expansion_of(sc->defs, s + i, e - i);
        if (x) {
            emit_acronym(sc, i, e - i, e - i, x);
            return e;
        }
        if (s[e - 1] == 's' && (x = expansion_of(sc->defs, s + i, e - i - 1)) != NULL) {
            emit_acronym(sc, i, e - i, e - i - 1, x);
            return e;
        }
    }
    return 0;
}

/*
 * An acronym-shaped word s[i..j) (ASCII letters and digits, starting with
 * a letter). Returns true when it was reported.
 */
static bool try_acronym(struct scanner *sc, size_t i, size_t j, unsigned flags, size_t n_up)
{
    const unsigned char *s = sc->s;
    size_t len = j - i;
    if (len > 16)
        return false;
    bool lower_start = (ctab[s[i]] & C_LO) != 0;
    /* Known forms, mixed case included ("eNB", "PCell", "Xn", "UEs",
     * "Msg3"). Capitalised words ("The", "Uplink") skip the lookups. */
    if ((flags & (C_LO | C_DG)) != C_LO || n_up >= 2 || len == 2 || lower_start) {
        const char *x = expansion_of(sc->defs, s + i, len);
        if (x) {
            emit_acronym(sc, i, len, len, x);
            return true;
        }
        if (len >= 3 && s[j - 1] == 's' && (x = expansion_of(sc->defs, s + i, len - 1)) != NULL) {
            emit_acronym(sc, i, len, len - 1, x);
            return true;
        }
    }
    if (lower_start)
        return false;
    /* Plain: capitals and digits, or those plus a plural 's'. */
    size_t core = len;
    if (flags & C_LO) {
        if (s[j - 1] != 's')
            return false;
        for (size_t k = i; k < j - 1; k++)
            if (ctab[s[k]] & C_LO)
                return false;
        core = len - 1;
    }
    if (core < 2 || core > 10)
        return false;
    if (core == 3 && in_sorted(PRODUCT_PREFIXES, COUNT(PRODUCT_PREFIXES), s + i, 3))
        return false;
    if (flags & C_DG) {
        const char *x = core == len ? numbered_expansion(sc, i, j) : NULL;
        if (!x)
            return false;
        emit_acronym(sc, i, len, core, x);
        return true;
    }
    if (roman_numeral(s + i, core) || core >= 6 || in_sorted(SHOUTED, COUNT(SHOUTED), s + i, core))
        return false;
    emit_acronym(sc, i, len, core, NULL);
    return true;
}

/* "Class.attribute" with s[i..j) the class and s[j] == '.'. Returns the
 * end, or 0. */
static size_t try_qualified(struct scanner *sc, size_t i, size_t j)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n;
    size_t a = j + 1, k = a;
    while (k < n && (ctab[s[k]] & C_ALNUM))
        k++;
    size_t alen = k - a;
    if (alen < 2 || alen > 100 || word_at(s, n, k))
        return 0;
    bool attr_upper = false;
    for (size_t r = a; r < k; r++)
        attr_upper |= (ctab[s[r]] & C_UP) != 0;
    if (!attr_upper && in_sorted(FILE_EXTS, COUNT(FILE_EXTS), s + a, alen))
        return 0;
    unsigned char c = at(s, n, k);
    if (c == '@' || (c == '.' && (ctab[at(s, n, k + 1)] & C_IDENT)))
        return 0;
    bool counter = alen >= 3 && s[a] == 'p' && s[a + 1] == 'm' && (ctab[s[a + 2]] & C_UP);
    emit(sc, counter ? RP_ENTITY_COUNTER : RP_ENTITY_PARAMETER, i, k - i, NULL, NULL);
    return k;
}

/* What follows a word: "=value" is skipped (FDN components, settings). */
static size_t after_word(const struct scanner *sc, size_t j)
{
    if (at(sc->s, sc->n, j) == '=' && at(sc->s, sc->n, j + 1) != '=')
        return skip_value(sc->s, sc->n, j + 1);
    return j;
}

/* Is the lower-case-initial word s[i..j) (with a capital) an attribute name? */
static bool camel_parameter(const struct scanner *sc, size_t i, size_t j)
{
    size_t len = j - i;
    if (len < 6 || len > 100)
        return false;
    return !in_sorted(CAMEL_WORDS, COUNT(CAMEL_WORDS), sc->s + i, len);
}

/* One word starting at i (s[i] is an ASCII letter, digit or '_'). Returns
 * where scanning resumes. */
static size_t scan_word(struct scanner *sc, size_t i)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n;
    unsigned flags = 0;
    size_t n_up = 0, j = i;
    while (j < n && (ctab[s[j]] & C_IDENT)) {
        unsigned k = ctab[s[j]];
        flags |= k;
        n_up += (k & C_UP) != 0;
        j++;
    }
    if (ctab[s[i]] & C_DG)
        return scan_number(sc, i, i);
    if (j < n && s[j] >= 0x80 && !uni_sep_len(s, n, j))
        return skip_word(s, n, j); /* glued to a non-ASCII letter */
    if (word_before(s, i) || s[i] == '_' || (flags & C_US))
        return after_word(sc, j);
    if (i >= 2 && s[i - 1] == '.' && (ctab[s[i - 2]] & C_IDENT))
        return after_word(sc, j); /* inside a dotted name */
    size_t len = j - i;
    unsigned char next = at(s, n, j);
    bool dotted_after = next == '.' && (ctab[at(s, n, j + 1)] & C_IDENT);
    bool lower_start = (ctab[s[i]] & C_LO) != 0;

    if (next == '=' && at(s, n, j + 1) != '=') {
        /* "attribute=value" reports the attribute; "Class=id" nothing,
         * unless the id is a product number ("FeatureState=CXC4011319"). */
        if (lower_start && n_up &&
            !(s[i] == 'p' && at(s, n, i + 1) == 'm' && (ctab[at(s, n, i + 2)] & C_UP)) &&
            !expansion_of(sc->defs, s + i, len) && camel_parameter(sc, i, j))
            emit(sc, RP_ENTITY_PARAMETER, i, len, NULL, NULL);
        size_t v = j + 1, ve = v;
        while (ve < n && (ctab[s[ve]] & C_ALNUM))
            ve++;
        if (ve - v > 3 && is_digit(s[v + 3]) &&
            in_sorted(PRODUCT_PREFIXES, COUNT(PRODUCT_PREFIXES), s + v, 3)) {
            size_t e = try_product(sc, v, ve);
            if (e)
                return skip_value(s, n, e);
        }
        return skip_value(s, n, j + 1);
    }
    if (next == '@')
        return skip_token(s, n, j);

    if (lower_start) {
        if (len == 6 && memcmp(s + i, "cmedit", 6) == 0) {
            size_t r = try_command(sc, i, j);
            return r ? r : j;
        }
        if (len == 3 && memcmp(s + i, "www", 3) == 0 && next == '.')
            return skip_token(s, n, j);
        if (next == '-') {
            size_t e = try_compound(sc, i, j);
            if (e)
                return e;
        }
        if (n_up == 0)
            return j;
        if (s[i] == 'p' && len >= 5 && s[i + 1] == 'm' && (ctab[s[i + 2]] & C_UP)) {
            if (!dotted_after)
                emit(sc, RP_ENTITY_COUNTER, i, len, NULL, NULL);
            return dotted_after ? skip_token(s, n, j) : j;
        }
        if (try_acronym(sc, i, j, flags, n_up))
            return j;
        if (dotted_after)
            return skip_token(s, n, j);
        if (camel_parameter(sc, i, j))
            emit(sc, RP_ENTITY_PARAMETER, i, len, NULL, NULL);
        return j;
    }

    /* Upper-case initial. */
    if ((len == 2 || (len > 2 && is_digit(s[i + 2]))) && s[i] == 'T' &&
        (s[i + 1] == 'S' || s[i + 1] == 'R')) {
        size_t e = try_spec(sc, i, i);
        if (e)
            return e;
    }
    if (len >= 3 && (ctab[s[i + 1]] & C_UP) && (ctab[s[i + 2]] & C_UP) &&
        (len == 3 || is_digit(s[i + 3])) &&
        in_sorted(PRODUCT_PREFIXES, COUNT(PRODUCT_PREFIXES), s + i, 3)) {
        size_t e = try_product(sc, i, j);
        return e ? e : j;
    }
    if (next == '.' && n_up >= 2 && (flags & C_LO) && (ctab[at(s, n, j + 1)] & C_LO)) {
        size_t e = try_qualified(sc, i, j);
        if (e)
            return after_word(sc, e);
    }
    if (next == '-') {
        size_t e = try_compound(sc, i, j);
        if (e)
            return e;
    }
    if (dotted_after)
        return skip_token(s, n, j);
    try_acronym(sc, i, j, flags, n_up);
    return j;
}

static void scan_text(struct scanner *sc)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n;
    size_t i = 0;
    while (i < n && !sc->stop) {
        unsigned char c = s[i];
        if (ctab[c] & C_IDENT) {
            size_t r = scan_word(sc, i);
            i = r > i ? r : i + 1;
            continue;
        }
        if (c < 0x80) {
            if ((c == '-' || c == '+') && is_digit(at(s, n, i + 1)) && !word_before(s, i)) {
                size_t r = scan_number(sc, i, i + 1);
                i = r > i ? r : i + 1;
                continue;
            }
            if ((c == ':' && at(s, n, i + 1) == '/' && at(s, n, i + 2) == '/') || c == '@') {
                i = skip_token(s, n, i + 1);
                continue;
            }
            i++;
            continue;
        }
        size_t k = uni_sep_len(s, n, i);
        if (k) {
            if (k == 3 && s[i + 1] == 0x88 && is_digit(at(s, n, i + 3)) && !word_before(s, i)) {
                size_t r = scan_number(sc, i, i + 3); /* U+2212 minus */
                i = r > i ? r : i + 3;
                continue;
            }
            i += k;
            continue;
        }
        i = skip_word(s, n, i);
    }
}

/* ---- entry points ---- */

struct find_ctx {
    rp_entity_fn fn;
    void *ud;
};

static int find_emit(const struct rp_entity *e, void *ud)
{
    struct find_ctx *c = ud;
    c->fn(e, c->ud);
    return 0;
}

enum rp_err rp_entities_find(const char *text, size_t len, rp_entity_fn fn, void *ud)
{
    if (!fn || (!text && len))
        return RP_ERR_INVAL;
    if (len == 0)
        return RP_OK;
    struct defs defs;
    defs_init(&defs);
    defs_collect(&defs, (const unsigned char *)text, len);
    enum rp_err rc = defs.nomem ? RP_ERR_NOMEM : RP_OK;
    if (!rc) {
        struct find_ctx ctx = {fn, ud};
        struct scanner sc;
        sc.s = (const unsigned char *)text;
        sc.n = len;
        sc.defs = &defs;
        sc.fn = find_emit;
        sc.ud = &ctx;
        sc.stop = false;
        scan_text(&sc);
    }
    defs_release(&defs);
    return rc;
}

struct scan_ctx {
    struct rp_doc *doc;
    int block, section;
    enum rp_err rc;
};

static int scan_emit(const struct rp_entity *e, void *ud)
{
    struct scan_ctx *c = ud;
    struct rp_entity copy = *e;
    copy.block = c->block;
    copy.section = c->section;
    c->rc = rp_doc_add_entity(c->doc, &copy);
    return c->rc != RP_OK;
}

/* Scans one string of doc with the document's definitions. */
static enum rp_err scan_one(struct scanner *sc, struct scan_ctx *ctx, const char *text, int block,
                            int section)
{
    if (!text || !*text)
        return RP_OK;
    ctx->block = block;
    ctx->section = section;
    sc->s = (const unsigned char *)text;
    sc->n = strlen(text);
    sc->stop = false;
    scan_text(sc);
    return ctx->rc;
}

enum rp_err rp_entities_scan(struct rp_doc *doc, struct rp_error *err)
{
    struct defs defs;
    defs_init(&defs);
    enum rp_err rc = RP_OK;
    for (size_t k = 0; k < doc->n_meta; k++)
        defs_collect(&defs, (const unsigned char *)doc->meta[k].value, strlen(doc->meta[k].value));
    for (size_t k = 0; k < doc->n_sections; k++)
        defs_collect(&defs, (const unsigned char *)doc->sections[k].title,
                     strlen(doc->sections[k].title));
    for (size_t k = 0; k < doc->n_blocks; k++)
        defs_collect(&defs, (const unsigned char *)doc->blocks[k].text,
                     strlen(doc->blocks[k].text));
    if (defs.nomem) {
        rc = RP_ERR_NOMEM;
        goto out;
    }
    struct scan_ctx ctx = {.doc = doc, .rc = RP_OK};
    struct scanner sc = {.defs = &defs, .fn = scan_emit, .ud = &ctx};
    /* Reading order: the front matter, then each section's title before
     * its blocks. */
    for (size_t k = 0; k < doc->n_meta && !rc; k++)
        rc = scan_one(&sc, &ctx, doc->meta[k].value, -2 - (int)k, -1);
    size_t next_title = 0;
    for (size_t b = 0; b <= doc->n_blocks && !rc; b++) {
        size_t upto = doc->n_sections;
        if (b < doc->n_blocks && doc->blocks[b].section >= 0)
            upto = (size_t)doc->blocks[b].section + 1;
        for (; next_title < upto && next_title < doc->n_sections && !rc; next_title++)
            rc = scan_one(&sc, &ctx, doc->sections[next_title].title, -1, (int)next_title);
        if (b < doc->n_blocks && !rc)
            rc = scan_one(&sc, &ctx, doc->blocks[b].text, (int)b, doc->blocks[b].section);
    }
out:
    defs_release(&defs);
    if (rc)
        return rp_error_set(err, rc, "cannot find entities: %s", rp_strerror(rc));
    return RP_OK;
}
