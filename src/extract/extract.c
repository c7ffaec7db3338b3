/*
 * extract.c - the extractive tier (see include/ranpipe/extract.h).
 *
 * Design. The document is walked once in reading order - the metadata
 * values, then each section title before the blocks of its section - and
 * every rule looks only at the unit in hand, so the pairs come out in
 * document order. Within one block the rules' pairs are collected first
 * (keyed by byte offset, or by body row for a table) and sorted before
 * they are committed; a question already made for this document (ASCII
 * case ignored) is dropped at commit time.
 *
 * Rules, and what each refuses (precision comes before recall: a wrong
 * pair teaches the model to make things up):
 *   - Parameter records: one pair per stated fact, in the order default,
 *     range, unit, type, MO class, description. The record's name must be
 *     an identifier, and its table must have at least one column beyond
 *     name and description (otherwise it may just as well list features).
 *     A name that is a PM counter is left to the counter rule. The MO class
 *     question is not asked when the document gives the name under two MO
 *     classes; a unit that is a number ("0.1", a resolution) is not asked
 *     about, and a value that fills two of the record's fields (an HTML
 *     cell spanning Range and Default) is taken for neither. The evidence is the record's own row,
 * "header: cell; ...". Every field must be a cell of that row (fields are the table's own strings,
 * so this is a pointer check); a record that does not point into its row yields nothing.
 *   - Counters: "pmFoo: text" and "pmFoo - text" (also with an en or em
 *     dash) at the start of a list item, a line, or a paragraph sentence;
 *     and tables whose column of names holds mostly pm counters next to a
 *     description column (or as one of only two columns). The description
 *     needs three words or more.
 *   - Acronyms: only where the text itself writes "Long Form (LF)" or
 *     "LF (Long Form)". The entity scanner gives every occurrence of an
 *     acronym the document's expansion, or else the glossary's, without
 *     saying which; so an acronym is taken only when its expansion stands
 *     next to it in brackets at that spot. One pair per acronym: its first
 *     definition in a block, else the first in a title or metadata value.
 *   - Definitions: the first sentence of a paragraph when it reads
 *     "X is a|an|the ..." and X is a term (a RAN identifier or a
 *     capitalised name of several words, not a pronoun or an ordinary
 *     word); "Term: definition" items of a definition list (no list
 *     markers, as HTML <dl> renders), of any list whose items all have
 *     that shape with such terms, and of a definitions/terms/glossary
 *     section, where terms may be lower-case; and "Term : definition"
 *     paragraphs (Pandoc definition lists).
 *
 * Sizes. Questions, answers and evidence are built in capped buffers; a
 * pair that would not fit is not made (nothing is cut to fit, except a
 * sentence of evidence longer than SENTENCE_MAX, which is trimmed at word
 * boundaries around the text it supports). Answers have their whitespace
 * runs collapsed; evidence is the document's text byte for byte, or for
 * a table row its cells joined.
 */
#include "ranpipe/extract.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/buf.h"
#include "ranpipe/utf8.h"

#define QUESTION_MAX 512
#define ANSWER_MAX 1024
#define EVIDENCE_MAX 4096
#define VALUE_MAX 300       /* a parameter value longer than this is not a short fact */
#define NAME_MAX_LEN 128    /* parameter, MO class and counter names */
#define TERM_MAX 80         /* a defined term */
#define TERM_WORDS 6        /* most words in a term outside a definitions section */
#define CONTEXT_MAX 160     /* a title used as the context of an acronym question */
#define SENTENCE_MAX 600    /* longer evidence sentences are trimmed around their subject */
#define SENTENCE_REACH 2000 /* how far to look for a sentence boundary */
#define MIN_DESC_WORDS 3

/* ---- bytes and small helpers ---- */

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
    return is_upper(c) || is_lower(c);
}

static bool is_alnum(unsigned char c)
{
    return is_alpha(c) || is_digit(c);
}

static unsigned char to_lower(unsigned char c)
{
    return is_upper(c) ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool eq_ci(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++)
        if (to_lower((unsigned char)s[i]) != to_lower((unsigned char)lit[i]))
            return false;
    return true;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define IN_LIST_CI(s, n, list) in_list_ci((s), (n), (list), COUNT(list))

static bool in_list_ci(const char *s, size_t n, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (eq_ci(s, n, list[i]))
            return true;
    return false;
}

/* Number of words (runs of non-space bytes) in s[0..n). */
static size_t count_words(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_space((unsigned char)s[i]) && (i == 0 || is_space((unsigned char)s[i - 1])))
            w++;
    return w;
}

/* Number of words with a lower-case letter: "LOCKED, UNLOCKED or
 * SHUTTING_DOWN" lists values, it does not define anything. */
static size_t prose_words(const char *s, size_t n)
{
    size_t w = 0;
    bool lower = false;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || is_space((unsigned char)s[i])) {
            w += lower;
            lower = false;
        } else if (is_lower((unsigned char)s[i])) {
            lower = true;
        }
    }
    return w;
}

static bool has_alpha(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_alpha((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80)
            return true;
    return false;
}

static void trim(const char *s, size_t *b, size_t *e)
{
    while (*b < *e && is_space((unsigned char)s[*b]))
        (*b)++;
    while (*e > *b && is_space((unsigned char)s[*e - 1]))
        (*e)--;
}

/* Appends s[0..n) with leading and trailing whitespace dropped and inner
 * runs of whitespace made one space. */
static enum rp_err put_text(struct rp_buf *b, const char *s, size_t n)
{
    bool started = false, space = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_space(c)) {
            space = true;
            continue;
        }
        enum rp_err e = RP_OK;
        if (space && started)
            e = rp_buf_addc(b, ' ');
        if (!e)
            e = rp_buf_addc(b, (char)c);
        if (e)
            return e;
        space = false;
        started = true;
    }
    return RP_OK;
}

static enum rp_err put_str(struct rp_buf *b, const char *s)
{
    return put_text(b, s, strlen(s));
}

/* Ends the text in b with a full stop unless it ends a sentence already. */
static enum rp_err end_sentence(struct rp_buf *b)
{
    rp_buf_rtrim(b);
    if (b->len &&
        (b->data[b->len - 1] == '.' || b->data[b->len - 1] == '!' || b->data[b->len - 1] == '?'))
        return RP_OK;
    return rp_buf_addc(b, '.');
}

/* An identifier: a letter, then letters, digits, '_' or '-' (and '.'
 * between parts when dots is set), at most NAME_MAX_LEN bytes. */
static bool ident_ok(const char *s, bool dots)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN || !is_alpha((unsigned char)s[0]))
        return false;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_alnum(c) || c == '_' || c == '-')
            continue;
        if (c == '.' && dots && i + 1 < n && s[i - 1] != '.')
            continue;
        return false;
    }
    return true;
}

/* "pmFoo" or "MoClass.pmFoo" exactly filling s[0..n). */
static bool counter_name(const char *s, size_t n)
{
    if (n > NAME_MAX_LEN)
        return false;
    size_t i = 0;
    if (n && is_upper((unsigned char)s[0])) {
        while (i < n && is_alnum((unsigned char)s[i]))
            i++;
        if (i >= n || s[i] != '.')
            return false;
        i++;
    }
    if (n - i < 3 || s[i] != 'p' || s[i + 1] != 'm' || !is_upper((unsigned char)s[i + 2]))
        return false;
    for (i += 3; i < n; i++)
        if (!is_alnum((unsigned char)s[i]) && s[i] != '_')
            return false;
    return true;
}

/* Lower-case letters of a header cell up to a '(' or '[', for matching. */
static void header_norm(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && *s != '(' && *s != '['; s++)
        if (is_alpha((unsigned char)*s) && n + 1 < cap)
            out[n++] = (char)to_lower((unsigned char)*s);
    out[n] = '\0';
}

/* ---- sentences ---- */

/* Abbreviations whose full stop ends no sentence. Units ("ms", "min") and
 * "etc." are left out: in RAN text they end sentences far more often. */
static const char *const ABBREVIATIONS[] = {
    "e.g",  "i.e",  "cf", "vs",  "fig", "figs", "approx",
    "incl", "resp", "eq", "ref", "al",  "vol",  "ch",
};

/* Whether s[k] ends a sentence of s[lo..hi): '.', '!' or '?' before a space
 * or the end, not before a lower-case word, and for '.' not after an
 * abbreviation or an initial. */
static bool sentence_end(const char *s, size_t lo, size_t hi, size_t k)
{
    char c = s[k];
    if (c != '.' && c != '!' && c != '?')
        return false;
    if (k + 1 < hi && !is_space((unsigned char)s[k + 1]))
        return false;
    size_t j = k + 1;
    while (j < hi && is_space((unsigned char)s[j]))
        j++;
    if (j < hi && is_lower((unsigned char)s[j]))
        return false;
    if (c != '.')
        return true;
    size_t w = k;
    while (w > lo && (is_alpha((unsigned char)s[w - 1]) || s[w - 1] == '.'))
        w--;
    if (k - w == 1 && is_upper((unsigned char)s[w]) &&
        (w == lo || !is_alnum((unsigned char)s[w - 1])))
        return false; /* an initial ("J. Smith"), not "formats 3 and 3A." */
    return !IN_LIST_CI(s + w, k - w, ABBREVIATIONS);
}

