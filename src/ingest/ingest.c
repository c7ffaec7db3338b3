/*
 * ingest.c - format detection, safe reading and dispatch to the parsers.
 *
 * rp_ingest_path() reads a whole file under the size cap, decides its
 * format from magic bytes and extension, and hands it to rp__ingest_data(),
 * which walks archives (their members come back through the same function,
 * one level deeper) and parses everything else with rp_ingest_buffer().
 * rp_ingest_buffer() checks text formats for NUL bytes and invalid UTF-8,
 * runs the format's parser, then adds what every document gets whatever
 * its format: parameter records from parameter tables, and RAN entities.
 */
#include "ranpipe/ingest.h"
#include "ranpipe/entities.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ingest_int.h"

struct rp_ingest_params rp_ingest_default_params(void)
{
    struct rp_ingest_params p = {
        .max_file_bytes = 64u << 20,
        .max_depth = 64,
        .max_archive_members = 10000,
        .max_archive_bytes = (size_t)1 << 30,
        .max_compression_ratio = 200.0,
        .max_archive_depth = 2,
        .max_pages = 5000,
    };
    return p;
}

/* The parsers. `text`: the format must be UTF-8 without NUL bytes, and the
 * parser gets a NUL-terminated buffer. */
static const struct {
    enum rp_doc_format format;
    rp__parse_fn parse;
    bool text;
} parsers[] = {
    {RP_FORMAT_MARKDOWN, rp__parse_markdown, true},
    {RP_FORMAT_TEXT, rp__parse_text, true},
    {RP_FORMAT_HTML, rp__parse_html, false},
    {RP_FORMAT_CSV, rp__parse_csv, true},
    {RP_FORMAT_DOCX, rp__parse_docx, false},
    {RP_FORMAT_PDF, rp__parse_pdf, false},
};

static const struct {
    const char *ext;
    enum rp_doc_format fmt;
} extensions[] = {
    {".md", RP_FORMAT_MARKDOWN}, {".markdown", RP_FORMAT_MARKDOWN}, {".txt", RP_FORMAT_TEXT},
    {".text", RP_FORMAT_TEXT},   {".html", RP_FORMAT_HTML},         {".htm", RP_FORMAT_HTML},
    {".xhtml", RP_FORMAT_HTML},  {".csv", RP_FORMAT_CSV},           {".tsv", RP_FORMAT_CSV},
    {".docx", RP_FORMAT_DOCX},   {".pdf", RP_FORMAT_PDF},           {".zip", RP_FORMAT_ZIP},
};

enum rp_doc_format rp_ingest_format_for_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (!dot)
        return RP_FORMAT_UNKNOWN;
    for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++)
        if (strcasecmp(dot, extensions[i].ext) == 0)
            return extensions[i].fmt;
    return RP_FORMAT_UNKNOWN;
}

static bool has_bytes(const char *data, size_t len, const char *needle, size_t n)
{
    if (len < n)
        return false;
    for (size_t i = 0; i + n <= len; i++)
        if (data[i] == needle[0] && memcmp(data + i, needle, n) == 0)
            return true;
    return false;
}

enum rp_doc_format rp_ingest_sniff(const char *path, const char *data, size_t len)
{
    enum rp_doc_format by_name = rp_ingest_format_for_path(path);
    /* PDF: the header may follow a little junk (the spec allows 1 KiB). */
    if (has_bytes(data, len < 1024 ? len : 1024, "%PDF-", 5))
        return RP_FORMAT_PDF;
    if (len >= 4 && (memcmp(data, "PK\x03\x04", 4) == 0 || memcmp(data, "PK\x05\x06", 4) == 0)) {
        if (by_name == RP_FORMAT_DOCX || by_name == RP_FORMAT_ZIP)
            return by_name;
        /* A Word document keeps its body in word/document.xml; the name
         * is stored uncompressed in the local and central headers. */
        return has_bytes(data, len, "word/document.xml", 17) ? RP_FORMAT_DOCX : RP_FORMAT_ZIP;
    }
    if (by_name == RP_FORMAT_PDF || by_name == RP_FORMAT_DOCX || by_name == RP_FORMAT_ZIP)
        return RP_FORMAT_UNKNOWN; /* a binary format without its signature */
    return by_name;
}

