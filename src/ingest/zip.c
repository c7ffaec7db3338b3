/*
 * zip.c - ZIP archives (ELEX documentation packages): every member that is
 * a document becomes a document of its own, named "a.zip!/dir/page.html".
 *
 * The archive is opened with libzip from the bytes already in memory
 * (zip_source_buffer_create, borrowed). No ZIP_CHECKCONS: a damaged local
 * header then only costs the member it belongs to, and the members that
 * can be read still are. An archive whose central directory cannot be
 * found (truncated, or not a ZIP at all) fails as a whole.
 *
 * Members are visited in central-directory order. Directories and files
 * that are no document format (images, CSS, scripts: ELEX packages are
 * full of them) are skipped with a debug line. A member fails on its own,
 * and the walk goes on, when its name could escape the archive (absolute,
 * "..", backslash, drive letter; a NUL byte cannot reach us: libzip turns
 * it into a space, so "evil.md\0.png" stays a .png and is never cut
 * short), when it is encrypted, when its declared
 * size or compression ratio is over the limits, or when its data is
 * corrupt. Declared sizes are only used to refuse early: the data is read
 * into a buffer capped at max_file_bytes, and the ratio is checked again
 * against what actually came out. The ratio is not applied to members
 * under 64 KiB, which cannot hurt and where small files of repeated markup
 * can legitimately compress well.
 *
 * Limits on the whole walk - members examined and uncompressed bytes read -
 * cover the top-level archive together with the archives nested in it
 * (they share one budget, so a zip of zips cannot multiply it). Hitting
 * either stops the walk with one failure that names the limit. Nested
 * archives are walked here directly, one level deeper; other members go
 * to rp__ingest_data() and reach the sink from there.
 *
 * Thread contract: reentrant; the archive handle lives for one call.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <zip.h>

#include "ingest_int.h"
#include "ranpipe/log.h"

/* Members under this size are not held to the compression ratio. */
#define ZIP_RATIO_FLOOR ((zip_uint64_t)64 << 10)

struct zip_walk {
    const struct rp_ingest_params *params;
    rp_ingest_sink sink;
    void *ud;
    size_t members; /* entries examined, nested archives included */
    size_t bytes;   /* uncompressed bytes read, nested archives included */
    bool stopped;   /* a walk-wide limit was hit and reported */
};

