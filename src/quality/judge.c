/*
 * judge.c - the LLM judge (see include/ranpipe/judge.h and docs/quality.md,
 * "The LLM judge").
 *
 * Design. A judge is a backend of its own plus a rubric prompt, a GBNF
 * grammar and its JSON Schema twin, built once. A rating is one request
 * submitted to the backend; the calling thread waits on a condition
 * variable that the backend's done callback signals (the backend calls it
 * exactly once per request, from its own thread). The request lives on the
 * caller's stack, which is safe because the caller does not return before
 * done has given it back.
 *
 * The grammar puts the reason first, so the model says what it found before
 * it scores, and bounds everything: scores are one digit 1-5, the reason is
 * printable ASCII without quotes or backslashes (so every character costs at
 * most one token and needs no escape) and at most max_tokens - 96
 * characters; the fixed part of the object is under 96 characters even
 * with all optional whitespace. A constrained reply therefore always
 * completes within max_tokens.
 *
 * The reader (rp_judge_parse) does not trust the constraint: openai servers
 * may not support response_format, and a model may reason aloud first. It
 * collects raw values (number, denominator, percent sign, whether written
 * with a decimal point) for the five dimensions, first from the JSON value
 * in the reply and, failing that, from "Label: value" text, and only then
 * decides the scale of the bare numbers, from all of them together (one
 * "8" among "4"s says the reply is out of 10).
 */
#include "ranpipe/judge.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend/backend_int.h"
#include "ranpipe/backend.h"
#include "ranpipe/backend_llama.h"
#include "ranpipe/backend_openai.h"
#include "ranpipe/buf.h"
#include "ranpipe/hash.h"
#include "ranpipe/log.h"

/* ---- reading a reply --------------------------------------------------- */

enum dim { DIM_ACCURACY, DIM_RELEVANCE, DIM_CLARITY, DIM_USEFULNESS, DIM_OVERALL, N_DIMS };
#define N_RUBRIC DIM_OVERALL

static const char *const DIM_NAMES[N_DIMS] = {"accuracy", "relevance", "clarity", "usefulness",
                                              "overall"};

/* Key spellings per dimension, folded (lower case, without ' ', '_', '-').
 * In text, only the single words among them count as labels. */
static const char *const DIM_KEYS[N_DIMS][10] = {
    {"accuracy", "factualaccuracy", "correctness", "faithfulness", NULL},
    {"relevance", "relevancy", NULL},
    {"clarity", NULL},
    {"usefulness", "helpfulness", "utility", NULL},
    {"overall", "overallscore", "overallrating", "score", "rating", "total", "totalscore",
     "finalscore", NULL},
};

static const char *const REASON_KEYS[] = {"reason",    "reasoning", "explanation", "justification",
                                          "rationale", "comment",   "comments",    "feedback",
                                          "why",       NULL};

/* Keys under which an object or a list item holds its number. */
static const char *const VALUE_KEYS[] = {"score", "rating", "value", NULL};
/* Keys under which a list item names its criterion. */
static const char *const NAME_KEYS[] = {"criterion", "name",     "aspect", "metric",
                                        "dimension", "category", NULL};

/* One value as the judge wrote it. */
struct raw {
    bool set;
    double v;
    double denom;  /* > 0: "v/denom" or a scale named next to it; 0: none */
    bool percent;  /* "v%" */
    bool decimal;  /* written with a decimal point */
    char text[24]; /* as written, for messages */
};

struct parse {
    struct raw raw[N_DIMS];
    char reason[256];
};

#define MAX_DIGITS 9 /* longer runs of digits are not scores */

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Folds a key: lower case, without ' ', '_', '-'; false when it does not fit. */
static bool fold(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' || s[i] == '_' || s[i] == '-')
            continue;
        if (k + 1 >= cap)
            return false;
        out[k++] = lower(s[i]);
    }
    out[k] = '\0';
    return true;
}

static bool in_list(const char *folded, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(folded, list[i]) == 0)
            return true;
    return false;
}

/* The dimension a key names, or -1. */
static int dim_of(const char *s, size_t n)
{
    char f[32];
    if (!fold(s, n, f, sizeof(f)))
        return -1;
    for (int d = 0; d < N_DIMS; d++)
        if (in_list(f, DIM_KEYS[d]))
            return d;
    return -1;
}