/* Microsoft's compound file: legacy .doc/.xls, or an encrypted .docx. */
static bool is_ole(const char *data, size_t len)
{
    return len >= 8 && memcmp(data, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) == 0;
}

/* The reason a file whose format could not be recognised is refused. */
static enum rp_err unknown_format(const char *path, const char *data, size_t len,
                                  struct rp_error *err);

static const char *format_list(void)
{
    return ".md, .markdown, .txt, .text, .html, .htm, .xhtml, .csv, .tsv, .docx, .pdf, .zip";
}

static enum rp_err unknown_format(const char *path, const char *data, size_t len,
                                  struct rp_error *err)
{
    enum rp_doc_format named = rp_ingest_format_for_path(path);
    if (is_ole(data, len))
        return rp_error_set(err, RP_ERR_UNSUPPORTED,
                            "cannot ingest '%s': a password-protected or legacy Microsoft Office "
                            "(OLE) file; save it as .docx without a password",
                            path);
    if (named != RP_FORMAT_UNKNOWN)
        return rp_error_set(err, RP_ERR_PARSE,
                            "cannot ingest '%s': not a %s file (its signature is missing)", path,
                            rp_doc_format_name(named));
    return rp_error_set(err, RP_ERR_UNSUPPORTED,
                        "cannot ingest '%s': unsupported file type (ranpipe reads %s)", path,
                        format_list());
}

enum rp_err rp_ingest_buffer(const char *path, enum rp_doc_format format, const char *data,
                             size_t len, const struct rp_ingest_params *params,
                             struct rp_doc **out, struct rp_error *err)
{
    struct rp_ingest_params defaults = rp_ingest_default_params();
    if (!params)
        params = &defaults;
    *out = NULL;
    if (len > params->max_file_bytes)
        return rp_error_set(err, RP_ERR_TOOBIG,
                            "cannot ingest '%s': %zu bytes is over the %zu byte limit", path, len,
                            params->max_file_bytes);
    size_t k = 0, n_parsers = sizeof(parsers) / sizeof(parsers[0]);
    while (k < n_parsers && parsers[k].format != format)
        k++;
    if (format == RP_FORMAT_ZIP)
        return rp_error_set(err, RP_ERR_INVAL, "cannot ingest '%s': an archive holds several documents",
                            path);
    if (k == n_parsers)
        return rp_error_set(err, RP_ERR_UNSUPPORTED, "cannot ingest '%s': no %s parser in this version",
                            path, rp_doc_format_name(format));
    if (parsers[k].text) {
        const char *nul = memchr(data, '\0', len);
        if (nul)
            return rp_error_set(err, RP_ERR_PARSE,
                                "cannot ingest '%s': binary content (NUL byte at offset %zu)", path,
                                (size_t)(nul - data));
        size_t bad;
        if (!rp_utf8_valid(data, len, &bad))
            return rp_error_set(err, RP_ERR_PARSE, "cannot ingest '%s': invalid UTF-8 at byte %zu",
                                path, bad);
        /* Skip a UTF-8 byte-order mark. */
        if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
            data += 3;
            len -= 3;
        }
    }

    struct rp_doc *doc = rp_doc_new(path, format);
    if (!doc)
        return rp_error_set(err, RP_ERR_NOMEM, "cannot ingest '%s': out of memory", path);
    rp_error_clear(err);
    enum rp_err rc = parsers[k].parse(doc, data, len, params, err);
    /* Derived data every format gets. */
    if (!rc)
        rc = rp__params_from_tables(doc, err);
    if (!rc)
        rc = rp_entities_scan(doc, err);
    if (rc) {
        if (err && err->code == RP_OK)
            rp_error_set(err, rc, "%s", rp_strerror(rc));
        rp_error_prefix(err, "cannot ingest '%s': ", path);
        rp_doc_free(doc);
        return rc;
    }
    *out = doc;
    return RP_OK;
}