/* Moves p forward off UTF-8 continuation bytes (never past hi). */
static size_t utf8_fwd(const char *s, size_t p, size_t hi)
{
    while (p < hi && ((unsigned char)s[p] & 0xC0) == 0x80)
        p++;
    return p;
}

/*
 * The sentence of s[lo..hi) around s[b..e): [*sb, *se), trimmed. A sentence
 * longer than SENTENCE_MAX (or without a boundary within SENTENCE_REACH)
 * is cut at word boundaries to a window around s[b..e).
 */
static void sentence_around(const char *s, size_t lo, size_t hi, size_t b, size_t e, size_t *sb,
                            size_t *se)
{
    size_t start = lo, end = hi;
    size_t stop = b - lo > SENTENCE_REACH ? b - SENTENCE_REACH : lo;
    for (size_t k = b; k > stop; k--)
        if (sentence_end(s, lo, hi, k - 1)) {
            start = k;
            break;
        }
    if (b - lo > SENTENCE_REACH && start == lo)
        start = stop;
    size_t reach = hi - e > SENTENCE_REACH ? e + SENTENCE_REACH : hi;
    for (size_t k = e; k < reach; k++)
        if (sentence_end(s, lo, hi, k)) {
            end = k + 1;
            break;
        }
    if (reach < hi && end == hi)
        end = reach;
    trim(s, &start, &end);
    if (end - start > SENTENCE_MAX) {
        size_t half = e - b < SENTENCE_MAX ? (SENTENCE_MAX - (e - b)) / 2 : 0;
        if (b - start > half) {
            size_t p = b - half;
            while (p < b && !is_space((unsigned char)s[p]))
                p++;
            start = utf8_fwd(s, p, b);
        }
        if (end - e > half) {
            size_t p = e + half;
            while (p > e && !is_space((unsigned char)s[p]))
                p--;
            while (p > e && ((unsigned char)s[p] & 0xC0) == 0x80)
                p--;
            end = p;
        }
        trim(s, &start, &end);
    }
    *sb = start;
    *se = end;
}

/* The end of the sentence starting at s[p] within s[p..hi): one past its
 * final punctuation, or hi. */
static size_t sentence_stop(const char *s, size_t lo, size_t p, size_t hi)
{
    for (size_t k = p; k < hi; k++)
        if (sentence_end(s, lo, hi, k))
            return k + 1;
    return hi;
}

/* ---- lines and list items ---- */

/* Length of a list marker and the spaces after it at s[i..n) ("- ", "* ",
 * "+ ", "• ", "1. ", "2) ", "a) "), or 0. */
static size_t marker_len(const char *s, size_t i, size_t n)
{
    size_t j = i;
    if (j < n && (s[j] == '-' || s[j] == '*' || s[j] == '+'))
        j++;
    else if (n - j >= 3 && memcmp(s + j, "\xE2\x80\xA2", 3) == 0)
        j += 3;
    else if (j < n && is_digit((unsigned char)s[j])) {
        while (j < n && j - i < 3 && is_digit((unsigned char)s[j]))
            j++;
        if (j >= n || (s[j] != '.' && s[j] != ')'))
            return 0;
        j++;
    } else if (j + 1 < n && is_lower((unsigned char)s[j]) && s[j + 1] == ')')
        j += 2;
    else
        return 0;
    if (j >= n || (s[j] != ' ' && s[j] != '\t'))
        return 0;
    while (j < n && (s[j] == ' ' || s[j] == '\t'))
        j++;
    return j - i;
}

static size_t line_end(const char *s, size_t p, size_t n)
{
    const char *q = memchr(s + p, '\n', n - p);
    return q ? (size_t)(q - s) : n;
}

/* Where the text of a line starts: past indentation and a list marker. */
static size_t item_start(const char *s, size_t ls, size_t le, bool *marked)
{
    size_t i = ls;
    while (i < le && (s[i] == ' ' || s[i] == '\t'))
        i++;
    size_t m = marker_len(s, i, le);
    *marked = m > 0;
    return i + m;
}

/* The end of a list item whose first line ends at le: continuation lines
 * (not blank, no marker) belong to it. */
static size_t item_end(const char *s, size_t le, size_t n)
{
    size_t end = le;
    while (end < n) {
        size_t ls = end + 1, nle = line_end(s, ls, n);
        bool marked;
        size_t t = item_start(s, ls, nle, &marked);
        if (marked || t >= nle)
            break;
        end = nle;
    }
    return end;
}

/* ---- terms ---- */

/* Words that never start a term: pronouns, determiners, adverbs and the
 * labels of notes, steps and figures. */
/* clang-format off */
static const char *const STOP_FIRST[] = {
    "it", "this", "that", "these", "those", "there", "here", "he", "she", "they", "we", "you", "i",
    "one", "each", "every", "all", "some", "any", "a", "an", "the", "such", "its", "their", "our",
    "your", "his", "her", "what", "which", "who", "when", "where", "why", "how", "if", "then",
    "also", "now", "so", "thus", "hence", "note", "notes", "another", "other", "both", "either",
    "neither", "no", "not", "only", "many", "most", "much", "several", "first", "second", "third",
    "next", "last", "following", "above", "below", "figure", "table", "example", "examples",
    "section", "chapter", "step", "clause", "annex", "warning", "caution", "tip", "important",
    "result", "results", "input", "output", "prerequisite", "prerequisites", "precondition",
    "action", "reason", "default", "range", "unit", "type", "value", "values", "see", "yes",
    "however", "therefore", "otherwise", "in", "on", "at", "for", "with", "by", "from", "to", "of",
    "as", "or", "and", "but", "after", "before", "during", "while", "because", "since", "until",
    "unless", "although", "though",
};
/* clang-format on */

/* Small words allowed inside a capitalised term ("Quality of Service"). */
static const char *const CONNECTORS[] = {
    "of",  "and", "or", "for", "in",   "on",  "to", "with",
    "per", "the", "a",  "an",  "over", "via", "at", "by",
};

/* The term without a trailing parenthetical ("Automatic Neighbour
 * Relations (ANR)" -> "Automatic Neighbour Relations"): sets *e. */
static void strip_parenthetical(const char *s, size_t b, size_t *e)
{
    if (*e - b < 4 || s[*e - 1] != ')')
        return;
    size_t k = *e - 1;
    while (k > b && s[k - 1] != '(' && s[k - 1] != ')' && *e - k < 40)
        k--;
    if (k <= b + 1 || s[k - 1] != '(' || s[k - 2] != ' ')
        return;
    size_t ne = k - 1;
    trim(s, &b, &ne);
    if (ne > b)
        *e = ne;
}

/* An identifier-like word: a capital or digit after its first byte
 * ("EUtranCellFDD", "qRxLevMin", "ANR", "gNodeB", "X2"), or a counter. */
static bool marked_word(const char *s, size_t n)
{
    if (n < 2 || !is_alpha((unsigned char)s[0]))
        return false;
    bool mark = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alnum(c) && c != '_' && c != '-' && c != '.')
            return false;
        if (i > 0 && (is_upper(c) || is_digit(c)))
            mark = true;
    }
    return mark && s[n - 1] != '.' && s[n - 1] != '-';
}

/*
 * Can s[b..e) be a defined term? Strict (outside definitions sections): one
 * identifier-like word, or 2..TERM_WORDS words that all start with a
 * capital or a digit except inner connectors. Relaxed (definitions
 * sections): 1..8 words of letters, digits, '-', '/', '\'', '.'. Both
 * refuse a stop word first and a connector last.
 */
static bool term_ok(const char *s, size_t b, size_t e, bool relaxed)
{
    trim(s, &b, &e);
    strip_parenthetical(s, b, &e);
    if (e <= b || e - b > TERM_MAX ||
        !(is_alpha((unsigned char)s[b]) || (unsigned char)s[b] >= 0x80))
        return false;
    size_t words = 0;
    bool all_caps_start = true, last_connector = false;
    for (size_t i = b; i < e;) {
        if (s[i] == ' ') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < e && s[j] != ' ')
            j++;
        for (size_t k = i; k < j; k++) {
            unsigned char c = (unsigned char)s[k];
            if (!is_alnum(c) && c < 0x80 && c != '-' && c != '/' && c != '\'' && c != '.' &&
                c != '_')
                return false;
        }
        if (s[j - 1] == '.' && j - i > 1 && !marked_word(s + i, j - i))
            return false; /* a sentence, not a term */
        bool connector = IN_LIST_CI(s + i, j - i, CONNECTORS);
        if (words == 0 && (connector || IN_LIST_CI(s + i, j - i, STOP_FIRST)))
            return false;
        if (!connector && !is_upper((unsigned char)s[i]) && !is_digit((unsigned char)s[i]) &&
            !marked_word(s + i, j - i))
            all_caps_start = false;
        last_connector = connector && words > 0;
        words++;
        if (words == 1 && j >= e && !relaxed)
            return marked_word(s + i, j - i);
        i = j;
    }
    if (last_connector)
        return false;
    if (relaxed)
        return words <= 8;
    return words >= 2 && words <= TERM_WORDS && all_caps_start;
}

