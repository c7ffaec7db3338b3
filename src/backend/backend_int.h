/*
 * backend_int.h - what the generation backends share internally, and what
 * other modules may borrow from them: finding the JSON value in what a
 * model wrote.
 *
 * Models wrap their JSON: a <think>...</think> block first (or only its
 * closing tag, when the chat template opened it), a ```json fence, a line
 * of prose before or after. rp__json_extract() finds the value without
 * copying: it reports where it lies in the text; rp__think_strip() copies
 * the text a reader should see, for replies that are not JSON.
 *
 * Thread contract: reentrant.
 */
#ifndef RANPIPE_BACKEND_INT_H
#define RANPIPE_BACKEND_INT_H

#include <stddef.h>

#include "ranpipe/buf.h"
#include "ranpipe/error.h"

/* Finds the first complete JSON object or array in text[0..len) (borrowed)
 * and sets *off and *n to its bytes, which are left exactly as the model
 * wrote them. Skipped: <think>...</think> blocks (an unclosed one runs to
 * the end; a lone "</think>" ends one that the prompt opened). The inside
 * of the first ``` fence is searched before the rest of the text, so a
 * bracketed remark in the prose ("see [1]") does not win over the fenced
 * value. A candidate must parse as JSON (jansson) to count.
 *
 * Returns RP_OK, or RP_ERR_PARSE with a reason in err: no value at all, or
 * a value that is cut off (the text ends inside it). */
enum rp_err rp__json_extract(const char *text, size_t len, size_t *off, size_t *n,
                             struct rp_error *err);

/* Appends to out (borrowed, caller-owned) what text[0..len) shows outside
 * <think> blocks, by the same rules as rp__json_extract(); the visible
 * parts are joined with "\n". For readers of replies that are not JSON.
 * Returns RP_OK, or out's error (RP_ERR_NOMEM, RP_ERR_TOOBIG). */
enum rp_err rp__think_strip(const char *text, size_t len, struct rp_buf *out);

#endif /* RANPIPE_BACKEND_INT_H */
