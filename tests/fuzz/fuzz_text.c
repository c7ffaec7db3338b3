/*
 * fuzz_text.c - libFuzzer target for the plain-text parser and the chunker.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_fuzz_one("fuzz.txt", RP_FORMAT_TEXT, data, size);
    return 0;
}