/* Whether a section title names a definitions section. */
static bool definitions_title(const char *t)
{
    /* clang-format off */
    static const char *const names[] = {
        "definitions", "definition", "definitionsofterms", "definitionofterms",
        "termsanddefinitions", "definitionsandabbreviations", "termsdefinitionsandabbreviations",
        "definitionssymbolsandabbreviations", "terms", "keyterms", "terminology", "glossary",
        "glossaryofterms", "vocabulary",
    };
    /* clang-format on */
    char norm[64];
    header_norm(t, norm, sizeof(norm));
    return IN_LIST_CI(norm, strlen(norm), names);
}

/* ---- the extraction context ---- */

struct pending {
    size_t pos, seq;
    struct rp_extract_pair pair;
};

struct acr_site {
    size_t ent;    /* index into doc->entities */
    size_t unit;   /* reading-order index of its text */
    size_t off;    /* offset of the acronym in it */
    size_t sb, se; /* the definition "Long Form (LF)" */
    size_t len;    /* length of the unit's text */
    bool in_block;
};

enum unit_kind { UNIT_META, UNIT_TITLE, UNIT_BLOCK };

struct unit {
    enum unit_kind kind;
    size_t index;
};

struct ctx {
    const struct rp_doc *doc;
    struct rp_extract_params par;
    struct rp_extract_list *out;
    size_t n0; /* out->n on entry */
    struct rp_buf q, a, ev, tmp;
    struct pending *pend;
    size_t n_pend, cap_pend, seq;
    size_t *qset; /* open addressing: index + 1 of a pair in out, 0 empty */
    size_t qcap, qn;
    struct unit *units;
    size_t n_units;
    size_t *block_unit, *title_unit;
    struct acr_site *sites; /* chosen definitions, in reading order */
    size_t n_sites, next_site;
    size_t *param_order; /* params sorted by (block, row) */
    size_t n_order, next_param;
    bool *mo_ambiguous; /* per param: its name has two MO classes */
};

static void pair_free(struct rp_extract_pair *p)
{
    free(p->question);
    free(p->answer);
    free(p->evidence);
}

static uint64_t hash_ci(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ to_lower((unsigned char)*s)) * 1099511628211u;
    return h;
}

static bool same_ci(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (to_lower((unsigned char)*a) != to_lower((unsigned char)*b))
            return false;
    return *a == *b;
}

/* Looks q up in the question set: true when present; otherwise false and
 * *slot is the empty slot where it would go. */
static bool qset_find(struct ctx *c, const char *q, size_t *slot)
{
    size_t mask = c->qcap - 1;
    for (size_t h = (size_t)hash_ci(q) & mask;; h = (h + 1) & mask) {
        if (!c->qset[h]) {
            *slot = h;
            return false;
        }
        if (same_ci(c->out->items[c->qset[h] - 1].question, q))
            return true;
    }
}

static enum rp_err qset_grow(struct ctx *c)
{
    if ((c->qn + 1) * 2 <= c->qcap)
        return RP_OK;
    size_t ncap = c->qcap ? c->qcap * 2 : 64;
    size_t *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return RP_ERR_NOMEM;
    size_t *old = c->qset, ocap = c->qcap;
    c->qset = ns;
    c->qcap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i])
            continue;
        size_t slot;
        qset_find(c, c->out->items[old[i] - 1].question, &slot);
        c->qset[slot] = old[i];
    }
    free(old);
    return RP_OK;
}

static char *dup_buf(const struct rp_buf *b)
{
    char *s = malloc(b->len + 1);
    if (s)
        memcpy(s, b->data, b->len + 1);
    return s;
}

/*
 * Queues the pair in c->q / c->a / c->ev for the current unit at position
 * pos. built is the result of building those buffers: RP_ERR_TOOBIG means
 * the pair would not fit and is skipped; any other failure is returned.
 */
static enum rp_err queue(struct ctx *c, enum rp_err built, size_t pos, const char *type,
                         const char *rule, int block, size_t row)
{
    if (built == RP_ERR_TOOBIG)
        return RP_OK;
    if (built)
        return built;
    if (!c->q.len || !c->a.len || !c->ev.len || !rp_utf8_valid(c->q.data, c->q.len, NULL) ||
        !rp_utf8_valid(c->a.data, c->a.len, NULL) || !rp_utf8_valid(c->ev.data, c->ev.len, NULL))
        return RP_OK;
    if (!rp_vec_reserve((void **)&c->pend, &c->cap_pend, c->n_pend, sizeof(*c->pend)))
        return RP_ERR_NOMEM;
    struct pending *p = &c->pend[c->n_pend];
    memset(p, 0, sizeof(*p));
    p->pos = pos;
    p->seq = c->seq++;
    p->pair.question = dup_buf(&c->q);
    p->pair.answer = dup_buf(&c->a);
    p->pair.evidence = dup_buf(&c->ev);
    p->pair.type = type;
    p->pair.rule = rule;
    p->pair.block = block;
    p->pair.row = row;
    if (!p->pair.question || !p->pair.answer || !p->pair.evidence) {
        pair_free(&p->pair);
        return RP_ERR_NOMEM;
    }
    c->n_pend++;
    return RP_OK;
}

static void reset_bufs(struct ctx *c)
{
    rp_buf_reset(&c->q);
    rp_buf_reset(&c->a);
    rp_buf_reset(&c->ev);
}

