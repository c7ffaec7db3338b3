/*
 * fuzz_common.h - what every parser fuzz target does with one input: parse
 * it as the given format, and when that works, chunk it and walk every
 * string of the document model (so ASan sees any bad pointer in it).
 * Failures are fine; crashes, leaks and sanitizer reports are not.
 */
#ifndef RANPIPE_FUZZ_COMMON_H
#define RANPIPE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ranpipe/chunk.h"
#include "ranpipe/ingest.h"
#include "ranpipe/log.h"

static inline size_t rp_fuzz_touch(const char *s)
{
    return s ? strlen(s) : 0;
}

static inline void rp_fuzz_one(const char *path, enum rp_doc_format fmt, const uint8_t *data,
                               size_t size)
{
    rp_log_set_level(RP_LOG_NONE);
    struct rp_ingest_params p = rp_ingest_default_params();
    p.max_file_bytes = 1u << 20;
    struct rp_doc *doc = NULL;
    struct rp_error err;
    if (rp_ingest_buffer(path, fmt, (const char *)data, size, &p, &doc, &err) != RP_OK)
        return;
    volatile size_t sum = rp_fuzz_touch(doc->title);
    for (size_t i = 0; i < doc->n_meta; i++)
        sum += rp_fuzz_touch(doc->meta[i].key) + rp_fuzz_touch(doc->meta[i].value);
    for (size_t i = 0; i < doc->n_sections; i++)
        sum += rp_fuzz_touch(doc->sections[i].title);
    for (size_t i = 0; i < doc->n_blocks; i++) {
        const struct rp_block *b = &doc->blocks[i];
        sum += rp_fuzz_touch(b->text);
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
}

#endif /* RANPIPE_FUZZ_COMMON_H */
