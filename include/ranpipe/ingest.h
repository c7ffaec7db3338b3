/*
 * ingest.h - turn input files into struct rp_doc documents.
 *
 * Every input is treated as hostile: its size is capped before it is read,
 * the format is decided from the content (magic bytes) and the extension,
 * text formats must be valid UTF-8 without NUL bytes, archives are walked
 * with limits on members, sizes, compression ratio and nesting, and parser
 * depth is bounded. A failure names the file and the reason; the caller
 * records it and goes on with the next file.
 *
 * A file can hold several documents (a ZIP archive of HTML pages), so the
 * main entry point hands each document, or each failure, to a sink.
 *
 * Thread contract: the functions are reentrant.
 */
#ifndef RANPIPE_INGEST_H
#define RANPIPE_INGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "ranpipe/doc.h"
#include "ranpipe/error.h"
#include "ranpipe/utf8.h"

struct rp_ingest_params {
    size_t max_file_bytes;       /* a file or archive member larger than this is refused (64 MiB) */
    int max_depth;               /* nesting depth limit inside a document (64) */
    size_t max_archive_members;  /* entries read from one archive (10000) */
    size_t max_archive_bytes;    /* total uncompressed bytes read from one archive (1 GiB) */
    double max_compression_ratio;/* uncompressed / compressed size of a member (200) */
    int max_archive_depth;       /* archives inside archives (2) */
    int max_pages;               /* pages read from one PDF (5000) */
    /* Called with a file's bytes once rp_ingest_path() has read it, before
     * parsing (an archive: once, for the archive): lets a caller hash what
     * was read instead of reading it again. NULL: none. */
    void (*on_read)(const char *path, const char *data, size_t len, void *ud);
    void *on_read_ud;
};

struct rp_ingest_params rp_ingest_default_params(void);

/* The format for a file name's extension (.md .markdown .txt .text .html
 * .htm .xhtml .csv .tsv .docx .pdf .zip), or RP_FORMAT_UNKNOWN. */
enum rp_doc_format rp_ingest_format_for_path(const char *path);

/* The format of data[0..len) judged by its content first (PDF and ZIP/DOCX
 * signatures), then by path's extension. A ".txt" that is really a PDF is
 * read as a PDF; a ".pdf" without the PDF signature is RP_FORMAT_UNKNOWN. */
enum rp_doc_format rp_ingest_sniff(const char *path, const char *data, size_t len);

/* Receives each outcome of rp_ingest_path(): a parsed document (the sink
 * takes it over and frees it with rp_doc_free), or doc == NULL and err
 * saying why path could not be read. path is the document's own path:
 * archive members are named "archive.zip!/dir/page.html". Returning
 * anything but RP_OK stops the walk and is returned by rp_ingest_path(). */
typedef enum rp_err (*rp_ingest_sink)(struct rp_doc *doc, const struct rp_error *err,
                                      const char *path, void *ud);

/* Reads path and hands every document in it, or the reason it failed, to
 * sink. Returns RP_OK unless the sink stopped the walk. */
enum rp_err rp_ingest_path(const char *path, const struct rp_ingest_params *params,
                           rp_ingest_sink sink, void *ud);

/* Reads and parses a file that holds one document. On success *out is a
 * new document the caller frees with rp_doc_free(); on failure *out is NULL
 * and err names the file. Archives are refused (use rp_ingest_path). */
enum rp_err rp_ingest_file(const char *path, const struct rp_ingest_params *params,
                           struct rp_doc **out, struct rp_error *err);

/* Parses data[0..len) (borrowed) as format; path is used for messages and
 * the document's path. Same ownership as rp_ingest_file(). */
enum rp_err rp_ingest_buffer(const char *path, enum rp_doc_format format, const char *data,
                             size_t len, const struct rp_ingest_params *params,
                             struct rp_doc **out, struct rp_error *err);

#endif /* RANPIPE_INGEST_H */