static int cmp_pending(const void *x, const void *y)
{
    const struct pending *a = x, *b = y;
    if (a->pos != b->pos)
        return a->pos < b->pos ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Commits the queued pairs in position order, dropping repeated questions. */
static enum rp_err flush(struct ctx *c)
{
    enum rp_err rc = RP_OK;
    if (c->n_pend > 1)
        qsort(c->pend, c->n_pend, sizeof(*c->pend), cmp_pending);
    size_t i = 0;
    for (; i < c->n_pend; i++) {
        struct rp_extract_pair *p = &c->pend[i].pair;
        size_t slot;
        if ((rc = qset_grow(c)) != RP_OK)
            break;
        if (qset_find(c, p->question, &slot)) {
            pair_free(p);
            continue;
        }
        struct rp_extract_list *l = c->out;
        if (!rp_vec_reserve((void **)&l->items, &l->cap, l->n, sizeof(*l->items))) {
            rc = RP_ERR_NOMEM;
            break;
        }
        l->items[l->n++] = *p;
        c->qset[slot] = l->n;
        c->qn++;
    }
    for (; i < c->n_pend; i++)
        pair_free(&c->pend[i].pair);
    c->n_pend = 0;
    return rc;
}

/* ---- parameter records ---- */

static size_t first_body_row(const struct rp_table *t)
{
    return t->n_header ? t->n_header : 1;
}

static const char *cell(const struct rp_table *t, size_t r, size_t col)
{
    const char *s = t->cells[r * t->n_cols + col];
    return s ? s : "";
}

/* The column of row r whose cell holds field (a pointer into it), or -1. */
static int column_of(const struct rp_table *t, size_t r, const char *field)
{
    if (!field)
        return -1;
    uintptr_t f = (uintptr_t)field;
    for (size_t col = 0; col < t->n_cols && col < INT32_MAX; col++) {
        const char *s = cell(t, r, col);
        uintptr_t b = (uintptr_t)s;
        if (f >= b && f <= b + strlen(s))
            return (int)col;
    }
    return -1;
}

/* Appends "header: cell" of column col in row r ("cell" without a header). */
static enum rp_err put_cell(struct rp_buf *ev, const struct rp_table *t, size_t r, size_t col)
{
    size_t hrow = first_body_row(t) - 1;
    const char *h = cell(t, hrow, col), *v = cell(t, r, col);
    enum rp_err e = RP_OK;
    if (ev->len)
        e = rp_buf_adds(ev, "; ");
    if (!e && *h)
        e = rp_buf_addf(ev, "%s: ", h);
    if (!e)
        e = rp_buf_adds(ev, v);
    return e;
}

/* The evidence of a table row: every non-empty cell; when that is too
 * long, only the columns in keep[0..n_keep) (-1 entries ignored). */
static enum rp_err row_evidence(struct rp_buf *ev, const struct rp_table *t, size_t r,
                                const int *keep, size_t n_keep)
{
    rp_buf_reset(ev);
    enum rp_err e = RP_OK;
    for (size_t col = 0; col < t->n_cols && !e; col++)
        if (*cell(t, r, col))
            e = put_cell(ev, t, r, col);
    if (e != RP_ERR_TOOBIG)
        return e;
    rp_buf_reset(ev);
    e = RP_OK;
    for (size_t col = 0; col < t->n_cols && !e; col++)
        for (size_t k = 0; k < n_keep; k++)
            if (keep[k] == (int)col && *cell(t, r, col)) {
                e = put_cell(ev, t, r, col);
                break;
            }
    return e;
}

/* A number or a numeric range/list ("-140", "0.5", "-140..-44", "5, 10"). */
static bool numeric(const char *v)
{
    bool digit = false;
    for (; *v; v++) {
        if (is_digit((unsigned char)*v))
            digit = true;
        else if (!strchr("+-., ", *v))
            return false;
    }
    return digit;
}

/* A unit that reads after a number ("dBm", "%", "µs"; not "0.1"). */
static bool unit_word(const char *u)
{
    unsigned char c = (unsigned char)u[0];
    return strlen(u) <= 24 && (is_alpha(c) || c == '%' || c >= 0x80);
}

/* Appends value v, with the unit when v is a bare number. */
static enum rp_err put_value(struct rp_buf *a, const char *v, const char *unit)
{
    enum rp_err e = put_str(a, v);
    if (!e && unit && numeric(v) && unit_word(unit)) {
        e = rp_buf_addc(a, ' ');
        if (!e)
            e = put_str(a, unit);
    }
    return e;
}

enum fact {
    FACT_DEFAULT,
    FACT_RANGE,
    FACT_UNIT,
    FACT_TYPE,
    FACT_MO,
    FACT_DESCRIPTION,
    FACT__COUNT
};

static const char *const FACT_RULES[FACT__COUNT] = {"parameter-default",  "parameter-range",
                                                    "parameter-unit",     "parameter-type",
                                                    "parameter-mo-class", "parameter-description"};

/* Builds the question and answer of one fact about subject s (c->tmp). */
static enum rp_err fact_text(struct ctx *c, enum fact f, const struct rp_param *p,
                             const char *field)
{
    const char *s = c->tmp.data;
    struct rp_buf *q = &c->q, *a = &c->a;
    enum rp_err e = RP_OK;
    switch (f) {
    case FACT_DEFAULT:
        e = rp_buf_addf(q, "What is the default value of %s?", s);
        if (!e)
            e = rp_buf_addf(a, "The default value of %s is ", s);
        if (!e)
            e = put_value(a, field, p->unit);
        break;
    case FACT_RANGE: {
        bool list = strchr(field, ',') && !strstr(field, "..");
        e = rp_buf_addf(
            q, list ? "What are the allowed values of %s?" : "What is the value range of %s?", s);
        if (!e)
            e = rp_buf_addf(a, list ? "The allowed values of %s are " : "The value range of %s is ",
                            s);
        if (!e)
            e = put_value(a, field, p->unit);
        break;
    }
    case FACT_UNIT:
        e = rp_buf_addf(q, "What is the unit of %s?", s);
        if (!e)
            e = rp_buf_addf(a, "The unit of %s is ", s);
        if (!e)
            e = put_str(a, field);
        break;
    case FACT_TYPE:
        e = rp_buf_addf(q, "What is the data type of %s?", s);
        if (!e)
            e = rp_buf_addf(a, "The data type of %s is ", s);
        if (!e)
            e = put_str(a, field);
        break;
    case FACT_MO:
        e = rp_buf_addf(q, "Which MO class does the parameter %s belong to?", p->name);
        if (!e)
            e = rp_buf_addf(a, "The parameter %s belongs to the MO class ", p->name);
        if (!e)
            e = put_str(a, field);
        break;
    case FACT_DESCRIPTION:
        e = rp_buf_addf(q, "What is the description of the parameter %s?", s);
        if (!e)
            e = rp_buf_addf(a, "The parameter %s is described as: ", s);
        if (!e)
            e = put_str(a, field);
        break;
    case FACT__COUNT:
        break;
    }
    if (!e)
        e = end_sentence(a);
    return e;
}

/* Whether fact f's value is also the value of another short fact of the
 * record: an HTML cell spanning the Range and Default columns repeats its
 * text in both, and then neither column can be trusted to hold it alone. */
static bool same_as_other(const char *const *fields, int f)
{
    static const int shorts[] = {FACT_DEFAULT, FACT_RANGE, FACT_UNIT, FACT_TYPE};
    for (size_t k = 0; k < sizeof(shorts) / sizeof(shorts[0]); k++)
        if (shorts[k] != f && fields[shorts[k]] && strcmp(fields[shorts[k]], fields[f]) == 0)
            return true;
    return false;
}

static enum rp_err param_record(struct ctx *c, size_t idx, const struct rp_table *t)
{
    const struct rp_param *p = &c->doc->params[idx];
    size_t first = first_body_row(t);
    if (t->n_rows <= first || p->row >= t->n_rows - first || !p->name)
        return RP_OK;
    size_t r = first + p->row;
    if (!ident_ok(p->name, true) || counter_name(p->name, strlen(p->name)))
        return RP_OK;
    int name_col = column_of(t, r, p->name);
    if (name_col < 0)
        return RP_OK;
    bool qualified = strchr(p->name, '.') != NULL;
    const char *mo = p->mo_class && !qualified && ident_ok(p->mo_class, false) ? p->mo_class : NULL;
    int mo_col = column_of(t, r, p->mo_class);
    rp_buf_reset(&c->tmp);
    enum rp_err e = mo ? rp_buf_addf(&c->tmp, "%s.%s", mo, p->name) : rp_buf_adds(&c->tmp, p->name);
    if (e)
        return e == RP_ERR_TOOBIG ? RP_OK : e;
    const char *fields[FACT__COUNT] = {
        p->default_value, p->range, p->unit, p->type, mo && !c->mo_ambiguous[idx] ? mo : NULL,
        p->description};
    int made = 0;
    for (int f = 0; f < FACT__COUNT && made < c->par.max_per_param; f++) {
        const char *v = fields[f];
        if (!v || !*v)
            continue;
        size_t vlen = strlen(v);
        if (f != FACT_DESCRIPTION && (vlen > VALUE_MAX || same_as_other(fields, f)))
            continue;
        if (f == FACT_UNIT && !unit_word(v))
            continue; /* "0.1" is a resolution, not something to call a unit */
        if (f == FACT_DESCRIPTION && (count_words(v, vlen) < 2 || !has_alpha(v, vlen)))
            continue;
        int col = f == FACT_MO ? (mo_col >= 0 ? mo_col : name_col) : column_of(t, r, v);
        if (col < 0)
            continue;
        reset_bufs(c);
        /* The unit cell too when the answer appends it to the value. */
        int keep[4] = {name_col, mo_col, col,
                       f == FACT_DEFAULT || f == FACT_RANGE ? column_of(t, r, p->unit) : -1};
        e = fact_text(c, (enum fact)f, p, v);
        if (!e)
            e = row_evidence(&c->ev, t, r, keep, 4);
        size_t before = c->n_pend;
        e = queue(c, e, p->row, "parameter", FACT_RULES[f], p->block, p->row);
        if (e)
            return e;
        made += c->n_pend > before;
    }
    return RP_OK;
}

/* Whether the records of block b come from a parameter table: one of them
 * states an MO class, type, range, default or unit. */
static bool param_table(const struct ctx *c, size_t from, size_t to)
{
    for (size_t k = from; k < to; k++) {
        const struct rp_param *p = &c->doc->params[c->param_order[k]];
        if (p->mo_class || p->type || p->range || p->default_value || p->unit)
            return true;
    }
    return false;
}

static enum rp_err block_params(struct ctx *c, size_t b, const struct rp_table *t)
{
    const struct rp_doc *doc = c->doc;
    while (c->next_param < c->n_order &&
           (int64_t)doc->params[c->param_order[c->next_param]].block < (int64_t)b)
        c->next_param++; /* records of blocks that are no tables, or of no block */
    size_t from = c->next_param, to = from;
    while (to < c->n_order && (int64_t)doc->params[c->param_order[to]].block == (int64_t)b)
        to++;
    c->next_param = to;
    if (!c->par.parameters || c->par.max_per_param <= 0 || !param_table(c, from, to))
        return RP_OK;
    for (size_t k = from; k < to; k++) {
        enum rp_err e = param_record(c, c->param_order[k], t);
        if (e)
            return e;
    }
    return RP_OK;
}

/* ---- counters ---- */

static const char *const COUNTER_VERBS[] = {
    "counts",     "measures",  "records",  "indicates",   "reports",  "shows",      "gives",
    "holds",      "contains",  "tracks",   "accumulates", "provides", "sums",       "stores",
    "represents", "registers", "collects", "monitors",    "is",       "increments", "steps",
};

static const char *const COUNTER_NOUNS[] = {
    "number", "sum",         "total", "time",    "average", "amount",
    "count",  "accumulated", "mean",  "maximum", "minimum",
};

/* "The counter pmFoo counts ..." / "The counter pmFoo measures the number
 * of ..." from a description d[0..n). */
static enum rp_err counter_text(struct ctx *c, const char *name, size_t nlen, const char *d,
                                size_t n)
{
    enum rp_err e = rp_buf_adds(&c->q, "What does the counter ");
    if (!e)
        e = rp_buf_add(&c->q, name, nlen);
    if (!e)
        e = rp_buf_adds(&c->q, " measure?");
    size_t w = 0;
    while (w < n && is_alpha((unsigned char)d[w]))
        w++;
    bool verb = IN_LIST_CI(d, w, COUNTER_VERBS), noun = IN_LIST_CI(d, w, COUNTER_NOUNS);
    if (!e)
        e = rp_buf_adds(&c->a, "The counter ");
    if (!e)
        e = rp_buf_add(&c->a, name, nlen);
    if (!e)
        e = rp_buf_adds(&c->a, verb ? " " : noun ? " measures the " : " measures ");
    size_t at = c->a.len;
    if (!e)
        e = put_text(&c->a, d, n);
    /* "Number of ..." reads "the number of ..."; "PCI conflicts" stays. */
    if (!e && c->a.len > at + 1 && is_upper((unsigned char)c->a.data[at]) &&
        is_lower((unsigned char)c->a.data[at + 1]))
        c->a.data[at] = (char)to_lower((unsigned char)c->a.data[at]);
    if (!e)
        e = end_sentence(&c->a);
    return e;
}

static bool counter_desc_ok(const char *d, size_t n)
{
    unsigned char c = n ? (unsigned char)d[0] : 0;
    return n >= 8 && (is_alpha(c) || c >= 0x80 || c == '(') && count_words(d, n) >= MIN_DESC_WORDS;
}

/*
 * A counter head at s[i..n): an optional '`' or '"', the counter name, the
 * closing quote, then ':' or a dash between spaces. Sets the name span and
 * where the description starts.
 */
static bool counter_head(const char *s, size_t i, size_t n, size_t *nb, size_t *ne, size_t *db)
{
    char quote = 0;
    if (i < n && (s[i] == '`' || s[i] == '"')) {
        quote = s[i];
        i++;
    }
    size_t b = i;
    while (i < n && (is_alnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.'))
        i++;
    if (!counter_name(s + b, i - b))
        return false;
    size_t e = i;
    if (quote) {
        if (i >= n || s[i] != quote)
            return false;
        i++;
    }
    size_t sp = i;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < n && s[i] == ':')
        i++;
    else if (i > sp && i < n && s[i] == '-')
        i++;
    else if (i > sp && n - i >= 3 &&
             (memcmp(s + i, "\xE2\x80\x93", 3) == 0 || memcmp(s + i, "\xE2\x80\x94", 3) == 0))
        i += 3;
    else
        return false;
    if (i < n && s[i] != ' ' && s[i] != '\t')
        return false;
    *nb = b;
    *ne = e;
    *db = i;
    return true;
}

static enum rp_err queue_counter(struct ctx *c, size_t b, const char *s, size_t nb, size_t ne,
                                 size_t db, size_t de, size_t pos)
{
    trim(s, &db, &de);
    if (!counter_desc_ok(s + db, de - db))
        return RP_OK;
    reset_bufs(c);
    enum rp_err e = counter_text(c, s + nb, ne - nb, s + db, de - db);
    size_t eb = nb, ee = de;
    if (eb > 0 && (s[eb - 1] == '`' || s[eb - 1] == '"'))
        eb--;
    if (!e)
        e = rp_buf_add(&c->ev, s + eb, ee - eb);
    return queue(c, e, pos, "counter", "counter-list", (int)b, 0);
}

static enum rp_err counter_table(struct ctx *c, size_t b, const struct rp_table *t)
{
    size_t first = first_body_row(t);
    if (!c->par.counters || t->n_cols < 2 || t->n_rows <= first)
        return RP_OK;
    int ccol = -1, dcol = -1;
    for (size_t col = 0; col < t->n_cols && ccol < 0; col++) {
        size_t filled = 0, counters = 0;
        for (size_t r = first; r < t->n_rows; r++) {
            const char *v = cell(t, r, col);
            filled += *v != '\0';
            counters += counter_name(v, strlen(v));
        }
        if (counters && counters * 2 >= filled)
            ccol = (int)col;
    }
    if (ccol < 0)
        return RP_OK;
    static const char *const desc_names[] = {
        "description", "desc", "meaning", "definition", "comment", "comments", "explanation",
    };
    for (size_t col = 0; col < t->n_cols && dcol < 0; col++) {
        char norm[32];
        header_norm(cell(t, first - 1, col), norm, sizeof(norm));
        if ((int)col != ccol && IN_LIST_CI(norm, strlen(norm), desc_names))
            dcol = (int)col;
    }
    if (dcol < 0 && t->n_cols == 2)
        dcol = ccol == 0 ? 1 : 0;
    if (dcol < 0)
        return RP_OK;
    for (size_t r = first; r < t->n_rows; r++) {
        const char *name = cell(t, r, (size_t)ccol), *d = cell(t, r, (size_t)dcol);
        size_t dn = strlen(d);
        if (!counter_name(name, strlen(name)) || !counter_desc_ok(d, dn))
            continue;
        reset_bufs(c);
        int keep[2] = {ccol, dcol};
        enum rp_err e = counter_text(c, name, strlen(name), d, dn);
        if (!e)
            e = row_evidence(&c->ev, t, r, keep, 2);
        e = queue(c, e, r - first, "counter", "counter-table", (int)b, r - first);
        if (e)
            return e;
    }
    return RP_OK;
}

/* ---- definitions ---- */

/* Queues "What is X?" for the term s[tb..te) defined by s[db..de); the
 * evidence is s[eb..ee). */
static enum rp_err queue_term(struct ctx *c, size_t b, const char *s, size_t tb, size_t te,
                              size_t db, size_t de, size_t eb, size_t ee)
{
    trim(s, &tb, &te);
    trim(s, &db, &de);
    size_t qe = te;
    strip_parenthetical(s, tb, &qe);
    /* A definition starts with a word and is prose, not a list of values. */
    if (de - db < 10 || !(is_alpha((unsigned char)s[db]) || (unsigned char)s[db] >= 0x80) ||
        prose_words(s + db, de - db) < MIN_DESC_WORDS || s[de - 1] == ':')
        return RP_OK;
    reset_bufs(c);
    enum rp_err e = rp_buf_adds(&c->q, "What is ");
    if (!e)
        e = put_text(&c->q, s + tb, qe - tb);
    if (!e)
        e = rp_buf_addc(&c->q, '?');
    if (!e)
        e = put_text(&c->a, s + tb, te - tb);
    /* "Quanta: A unit of load ..." reads "Quanta is a unit of load ...". */
    size_t w = db;
    while (w < de && is_alpha((unsigned char)s[w]))
        w++;
    bool article =
        w < de && s[w] == ' ' &&
        (eq_ci(s + db, w - db, "a") || eq_ci(s + db, w - db, "an") || eq_ci(s + db, w - db, "the"));
    if (!e)
        e = rp_buf_adds(&c->a, article ? " is " : ": ");
    size_t at = c->a.len;
    if (!e)
        e = put_text(&c->a, s + db, de - db);
    if (!e && article)
        c->a.data[at] = (char)to_lower((unsigned char)c->a.data[at]);
    if (!e)
        e = end_sentence(&c->a);
    if (!e)
        e = rp_buf_add(&c->ev, s + eb, ee - eb);
    return queue(c, e, eb, "definition", "definition-term", (int)b, 0);
}

/* "Term: definition" at s[i..end): the colon's position, or 0. */
static size_t term_colon(const char *s, size_t i, size_t end)
{
    size_t lim = end - i > TERM_MAX + 2 ? i + TERM_MAX + 2 : end;
    for (size_t k = i; k < lim; k++) {
        if (s[k] == ':') {
            if (k == i || (k + 1 < end && s[k + 1] != ' ' && s[k + 1] != '\t'))
                return 0; /* "://", "10:30", "a:b" */
            return k;
        }
        if (s[k] == '\n')
            return 0;
    }
    return 0;
}

/* The first sentence of a paragraph "X is a|an|the ...", X a term. */
static enum rp_err definition_sentence(struct ctx *c, size_t b, const char *s, size_t n)
{
    size_t end = sentence_stop(s, 0, 0, n);
    if (end == 0 || (s[end - 1] != '.' && s[end - 1] != '!'))
        return RP_OK;
    const char *is = NULL;
    for (size_t k = 0; k + 4 <= end && k <= TERM_MAX + 1; k++)
        if (memcmp(s + k, " is ", 4) == 0) {
            is = s + k;
            break;
        }
    if (!is)
        return RP_OK;
    size_t sub_e = (size_t)(is - s), p = sub_e + 4;
    size_t w = p;
    while (w < end && is_alpha((unsigned char)s[w]))
        w++;
    if (!(eq_ci(s + p, w - p, "a") || eq_ci(s + p, w - p, "an") || eq_ci(s + p, w - p, "the")) ||
        w >= end || s[w] != ' ')
        return RP_OK;
    size_t nb = w + 1, ne = nb;
    while (ne < end && is_alpha((unsigned char)s[ne]))
        ne++;
    if (eq_ci(s + nb, ne - nb, "following") || eq_ci(s + nb, ne - nb, "same") ||
        count_words(s + w, end - w) < MIN_DESC_WORDS)
        return RP_OK;
    if (!term_ok(s, 0, sub_e, false))
        return RP_OK;
    size_t te = sub_e;
    strip_parenthetical(s, 0, &te);
    reset_bufs(c);
    enum rp_err e = rp_buf_adds(&c->q, "What is ");
    if (!e)
        e = put_text(&c->q, s, te);
    if (!e)
        e = rp_buf_addc(&c->q, '?');
    if (!e)
        e = put_text(&c->a, s, end);
    if (!e)
        e = rp_buf_add(&c->ev, s, end);
    if (!e && (end > SENTENCE_MAX || c->a.len < 30))
        return RP_OK;
    return queue(c, e, 0, "definition", "definition-sentence", (int)b, 0);
}

/* Whether the section of block b, or its parent, is a definitions section. */
static bool in_definitions(const struct rp_doc *doc, const struct rp_block *blk)
{
    int s = blk->section;
    for (int depth = 0; depth < 2 && s >= 0 && (size_t)s < doc->n_sections; depth++) {
        const struct rp_section *sec = &doc->sections[s];
        if (sec->title && definitions_title(sec->title))
            return true;
        s = sec->parent;
    }
    return false;
}

static enum rp_err paragraph_rules(struct ctx *c, size_t b, const char *s, size_t n, bool defs)
{
    enum rp_err e = RP_OK;
    /* Counters at line starts and sentence starts. */
    for (size_t p = 0; p < n && c->par.counters && !e;) {
        size_t le = line_end(s, p, n);
        bool marked;
        size_t i = item_start(s, p, le, &marked);
        size_t stop = sentence_stop(s, p, i, le);
        size_t nb, ne, db;
        if (counter_head(s, i, stop, &nb, &ne, &db))
            e = queue_counter(c, b, s, nb, ne, db, stop, i);
        p = stop;
        while (p < n && is_space((unsigned char)s[p]))
            p++;
    }
    if (e || !c->par.definitions)
        return e;
    size_t i = 0;
    while (i < n && is_space((unsigned char)s[i]))
        i++;
    size_t nb, ne, db;
    if (counter_head(s, i, n, &nb, &ne, &db))
        return RP_OK;
    /* "Term: definition" in a definitions section, "Term : definition"
     * (a Pandoc definition list) anywhere. */
    size_t colon = term_colon(s, i, n);
    if (colon) {
        bool pandoc = colon > i && s[colon - 1] == ' ';
        if ((defs && term_ok(s, i, colon, true)) || (pandoc && term_ok(s, i, colon, false))) {
            size_t le = line_end(s, i, n);
            return queue_term(c, b, s, i, colon, colon + 1, le, i, le);
        }
        return RP_OK;
    }
    return definition_sentence(c, b, s + i, n - i);
}

static enum rp_err list_rules(struct ctx *c, size_t b, const char *s, size_t n, bool defs)
{
    /* Is it a definition list: no markers (HTML <dl>), or every item a
     * "Term: definition" with a proper term? */
    size_t items = 0, term_items = 0, marked_lines = 0;
    for (size_t p = 0; p < n;) {
        size_t le = line_end(s, p, n);
        bool marked;
        size_t i = item_start(s, p, le, &marked);
        if (marked) {
            marked_lines++;
            items++;
            size_t colon = term_colon(s, i, le);
            term_items += colon && term_ok(s, i, colon, false);
        }
        p = le + 1;
    }
    bool dl = marked_lines == 0;
    bool all_terms = items >= 2 && term_items == items;
    enum rp_err e = RP_OK;
    for (size_t p = 0; p < n && !e;) {
        size_t le = line_end(s, p, n);
        bool marked;
        size_t i = item_start(s, p, le, &marked);
        size_t end = dl ? le : item_end(s, le, n);
        size_t next = end + 1;
        if (!dl && !marked) { /* a continuation line of no item */
            p = le + 1;
            continue;
        }
        size_t nb, ne, db;
        if (counter_head(s, i, end, &nb, &ne, &db)) {
            if (c->par.counters)
                e = queue_counter(c, b, s, nb, ne, db, end, i);
        } else if (c->par.definitions) {
            size_t colon = term_colon(s, i, le);
            if (colon && (dl || all_terms || defs) && term_ok(s, i, colon, defs) &&
                s[colon - 1] != ' ')
                e = queue_term(c, b, s, i, colon, colon + 1, end, i, end);
        }
        p = next;
    }
    return e;
}

/* ---- acronyms ---- */

/* Does s[..p) end with exp (single spaces in exp match any whitespace
 * run), after an optional plural 's'? Returns the start, or SIZE_MAX. */
static size_t match_back(const char *s, size_t p, const char *exp, bool plural)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t i = p;
        if (pass == 1) {
            if (!plural || i == 0 || s[i - 1] != 's')
                break;
            i--;
        }
        size_t k = strlen(exp);
        bool ok = true;
        while (k > 0 && ok) {
            if (exp[k - 1] == ' ') {
                if (i == 0 || !is_space((unsigned char)s[i - 1]))
                    ok = false;
                while (i > 0 && is_space((unsigned char)s[i - 1]))
                    i--;
            } else if (i == 0 || s[i - 1] != exp[k - 1]) {
                ok = false;
            } else {
                i--;
            }
            k--;
        }
        if (ok && (i == 0 || !is_alnum((unsigned char)s[i - 1])))
            return i;
    }
    return SIZE_MAX;
}