static bool is_key(const char *s, size_t n, const char *const *list)
{
    char f[32];
    return fold(s, n, f, sizeof(f)) && in_list(f, list);
}

/* Copies s[0..n) into dst as one trimmed line: control characters become
 * spaces, runs of blanks one space; cut at a UTF-8 boundary to fit. */
static void copy_line(char *dst, size_t cap, const char *s, size_t n)
{
    if (cap == 0)
        return;
    size_t k = 0;
    bool blank = true; /* drops leading blanks */
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\0')
            break;
        if (c < 0x20 || c == 0x7f || c == ' ') {
            if (!blank)
                dst[k++] = ' ';
            blank = true;
            continue;
        }
        dst[k++] = (char)c;
        blank = false;
    }
    /* A multi-byte character cut by the cap goes entirely. */
    if (k + 1 >= cap && k > 0) {
        size_t lead = k;
        while (lead > 0 && ((unsigned char)dst[lead - 1] & 0xC0) == 0x80)
            lead--;
        if (lead > 0 && ((unsigned char)dst[lead - 1] & 0x80)) {
            unsigned char c = (unsigned char)dst[lead - 1];
            size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            if (k - (lead - 1) < need)
                k = lead - 1;
        }
    }
    while (k > 0 && dst[k - 1] == ' ')
        k--;
    dst[k] = '\0';
}

/* An unsigned decimal number at s[*i] (digits, '.' digits, or both);
 * advances *i past it. */
static bool read_number(const char *s, size_t n, size_t *i, double *v, bool *decimal)
{
    size_t k = *i, digits = 0;
    double x = 0;
    while (k < n && is_digit(s[k])) {
        if (++digits > MAX_DIGITS)
            return false;
        x = x * 10 + (s[k++] - '0');
    }
    *decimal = false;
    double scale = 1; /* x is exact (at most 9 digits); one division places the point */
    if (k + 1 < n && s[k] == '.' && is_digit(s[k + 1])) {
        k++;
        *decimal = true;
        while (k < n && is_digit(s[k])) {
            if (++digits > MAX_DIGITS)
                return false;
            x = x * 10 + (s[k++] - '0');
            scale *= 10;
        }
    }
    if (digits == 0)
        return false;
    *v = x / scale;
    *i = k;
    return true;
}

