/*
 * ingest.c - format detection, safe reading and dispatch to the parsers.
 */
#include "ranpipe/ingest.h"

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
    };
    return p;
}

enum rp_doc_format rp_ingest_format_for_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (!dot)
        return RP_FORMAT_UNKNOWN;
    static const struct {
        const char *ext;
        enum rp_doc_format fmt;
    } map[] = {
        {".md", RP_FORMAT_MARKDOWN},
        {".markdown", RP_FORMAT_MARKDOWN},
        {".txt", RP_FORMAT_TEXT},
        {".text", RP_FORMAT_TEXT},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(dot, map[i].ext) == 0)
            return map[i].fmt;
    return RP_FORMAT_UNKNOWN;
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
        return rp_error_set(err, RP_ERR_TOOBIG, "cannot ingest '%s': %zu bytes is over the %zu byte limit",
                            path, len, params->max_file_bytes);
    const char *nul = memchr(data, '\0', len);
    if (nul)
        return rp_error_set(err, RP_ERR_PARSE,
                            "cannot ingest '%s': binary content (NUL byte at offset %zu)", path,
                            (size_t)(nul - data));
    size_t bad;
    if (!rp_utf8_valid(data, len, &bad))
        return rp_error_set(err, RP_ERR_PARSE, "cannot ingest '%s': invalid UTF-8 at byte %zu", path,
                            bad);
    /* Skip a UTF-8 byte-order mark. */
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        len -= 3;
    }

    struct rp_doc *doc = rp_doc_new(path, format);
    if (!doc)
        return rp_error_set(err, RP_ERR_NOMEM, "cannot ingest '%s': out of memory", path);
    enum rp_err rc;
    switch (format) {
    case RP_FORMAT_MARKDOWN:
        rc = rp__parse_markdown(doc, data, len, params, err);
        break;
    case RP_FORMAT_TEXT:
        rc = rp__parse_text(doc, data, len, params, err);
        break;
    default:
        rc = rp_error_set(err, RP_ERR_UNSUPPORTED, "no parser for this format");
        break;
    }
    if (rc) {
        rp_error_prefix(err, "cannot ingest '%s': ", path);
        rp_doc_free(doc);
        return rc;
    }
    *out = doc;
    return RP_OK;
}

enum rp_err rp_ingest_file(const char *path, const struct rp_ingest_params *params,
                           struct rp_doc **out, struct rp_error *err)
{
    struct rp_ingest_params defaults = rp_ingest_default_params();
    if (!params)
        params = &defaults;
    *out = NULL;
    enum rp_doc_format fmt = rp_ingest_format_for_path(path);
    if (fmt == RP_FORMAT_UNKNOWN)
        return rp_error_set(err, RP_ERR_UNSUPPORTED,
                            "cannot ingest '%s': unsupported file type (this version reads .md, "
                            ".markdown, .txt and .text)",
                            path);
    struct stat st;
    if (stat(path, &st) != 0)
        return rp_error_set(err, errno == ENOENT ? RP_ERR_NOENT : RP_ERR_IO,
                            "cannot open '%s': %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return rp_error_set(err, RP_ERR_INVAL, "cannot ingest '%s': not a regular file", path);
    if ((unsigned long long)st.st_size > params->max_file_bytes)
        return rp_error_set(err, RP_ERR_TOOBIG,
                            "cannot ingest '%s': %llu bytes is over the %zu byte limit", path,
                            (unsigned long long)st.st_size, params->max_file_bytes);
    struct rp_buf b;
    rp_buf_init(&b, params->max_file_bytes);
    enum rp_err rc = rp_buf_read_file(&b, path, err);
    if (!rc)
        rc = rp_ingest_buffer(path, fmt, b.data, b.len, params, out, err);
    rp_buf_release(&b);
    return rc;
}
