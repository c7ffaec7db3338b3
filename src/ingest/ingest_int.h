/*
 * ingest_int.h - what the ingest module's parsers share.
 *
 * Each parser fills an already created document from a borrowed,
 * NUL-terminated, UTF-8-validated buffer and reports failures in err
 * without the file name (rp_ingest_buffer() adds it).
 */
#ifndef RANPIPE_INGEST_INT_H
#define RANPIPE_INGEST_INT_H

#include "ranpipe/doc.h"
#include "ranpipe/ingest.h"

enum rp_err rp__parse_markdown(struct rp_doc *doc, const char *data, size_t len,
                               const struct rp_ingest_params *params, struct rp_error *err);
enum rp_err rp__parse_text(struct rp_doc *doc, const char *data, size_t len,
                           const struct rp_ingest_params *params, struct rp_error *err);

/* Parses YAML front-matter text (a mapping) into doc metadata. Nested
 * sequences of scalars become comma-separated values; nested mappings
 * become dotted keys. */
enum rp_err rp__parse_front_matter(struct rp_doc *doc, const char *yaml, size_t len,
                                   const struct rp_ingest_params *params, struct rp_error *err);

#endif /* RANPIPE_INGEST_INT_H */
