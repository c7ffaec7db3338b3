/*
 * fuzz_quality.c - libFuzzer target for the quality assessor: any bytes as
 * context, question and answer (split at the first two NUL bytes) are
 * scored without crashing, leaking or reading out of bounds, and the
 * result keeps its contract: a score in [0,1], sub-scores in [0,1], an
 * accepted pair has no reason, a rejected one at least one. The pair then
 * goes through the whole assessor twice (near-duplicate index, claims), so
 * the second pass of an accepted pair must be a near-duplicate of the first.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/assess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *part(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *z = memchr(*p, 0, (size_t)(end - *p));
    size_t n = z ? (size_t)(z - *p) : (size_t)(end - *p);
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, *p, n);
    s[n] = '\0';
    *p = z ? z + 1 : end;
    return s;
}

static void check(const struct rp_quality *q)
{
    double subs[] = {q->score, q->structure, q->grounding, q->support, q->answerable, q->consistency};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!(subs[i] >= 0 && subs[i] <= 1))
            abort();
    if (q->accept != (q->n_reasons == 0))
        abort();
    for (size_t i = 0; i < q->n_reasons; i++)
        if (!q->reasons[i] || !q->reasons[i][0])
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    char *context = part(&p, end), *question = part(&p, end), *answer = part(&p, end);
    struct rp_assess_params ap = rp_assess_default_params();
    ap.expected_records = 16;
    struct rp_error err;
    rp_error_clear(&err);
    struct rp_assessor *as = rp_assessor_new(&ap, &err);
    if (!as)
        abort();
    struct rp_quality_ctx *ctx = rp_quality_ctx_new(context, strlen(context));
    if (!ctx)
        abort();
    struct rp_assess_item it = {.ctx = ctx, .context = context, .question = question, .answer = answer, .id = "a"};
    struct rp_quality q1, q2;
    if (rp_assessor_check(as, &it, &q1, &err) != RP_ERR_OK)
        abort();
    check(&q1);
    it.id = "b";
    if (rp_assessor_check(as, &it, &q2, &err) != RP_ERR_OK)
        abort();
    check(&q2);
    /* A pair the scorer accepted once is accepted by the scorer again; the
     * assessor then rejects it as a near-duplicate of the first, unless the
     * text has no words at all to compare. */
    if (q1.accept && q2.accept && strlen(question) > 0)
        abort();
    (void)rp_quality_language(answer, strlen(answer));
    rp_quality_ctx_free(ctx);
    rp_assessor_free(as);
    free(context);
    free(question);
    free(answer);
    return 0;
}