/* Does s[p..n) start with exp (whitespace as above), then an optional
 * plural 's'? Returns the end, or SIZE_MAX. */
static size_t match_fwd(const char *s, size_t p, size_t n, const char *exp, bool plural)
{
    for (const char *x = exp; *x; x++) {
        if (*x == ' ') {
            if (p >= n || !is_space((unsigned char)s[p]))
                return SIZE_MAX;
            while (p < n && is_space((unsigned char)s[p]))
                p++;
        } else if (p >= n || s[p] != *x) {
            return SIZE_MAX;
        } else {
            p++;
        }
    }
    if (plural && p < n && s[p] == 's')
        p++;
    return p;
}

/* Is the acronym entity e, found in t[0..n), defined right there ("Long
 * Form (LF)" or "LF (Long Form)")? Sets the definition's span. */
static bool acronym_defined_at(const char *t, size_t n, const struct rp_entity *e, size_t *sb,
                               size_t *se)
{
    size_t off = e->offset, len = e->len, klen = strlen(e->norm);
    if (!e->expansion || !*e->expansion || off > n || len > n - off || klen > len ||
        memcmp(t + off, e->norm, klen) != 0 || strcmp(e->expansion, e->norm) == 0)
        return false;
    bool plural = len > klen;
    if (off >= 1 && t[off - 1] == '(' && off + len < n && t[off + len] == ')') {
        size_t p = off - 1;
        while (p > 0 && is_space((unsigned char)t[p - 1]))
            p--;
        size_t start = match_back(t, p, e->expansion, plural);
        if (start != SIZE_MAX && p < off - 1) {
            *sb = start;
            *se = off + len + 1;
            return true;
        }
    }
    size_t q = off + len;
    while (q < n && (t[q] == ' ' || t[q] == '\t'))
        q++;
    if (q > off + len && q < n && t[q] == '(' && (off == 0 || t[off - 1] != '(')) {
        size_t r = match_fwd(t, q + 1, n, e->expansion, plural);
        if (r != SIZE_MAX && r < n && t[r] == ')') {
            *sb = off;
            *se = r + 1;
            return true;
        }
    }
    return false;
}

