/*
 * fuzz_config.c - libFuzzer target for the YAML run configuration: any
 * input is either loaded (and released) or refused with a message naming
 * a position; nothing crashes, leaks or reads out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rp_config c;
    struct rp_error err;
    memset(&c, 0, sizeof(c));
    rp_error_clear(&err);
    if (rp_config_parse("fuzz.yaml", (const char *)data, size, &c, &err) == RP_OK)
        rp_config_release(&c);
    else if (strncmp(err.msg, "fuzz.yaml", 9) != 0)
        abort(); /* every error names the file */
    return 0;
}