/* Reports a failure of path to the sink; returns what the sink returns. */
static enum rp_err fail(struct zip_walk *zw, const char *path, enum rp_err code, const char *fmt,
                        ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static enum rp_err fail(struct zip_walk *zw, const char *path, enum rp_err code, const char *fmt,
                        ...)
{
    char msg[RP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct rp_error err;
    rp_error_set(&err, code, "cannot ingest '%s': %s", path, msg);
    return zw->sink(NULL, &err, path, zw->ud);
}

/* libzip's messages start with a capital ("Zlib error: ..."); ours are
 * lower-case. Acronyms ("CRC error") stay as they are. */
static void lower_first(char *s)
{
    if (s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'a' && s[1] <= 'z')
        s[0] = (char)(s[0] - 'A' + 'a');
}

static void copy_msg(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "unknown error");
    lower_first(dst);
}

/* Could extracting name write outside the extraction directory? */
static bool name_escapes(const char *name)
{
    if (name[0] == '/' || strchr(name, '\\'))
        return true;
    if (((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')) &&
        name[1] == ':')
        return true;
    for (const char *p = name;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return true;
        if (!slash)
            return false;
        p = slash + 1;
    }
}

static enum rp_err walk(struct zip_walk *zw, const char *path, const char *data, size_t len,
                        int depth);

/* Reads member i (already checked) into b. Returns RP_OK with the data,
 * or the failure's code with msg set; *stop when a walk-wide limit was
 * hit rather than a limit of this member. */
static enum rp_err read_member(struct zip_walk *zw, zip_t *za, zip_uint64_t i, const zip_stat_t *st,
                               struct rp_buf *b, char *msg, size_t msg_n, bool *stop)
{
    const struct rp_ingest_params *p = zw->params;
    enum rp_err rc = RP_OK;
    zip_file_t *zf = zip_fopen_index(za, i, 0);
    if (!zf) {
        zip_error_t *ze = zip_get_error(za);
        int code = zip_error_code_zip(ze);
        if (code == ZIP_ER_NOPASSWD || code == ZIP_ER_WRONGPASSWD) {
            snprintf(msg, msg_n, "encrypted member: a password is required");
            return RP_ERR_UNSUPPORTED;
        }
        copy_msg(msg, msg_n, zip_error_strerror(ze));
        return code == ZIP_ER_COMPNOTSUPP || code == ZIP_ER_ENCRNOTSUPP ? RP_ERR_UNSUPPORTED
                                                                        : RP_ERR_PARSE;
    }
    char chunk[16384];
    for (;;) {
        zip_int64_t n = zip_fread(zf, chunk, sizeof(chunk));
        if (n < 0) {
            copy_msg(msg, msg_n, zip_file_strerror(zf));
            rc = RP_ERR_PARSE;
            break;
        }
        if (n == 0)
            break;
        if (zw->bytes + (size_t)n > p->max_archive_bytes) {
            snprintf(msg, msg_n,
                     "more than %zu uncompressed bytes in the archive (the archive byte limit)",
                     p->max_archive_bytes);
            *stop = true;
            rc = RP_ERR_TOOBIG;
            break;
        }
        zw->bytes += (size_t)n;
        if (rp_buf_add(b, chunk, (size_t)n) != RP_OK) {
            if (b->len + (size_t)n > p->max_file_bytes) {
                snprintf(msg, msg_n,
                         "more than %zu bytes uncompressed (declared %llu): over the %zu byte "
                         "limit",
                         p->max_file_bytes, (unsigned long long)st->size, p->max_file_bytes);
                rc = RP_ERR_TOOBIG;
            } else {
                snprintf(msg, msg_n, "out of memory");
                rc = RP_ERR_NOMEM;
            }
            break;
        }
        /* The declared compressed size bounds what libzip reads, so this
         * is the real ratio so far, whatever the declared size says. */
        if ((zip_uint64_t)b->len > ZIP_RATIO_FLOOR &&
            (double)b->len > p->max_compression_ratio * (double)st->comp_size) {
            snprintf(msg, msg_n,
                     "compression ratio over %.0f:1 (%zu bytes out of %llu so far, declared "
                     "%llu): zip bomb?",
                     p->max_compression_ratio, b->len, (unsigned long long)st->comp_size,
                     (unsigned long long)st->size);
            rc = RP_ERR_TOOBIG;
            break;
        }
    }
    zip_fclose(zf);
    return rc;
}

/* Handles entry i of the archive at path. */
static enum rp_err walk_member(struct zip_walk *zw, const char *path, zip_t *za, zip_uint64_t i,
                               int depth)
{
    const struct rp_ingest_params *p = zw->params;
    enum rp_err rc = RP_OK;
    char msg[RP_ERROR_MSG_MAX];
    struct rp_buf member_path, b;
    rp_buf_init(&member_path, RP_BUF_NO_CAP);
    rp_buf_init(&b, p->max_file_bytes);

    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME) || !st.name) {
        copy_msg(msg, sizeof(msg), zip_strerror(za));
        rc = fail(zw, path, RP_ERR_PARSE, "entry %llu: %s", (unsigned long long)i, msg);
        goto out;
    }
    const char *name = st.name;
    size_t name_len = strlen(name);
    if (name_len > 0 && name[name_len - 1] == '/')
        goto out; /* a directory */
    if (rp_buf_addf(&member_path, "%s!/%s", path, name)) {
        rc = fail(zw, path, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    const char *mpath = member_path.data;
    if (name_len == 0) {
        rc = fail(zw, mpath, RP_ERR_PARSE, "empty member name");
        goto out;
    }
    if (name_escapes(name)) {
        rc = fail(zw, mpath, RP_ERR_INVAL, "path escapes the archive");
        goto out;
    }
    if (rp_ingest_format_for_path(name) == RP_FORMAT_UNKNOWN) {
        rp_debug("skipping '%s': not a document format", mpath);
        goto out;
    }
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
        rc = fail(zw, mpath, RP_ERR_UNSUPPORTED, "encrypted member: a password is required");
        goto out;
    }
    if ((st.valid & ZIP_STAT_SIZE) && st.size > p->max_file_bytes) {
        rc = fail(zw, mpath, RP_ERR_TOOBIG, "%llu bytes uncompressed is over the %zu byte limit",
                  (unsigned long long)st.size, p->max_file_bytes);
        goto out;
    }
    if ((st.valid & ZIP_STAT_SIZE) && (st.valid & ZIP_STAT_COMP_SIZE) &&
        st.size > ZIP_RATIO_FLOOR &&
        (double)st.size > p->max_compression_ratio * (double)st.comp_size) {
        rc = fail(zw, mpath, RP_ERR_TOOBIG,
                  "compression ratio %.0f:1 is over the %.0f:1 limit (%llu bytes from %llu): "
                  "zip bomb?",
                  st.comp_size ? (double)st.size / (double)st.comp_size : (double)st.size,
                  p->max_compression_ratio, (unsigned long long)st.size,
                  (unsigned long long)st.comp_size);
        goto out;
    }
    if ((st.valid & ZIP_STAT_SIZE) && zw->bytes + st.size > p->max_archive_bytes) {
        zw->stopped = true;
        rc = fail(zw, path, RP_ERR_TOOBIG,
                  "more than %zu uncompressed bytes in the archive (the archive byte limit); "
                  "stopped at '%s'",
                  p->max_archive_bytes, name);
        goto out;
    }

    bool stop = false;
    enum rp_err code = read_member(zw, za, i, &st, &b, msg, sizeof(msg), &stop);
    if (code != RP_OK) {
        if (stop) {
            zw->stopped = true;
            rc = fail(zw, path, code, "%s; stopped at '%s'", msg, name);
        } else {
            rc = fail(zw, mpath, code, "%s", msg);
        }
        goto out;
    }

    enum rp_doc_format fmt = rp_ingest_sniff(name, b.data, b.len);
    if (fmt == RP_FORMAT_UNKNOWN)
        rc = fail(zw, mpath, RP_ERR_PARSE, "not a %s file (its signature is missing)",
                  rp_doc_format_name(rp_ingest_format_for_path(name)));
    else if (fmt == RP_FORMAT_ZIP)
        rc = walk(zw, mpath, b.data, b.len, depth + 1);
    else
        rc = rp__ingest_data(mpath, fmt, b.data, b.len, p, depth + 1, zw->sink, zw->ud);
out:
    rp_buf_release(&b);
    rp_buf_release(&member_path);
    return rc;
}

static enum rp_err walk(struct zip_walk *zw, const char *path, const char *data, size_t len,
                        int depth)
{
    const struct rp_ingest_params *p = zw->params;
    if (depth > p->max_archive_depth)
        return fail(zw, path, RP_ERR_TOOBIG,
                    "archive nested deeper than %d levels (the archive depth limit)",
                    p->max_archive_depth);
    if (len == 0)
        return fail(zw, path, RP_ERR_PARSE, "not a valid ZIP archive: empty file");

    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
    if (!za) {
        char msg[RP_ERROR_MSG_MAX];
        int code = zip_error_code_zip(&ze);
        if (code == ZIP_ER_NOZIP)
            snprintf(msg, sizeof(msg), "no central directory found (truncated, or not a ZIP file)");
        else
            copy_msg(msg, sizeof(msg), zip_error_strerror(&ze));
        zip_error_fini(&ze);
        if (src)
            zip_source_free(src);
        return fail(zw, path, code == ZIP_ER_MEMORY ? RP_ERR_NOMEM : RP_ERR_PARSE,
                    "not a valid ZIP archive: %s", msg);
    }
    zip_error_fini(&ze);

    enum rp_err rc = RP_OK;
    zip_int64_t n = zip_get_num_entries(za, 0);
    for (zip_int64_t i = 0; i < n && rc == RP_OK && !zw->stopped; i++) {
        if (zw->members >= p->max_archive_members) {
            zw->stopped = true;
            rc = fail(zw, path, RP_ERR_TOOBIG,
                      "more than %zu members (the archive member limit); %lld entries not read",
                      p->max_archive_members, (long long)(n - i));
            break;
        }
        zw->members++;
        rc = walk_member(zw, path, za, (zip_uint64_t)i, depth);
    }
    zip_discard(za); /* frees src */
    return rc;
}

enum rp_err rp__walk_zip(const char *path, const char *data, size_t len,
                         const struct rp_ingest_params *params, int depth, rp_ingest_sink sink,
                         void *ud)
{
    struct rp_ingest_params defaults = rp_ingest_default_params();
    struct zip_walk zw = {.params = params ? params : &defaults, .sink = sink, .ud = ud};
    return walk(&zw, path, data, len, depth);
}