/* The text of reading-order unit u. */
static const char *unit_text(const struct rp_doc *doc, struct unit u)
{
    const char *s = NULL;
    switch (u.kind) {
    case UNIT_META:
        s = doc->meta[u.index].value;
        break;
    case UNIT_TITLE:
        s = doc->sections[u.index].title;
        break;
    case UNIT_BLOCK:
        s = doc->blocks[u.index].text;
        break;
    }
    return s ? s : "";
}

/* The unit of entity e (its text), or SIZE_MAX when its position is not in
 * the document. */
static size_t entity_unit(const struct ctx *c, const struct rp_entity *e)
{
    const struct rp_doc *doc = c->doc;
    if (e->block >= 0)
        return (size_t)e->block < doc->n_blocks ? c->block_unit[e->block] : SIZE_MAX;
    if (e->block == -1)
        return e->section >= 0 && (size_t)e->section < doc->n_sections ? c->title_unit[e->section]
                                                                       : SIZE_MAX;
    size_t k = (size_t)(-2 - (int64_t)e->block);
    return k < doc->n_meta ? k : SIZE_MAX;
}

/* A candidate definition with its acronym, for sorting. */
struct site_ref {
    const char *key;
    struct acr_site site;
};

static int cmp_site_ref(const void *x, const void *y)
{
    const struct site_ref *a = x, *b = y;
    int k = strcmp(a->key, b->key);
    if (k)
        return k;
    if (a->site.in_block != b->site.in_block)
        return a->site.in_block ? -1 : 1;
    if (a->site.unit != b->site.unit)
        return a->site.unit < b->site.unit ? -1 : 1;
    return a->site.off < b->site.off ? -1 : a->site.off > b->site.off;
}

