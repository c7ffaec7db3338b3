/*
 * fuzz_judge.c - libFuzzer target for the LLM judge's reply reader
 * (rp_judge_parse) on raw bytes. Any input may fail; besides the sanitizers
 * it checks the contract: on success every score is missing (< 0) or in
 * [0,1], the overall score is in [0,1], and the reason is one NUL-terminated
 * line without control characters; on failure every score is missing and
 * the message says why.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/judge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_score(double v)
{
    if (!(v < 0 || (v >= 0 && v <= 1)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rp_judge_scores s;
    struct rp_error err;
    rp_error_clear(&err);
    enum rp_err rc = rp_judge_parse((const char *)data, size, &s, &err);
    if (rc == RP_OK) {
        check_score(s.accuracy);
        check_score(s.relevance);
        check_score(s.clarity);
        check_score(s.usefulness);
        if (!(s.overall >= 0 && s.overall <= 1))
            abort();
        size_t n = strnlen(s.reason, sizeof(s.reason));
        if (n == sizeof(s.reason))
            abort();
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s.reason[i] < 0x20 || s.reason[i] == 0x7f)
                abort();
    } else {
        if ((rc != RP_ERR_PARSE && rc != RP_ERR_NOMEM) || !err.msg[0])
            abort();
        if (s.overall >= 0 || s.accuracy >= 0 || s.relevance >= 0 || s.clarity >= 0 ||
            s.usefulness >= 0)
            abort();
    }
    return 0;
}
