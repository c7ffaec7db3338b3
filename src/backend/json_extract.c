/*
 * json_extract.c - finds the JSON value in a model's text (see
 * backend_int.h).
 *
 * Design: the text is split into visible segments (everything outside
 * <think> blocks). Candidates are the '[' and '{' in them that look like
 * the start of JSON (the next non-blank byte could follow in a JSON value,
 * which rules out most prose such as "[see below]"). A candidate's extent
 * is found by a bracket scanner that knows about strings and escapes, and
 * only then is jansson asked whether those bytes parse. The first ``` fence
 * is tried before the whole text. A candidate that runs to the end of its
 * segment is the model's value cut short: that is the answer (an error),
 * not a reason to look for smaller values inside it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "backend_int.h"

#define MAX_DEPTH 512      /* deeper nesting is not a QA answer */
#define MAX_CANDIDATES 256 /* bounds the work on text full of brackets */

struct seg {
    size_t lo, hi; /* text[lo..hi) */
};

struct search {
    const char *text;
    size_t len;
    int tried;
    bool cut;
    size_t cut_at;
    char first_msg[160]; /* why the first balanced candidate did not parse */
};

static size_t find(const char *h, size_t lo, size_t hi, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = lo; i + n <= hi; i++) {
        if (memcmp(h + i, needle, n) == 0)
            return i;
    }
    return hi;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Whether the bytes after the bracket at s[i] could continue a JSON value. */
static bool plausible_start(const char *s, size_t i, size_t hi)
{
    char open = s[i];
    size_t k = i + 1;
    while (k < hi && is_blank(s[k]))
        k++;
    if (k == hi)
        return true; /* cut right after the bracket */
    char c = s[k];
    if (open == '{')
        return c == '"' || c == '}';
    return c == '{' || c == '[' || c == '"' || c == ']' || c == '-' || (c >= '0' && c <= '9') ||
           c == 't' || c == 'f' || c == 'n';
}

/* Length of the balanced value starting at s[i] (a bracket), or 0: *cut
 * says whether the segment ended inside it (else the brackets mismatch). */
static size_t scan_value(const char *s, size_t i, size_t hi, bool *cut)
{
    char stack[MAX_DEPTH];
    size_t depth = 0;
    bool in_str = false, esc = false;
    *cut = false;
    for (size_t k = i; k < hi; k++) {
        char c = s[k];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        switch (c) {
        case '"':
            in_str = true;
            break;
        case '[':
        case '{':
            if (depth == MAX_DEPTH)
                return 0;
            stack[depth++] = c == '[' ? ']' : '}';
            break;
        case ']':
        case '}':
            if (depth == 0 || stack[depth - 1] != c)
                return 0;
            if (--depth == 0)
                return k + 1 - i;
            break;
        default:
            break;
        }
    }
    *cut = true;
    return 0;
}

/* Searches text[lo..hi); true with *off / *n when a value is found. Stops
 * (false, s->cut set) at a value cut short. */
static bool search_range(struct search *s, size_t lo, size_t hi, size_t *off, size_t *n)
{
    for (size_t i = lo; i < hi && !s->cut; i++) {
        char c = s->text[i];
        if ((c != '[' && c != '{') || !plausible_start(s->text, i, hi))
            continue;
        if (++s->tried > MAX_CANDIDATES)
            return false;
        bool cut;
        size_t len = scan_value(s->text, i, hi, &cut);
        if (cut) {
            s->cut = true;
            s->cut_at = i;
            return false;
        }
        if (len == 0)
            continue;
        json_error_t jerr;
        json_t *v = json_loadb(s->text + i, len, JSON_REJECT_DUPLICATES, &jerr);
        if (v) {
            json_decref(v);
            *off = i;
            *n = len;
            return true;
        }
        if (!s->first_msg[0])
            snprintf(s->first_msg, sizeof(s->first_msg), "%s at character %zu", jerr.text,
                     i + (jerr.position > 0 ? (size_t)jerr.position : 0));
    }
    return false;
}

/* The visible segments of the text: outside <think> blocks. Returns how
 * many were written (at most max; the rest of the text joins the last). */
static size_t visible_segments(const char *t, size_t len, struct seg *out, size_t max)
{
    size_t pos = 0, n = 0;
    /* A lone closing tag: the chat template opened the block in the prompt. */
    size_t close = find(t, 0, len, "</think>");
    if (close < len && find(t, 0, close, "<think>") == close)
        pos = close + 8;
    while (pos < len && n < max) {
        size_t open = find(t, pos, len, "<think>");
        if (n + 1 == max)
            open = len;
        if (open > pos)
            out[n++] = (struct seg){pos, open};
        if (open == len)
            break;
        close = find(t, open + 7, len, "</think>");
        pos = close == len ? len : close + 8;
    }
    return n;
}

enum rp_err rp__json_extract(const char *text, size_t len, size_t *off, size_t *n,
                             struct rp_error *err)
{
    struct seg segs[16];
    size_t nseg = visible_segments(text, len, segs, sizeof(segs) / sizeof(segs[0]));
    struct search s = {.text = text, .len = len};

    /* The first fence: from the end of its opening line to the next fence. */
    for (size_t k = 0; k < nseg; k++) {
        size_t f = find(text, segs[k].lo, segs[k].hi, "```");
        if (f == segs[k].hi)
            continue;
        size_t body = find(text, f + 3, segs[k].hi, "\n");
        body = body == segs[k].hi ? f + 3 : body + 1;
        size_t end = find(text, body, segs[k].hi, "```");
        if (search_range(&s, body, end, off, n))
            return RP_OK;
        if (s.cut)
            goto cut;
        break;
    }
    s.tried = 0;
    s.first_msg[0] = '\0';
    for (size_t k = 0; k < nseg; k++) {
        if (search_range(&s, segs[k].lo, segs[k].hi, off, n))
            return RP_OK;
        if (s.cut)
            goto cut;
    }
    if (s.tried > MAX_CANDIDATES)
        return rp_error_set(err, RP_ERR_PARSE, "no JSON value in the first %d candidates",
                            MAX_CANDIDATES);
    return rp_error_set(err, RP_ERR_PARSE, "no JSON value in the output%s%s",
                        s.first_msg[0] ? ": " : "", s.first_msg);
cut:
    return rp_error_set(err, RP_ERR_PARSE, "the JSON value at character %zu is cut off", s.cut_at);
}

enum rp_err rp__think_strip(const char *text, size_t len, struct rp_buf *out)
{
    struct seg segs[16];
    size_t nseg = visible_segments(text, len, segs, sizeof(segs) / sizeof(segs[0]));
    enum rp_err e = RP_OK;
    for (size_t k = 0; k < nseg && !e; k++) {
        if (k > 0)
            e = rp_buf_addc(out, '\n');
        if (!e)
            e = rp_buf_add(out, text + segs[k].lo, segs[k].hi - segs[k].lo);
    }
    return e;
}
