/*
 * fuzz_pdf.c - libFuzzer target for the PDF parser (src/ingest/pdf.c) and
 * the chunker.
 *
 * It does what rp_fuzz_one() in fuzz_common.h does, with one difference:
 * the page limit is lowered to FUZZ_MAX_PAGES, because a small mutated
 * file can declare thousands of pages and poppler would spend the whole
 * time budget on them. The lower limit also exercises the truncation
 * path. poppler itself is not instrumented, so coverage only counts our
 * side: line building, header/footer removal, tables, headings, blocks.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

#define FUZZ_MAX_PAGES 20

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_log_set_level(RP_LOG_NONE);
    struct rp_ingest_params p = rp_ingest_default_params();
    p.max_file_bytes = 1u << 20;
    p.max_pages = FUZZ_MAX_PAGES;
    struct rp_doc *doc = NULL;
    struct rp_error err;
    if (rp_ingest_buffer("fuzz.pdf", RP_FORMAT_PDF, (const char *)data, size, &p, &doc, &err) !=
        RP_OK)
        return 0;
    volatile size_t sum = rp_fuzz_touch(doc->title);
    for (size_t i = 0; i < doc->n_meta; i++)
        sum += rp_fuzz_touch(doc->meta[i].key) + rp_fuzz_touch(doc->meta[i].value);
    for (size_t i = 0; i < doc->n_sections; i++)
        sum += rp_fuzz_touch(doc->sections[i].title);
    for (size_t i = 0; i < doc->n_blocks; i++) {
        const struct rp_block *b = &doc->blocks[i];
        sum += rp_fuzz_touch(b->text) + (size_t)b->page;
        if (b->table)
            for (size_t k = 0; k < b->table->n_rows * b->table->n_cols; k++)
                sum += rp_fuzz_touch(b->table->cells[k]);
    }
    for (size_t i = 0; i < doc->n_entities; i++)
        sum += rp_fuzz_touch(doc->entities[i].text) + rp_fuzz_touch(doc->entities[i].norm);
    struct rp_chunk_list chunks;
    rp_chunk_list_init(&chunks);
    struct rp_chunk_params cp = rp_chunk_default_params();
    cp.max_tokens = 64;
    cp.min_tokens = 16;
    cp.overlap_tokens = 16;
    if (rp_chunk_doc(doc, &cp, NULL, NULL, &chunks, &err) == RP_OK)
        for (size_t i = 0; i < chunks.n; i++)
            sum += rp_fuzz_touch(chunks.items[i].text) + rp_fuzz_touch(chunks.items[i].heading_path);
    (void)sum;
    rp_chunk_list_release(&chunks);
    rp_doc_free(doc);
    return 0;
}
