/*
 * prompt.h - the QA-generation prompt and its output grammar.
 *
 * The grammar is bounded: a fixed maximum number of pairs and of characters
 * per question and answer, so even a model that never closes a string
 * finishes in a known number of tokens. RP_PROMPT_VERSION changes whenever
 * the prompt text or grammar changes, so cached generations are not reused
 * across prompt versions.
 *
 * Thread contract: reentrant.
 */
#ifndef RANPIPE_PROMPT_H
#define RANPIPE_PROMPT_H

#include <stddef.h>

#include "ranpipe/buf.h"
#include "ranpipe/error.h"

#define RP_PROMPT_VERSION "qa-v1"

struct rp_qa_shape {
    int max_pairs;        /* upper bound per chunk (default 3) */
    int tokens_per_pair;  /* one pair per this many chunk tokens (default 120) */
    int question_chars;   /* maximum characters of a question (default 256) */
    int answer_chars;     /* maximum characters of an answer (default 768) */
};

struct rp_qa_shape rp_qa_shape_default(void);

/* Pairs to ask for from a chunk of n_tokens: 1..max_pairs. */
int rp_prompt_pairs_for(const struct rp_qa_shape *shape, size_t n_tokens);
/* Worst-case output tokens of a grammar for n_pairs (every character its own token). */
int rp_prompt_max_tokens(const struct rp_qa_shape *shape, int n_pairs);

/* The system message (static string). */
const char *rp_prompt_qa_system(void);
/* The user message for one chunk, into out. title and heading_path may be empty. */
enum rp_err rp_prompt_qa_user(const char *title, const char *heading_path, const char *text,
                              int n_pairs, struct rp_buf *out);
/* A GBNF grammar (root rule "root") for a JSON array of 1..n_pairs objects
 * {"question": str, "answer": str, "type": enum}, into out. */
enum rp_err rp_prompt_qa_grammar(const struct rp_qa_shape *shape, int n_pairs, struct rp_buf *out);

/* The QA types the grammar allows, NULL-terminated. */
extern const char *const rp_qa_types[];

#endif /* RANPIPE_PROMPT_H */
