/*
 * fuzz_markdown.c - libFuzzer target for the Markdown parser (with
 * front-matter) and the chunker.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_fuzz_one("fuzz.md", RP_FORMAT_MARKDOWN, data, size);
    return 0;
}
