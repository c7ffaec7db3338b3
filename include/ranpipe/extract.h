/*
 * extract.h - the extractive tier: QA pairs taken straight from the
 * document's structure, with no model, grounded by construction.
 *
 * Sources:
 *   parameter records (doc->params, from parameter tables and CSV files):
 *     default value, range, unit, type, MO class and description of each
 *     parameter, one pair per fact the record states;
 *   counter lists: "pmFoo: what it counts" lines and counter tables;
 *   acronyms the document itself defines ("Automatic Neighbour Relations
 *     (ANR)") - not the glossary, which is not the document;
 *   explicit definitions: "X is a/an/the ..." and "X: ..." sentences in a
 *     definition list or a definitions section.
 * Every pair keeps the exact source text it rests on (evidence) and where
 * it came from (block, table row), so a reviewer can check it in one look.
 * Questions name the subject fully (MO class and attribute, counter name)
 * so they stand alone; answers restate the subject and the value exactly
 * as the document writes it (units included).
 *
 * Thread contract: reentrant; reads doc only.
 */
#ifndef RANPIPE_EXTRACT_H
#define RANPIPE_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>

#include "ranpipe/doc.h"
#include "ranpipe/error.h"

struct rp_extract_params {
    bool parameters;   /* facts from parameter records (default true) */
    bool counters;     /* counter descriptions (default true) */
    bool acronyms;     /* document-defined acronyms (default true) */
    bool definitions;  /* explicit definitions (default true) */
    int max_per_param; /* most pairs per parameter record (default 4) */
};

struct rp_extract_params rp_extract_default_params(void);

struct rp_extract_pair {
    char *question;       /* malloc'd */
    char *answer;         /* malloc'd */
    char *evidence;       /* malloc'd: the source text the answer is taken from */
    const char *type;     /* static: "parameter", "definition", "counter" */
    const char *rule;     /* static: which rule made it, e.g. "parameter-default" */
    int block;            /* source block; -1 section title, <= -2 metadata entry -2-k */
    size_t row;           /* table body row for table sources, else 0 */
};

struct rp_extract_list {
    struct rp_extract_pair *items; /* malloc'd */
    size_t n, cap;
};

void rp_extract_list_init(struct rp_extract_list *l);
void rp_extract_list_release(struct rp_extract_list *l);

/* Appends the pairs of doc (borrowed) to out, in document order, without
 * duplicates (the same question twice in one document is made once).
 * params may be NULL for the defaults. On failure (out of memory; a NULL
 * doc or out is RP_ERR_INVAL) err says why and out is as it was. */
enum rp_err rp_extract_doc(const struct rp_doc *doc, const struct rp_extract_params *params,
                           struct rp_extract_list *out, struct rp_error *err);

#endif /* RANPIPE_EXTRACT_H */
