/*
 * ingest.h - turn one input file into a struct rp_doc.
 *
 * Every input is treated as hostile: its size is capped before it is read,
 * binary content and invalid UTF-8 are refused with a reason, and parser
 * depth is bounded. A failure names the file and the reason; callers log it
 * and go on with the next file.
 *
 * Thread contract: the functions are reentrant; one document per call.
 */
#ifndef RANPIPE_INGEST_H
#define RANPIPE_INGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "ranpipe/doc.h"
#include "ranpipe/error.h"
#include "ranpipe/utf8.h"

struct rp_ingest_params {
    size_t max_file_bytes; /* files larger than this are refused (default 64 MiB) */
    int max_depth;         /* nesting depth limit for structured formats (default 64) */
};

struct rp_ingest_params rp_ingest_default_params(void);

/* Returns the format ranpipe would parse path as, judged by its extension
 * (.md .markdown .txt .text), or RP_FORMAT_UNKNOWN. */
enum rp_doc_format rp_ingest_format_for_path(const char *path);

/* Reads and parses path. On success *out is a new document the caller frees
 * with rp_doc_free(); on failure *out is NULL and err names the file. */
enum rp_err rp_ingest_file(const char *path, const struct rp_ingest_params *params,
                           struct rp_doc **out, struct rp_error *err);

/* Parses data[0..len) (borrowed) as format; path is used for messages and
 * the document's path. Same ownership as rp_ingest_file(). */
enum rp_err rp_ingest_buffer(const char *path, enum rp_doc_format format, const char *data,
                             size_t len, const struct rp_ingest_params *params,
                             struct rp_doc **out, struct rp_error *err);

#endif /* RANPIPE_INGEST_H */