/* Reads a whole regular file under the size cap. */
static enum rp_err read_input(const char *path, const struct rp_ingest_params *params,
                              struct rp_buf *b, struct rp_error *err)
{
    rp_buf_init(b, params->max_file_bytes);
    struct stat st;
    if (stat(path, &st) != 0)
        return rp_error_set(err, errno == ENOENT ? RP_ERR_NOENT : RP_ERR_IO, "cannot open '%s': %s",
                            path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return rp_error_set(err, RP_ERR_INVAL, "cannot ingest '%s': not a regular file", path);
    if ((unsigned long long)st.st_size > params->max_file_bytes)
        return rp_error_set(err, RP_ERR_TOOBIG,
                            "cannot ingest '%s': %llu bytes is over the %zu byte limit", path,
                            (unsigned long long)st.st_size, params->max_file_bytes);
    return rp_buf_read_file(b, path, err);
}

enum rp_err rp__ingest_data(const char *path, enum rp_doc_format format, const char *data,
                            size_t len, const struct rp_ingest_params *params, int depth,
                            rp_ingest_sink sink, void *ud)
{
    struct rp_error err;
    rp_error_clear(&err);
    if (format == RP_FORMAT_ZIP) {
        return rp__walk_zip(path, data, len, params, depth, sink, ud);
    }
    (void)depth;
    if (format == RP_FORMAT_UNKNOWN) {
        rp_error_set(&err, RP_ERR_UNSUPPORTED,
                     "cannot ingest '%s': unsupported file type (ranpipe reads %s)", path,
                     format_list());
        return sink(NULL, &err, path, ud);
    }
    struct rp_doc *doc = NULL;
    if (rp_ingest_buffer(path, format, data, len, params, &doc, &err))
        return sink(NULL, &err, path, ud);
    return sink(doc, NULL, path, ud);
}

enum rp_err rp_ingest_path(const char *path, const struct rp_ingest_params *params,
                           rp_ingest_sink sink, void *ud)
{
    struct rp_ingest_params defaults = rp_ingest_default_params();
    if (!params)
        params = &defaults;
    struct rp_error err;
    rp_error_clear(&err);
    /* Refuse unknown extensions before reading: directories of inputs
     * often hold images and other files that are no documents. */
    if (rp_ingest_format_for_path(path) == RP_FORMAT_UNKNOWN) {
        rp_error_set(&err, RP_ERR_UNSUPPORTED,
                     "cannot ingest '%s': unsupported file type (ranpipe reads %s)", path,
                     format_list());
        return sink(NULL, &err, path, ud);
    }
    struct rp_buf b;
    enum rp_err rc;
    if (read_input(path, params, &b, &err)) {
        rc = sink(NULL, &err, path, ud);
    } else {
        if (params->on_read)
            params->on_read(path, b.data, b.len, params->on_read_ud);
        enum rp_doc_format fmt = rp_ingest_sniff(path, b.data, b.len);
        if (fmt == RP_FORMAT_UNKNOWN) {
            unknown_format(path, b.data, b.len, &err);
            rc = sink(NULL, &err, path, ud);
        } else {
            rc = rp__ingest_data(path, fmt, b.data, b.len, params, 0, sink, ud);
        }
    }
    rp_buf_release(&b);
    return rc;
}

enum rp_err rp_ingest_file(const char *path, const struct rp_ingest_params *params,
                           struct rp_doc **out, struct rp_error *err)
{
    struct rp_ingest_params defaults = rp_ingest_default_params();
    if (!params)
        params = &defaults;
    *out = NULL;
    struct rp_buf b;
    enum rp_err rc = read_input(path, params, &b, err);
    if (!rc) {
        enum rp_doc_format fmt = rp_ingest_sniff(path, b.data, b.len);
        if (fmt == RP_FORMAT_ZIP)
            rc = rp_error_set(err, RP_ERR_INVAL,
                              "cannot ingest '%s': an archive holds several documents", path);
        else if (fmt == RP_FORMAT_UNKNOWN)
            rc = unknown_format(path, b.data, b.len, err);
        else
            rc = rp_ingest_buffer(path, fmt, b.data, b.len, params, out, err);
    }
    rp_buf_release(&b);
    return rc;
}
