/*
 * ingest_int.h - what the ingest module's parsers share.
 *
 * Each document parser fills an already created document from a borrowed
 * buffer and reports failures in err without the file name
 * (rp_ingest_buffer() adds it). Text formats (Markdown, text, CSV) get a
 * NUL-terminated, UTF-8-validated buffer; binary formats get the raw bytes.
 */
#ifndef RANPIPE_INGEST_INT_H
#define RANPIPE_INGEST_INT_H

#include "ranpipe/doc.h"
#include "ranpipe/ingest.h"

typedef enum rp_err (*rp__parse_fn)(struct rp_doc *doc, const char *data, size_t len,
                                    const struct rp_ingest_params *params, struct rp_error *err);

enum rp_err rp__parse_markdown(struct rp_doc *doc, const char *data, size_t len,
                               const struct rp_ingest_params *params, struct rp_error *err);
enum rp_err rp__parse_text(struct rp_doc *doc, const char *data, size_t len,
                           const struct rp_ingest_params *params, struct rp_error *err);

/* Parses YAML front-matter text (a mapping) into doc metadata. Nested
 * sequences of scalars become comma-separated values; nested mappings
 * become dotted keys. */
enum rp_err rp__parse_front_matter(struct rp_doc *doc, const char *yaml, size_t len,
                                   const struct rp_ingest_params *params, struct rp_error *err);

/* Derives parameter records (doc->params) from every table of doc whose
 * header row names a parameter column and at least one of MO class, type,
 * range, default, unit or description (header names matched loosely:
 * "Attribute", "Parameter Name", "Default Value", "MO", ...). */
enum rp_err rp__params_from_tables(struct rp_doc *doc, struct rp_error *err);

/* Hands one file's bytes (borrowed), already known to be of format, to
 * the sink as documents: archives are walked (depth = archive nesting so
 * far), everything else is parsed with rp_ingest_buffer(). */
enum rp_err rp__ingest_data(const char *path, enum rp_doc_format format, const char *data,
                            size_t len, const struct rp_ingest_params *params, int depth,
                            rp_ingest_sink sink, void *ud);

#endif /* RANPIPE_INGEST_INT_H */