static size_t skip_spaces(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* Whether s[i..] starts with word (lower case), not followed by a letter. */
static bool word_at(const char *s, size_t n, size_t i, const char *word)
{
    size_t w = strlen(word);
    if (i + w > n)
        return false;
    for (size_t k = 0; k < w; k++)
        if (lower(s[i + k]) != word[k])
            return false;
    return i + w == n || !is_alpha(s[i + w]);
}

/* A value at s[i]: a number, then optionally "/D", "out of D" or "%".
 * The number must not run into a letter or digit ("3GPP"). Returns the
 * end, or 0 when there is no value there. */
static size_t read_value(const char *s, size_t n, size_t i, struct raw *r)
{
    size_t start = i;
    double v;
    bool dec;
    if (!read_number(s, n, &i, &v, &dec))
        return 0;
    if (i < n && (is_alpha(s[i]) || is_digit(s[i])))
        return 0;
    struct raw x = {.set = true, .v = v, .decimal = dec};
    size_t k = skip_spaces(s, n, i);
    if (k < n && s[k] == '/') {
        size_t m = skip_spaces(s, n, k + 1);
        double d;
        bool ddec;
        if (read_number(s, n, &m, &d, &ddec)) {
            x.denom = d > 0 ? d : -1; /* "/0" makes the value unusable */
            i = m;
        }
    } else if (word_at(s, n, k, "out")) {
        size_t m = skip_spaces(s, n, k + 3);
        if (word_at(s, n, m, "of")) {
            m = skip_spaces(s, n, m + 2);
            double d;
            bool ddec;
            if (read_number(s, n, &m, &d, &ddec)) {
                x.denom = d > 0 ? d : -1;
                i = m;
            }
        }
    } else if (k < n && s[k] == '%') {
        x.percent = true;
        i = k + 1;
    }
    size_t len = i - start < sizeof(x.text) - 1 ? i - start : sizeof(x.text) - 1;
    memcpy(x.text, s + start, len);
    x.text[len] = '\0';
    *r = x;
    return i;
}

/* The top of a scale written in a parenthesis after a label, "(1-5)",
 * "(0 to 10)", "(out of 10)": its last number, when above 1; else 0. */
static double scale_hint(const char *s, size_t lo, size_t hi)
{
    double last = 0;
    for (size_t i = lo; i < hi;) {
        double v;
        bool dec;
        if (is_digit(s[i]) && read_number(s, hi, &i, &v, &dec))
            last = v;
        else
            i++;
    }
    return last > 1 ? last : 0;
}

static bool is_separator(const char *s, size_t n, size_t i, size_t *width)
{
    *width = 1;
    switch (s[i]) {
    case ' ':
    case '\t':
    case ':':
    case '=':
    case '-':
    case '*':
    case '_':
    case '|':
    case '"':
    case '\'':
    case '#':
    case '>':
        return true;
    default:
        break;
    }
    /* en dash, em dash */
    if (i + 2 < n && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x80 &&
        ((unsigned char)s[i + 2] == 0x93 || (unsigned char)s[i + 2] == 0x94)) {
        *width = 3;
        return true;
    }
    return false;
}

/* The value after a label that ends at s[i], on the same line: separators,
 * the filler words "score", "rating", "is" and a parenthesised scale are
 * skipped. Returns the end of the value, or 0. */
static size_t value_after_label(const char *s, size_t n, size_t i, struct raw *r)
{
    double hint = 0;
    for (int steps = 0; steps < 16 && i < n; steps++) {
        size_t w;
        if (is_separator(s, n, i, &w)) {
            i += w;
        } else if (s[i] == '(') {
            size_t close = i + 1;
            while (close < n && close < i + 40 && s[close] != ')' && s[close] != '\n')
                close++;
            if (close >= n || s[close] != ')')
                return 0;
            hint = scale_hint(s, i + 1, close);
            i = close + 1;
        } else if (word_at(s, n, i, "score") || word_at(s, n, i, "rating")) {
            i += s[i] == 's' || s[i] == 'S' ? 5 : 6;
        } else if (word_at(s, n, i, "is")) {
            i += 2;
        } else {
            break;
        }
    }
    size_t end = read_value(s, n, i, r);
    if (end && r->denom == 0 && !r->percent && hint > 0)
        r->denom = hint;
    return end;
}

/* The reason after a label ending at s[i]: the rest of the line after ':'. */
static void reason_after_label(const char *s, size_t n, size_t i, struct parse *ps)
{
    while (i < n && (s[i] == ' ' || s[i] == '*' || s[i] == '_'))
        i++;
    if (i >= n || s[i] != ':')
        return;
    i++;
    while (i < n && (s[i] == ' ' || s[i] == '*' || s[i] == '_'))
        i++;
    size_t end = i;
    while (end < n && s[end] != '\n')
        end++;
    copy_line(ps->reason, sizeof(ps->reason), s + i, end - i);
}

/* Scans text for "Label: value" (and "Reason: ..."), left to right; a
 * label's first value wins. */
static void scan_text(const char *s, size_t n, struct parse *ps)
{
    size_t i = 0;
    while (i < n) {
        if (!is_alpha(s[i]) || (i > 0 && (is_alpha(s[i - 1]) || is_digit(s[i - 1])))) {
            i++;
            continue;
        }
        size_t end = i;
        while (end < n && is_alpha(s[end]))
            end++;
        int d = dim_of(s + i, end - i);
        if (d >= 0) {
            struct raw r;
            size_t after = value_after_label(s, n, end, &r);
            if (after) {
                if (!ps->raw[d].set)
                    ps->raw[d] = r;
                i = after;
                continue;
            }
        } else if (!ps->reason[0] && is_key(s + i, end - i, REASON_KEYS)) {
            reason_after_label(s, n, end, ps);
        }
        i = end;
    }
}

/* ---- JSON replies ---- */

static void take_json(json_t *v, struct raw *r, int depth)
{
    struct raw x = {.set = true};
    if (json_is_integer(v)) {
        x.v = (double)json_integer_value(v);
        snprintf(x.text, sizeof(x.text), "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        x.v = json_real_value(v);
        x.decimal = true;
        snprintf(x.text, sizeof(x.text), "%g", x.v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        size_t i = 0;
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n'))
            i++;
        if (!read_value(s, n, i, &x))
            return;
    } else if (json_is_object(v) && depth < 2) {
        for (size_t k = 0; VALUE_KEYS[k]; k++) {
            json_t *inner = json_object_get(v, VALUE_KEYS[k]);
            if (inner) {
                take_json(inner, r, depth + 1);
                return;
            }
        }
        return;
    } else {
        return;
    }
    *r = x;
}

static void visit_object(json_t *obj, struct parse *ps, int depth);

/* [{"criterion": "accuracy", "score": 4}, ...] or a list of objects to visit. */
static void visit_array(json_t *arr, struct parse *ps, int depth)
{
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        if (!json_is_object(item))
            continue;
        const char *name = NULL;
        for (size_t k = 0; NAME_KEYS[k] && !name; k++)
            name = json_string_value(json_object_get(item, NAME_KEYS[k]));
        int d = name ? dim_of(name, strlen(name)) : -1;
        if (d >= 0) {
            if (!ps->raw[d].set)
                take_json(item, &ps->raw[d], 1);
        } else {
            visit_object(item, ps, depth + 1);
        }
    }
}

static void visit_object(json_t *obj, struct parse *ps, int depth)
{
    if (depth > 2)
        return;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        size_t klen = strlen(key);
        int d = dim_of(key, klen);
        if (d >= 0 && !json_is_array(v)) {
            if (!ps->raw[d].set)
                take_json(v, &ps->raw[d], 0);
            /* {"score": {"accuracy": 4, ...}} holds the rubric itself. */
            if (ps->raw[d].set || !json_is_object(v))
                continue;
        }
        if (is_key(key, klen, REASON_KEYS) && json_is_string(v)) {
            if (!ps->reason[0])
                copy_line(ps->reason, sizeof(ps->reason), json_string_value(v),
                          json_string_length(v));
        } else if (json_is_object(v)) {
            visit_object(v, ps, depth + 1);
        } else if (json_is_array(v)) {
            visit_array(v, ps, depth + 1);
        }
    }
}

static bool any_set(const struct parse *ps)
{
    for (int d = 0; d < N_DIMS; d++)
        if (ps->raw[d].set)
            return true;
    return false;
}

/* Normalises the raw values into out[] (-1 when missing or rejected); the
 * first rejected value is described in bad. See judge.h for the rule. */
static void normalise(const struct parse *ps, double out[N_DIMS], char *bad, size_t cap)
{
    bool above5 = false, above1 = false, decimal = false;
    for (int d = 0; d < N_DIMS; d++) {
        const struct raw *r = &ps->raw[d];
        if (!r->set || r->denom != 0 || r->percent || r->v < 0 || r->v > 10)
            continue;
        above5 |= r->v > 5;
        above1 |= r->v > 1;
        decimal |= r->decimal;
    }
    double top = above5 ? 10 : (!above1 && decimal) ? 1 : 5;
    bad[0] = '\0';
    for (int d = 0; d < N_DIMS; d++) {
        const struct raw *r = &ps->raw[d];
        out[d] = -1;
        if (!r->set)
            continue;
        double scale = r->denom != 0 ? r->denom : r->percent ? 100 : top;
        double lim = r->denom != 0 || r->percent ? scale : 10;
        if (scale > 0 && r->v >= 0 && r->v <= lim && r->v / scale <= 1) {
            out[d] = r->v / scale;
        } else if (!bad[0]) {
            snprintf(bad, cap, "%s value '%s' is out of range", DIM_NAMES[d], r->text);
        }
    }
}

static void scores_reset(struct rp_judge_scores *out)
{
    memset(out, 0, sizeof(*out));
    out->accuracy = out->relevance = out->clarity = out->usefulness = out->overall = -1;
}

enum rp_err rp_judge_parse(const char *text, size_t len, struct rp_judge_scores *out,
                           struct rp_error *err)
{
    scores_reset(out);
    if (!text)
        len = 0;
    struct parse ps;
    memset(&ps, 0, sizeof(ps));
    bool json_found = false;
    size_t off = 0, n = 0;
    if (len > 0 && rp__json_extract(text, len, &off, &n, NULL) == RP_OK) {
        json_t *root = json_loadb(text + off, n, 0, NULL);
        if (root) {
            json_found = true;
            if (json_is_object(root))
                visit_object(root, &ps, 0);
            else if (json_is_array(root))
                visit_array(root, &ps, 0);
            json_decref(root);
        }
    }
    struct rp_buf vis;
    rp_buf_init(&vis, RP_BUF_NO_CAP);
    enum rp_err e = RP_OK;
    if (!any_set(&ps)) {
        if (len > 0 && rp__think_strip(text, len, &vis) != RP_OK) {
            e = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto out;
        }
        char reason[sizeof(ps.reason)];
        memcpy(reason, ps.reason, sizeof(reason));
        scan_text(vis.data, vis.len, &ps);
        if (reason[0]) /* the JSON's reason beats a "Reason:" line */
            memcpy(ps.reason, reason, sizeof(reason));
    }
    double v[N_DIMS];
    char bad[96];
    normalise(&ps, v, bad, sizeof(bad));
    double sum = 0;
    int found = 0;
    for (int d = 0; d < N_RUBRIC; d++) {
        if (v[d] >= 0) {
            sum += v[d];
            found++;
        }
    }
    double overall = found ? sum / found : v[DIM_OVERALL];
    if (overall < 0) {
        char excerpt[64] = "";
        copy_line(excerpt, sizeof(excerpt), vis.data, vis.len);
        if (bad[0])
            e = rp_error_set(err, RP_ERR_PARSE, "no usable score in the reply: %s", bad);
        else if (json_found)
            e = rp_error_set(err, RP_ERR_PARSE,
                             "the reply's JSON has no accuracy, relevance, clarity, usefulness "
                             "or overall score");
        else if (!excerpt[0])
            e = rp_error_set(err, RP_ERR_PARSE, "no score in the reply: it is empty%s",
                             len > 0 ? " outside <think> blocks" : "");
        else
            e = rp_error_set(err, RP_ERR_PARSE, "no score in the reply '%s%s'", excerpt,
                             vis.len > sizeof(excerpt) - 4 ? "..." : "");
        goto out;
    }
    out->accuracy = v[DIM_ACCURACY];
    out->relevance = v[DIM_RELEVANCE];
    out->clarity = v[DIM_CLARITY];
    out->usefulness = v[DIM_USEFULNESS];
    out->overall = overall;
    memcpy(out->reason, ps.reason, sizeof(out->reason));
out:
    rp_buf_release(&vis);
    return e;
}

/* ---- the judge --------------------------------------------------------- */

/* Written for this project: RAN documentation is full of values (ranges,
 * defaults, units, identifiers) that a fluent answer can get subtly wrong,
 * so accuracy is about every value, and is capped hard on one error. */
static const char SYSTEM_PROMPT[] =
    "You are a strict reviewer of training data for an assistant that answers questions about "
    "radio access networks (RAN): 3GPP LTE and NR specifications, vendor parameter, counter and "
    "alarm references, and operating procedures. You are shown an excerpt of a document (the "
    "context), and a question and answer that were generated from it. Judge the pair against "
    "the context only: an answer the context does not support is wrong, even if it might be "
    "true elsewhere.\n"
    "\n"
    "Rate each criterion from 1 (worst) to 5 (best):\n"
    "- accuracy: every fact and value in the answer (numbers, units, ranges, defaults, "
    "parameter and message names, conditions) matches the context. One wrong, invented or "
    "unsupported value makes accuracy 2 at most.\n"
    "- relevance: the answer answers the question that was asked, completely, without drifting "
    "to other topics.\n"
    "- clarity: the question makes sense without seeing the context, and the answer is clear, "
    "well-formed and stands on its own.\n"
    "- usefulness: the pair would help train an assistant for RAN engineers: it asks what an "
    "engineer would ask. Trivial, circular or boilerplate pairs score low.\n"
    "\n"
    "Reply with one JSON object and nothing else, the reason first (one short sentence naming "
    "the main problem, or why the pair is good; no double quotes in it):\n"
    "{\"reason\": \"...\", \"accuracy\": 1-5, \"relevance\": 1-5, \"clarity\": 1-5, "
    "\"usefulness\": 1-5}";

/* Characters of the constrained reply outside the reason, with all optional
 * whitespace; see the file comment. */
#define FIXED_CHARS 96
#define PROMPT_CAP (512u * 1024u)

struct rp_judge {
    struct rp_backend *b;
    struct rp_judge_params p;
    char name[64];
    char *grammar, *schema;
    struct rp_buf user;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done; /* under mu */
};

struct rp_judge_params rp_judge_default_params(void)
{
    struct rp_judge_params p = {
        .max_tokens = 256,
        .seed = 0,
        .temperature = 0.2f,
        .retry = NULL,
    };
    return p;
}

static int reason_chars(int max_tokens)
{
    int n = max_tokens - FIXED_CHARS;
    return n < 16 ? 16 : n > 240 ? 240 : n;
}

static const char *const RUBRIC[] = {"accuracy", "relevance", "clarity", "usefulness"};

static enum rp_err build_grammar(int rchars, struct rp_buf *out)
{
    enum rp_err e = rp_buf_adds(out, "root ::= \"{\" ws \"\\\"reason\\\":\" ws reason");
    for (int i = 0; i < 4 && !e; i++)
        e = rp_buf_addf(out, " \",\" ws \"\\\"%s\\\":\" ws score", RUBRIC[i]);
    if (!e)
        e = rp_buf_addf(out,
                        " ws \"}\"\n"
                        "reason ::= \"\\\"\" rchar{1,%d} \"\\\"\"\n"
                        "rchar ::= [\\x20\\x21\\x23-\\x5B\\x5D-\\x7E]\n"
                        "score ::= [1-5]\n"
                        "ws ::= [ \\n]{0,2}\n",
                        rchars);
    return e;
}

/* The grammar's twin for response_format; properties in the grammar's order
 * (llama-server turns a schema into a grammar in this order). */
static char *build_schema(int rchars)
{
    json_t *props = json_pack("{s:{s:s, s:i, s:i}}", "reason", "type", "string", "minLength", 1,
                              "maxLength", rchars);
    for (int i = 0; i < 4 && props; i++) {
        json_t *s = json_pack("{s:s, s:i, s:i}", "type", "integer", "minimum", 1, "maximum", 5);
        if (!s || json_object_set_new(props, RUBRIC[i], s)) {
            json_decref(props);
            props = NULL;
        }
    }
    if (!props)
        return NULL;
    json_t *schema = json_pack("{s:s, s:o, s:[s, s, s, s, s], s:b}", "type", "object", "properties",
                               props, "required", "reason", RUBRIC[0], RUBRIC[1], RUBRIC[2],
                               RUBRIC[3], "additionalProperties", 0);
    char *s = schema ? json_dumps(schema, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(schema);
    return s;
}

static void on_done(struct rp_gen_request *req, void *ud)
{
    (void)req;
    struct rp_judge *j = ud;
    pthread_mutex_lock(&j->mu);
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static enum rp_err start_llama(struct rp_judge *j, const struct rp_tier_config *t, const char *exe,
                               const struct rp_sampling *s, struct rp_error *err)
{
    if (!t->model || !*t->model)
        return rp_error_set(err, RP_ERR_CONFIG, "no model");
    struct rp_llama_backend_params lp = rp_llama_backend_default_params();
    lp.llama = t->llama;
    lp.llama.model_path = t->model;
    /* One call at a time: a second sequence or worker would only hold
     * memory. */
    lp.llama.n_parallel = 1;
    lp.workers = 1;
    lp.sampling = *s;
    lp.exe = exe;
    j->b = rp_backend_llama_new(&lp, on_done, j, err);
    if (!j->b)
        return err && err->code ? err->code : RP_ERR_BACKEND;
    rp_backend_llama_set_name(j->b, t->name ? t->name : "judge");
    enum rp_err e = rp_backend_start(j->b, err);
    if (e)
        return e;
    if (!rp_backend_llama_wait_ready(j->b, 1, lp.ready_timeout_s)) {
        struct rp_llama_backend_stats st;
        rp_backend_llama_stats(j->b, &st);
        return rp_error_set(err, RP_ERR_MODEL,
                            "the worker did not load '%s' (%s; see the log above)", t->model,
                            st.failed ? "it failed repeatedly" : "timed out");
    }
    return RP_OK;
}

static enum rp_err start_openai(struct rp_judge *j, const struct rp_tier_config *t,
                                const struct rp_sampling *s, struct rp_error *err)
{
    struct rp_openai_params op;
    enum rp_err e = rp_openai_params_from_tier(t, j->p.retry, &op, err);
    if (e)
        return e;
    op.sampling = *s;
    e = rp_backend_openai_new(t->name ? t->name : "judge", &op, on_done, j, &j->b, err);
    if (!e)
        e = rp_backend_start(j->b, err);
    return e;
}

struct rp_judge *rp_judge_new(const struct rp_tier_config *tier, const char *exe,
                              const struct rp_judge_params *p, struct rp_error *err)
{
    const char *name = tier->name ? tier->name : "?";
    if (tier->kind != RP_BACKEND_LLAMA && tier->kind != RP_BACKEND_OPENAI) {
        rp_error_set(err, RP_ERR_CONFIG,
                     "judge tier '%s': a %s tier cannot judge (it needs a llama or openai tier)",
                     name, rp_backend_kind_name(tier->kind));
        return NULL;
    }
    struct rp_judge *j = calloc(1, sizeof(*j));
    if (!j) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    j->p = p ? *p : rp_judge_default_params();
    if (j->p.max_tokens <= 0)
        j->p.max_tokens = rp_judge_default_params().max_tokens;
    snprintf(j->name, sizeof(j->name), "%s", name);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    rp_buf_init(&j->user, PROMPT_CAP);

    int rchars = reason_chars(j->p.max_tokens);
    struct rp_buf g;
    rp_buf_init(&g, RP_BUF_NO_CAP);
    enum rp_err e = build_grammar(rchars, &g);
    j->grammar = e ? NULL : rp_buf_detach(&g);
    rp_buf_release(&g);
    j->schema = build_schema(rchars);
    if (!j->grammar || !j->schema) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto fail;
    }

    struct rp_sampling s = tier->sampling;
    if (j->p.temperature >= 0)
        s.temperature = j->p.temperature;
    s.max_tokens = j->p.max_tokens;
    e = tier->kind == RP_BACKEND_LLAMA ? start_llama(j, tier, exe, &s, err)
                                       : start_openai(j, tier, &s, err);
    if (e) {
        rp_error_prefix(err, "judge tier '%s': ", name);
        goto fail;
    }
    rp_debug("judge tier '%s' (%s) ready", name, rp_backend_kind_name(tier->kind));
    return j;
fail:
    rp_judge_free(j);
    return NULL;
}

void rp_judge_free(struct rp_judge *j)
{
    if (!j)
        return;
    rp_backend_free(j->b);
    free(j->grammar);
    free(j->schema);
    rp_buf_release(&j->user);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

static enum rp_err build_user(struct rp_buf *u, const char *context, const char *question,
                              const char *answer)
{
    enum rp_err e = rp_buf_adds(u, "Context:\n\"\"\"\n");
    if (!e)
        e = rp_buf_adds(u, context);
    if (!e)
        e = rp_buf_adds(u, "\n\"\"\"\n\nQuestion: ");
    if (!e)
        e = rp_buf_adds(u, question);
    if (!e)
        e = rp_buf_adds(u, "\n\nAnswer: ");
    if (!e)
        e = rp_buf_adds(u, answer);
    if (!e)
        e = rp_buf_adds(u, "\n\nRate this question and answer against the context. Reply with "
                           "the JSON object only.");
    return e;
}

enum rp_err rp_judge_rate_scores(struct rp_judge *j, const char *context, const char *question,
                                 const char *answer, struct rp_judge_scores *out,
                                 struct rp_error *err)
{
    scores_reset(out);
    context = context ? context : "";
    question = question ? question : "";
    answer = answer ? answer : "";
    rp_buf_reset(&j->user);
    enum rp_err e = build_user(&j->user, context, question, answer);
    if (e)
        return rp_error_set(err, e,
                            e == RP_ERR_TOOBIG ? "judge '%s': the prompt exceeds %u bytes"
                                               : "judge '%s': out of memory",
                            j->name, PROMPT_CAP);

    struct rp_gen_request req;
    rp_gen_request_init(&req);
    req.system = SYSTEM_PROMPT;
    req.user = j->user.data;
    req.grammar = j->grammar;
    req.json_schema = j->schema;
    req.max_tokens = j->p.max_tokens;
    /* The question's NUL separates it from the answer in the hash. */
    req.seed = rp_hash64_seeded(answer, strlen(answer),
                                rp_hash64_seeded(question, strlen(question) + 1, j->p.seed));

    pthread_mutex_lock(&j->mu);
    j->done = false;
    pthread_mutex_unlock(&j->mu);
    if (rp_backend_submit(j->b, &req) != RP_OK) {
        e = rp_error_set(err, RP_ERR_BACKEND,
                         "judge '%s': the backend takes no requests (stopped, busy, or it gave "
                         "up after repeated failures)",
                         j->name);
        goto out;
    }
    pthread_mutex_lock(&j->mu);
    while (!j->done)
        pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);

    if (req.finish == RP_FINISH_ERROR) {
        e = req.err.code != RP_OK ? req.err.code : RP_ERR_BACKEND;
        rp_error_set(err, e, "judge '%s': %s", j->name,
                     req.err.msg[0] ? req.err.msg : rp_strerror(e));
        goto out;
    }
    e = rp_judge_parse(req.text.data, req.text.len, out, err);
    if (e)
        rp_error_prefix(err, "judge '%s': %s", j->name,
                        req.finish == RP_FINISH_LENGTH ? "reply cut at max_tokens: " : "");
out:
    rp_gen_request_release(&req);
    return e;
}

/* "accuracy 4/5, relevance 5/5: reason" into why. */
static void describe(const struct rp_judge_scores *s, char *why, size_t cap)
{
    const double v[4] = {s->accuracy, s->relevance, s->clarity, s->usefulness};
    char line[512];
    size_t k = 0;
    for (int i = 0; i < 4; i++) {
        if (v[i] < 0)
            continue;
        int n = snprintf(line + k, sizeof(line) - k, "%s%s %g/5", k ? ", " : "", RUBRIC[i],
                         round(v[i] * 50) / 10);
        if (n > 0 && (size_t)n < sizeof(line) - k)
            k += (size_t)n;
    }
    if (k == 0) {
        int n = snprintf(line, sizeof(line), "overall %.2f", s->overall);
        k = n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0;
    }
    if (s->reason[0]) {
        int n = snprintf(line + k, sizeof(line) - k, ": %s", s->reason);
        k = n > 0 && (size_t)n < sizeof(line) - k ? k + (size_t)n : sizeof(line) - 1;
    }
    copy_line(why, cap, line, k);
}

double rp_judge_rate(struct rp_judge *j, const char *context, const char *question,
                     const char *answer, char *why, size_t cap)
{
    struct rp_judge_scores s;
    struct rp_error err;
    rp_error_clear(&err);
    if (rp_judge_rate_scores(j, context, question, answer, &s, &err) != RP_OK) {
        rp_debug("%s", err.msg);
        if (why && cap)
            copy_line(why, cap, err.msg, strlen(err.msg));
        return -1;
    }
    if (why && cap)
        describe(&s, why, cap);
    rp_debug("judge '%s': %.2f (%s)", j->name, s.overall, s.reason);
    return s.overall;
}

double rp_judge_fn_adapter(void *ud, const char *context, const char *question, const char *answer,
                           char *why, size_t cap)
{
    return rp_judge_rate(ud, context, question, answer, why, cap);
}

double rp_judge_strict_score(const struct rp_judge_scores *s)
{
    if (s->overall < 0)
        return -1;
    return s->accuracy >= 0 && s->accuracy < s->overall ? s->accuracy : s->overall;
}

double rp_judge_fn_strict(void *ud, const char *context, const char *question, const char *answer, char *why,
                          size_t cap)
{
    struct rp_judge *j = ud;
    struct rp_judge_scores s;
    struct rp_error err;
    rp_error_clear(&err);
    if (rp_judge_rate_scores(j, context, question, answer, &s, &err) != RP_OK) {
        if (why && cap)
            copy_line(why, cap, err.msg, strlen(err.msg));
        return -1;
    }
    if (why && cap)
        describe(&s, why, cap);
    return rp_judge_strict_score(&s);
}
