/*
 * fuzz_zip.c - libFuzzer target for the ZIP walker (rp__walk_zip): the
 * input is an archive; its members go through the parsers they name.
 * Small limits keep each run fast: 1 MiB per member, 4 MiB per archive.
 * The sink touches every document's strings (for ASan) and frees it, and
 * checks that failures carry a message naming their path.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest_int.h"
#include "ranpipe/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum rp_err fuzz_sink(struct rp_doc *doc, const struct rp_error *err, const char *path,
                             void *ud)
{
    size_t *n = ud;
    (*n)++;
    if (!doc) {
        if (!err || err->code == RP_OK || !strstr(err->msg, "cannot ingest '"))
            abort();
        return RP_OK;
    }
    volatile size_t sum = strlen(path) + strlen(doc->title);
    for (size_t i = 0; i < doc->n_blocks; i++)
        sum += strlen(doc->blocks[i].text);
    (void)sum;
    rp_doc_free(doc);
    return RP_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_log_set_level(RP_LOG_NONE);
    struct rp_ingest_params p = rp_ingest_default_params();
    p.max_file_bytes = 1u << 20;
    p.max_archive_bytes = 4u << 20;
    p.max_pages = 20;
    size_t outcomes = 0;
    rp__walk_zip("fuzz.zip", (const char *)data, size, &p, 0, fuzz_sink, &outcomes);
    return 0;
}
