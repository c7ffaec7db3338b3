/*
 * fuzz_html.c - libFuzzer target for the HTML parser (libxml2 tree walk)
 * and the chunker.
 *
 * Besides what rp_fuzz_one() checks (no crash, leak or sanitizer report),
 * every string of a parsed document must be valid UTF-8, whatever bytes
 * and charset declarations came in: the documents end up in JSON.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "ranpipe/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_utf8(const char *s)
{
    if (s && !rp_utf8_valid(s, strlen(s), NULL))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_fuzz_one("fuzz.html", RP_FORMAT_HTML, data, size);

    struct rp_ingest_params p = rp_ingest_default_params();
    p.max_file_bytes = 1u << 20;
    struct rp_doc *doc = NULL;
    struct rp_error err;
    if (rp_ingest_buffer("fuzz.html", RP_FORMAT_HTML, (const char *)data, size, &p, &doc, &err) !=
        RP_OK)
        return 0;
    check_utf8(doc->title);
    for (size_t i = 0; i < doc->n_meta; i++) {
        check_utf8(doc->meta[i].key);
        check_utf8(doc->meta[i].value);
    }
    for (size_t i = 0; i < doc->n_sections; i++)
        check_utf8(doc->sections[i].title);
    for (size_t i = 0; i < doc->n_blocks; i++) {
        const struct rp_block *b = &doc->blocks[i];
        check_utf8(b->text);
        if (b->table)
            for (size_t k = 0; k < b->table->n_rows * b->table->n_cols; k++)
                check_utf8(b->table->cells[k]);
    }
    rp_doc_free(doc);
    return 0;
}