static int cmp_site_order(const void *x, const void *y)
{
    const struct acr_site *a = x, *b = y;
    if (a->unit != b->unit)
        return a->unit < b->unit ? -1 : 1;
    return a->off < b->off ? -1 : a->off > b->off;
}

/* Finds each document-defined acronym's definition to use (c->sites). */
static enum rp_err find_acronym_sites(struct ctx *c)
{
    const struct rp_doc *doc = c->doc;
    struct site_ref *refs = NULL;
    size_t n = 0, cap = 0;
    size_t last_u = SIZE_MAX, len = 0; /* entities come unit by unit: measure each once */
    for (size_t i = 0; i < doc->n_entities; i++) {
        const struct rp_entity *e = &doc->entities[i];
        if (e->type != RP_ENTITY_ACRONYM || !e->expansion || !e->norm || !e->text)
            continue;
        size_t u = entity_unit(c, e);
        if (u == SIZE_MAX)
            continue;
        if (c->units[u].kind == UNIT_BLOCK && doc->blocks[c->units[u].index].type == RP_BLOCK_CODE)
            continue;
        const char *t = unit_text(doc, c->units[u]);
        if (u != last_u) {
            last_u = u;
            len = strlen(t);
        }
        size_t sb, se;
        if (!acronym_defined_at(t, len, e, &sb, &se))
            continue;
        if (!rp_vec_reserve((void **)&refs, &cap, n, sizeof(*refs))) {
            free(refs);
            return RP_ERR_NOMEM;
        }
        refs[n].key = e->norm;
        refs[n].site = (struct acr_site){.ent = i,
                                         .unit = u,
                                         .off = e->offset,
                                         .sb = sb,
                                         .se = se,
                                         .len = len,
                                         .in_block = c->units[u].kind == UNIT_BLOCK};
        n++;
    }
    if (n) {
        qsort(refs, n, sizeof(*refs), cmp_site_ref);
        c->sites = malloc(n * sizeof(*c->sites));
        if (!c->sites) {
            free(refs);
            return RP_ERR_NOMEM;
        }
        for (size_t i = 0; i < n; i++)
            if (i == 0 || strcmp(refs[i].key, refs[i - 1].key) != 0)
                c->sites[c->n_sites++] = refs[i].site;
        qsort(c->sites, c->n_sites, sizeof(*c->sites), cmp_site_order);
    }
    free(refs);
    return RP_OK;
}

/* Whether word w occurs in s as a whole word (case-sensitive). */
static bool has_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = strstr(s, w); p; p = strstr(p + 1, w))
        if ((p == s || !is_alnum((unsigned char)p[-1])) && !is_alnum((unsigned char)p[n]))
            return true;
    return false;
}

/* Whether s contains x, ASCII case ignored. */
static bool has_ci(const char *s, const char *x)
{
    size_t n = strlen(x);
    for (; *s; s++)
        if (strlen(s) >= n && eq_ci(s, n, x))
            return true;
    return false;
}

/* Whether the document's title is only its file name ("nr-cells.csv",
 * "nr-cells"), which tells a reader nothing. */
static bool file_name_title(const struct rp_doc *doc)
{
    if (!doc->title || !doc->path)
        return false;
    const char *base = strrchr(doc->path, '/');
    base = base ? base + 1 : doc->path;
    size_t n = strlen(doc->title);
    return strncmp(base, doc->title, n) == 0 && (base[n] == '\0' || base[n] == '.');
}

/* Section titles that say nothing about what a document is about. */
static bool generic_title(const char *t)
{
    /* clang-format off */
    static const char *const names[] = {
        "overview", "introduction", "general", "description", "background", "summary", "scope",
        "purpose", "details", "featuredescription", "functionaldescription", "featureoverview",
        "notes", "note", "contents", "abstract", "preface", "about", "principles", "operation",
        "featureoperation", "dependencies", "prerequisites", "limitations", "parameters",
        "counters", "procedure", "procedures", "result", "results", "activation", "deactivation",
    };
    /* clang-format on */
    char norm[64];
    header_norm(t, norm, sizeof(norm));
    return IN_LIST_CI(norm, strlen(norm), names);
}

/* A title to name in an acronym question: the document's, else the
 * section's or an enclosing one's; never one that gives the answer away. */
static const char *acronym_context(const struct ctx *c, const struct rp_entity *e, int section)
{
    const struct rp_doc *doc = c->doc;
    const char *cands[8];
    size_t nc = 0;
    if (!file_name_title(doc))
        cands[nc++] = doc->title;
    for (int s = section, d = 0; s >= 0 && (size_t)s < doc->n_sections && d < 6; d++) {
        cands[nc++] = doc->sections[s].title;
        s = doc->sections[s].parent;
    }
    for (size_t i = 0; i < nc; i++) {
        const char *t = cands[i];
        if (!t || !*t || strlen(t) > CONTEXT_MAX || generic_title(t) || has_word(t, e->norm) ||
            has_ci(t, e->expansion) || !rp_utf8_valid(t, strlen(t), NULL))
            continue;
        return t;
    }
    return NULL;
}

/* Where a definition inside a table's rendered text sits: the cell's span
 * and body row, found by walking the rendering (rp_table_render). False
 * when the text is not that rendering. */
static bool table_cell_at(const struct rp_block *blk, size_t off, size_t *cb, size_t *ce,
                          size_t *row)
{
    const struct rp_table *t = blk->table;
    const char *s = blk->text;
    size_t n = strlen(s), pos = 0;
    if (!t || !t->n_cols)
        return false;
    for (size_t r = 0; r < t->n_rows; r++) {
        if (r) {
            if (pos >= n || s[pos] != '\n')
                return false;
            pos++;
        }
        for (size_t col = 0; col < t->n_cols; col++) {
            if (col) {
                if (n - pos < 3 || memcmp(s + pos, " | ", 3) != 0)
                    return false;
                pos += 3;
            }
            const char *v = cell(t, r, col);
            size_t len = strlen(v);
            if (n - pos < len || memcmp(s + pos, v, len) != 0)
                return false;
            if (off >= pos && off < pos + len) {
                *cb = pos;
                *ce = pos + len;
                *row = r >= t->n_header ? r - t->n_header : 0;
                return true;
            }
            pos += len;
        }
    }
    return false;
}

static enum rp_err acronym_pair(struct ctx *c, const struct acr_site *site)
{
    const struct rp_doc *doc = c->doc;
    const struct rp_entity *e = &doc->entities[site->ent];
    struct unit u = c->units[site->unit];
    const char *t = unit_text(doc, u);
    size_t n = site->len, lo = 0, hi = n, row = 0, pos = site->off;
    int block = -1, section = -1;
    if (u.kind == UNIT_META) {
        block = -2 - (int)u.index;
    } else if (u.kind == UNIT_TITLE) {
        section = (int)u.index;
    } else {
        const struct rp_block *blk = &doc->blocks[u.index];
        block = (int)u.index;
        section = blk->section;
        if (blk->type == RP_BLOCK_TABLE) {
            if (table_cell_at(blk, site->off, &lo, &hi, &row)) {
                pos = row;
                if (site->sb < lo || site->se > hi)
                    return RP_OK;
            } else {
                lo = site->off;
                while (lo > 0 && t[lo - 1] != '\n')
                    lo--;
                hi = line_end(t, site->off, n);
                pos = 0;
            }
        } else if (blk->type == RP_BLOCK_LIST) {
            /* The item's line, without its marker. */
            lo = site->sb;
            while (lo > 0 && t[lo - 1] != '\n')
                lo--;
            hi = line_end(t, site->se, n);
            bool marked;
            size_t text = item_start(t, lo, hi, &marked);
            lo = text <= site->sb ? text : lo;
        }
    }
    size_t sb, se;
    sentence_around(t, lo, hi, site->sb, site->se, &sb, &se);
    const char *ctx_title = acronym_context(c, e, section);
    reset_bufs(c);
    enum rp_err err = rp_buf_adds(&c->q, "What does ");
    if (!err)
        err = rp_buf_adds(&c->q, e->norm);
    if (!err)
        err = rp_buf_adds(&c->q, " stand for");
    if (!err && ctx_title) {
        err = rp_buf_adds(&c->q, " in ");
        if (!err)
            err = put_str(&c->q, ctx_title);
    }
    if (!err)
        err = rp_buf_addc(&c->q, '?');
    if (!err)
        err = rp_buf_addf(&c->a, "%s stands for ", e->norm);
    if (!err)
        err = put_str(&c->a, e->expansion);
    if (!err)
        err = end_sentence(&c->a);
    if (!err)
        err = rp_buf_add(&c->ev, t + sb, se - sb);
    return queue(c, err, pos, "definition", "acronym", block, row);
}

