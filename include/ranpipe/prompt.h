/*
 * prompt.h - the QA-generation prompts and the shape of their output.
 *
 * A prompt set is a system prompt and a user-message template. The built-in
 * set is the text of examples/prompts/system.txt and qa.txt, byte for byte,
 * so a user can copy those files, edit them and point a tier at the copies
 * (docs/prompts.md). The template language is deliberately tiny:
 *
 *   {{title}} {{section}} {{text}}   the chunk's document title, section path, text
 *   {{n_pairs}}                      how many pairs to write
 *   {{pair_types}}                   numbered list, one line per pair: "1. factual: ..."
 *   {{types}}                        the allowed type names, comma-separated
 *   {{#if title}}...{{/if}}          kept only when title (or section) is not empty
 *
 * A block tag alone on its line takes the whole line with it. Templates are
 * checked when loaded: an unknown placeholder, an unbalanced or nested
 * {{#if}} and a template without {{text}} are errors that name file:line.
 * Values are inserted as they are and never read as template text.
 *
 * The output is bounded: a fixed maximum number of pairs and of characters
 * per question and answer, so even a model that never closes a string
 * finishes in a known number of tokens. It is given to backends two ways
 * that describe the same shape: a GBNF grammar (llama.cpp) and a JSON
 * Schema (response_format of llama-server and vLLM).
 *
 * Versions: RP_PROMPT_VERSION names the built-in prompts, type list and
 * output shape; rp_prompt_set_version() adds a hash of a set's two texts,
 * so cached generations are not reused once either file changes.
 *
 * Thread contract: reentrant; a loaded set is immutable and may be shared
 * by any number of threads.
 */
#ifndef RANPIPE_PROMPT_H
#define RANPIPE_PROMPT_H

#include <stddef.h>
#include <stdint.h>

#include "ranpipe/buf.h"
#include "ranpipe/error.h"

#define RP_PROMPT_VERSION "qa-v2"

struct rp_qa_shape {
    int max_pairs;       /* upper bound per chunk (default 3) */
    int tokens_per_pair; /* one pair per this many chunk tokens (default 120) */
    int question_chars;  /* maximum characters of a question (default 256) */
    int answer_chars;    /* maximum characters of an answer (default 768) */
};

struct rp_qa_shape rp_qa_shape_default(void);

/* Pairs to ask for from a chunk of n_tokens: 1..max_pairs. */
int rp_prompt_pairs_for(const struct rp_qa_shape *shape, size_t n_tokens);
/* Worst-case output tokens of a grammar for n_pairs (every character its own token). */
int rp_prompt_max_tokens(const struct rp_qa_shape *shape, int n_pairs);

/* The QA types the grammar and schema allow, NULL-terminated: factual,
 * conceptual, procedural, analytical, comparative. */
extern const char *const rp_qa_types[];

/* ---- prompt sets ---- */

struct rp_prompt_set;

/* Loads the system prompt and the user template from files; either path may
 * be NULL for the built-in one. On success *out is a new set (caller frees
 * with rp_prompt_set_free). Errors name the file ("system prompt: cannot
 * open 'x.txt': ..."), and for template errors the line and the bad
 * placeholder ("qa.txt:7: unknown placeholder '{{titel}}' ..."); files must
 * be non-empty UTF-8 without NUL bytes and at most 256 KiB. */
enum rp_err rp_prompt_set_load(const char *system_path, const char *user_template_path,
                               struct rp_prompt_set **out, struct rp_error *err);
/* Frees a set; NULL is a no-op. */
void rp_prompt_set_free(struct rp_prompt_set *ps);
/* The system message, owned by the set. */
const char *rp_prompt_set_system(const struct rp_prompt_set *ps);
/* RP_PROMPT_VERSION "-" and 16 hex digits of a hash of both texts (and of
 * the type descriptions), e.g. "qa-v2-0123456789abcdef"; owned by the set.
 * Changes when either file changes, so the generation cache keys on it. */
const char *rp_prompt_set_version(const struct rp_prompt_set *ps);
/* Renders the user message for one chunk, appending to out. title and
 * heading_path may be NULL or empty (their {{#if}} blocks drop out); text
 * NULL counts as empty; n_pairs below 1 counts as 1, as in the grammar.
 * The types of the pairs are taken from rp_qa_types deterministically from
 * seed: a chunk asking for k pairs gets k different types (k <= 5; beyond
 * that they repeat), and consecutive seeds rotate the first type through
 * all five. The {{pair_types}} list names the type of each pair. Fails only
 * when out's cap is reached (RP_ERR_TOOBIG) or memory runs out; out may
 * then hold part of the message. */
enum rp_err rp_prompt_set_user(const struct rp_prompt_set *ps, const char *title,
                               const char *heading_path, const char *text, int n_pairs,
                               uint64_t seed, struct rp_buf *out, struct rp_error *err);

/* ---- the built-in set (what a tier without prompt files uses) ---- */

/* The built-in system message (static string). */
const char *rp_prompt_qa_system(void);
/* The built-in user message for one chunk, appended to out: the same as
 * rp_prompt_set_user() on the built-in set with seed 0. */
enum rp_err rp_prompt_qa_user(const char *title, const char *heading_path, const char *text,
                              int n_pairs, struct rp_buf *out);

/* ---- output shape ---- */

/* A GBNF grammar (root rule "root") for a JSON array of 1..n_pairs objects
 * {"question": str, "answer": str, "type": enum}, appended to out. */
enum rp_err rp_prompt_qa_grammar(const struct rp_qa_shape *shape, int n_pairs, struct rp_buf *out);
/* The JSON Schema twin of rp_prompt_qa_grammar(), compact JSON appended to
 * out: an array of 1..n_pairs objects with the required string properties
 * "question" (8..question_chars characters), "answer" (1..answer_chars) and
 * "type" (enum rp_qa_types), additionalProperties false. Uses only the
 * draft 2020-12 keywords that llama-server and vLLM accept in
 * response_format, and no "$schema". n_pairs below 1 counts as 1. */
enum rp_err rp_prompt_qa_json_schema(const struct rp_qa_shape *shape, int n_pairs,
                                     struct rp_buf *out);

#endif /* RANPIPE_PROMPT_H */
