/*
 * qa.h - question-answer pairs parsed out of model output.
 *
 * Parsing is tolerant of what models wrap around JSON: <think>...</think>
 * blocks, Markdown code fences, prose before or after the value, and an
 * object holding the array ({"pairs": [...]}) or a single pair object.
 * Items that are not usable pairs are kept with a reason, never dropped, so
 * the caller can write them to the rejects file.
 *
 * Thread contract: reentrant.
 */
#ifndef RANPIPE_QA_H
#define RANPIPE_QA_H

#include <stddef.h>

#include "ranpipe/error.h"

struct rp_qa_pair {
    char *question; /* malloc'd; NULL when missing */
    char *answer;   /* malloc'd; NULL when missing */
    char *type;     /* malloc'd; "unspecified" when the model gave none */
    char *reject;   /* malloc'd reason when the item is unusable, else NULL */
};

struct rp_qa_list {
    struct rp_qa_pair *items;
    size_t n, cap;
};

void rp_qa_list_init(struct rp_qa_list *l);
void rp_qa_list_release(struct rp_qa_list *l);

/* Parses text[0..len) (borrowed) and appends its items to out. Returns
 * RP_ERR_PARSE with a reason when no JSON value can be found at all. */
enum rp_err rp_qa_parse(const char *text, size_t len, struct rp_qa_list *out, struct rp_error *err);

#endif /* RANPIPE_QA_H */
