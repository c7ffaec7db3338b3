/*
 * qa.c - tolerant parsing of QA pairs from model output (jansson).
 */
#include "ranpipe/qa.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ranpipe/buf.h"

void rp_qa_list_init(struct rp_qa_list *l)
{
    l->items = NULL;
    l->n = l->cap = 0;
}

void rp_qa_list_release(struct rp_qa_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].question);
        free(l->items[i].answer);
        free(l->items[i].type);
        free(l->items[i].reject);
    }
    free(l->items);
    rp_qa_list_init(l);
}

static char *dup_str(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

/* Trimmed copy of a JSON string value, NULL when absent, not a string or blank. */
static char *string_field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    while (n > 0 && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    if (n == 0 || memchr(s, '\0', n))
        return NULL;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static enum rp_err add_item(struct rp_qa_list *out, json_t *item, size_t index)
{
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 8;
        struct rp_qa_pair *p = realloc(out->items, cap * sizeof(*p));
        if (!p)
            return RP_ERR_NOMEM;
        out->items = p;
        out->cap = cap;
    }
    struct rp_qa_pair *pair = &out->items[out->n++];
    memset(pair, 0, sizeof(*pair));
    char reason[160] = "";
    if (!json_is_object(item)) {
        snprintf(reason, sizeof(reason), "item %zu is not an object", index + 1);
    } else {
        pair->question = string_field(item, "question");
        pair->answer = string_field(item, "answer");
        pair->type = string_field(item, "type");
        if (!pair->question)
            snprintf(reason, sizeof(reason), "item %zu has no question", index + 1);
        else if (!pair->answer)
            snprintf(reason, sizeof(reason), "item %zu has no answer", index + 1);
    }
    if (!pair->type)
        pair->type = dup_str("unspecified");
    if (reason[0])
        pair->reject = dup_str(reason);
    if (!pair->type || (reason[0] && !pair->reject))
        return RP_ERR_NOMEM;
    return RP_OK;
}

/* Copies text without <think>...</think> blocks (an unclosed one runs to the end). */
static enum rp_err strip_think(const char *text, size_t len, struct rp_buf *out)
{
    size_t i = 0;
    while (i < len) {
        const char *open = NULL;
        for (size_t k = i; k + 7 <= len; k++) {
            if (memcmp(text + k, "<think>", 7) == 0) {
                open = text + k;
                break;
            }
        }
        if (!open)
            return rp_buf_add(out, text + i, len - i);
        enum rp_err e = rp_buf_add(out, text + i, (size_t)(open - (text + i)));
        if (e)
            return e;
        size_t k = (size_t)(open - text) + 7;
        const char *close = NULL;
        for (; k + 8 <= len; k++) {
            if (memcmp(text + k, "</think>", 8) == 0) {
                close = text + k;
                break;
            }
        }
        if (!close)
            return RP_OK;
        i = (size_t)(close - text) + 8;
    }
    return RP_OK;
}

enum rp_err rp_qa_parse(const char *text, size_t len, struct rp_qa_list *out, struct rp_error *err)
{
    struct rp_buf clean;
    rp_buf_init(&clean, RP_BUF_NO_CAP);
    enum rp_err rc = RP_OK;
    json_t *root = NULL;
    if (strip_think(text, len, &clean)) {
        rc = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* Try each '[' or '{' in turn: prose or a code fence may come first.
     * A candidate that fails only because the text ends is the model's
     * JSON cut short: that is the answer, not a reason to look inside it. */
    json_error_t jerr;
    memset(&jerr, 0, sizeof(jerr));
    char first_msg[160] = "";
    bool cut = false;
    for (size_t i = 0; i < clean.len && !root && !cut; i++) {
        if (clean.data[i] != '[' && clean.data[i] != '{')
            continue;
        size_t avail = clean.len - i;
        root = json_loadb(clean.data + i, avail, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES,
                          &jerr);
        if (root)
            break;
        cut = jerr.position >= 0 && (size_t)jerr.position >= avail;
        if (!first_msg[0] || cut)
            snprintf(first_msg, sizeof(first_msg), "%s at character %d", jerr.text,
                     jerr.position + (int)i);
    }
    if (!root) {
        if (cut)
            rc = rp_error_set(err, RP_ERR_PARSE, "the JSON output is cut off (%s)", first_msg);
        else
            rc = rp_error_set(err, RP_ERR_PARSE, "no JSON value in the output%s%s",
                              first_msg[0] ? ": " : "", first_msg);
        goto out;
    }
    json_t *arr = root;
    if (json_is_object(root)) {
        json_t *inner = NULL;
        static const char *const keys[] = {"pairs", "qa_pairs", "questions", "items", "data", NULL};
        for (int k = 0; keys[k] && !inner; k++) {
            json_t *v = json_object_get(root, keys[k]);
            if (json_is_array(v))
                inner = v;
        }
        arr = inner;
    }
    if (!arr) {
        rc = add_item(out, root, 0);
    } else {
        size_t i;
        json_t *item;
        json_array_foreach(arr, i, item)
        {
            rc = add_item(out, item, i);
            if (rc)
                break;
        }
        if (!rc && json_array_size(arr) == 0)
            rc = rp_error_set(err, RP_ERR_PARSE, "the output is an empty array");
    }
    if (rc == RP_ERR_NOMEM)
        rp_error_set(err, rc, "out of memory");
out:
    json_decref(root);
    rp_buf_release(&clean);
    return rc;
}
