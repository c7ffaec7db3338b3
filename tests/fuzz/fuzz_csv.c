/*
 * fuzz_csv.c - libFuzzer target for the CSV parser, the parameter records
 * derived from its table, and the chunker.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_fuzz_one("fuzz.csv", RP_FORMAT_CSV, data, size);
    return 0;
}
