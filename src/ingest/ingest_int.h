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
/* HTML (raw bytes, any charset libxml2 knows; html.c): title, metadata,
 * sections from h1..h6, blocks and tables; page chrome dropped. */
enum rp_err rp__parse_html(struct rp_doc *doc, const char *data, size_t len,
                           const struct rp_ingest_params *params, struct rp_error *err);
/* Walks the ZIP archive data[0..len) (borrowed; zip.c) named path, at
 * archive nesting depth: every document member goes to sink as
 * "<path>!/<name>" (through rp__ingest_data), every failing member or
 * limit as a failure. Returns the first non-OK value the sink returns,
 * else RP_OK. */
enum rp_err rp__walk_zip(const char *path, const char *data, size_t len,
                         const struct rp_ingest_params *params, int depth, rp_ingest_sink sink,
                         void *ud);
/* DOCX (raw ZIP bytes): body, styles, numbering and document properties. */
enum rp_err rp__parse_docx(struct rp_doc *doc, const char *data, size_t len,
                           const struct rp_ingest_params *params, struct rp_error *err);
/* CSV / TSV: the whole file as one table block, first record the header. */
enum rp_err rp__parse_csv(struct rp_doc *doc, const char *data, size_t len,
                          const struct rp_ingest_params *params, struct rp_error *err);
/* PDF through poppler-glib (pdf.c): data is the raw file, borrowed for the
 * call; reads at most params->max_pages pages. */
enum rp_err rp__parse_pdf(struct rp_doc *doc, const char *data, size_t len,
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