/* Queues the chosen acronym definitions that lie in unit u. */
static enum rp_err unit_acronyms(struct ctx *c, size_t u)
{
    while (c->next_site < c->n_sites && c->sites[c->next_site].unit < u)
        c->next_site++;
    for (; c->next_site < c->n_sites && c->sites[c->next_site].unit == u; c->next_site++) {
        enum rp_err e = acronym_pair(c, &c->sites[c->next_site]);
        if (e)
            return e;
    }
    return RP_OK;
}

/* ---- the walk ---- */

/* The reading order: metadata values, then each section title before the
 * blocks of its section (as rp_entities_scan() reads a document). */
static enum rp_err build_units(struct ctx *c)
{
    const struct rp_doc *doc = c->doc;
    size_t total = doc->n_meta + doc->n_sections + doc->n_blocks;
    c->units = malloc((total ? total : 1) * sizeof(*c->units));
    c->block_unit = malloc((doc->n_blocks ? doc->n_blocks : 1) * sizeof(size_t));
    c->title_unit = malloc((doc->n_sections ? doc->n_sections : 1) * sizeof(size_t));
    if (!c->units || !c->block_unit || !c->title_unit)
        return RP_ERR_NOMEM;
    for (size_t k = 0; k < doc->n_meta; k++)
        c->units[c->n_units++] = (struct unit){UNIT_META, k};
    size_t next_title = 0;
    for (size_t b = 0; b <= doc->n_blocks; b++) {
        size_t upto = doc->n_sections;
        if (b < doc->n_blocks && doc->blocks[b].section >= 0 &&
            (size_t)doc->blocks[b].section < doc->n_sections)
            upto = (size_t)doc->blocks[b].section + 1;
        for (; next_title < upto; next_title++) {
            c->title_unit[next_title] = c->n_units;
            c->units[c->n_units++] = (struct unit){UNIT_TITLE, next_title};
        }
        if (b < doc->n_blocks) {
            c->block_unit[b] = c->n_units;
            c->units[c->n_units++] = (struct unit){UNIT_BLOCK, b};
        }
    }
    return RP_OK;
}

struct param_ref {
    const struct rp_param *p;
    size_t idx;
};

static int cmp_param_pos(const void *x, const void *y)
{
    const struct param_ref *a = x, *b = y;
    if (a->p->block != b->p->block)
        return a->p->block < b->p->block ? -1 : 1;
    if (a->p->row != b->p->row)
        return a->p->row < b->p->row ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int cmp_param_name(const void *x, const void *y)
{
    const struct param_ref *a = x, *b = y;
    int k = strcmp(a->p->name ? a->p->name : "", b->p->name ? b->p->name : "");
    if (k)
        return k;
    k = strcmp(a->p->mo_class ? a->p->mo_class : "", b->p->mo_class ? b->p->mo_class : "");
    if (k)
        return k;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Orders the parameter records by position and marks names that the
 * document gives under more than one MO class. */
static enum rp_err index_params(struct ctx *c)
{
    size_t n = c->doc->n_params;
    if (!n)
        return RP_OK;
    struct param_ref *refs = malloc(n * sizeof(*refs));
    c->param_order = malloc(n * sizeof(*c->param_order));
    c->mo_ambiguous = calloc(n, sizeof(*c->mo_ambiguous));
    if (!refs || !c->param_order || !c->mo_ambiguous) {
        free(refs);
        return RP_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        refs[i] = (struct param_ref){&c->doc->params[i], i};
    qsort(refs, n, sizeof(*refs), cmp_param_name);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        bool two = false;
        const char *n0 = refs[i].p->name ? refs[i].p->name : "";
        for (; j < n && strcmp(refs[j].p->name ? refs[j].p->name : "", n0) == 0; j++)
            if (refs[j].p->mo_class && refs[i].p->mo_class &&
                strcmp(refs[j].p->mo_class, refs[i].p->mo_class) != 0)
                two = true;
        for (size_t k = i; k < j; k++)
            c->mo_ambiguous[refs[k].idx] = two;
        i = j;
    }
    qsort(refs, n, sizeof(*refs), cmp_param_pos);
    for (size_t i = 0; i < n; i++)
        c->param_order[i] = refs[i].idx;
    c->n_order = n;
    free(refs);
    return RP_OK;
}

static enum rp_err do_block(struct ctx *c, size_t b)
{
    const struct rp_block *blk = &c->doc->blocks[b];
    const char *s = blk->text ? blk->text : "";
    size_t n = strlen(s);
    bool defs = in_definitions(c->doc, blk);
    enum rp_err e = RP_OK;
    switch (blk->type) {
    case RP_BLOCK_TABLE:
        if (blk->table && blk->table->cells && blk->table->n_cols) {
            e = block_params(c, b, blk->table);
            if (!e)
                e = counter_table(c, b, blk->table);
        }
        break;
    case RP_BLOCK_PARAGRAPH:
        e = paragraph_rules(c, b, s, n, defs);
        break;
    case RP_BLOCK_LIST:
        e = list_rules(c, b, s, n, defs);
        break;
    case RP_BLOCK_CODE:
        break;
    }
    if (!e && c->par.acronyms)
        e = unit_acronyms(c, c->block_unit[b]);
    return e;
}

static enum rp_err walk(struct ctx *c)
{
    enum rp_err e = build_units(c);
    if (!e)
        e = index_params(c);
    if (!e && c->par.acronyms)
        e = find_acronym_sites(c);
    for (size_t u = 0; u < c->n_units && !e; u++) {
        if (c->units[u].kind == UNIT_BLOCK)
            e = do_block(c, c->units[u].index);
        else if (c->par.acronyms)
            e = unit_acronyms(c, u);
        if (!e)
            e = flush(c);
    }
    return e;
}

/* ---- public ---- */

struct rp_extract_params rp_extract_default_params(void)
{
    return (struct rp_extract_params){
        .parameters = true,
        .counters = true,
        .acronyms = true,
        .definitions = true,
        .max_per_param = 4,
    };
}

void rp_extract_list_init(struct rp_extract_list *l)
{
    l->items = NULL;
    l->n = l->cap = 0;
}

void rp_extract_list_release(struct rp_extract_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        pair_free(&l->items[i]);
    free(l->items);
    rp_extract_list_init(l);
}

enum rp_err rp_extract_doc(const struct rp_doc *doc, const struct rp_extract_params *params,
                           struct rp_extract_list *out, struct rp_error *err)
{
    if (!doc || !out)
        return rp_error_set(err, RP_ERR_INVAL, "cannot extract pairs: no document or list");
    struct ctx c;
    memset(&c, 0, sizeof(c));
    c.doc = doc;
    c.par = params ? *params : rp_extract_default_params();
    c.out = out;
    c.n0 = out->n;
    rp_buf_init(&c.q, QUESTION_MAX);
    rp_buf_init(&c.a, ANSWER_MAX);
    rp_buf_init(&c.ev, EVIDENCE_MAX);
    rp_buf_init(&c.tmp, NAME_MAX_LEN * 2 + 2);
    enum rp_err rc = walk(&c);
    for (size_t i = 0; i < c.n_pend; i++)
        pair_free(&c.pend[i].pair);
    if (rc) {
        for (size_t i = c.n0; i < out->n; i++)
            pair_free(&out->items[i]);
        out->n = c.n0;
    }
    free(c.pend);
    free(c.qset);
    free(c.units);
    free(c.block_unit);
    free(c.title_unit);
    free(c.sites);
    free(c.param_order);
    free(c.mo_ambiguous);
    rp_buf_release(&c.q);
    rp_buf_release(&c.a);
    rp_buf_release(&c.ev);
    rp_buf_release(&c.tmp);
    if (rc)
        return rp_error_set(err, rc, "cannot extract pairs from '%s': %s",
                            doc->path ? doc->path : "", rp_strerror(rc));
    return RP_OK;
}
