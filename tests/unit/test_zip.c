/*
 * test_zip.c - the ZIP walker (src/ingest/zip.c): archives are built in
 * memory with libzip, walked with rp__walk_zip() or, for whole files,
 * rp_ingest_path(), and every outcome the sink receives is recorded.
 *
 * Covered: documents in archive order (nested directories, an HTML page),
 * skipped images and stylesheets, names that escape the archive or hold a
 * NUL byte, zip bombs (declared and lying sizes), member and byte limits,
 * nested archives beyond the depth limit, encrypted members, truncated and
 * corrupt archives, garbage named .zip, and a sink that stops the walk.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zip.h>

#include "ingest/ingest_int.h"
#include "ranpipe/buf.h"
#include "ranpipe/doc.h"
#include "ranpipe/error.h"
#include "ranpipe/ingest.h"

/* ---- building archives ---- */

struct member {
    const char *name; /* ends with '/' for a directory */
    const void *data;
    size_t len; /* 0 with data: strlen(data) */
    bool store; /* no compression */
    bool encrypt;
};

struct bytes {
    char *data;
    size_t len;
};

static void bytes_free(struct bytes *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

/* Writes the members into a new in-memory archive. */
static struct bytes make_zip(const struct member *m, size_t n)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    assert_non_null(src);
    zip_source_keep(src);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    assert_non_null(za);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(m[i].name);
        if (nl && m[i].name[nl - 1] == '/') {
            assert_true(zip_dir_add(za, m[i].name, ZIP_FL_ENC_UTF_8) >= 0);
            continue;
        }
        size_t len = m[i].len ? m[i].len : strlen(m[i].data);
        zip_source_t *s = zip_source_buffer(za, m[i].data, len, 0);
        assert_non_null(s);
        zip_int64_t idx = zip_file_add(za, m[i].name, s, ZIP_FL_ENC_UTF_8);
        if (idx < 0)
            fail_msg("zip_file_add '%s': %s", m[i].name, zip_strerror(za));
        if (m[i].store)
            assert_int_equal(zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0), 0);
        if (m[i].encrypt) {
            zip_uint16_t method = zip_encryption_method_supported(ZIP_EM_AES_256, 1)
                                      ? ZIP_EM_AES_256
                                      : ZIP_EM_TRAD_PKWARE;
            assert_int_equal(zip_file_set_encryption(za, (zip_uint64_t)idx, method, "secret"), 0);
        }
    }
    if (zip_close(za) != 0)
        fail_msg("zip_close: %s", zip_strerror(za));
    struct bytes out = {0};
    assert_int_equal(zip_source_open(src), 0);
    assert_int_equal(zip_source_seek(src, 0, SEEK_END), 0);
    zip_int64_t size = zip_source_tell(src);
    assert_true(size > 0);
    assert_int_equal(zip_source_seek(src, 0, SEEK_SET), 0);
    out.len = (size_t)size;
    out.data = malloc(out.len);
    assert_non_null(out.data);
    assert_int_equal(zip_source_read(src, out.data, size), size);
    zip_source_close(src);
    zip_source_free(src);
    return out;
}

/* The offsets of the local and central headers of the member whose name is
 * name (found by signature + name), for patching. */
static void find_headers(const struct bytes *z, const char *name, size_t *local, size_t *central)
{
    size_t nl = strlen(name);
    *local = *central = (size_t)-1;
    for (size_t i = 0; i + 46 + nl <= z->len; i++) {
        const unsigned char *p = (const unsigned char *)z->data + i;
        if (p[0] != 'P' || p[1] != 'K')
            continue;
        if (p[2] == 3 && p[3] == 4 && (size_t)(p[26] | p[27] << 8) == nl &&
            memcmp(p + 30, name, nl) == 0)
            *local = i;
        if (p[2] == 1 && p[3] == 2 && (size_t)(p[28] | p[29] << 8) == nl &&
            memcmp(p + 46, name, nl) == 0)
            *central = i;
    }
    assert_true(*local != (size_t)-1 && *central != (size_t)-1);
}

static void put32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)(v >> (8 * i));
}

/* ---- recording the sink's outcomes ---- */

struct outcome {
    char *path;
    bool ok;
    enum rp_err code;
    char *msg;   /* failures */
    char *title; /* documents */
    enum rp_doc_format format;
};

struct record {
    struct outcome items[64];
    size_t n;
    size_t stop_after; /* return RP_ERR_CANCELLED after this many (0: never) */
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    assert_non_null(d);
    memcpy(d, s, n + 1);
    return d;
}

static enum rp_err record_sink(struct rp_doc *doc, const struct rp_error *err, const char *path,
                               void *ud)
{
    struct record *r = ud;
    assert_true(r->n < sizeof(r->items) / sizeof(r->items[0]));
    struct outcome *o = &r->items[r->n++];
    memset(o, 0, sizeof(*o));
    o->path = dup_str(path);
    o->ok = doc != NULL;
    if (doc) {
        assert_string_equal(doc->path, path);
        o->title = dup_str(doc->title);
        o->format = doc->format;
        rp_doc_free(doc);
    } else {
        assert_non_null(err);
        o->code = err->code;
        o->msg = dup_str(err->msg);
    }
    return r->stop_after && r->n >= r->stop_after ? RP_ERR_CANCELLED : RP_OK;
}

static void record_free(struct record *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].path);
        free(r->items[i].msg);
        free(r->items[i].title);
    }
    r->n = 0;
}

static void dump(const struct record *r)
{
    for (size_t i = 0; i < r->n; i++)
        print_message("# %zu %s %s %s\n", i, r->items[i].path, r->items[i].ok ? "ok" : "FAIL",
                      r->items[i].ok ? r->items[i].title : r->items[i].msg);
}

static enum rp_err walk(const char *path, const struct bytes *z, const struct rp_ingest_params *p,
                        struct record *r)
{
    struct rp_ingest_params defaults = rp_ingest_default_params();
    return rp__walk_zip(path, z->data, z->len, p ? p : &defaults, 0, record_sink, r);
}

static void assert_doc(const struct record *r, size_t i, const char *path, const char *title)
{
    if (i >= r->n || !r->items[i].ok || strcmp(r->items[i].path, path) != 0 ||
        (title && strcmp(r->items[i].title, title) != 0)) {
        dump(r);
        fail_msg("outcome %zu: want document '%s'", i, path);
    }
}

static void assert_failure(const struct record *r, size_t i, const char *path, enum rp_err code,
                           const char *want)
{
    if (i >= r->n || r->items[i].ok || strcmp(r->items[i].path, path) != 0 ||
        r->items[i].code != code || !strstr(r->items[i].msg, want)) {
        dump(r);
        fail_msg("outcome %zu: want failure of '%s' (%s) saying '%s'", i, path, rp_strerror(code),
                 want);
    }
    /* Every message names its subject the same way. */
    char prefix[1024];
    snprintf(prefix, sizeof(prefix), "cannot ingest '%s': ", path);
    assert_true(strncmp(r->items[i].msg, prefix, strlen(prefix)) == 0);
}

static const char md_doc[] = "# Cell Lock\n\nLock the cell before maintenance.\n";
static const char html_doc[] =
    "<html><head><title>Load Balancing</title></head><body><div class=\"nav\">Home</div>"
    "<h1>Inter-Frequency Load Balancing</h1><p>Moves UEs between carriers.</p></body></html>";

/* ---- tests ---- */

static void documents_in_order(void **state)
{
    (void)state;
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 0};
    const struct member m[] = {
        {.name = "readme.md", .data = md_doc},
        {.name = "docs/"},
        {.name = "docs/features/"},
        {.name = "docs/features/iflb.html", .data = html_doc},
        {.name = "images/logo.png", .data = png, .len = sizeof(png), .store = true},
        {.name = "css/elex.css", .data = "body { color: red }"},
        {.name = "js/app.js", .data = "alert(1)"},
        {.name = "docs/procedures/lock.txt", .data = "LOCKING A CELL\n\nStep one.\n"},
        {.name = "no-extension", .data = "whatever"},
    };
    struct bytes z = make_zip(m, sizeof(m) / sizeof(m[0]));
    struct record r = {0};
    assert_int_equal(walk("pkg.zip", &z, NULL, &r), RP_OK);
    if (r.n != 3) {
        dump(&r);
        fail_msg("want 3 documents, got %zu outcomes", r.n);
    }
    assert_doc(&r, 0, "pkg.zip!/readme.md", "Cell Lock");
    assert_int_equal(r.items[0].format, RP_FORMAT_MARKDOWN);
    assert_doc(&r, 1, "pkg.zip!/docs/features/iflb.html", "Load Balancing");
    assert_int_equal(r.items[1].format, RP_FORMAT_HTML);
    assert_doc(&r, 2, "pkg.zip!/docs/procedures/lock.txt", NULL);
    assert_int_equal(r.items[2].format, RP_FORMAT_TEXT);
    record_free(&r);
    bytes_free(&z);
}

static void path_traversal(void **state)
{
    (void)state;
    const struct member m[] = {
        {.name = "../evil.md", .data = md_doc},        {.name = "/abs.md", .data = md_doc},
        {.name = "a\\b.md", .data = md_doc},           {.name = "C:/windows.md", .data = md_doc},
        {.name = "docs/../../up.md", .data = md_doc},  {.name = "docs/..", .data = md_doc},
        {.name = "..dots-in-name.md", .data = md_doc}, {.name = "docs/..x/ok.md", .data = md_doc},
        {.name = "../image.png", .data = "x"},
    };
    struct bytes z = make_zip(m, sizeof(m) / sizeof(m[0]));
    struct record r = {0};
    assert_int_equal(walk("a.zip", &z, NULL, &r), RP_OK);
    assert_int_equal(r.n, 9);
    assert_failure(&r, 0, "a.zip!/../evil.md", RP_ERR_INVAL, "path escapes the archive");
    assert_string_equal(r.items[0].msg,
                        "cannot ingest 'a.zip!/../evil.md': path escapes the archive");
    assert_failure(&r, 1, "a.zip!//abs.md", RP_ERR_INVAL, "path escapes the archive");
    assert_failure(&r, 2, "a.zip!/a\\b.md", RP_ERR_INVAL, "path escapes the archive");
    assert_failure(&r, 3, "a.zip!/C:/windows.md", RP_ERR_INVAL, "path escapes the archive");
    assert_failure(&r, 4, "a.zip!/docs/../../up.md", RP_ERR_INVAL, "path escapes the archive");
    assert_failure(&r, 5, "a.zip!/docs/..", RP_ERR_INVAL, "path escapes the archive");
    assert_doc(&r, 6, "a.zip!/..dots-in-name.md", "Cell Lock");
    assert_doc(&r, 7, "a.zip!/docs/..x/ok.md", "Cell Lock");
    /* Escaping names are refused even for files that would be skipped. */
    assert_failure(&r, 8, "a.zip!/../image.png", RP_ERR_INVAL, "path escapes the archive");
    record_free(&r);
    bytes_free(&z);
}

/* Replaces the byte at the X in name with NUL, in both headers. */
static void nul_in_name(struct bytes *z, const char *name)
{
    size_t local, central, at = (size_t)(strchr(name, 'X') - name);
    find_headers(z, name, &local, &central);
    z->data[local + 30 + at] = '\0';
    z->data[central + 46 + at] = '\0';
}

static void nul_in_names(void **state)
{
    (void)state;
    const struct member m[] = {
        {.name = "evil.mdX.png", .data = md_doc},
        {.name = "docs/aXb.md", .data = md_doc},
        {.name = "..X/up.md", .data = md_doc},
    };
    struct bytes z = make_zip(m, 3);
    nul_in_name(&z, "evil.mdX.png");
    nul_in_name(&z, "docs/aXb.md");
    nul_in_name(&z, "..X/up.md");
    struct record r = {0};
    assert_int_equal(walk("n.zip", &z, NULL, &r), RP_OK);
    /* libzip reads a NUL in a name as a space: the first stays an image
     * (skipped), nothing is cut short at the NUL. */
    assert_int_equal(r.n, 2);
    assert_doc(&r, 0, "n.zip!/docs/a b.md", "Cell Lock");
    assert_doc(&r, 1, "n.zip!/.. /up.md", "Cell Lock");
    record_free(&r);
    bytes_free(&z);
}

static void zip_bomb(void **state)
{
    (void)state;
    size_t big = (size_t)50 << 20;
    char *zeros = calloc(1, big);
    assert_non_null(zeros);
    const struct member m[] = {
        {.name = "bomb.txt", .data = zeros, .len = big},
        {.name = "after.md", .data = md_doc},
    };
    struct bytes z = make_zip(m, 2);
    free(zeros);
    assert_true(z.len < 200000); /* ~50 KB */

    /* The default ratio (200:1) refuses it before reading a byte. */
    struct record r = {0};
    assert_int_equal(walk("bomb.zip", &z, NULL, &r), RP_OK);
    assert_int_equal(r.n, 2);
    assert_failure(&r, 0, "bomb.zip!/bomb.txt", RP_ERR_TOOBIG, "over the 200:1 limit");
    assert_non_null(strstr(r.items[0].msg, "zip bomb?"));
    assert_doc(&r, 1, "bomb.zip!/after.md", "Cell Lock");
    record_free(&r);

    /* A lower size limit refuses it on its declared size. */
    struct rp_ingest_params p = rp_ingest_default_params();
    p.max_file_bytes = 1 << 20;
    p.max_compression_ratio = 1e9;
    assert_int_equal(walk("bomb.zip", &z, &p, &r), RP_OK);
    assert_failure(&r, 0, "bomb.zip!/bomb.txt", RP_ERR_TOOBIG,
                   "52428800 bytes uncompressed is over the 1048576 byte limit");
    assert_doc(&r, 1, "bomb.zip!/after.md", NULL);
    record_free(&r);

    /* Declared sizes lie: say 1000 bytes in both headers. Reading stops at
     * the ratio or the size cap, whichever comes first. */
    size_t local, central;
    find_headers(&z, "bomb.txt", &local, &central);
    put32(z.data + local + 22, 1000);
    put32(z.data + central + 24, 1000);
    assert_int_equal(walk("liar.zip", &z, NULL, &r), RP_OK);
    assert_failure(&r, 0, "liar.zip!/bomb.txt", RP_ERR_TOOBIG, "compression ratio over 200:1");
    assert_non_null(strstr(r.items[0].msg, "declared 1000"));
    assert_doc(&r, 1, "liar.zip!/after.md", NULL);
    record_free(&r);
    assert_int_equal(walk("liar.zip", &z, &p, &r), RP_OK);
    assert_failure(&r, 0, "liar.zip!/bomb.txt", RP_ERR_TOOBIG,
                   "more than 1048576 bytes uncompressed (declared 1000)");
    record_free(&r);
    bytes_free(&z);

    /* Small members are not held to the ratio: 60 KB of spaces is fine. */
    char *spaces = malloc(60000);
    assert_non_null(spaces);
    memset(spaces, ' ', 60000);
    memcpy(spaces, "# Spaces\n", 9);
    const struct member s[] = {{.name = "spaces.md", .data = spaces, .len = 60000}};
    z = make_zip(s, 1);
    free(spaces);
    assert_int_equal(walk("s.zip", &z, NULL, &r), RP_OK);
    assert_doc(&r, 0, "s.zip!/spaces.md", "Spaces");
    record_free(&r);
    bytes_free(&z);
}

static void member_limit(void **state)
{
    (void)state;
    const struct member m[] = {
        {.name = "1.md", .data = md_doc}, {.name = "2.png", .data = "x"},
        {.name = "3.md", .data = md_doc}, {.name = "4.md", .data = md_doc},
        {.name = "5.md", .data = md_doc},
    };
    struct bytes z = make_zip(m, 5);
    struct rp_ingest_params p = rp_ingest_default_params();
    p.max_archive_members = 3;
    struct record r = {0};
    assert_int_equal(walk("many.zip", &z, &p, &r), RP_OK);
    /* Every entry counts, skipped ones too; then one failure and stop. */
    assert_int_equal(r.n, 3);
    assert_doc(&r, 0, "many.zip!/1.md", NULL);
    assert_doc(&r, 1, "many.zip!/3.md", NULL);
    assert_failure(&r, 2, "many.zip", RP_ERR_TOOBIG,
                   "more than 3 members (the archive member limit); 2 entries not read");
    record_free(&r);
    p.max_archive_members = 5;
    assert_int_equal(walk("many.zip", &z, &p, &r), RP_OK);
    assert_int_equal(r.n, 4);
    record_free(&r);
    bytes_free(&z);
}

static void byte_accounting(void **state)
{
    (void)state;
    char *text = malloc(10000);
    assert_non_null(text);
    memset(text, 'a', 10000);
    text[0] = '#';
    text[1] = ' ';
    const struct member m[] = {
        {.name = "a.md", .data = text, .len = 10000},
        {.name = "b.md", .data = text, .len = 5000},
        {.name = "c.md", .data = text, .len = 10000},
        {.name = "d.md", .data = text, .len = 10000},
    };
    struct bytes z = make_zip(m, 4);
    struct rp_ingest_params p = rp_ingest_default_params();
    struct record r = {0};

    /* A member over max_file_bytes fails alone. */
    p.max_file_bytes = 8000;
    assert_int_equal(walk("b.zip", &z, &p, &r), RP_OK);
    assert_int_equal(r.n, 4);
    assert_failure(&r, 0, "b.zip!/a.md", RP_ERR_TOOBIG,
                   "10000 bytes uncompressed is over the 8000 byte limit");
    assert_doc(&r, 1, "b.zip!/b.md", NULL);
    assert_failure(&r, 2, "b.zip!/c.md", RP_ERR_TOOBIG, "over the 8000 byte limit");
    record_free(&r);

    /* The archive's total stops the walk: 10000 + 5000 fit in 20000, the
     * third member would not. */
    p = rp_ingest_default_params();
    p.max_archive_bytes = 20000;
    assert_int_equal(walk("b.zip", &z, &p, &r), RP_OK);
    assert_int_equal(r.n, 3);
    assert_doc(&r, 0, "b.zip!/a.md", NULL);
    assert_doc(&r, 1, "b.zip!/b.md", NULL);
    assert_failure(&r, 2, "b.zip", RP_ERR_TOOBIG,
                   "more than 20000 uncompressed bytes in the archive (the archive byte limit); "
                   "stopped at 'c.md'");
    record_free(&r);
    p.max_archive_bytes = 35000;
    assert_int_equal(walk("b.zip", &z, &p, &r), RP_OK);
    assert_int_equal(r.n, 4);
    record_free(&r);
    bytes_free(&z);
    free(text);
}

static void nested_archives(void **state)
{
    (void)state;
    const struct member l3m[] = {{.name = "doc.md", .data = md_doc}};
    struct bytes l3 = make_zip(l3m, 1);
    const struct member l2m[] = {{.name = "l3.zip", .data = l3.data, .len = l3.len}};
    struct bytes l2 = make_zip(l2m, 1);
    const struct member l1m[] = {{.name = "l2.zip", .data = l2.data, .len = l2.len},
                                 {.name = "top.md", .data = md_doc}};
    struct bytes l1 = make_zip(l1m, 2);
    const struct member om[] = {{.name = "l1.zip", .data = l1.data, .len = l1.len}};
    struct bytes outer = make_zip(om, 1);

    /* Default depth 2: outer (0) > l1 (1) > l2 (2) > l3 (3) is too deep. */
    struct record r = {0};
    assert_int_equal(walk("outer.zip", &outer, NULL, &r), RP_OK);
    assert_int_equal(r.n, 2);
    assert_failure(&r, 0, "outer.zip!/l1.zip!/l2.zip!/l3.zip", RP_ERR_TOOBIG,
                   "archive nested deeper than 2 levels (the archive depth limit)");
    assert_doc(&r, 1, "outer.zip!/l1.zip!/top.md", NULL);
    record_free(&r);

    struct rp_ingest_params p = rp_ingest_default_params();
    p.max_archive_depth = 3;
    assert_int_equal(walk("outer.zip", &outer, &p, &r), RP_OK);
    assert_int_equal(r.n, 2);
    assert_doc(&r, 0, "outer.zip!/l1.zip!/l2.zip!/l3.zip!/doc.md", "Cell Lock");
    record_free(&r);

    /* Nested archives share the outer one's budget. */
    p.max_archive_members = 3;
    assert_int_equal(walk("outer.zip", &outer, &p, &r), RP_OK);
    assert_int_equal(r.n, 1);
    assert_failure(&r, 0, "outer.zip!/l1.zip!/l2.zip!/l3.zip", RP_ERR_TOOBIG,
                   "more than 3 members");
    record_free(&r);

    p = rp_ingest_default_params();
    p.max_archive_depth = 0;
    assert_int_equal(walk("outer.zip", &outer, &p, &r), RP_OK);
    assert_failure(&r, 0, "outer.zip!/l1.zip", RP_ERR_TOOBIG, "deeper than 0 levels");
    record_free(&r);
    bytes_free(&outer);
    bytes_free(&l1);
    bytes_free(&l2);
    bytes_free(&l3);
}

static void encrypted_member(void **state)
{
    (void)state;
    const struct member m[] = {
        {.name = "secret.md", .data = md_doc, .encrypt = true},
        {.name = "open.md", .data = md_doc},
    };
    struct bytes z = make_zip(m, 2);
    struct record r = {0};
    assert_int_equal(walk("enc.zip", &z, NULL, &r), RP_OK);
    assert_int_equal(r.n, 2);
    assert_failure(&r, 0, "enc.zip!/secret.md", RP_ERR_UNSUPPORTED,
                   "encrypted member: a password is required");
    assert_doc(&r, 1, "enc.zip!/open.md", NULL);
    record_free(&r);
    bytes_free(&z);
}

static void truncated_and_corrupt(void **state)
{
    (void)state;
    char *text = malloc(4000);
    assert_non_null(text);
    for (size_t i = 0; i < 4000; i++)
        text[i] = (char)('a' + (i * 7 + i / 13) % 26);
    text[0] = '#';
    text[1] = ' ';
    const struct member m[] = {
        {.name = "first.md", .data = text, .len = 4000},
        {.name = "second.md", .data = md_doc},
    };
    struct bytes z = make_zip(m, 2);
    struct record r = {0};

    /* Cut in half: the central directory is gone. */
    struct bytes half = {.data = z.data, .len = z.len / 2};
    assert_int_equal(walk("cut.zip", &half, NULL, &r), RP_OK);
    assert_int_equal(r.n, 1);
    assert_failure(&r, 0, "cut.zip", RP_ERR_PARSE, "not a valid ZIP archive: ");
    record_free(&r);

    /* Damaged data of one member: it fails, the other is read. */
    size_t local, central;
    find_headers(&z, "first.md", &local, &central);
    size_t data_at = local + 30 + 8;
    for (size_t i = 10; i < 60; i++)
        z.data[data_at + i] ^= 0x5A;
    assert_int_equal(walk("bad.zip", &z, NULL, &r), RP_OK);
    assert_int_equal(r.n, 2);
    assert_failure(&r, 0, "bad.zip!/first.md", RP_ERR_PARSE, "");
    print_message("# corrupt member: %s\n", r.items[0].msg);
    assert_doc(&r, 1, "bad.zip!/second.md", NULL);
    record_free(&r);
    bytes_free(&z);
    free(text);

    /* Garbage, with and without the local header signature, and nothing. */
    struct bytes junk = {.data = "PK\x03\x04 this is not really a zip archive at all", .len = 45};
    assert_int_equal(walk("junk.zip", &junk, NULL, &r), RP_OK);
    assert_failure(&r, 0, "junk.zip", RP_ERR_PARSE, "not a valid ZIP archive");
    record_free(&r);
    struct bytes empty = {.data = "", .len = 0};
    assert_int_equal(walk("empty.zip", &empty, NULL, &r), RP_OK);
    assert_failure(&r, 0, "empty.zip", RP_ERR_PARSE, "not a valid ZIP archive: empty file");
    record_free(&r);
}

static void member_formats(void **state)
{
    (void)state;
    const struct member m[] = {
        {.name = "fake.pdf", .data = "not a pdf at all"},
        {.name = "empty.md", .data = ""},
        {.name = "latin1.md", .data = "caf\xe9\n"},
        {.name = "UPPER.HTML", .data = "<title>Upper</title>"},
    };
    struct bytes z = make_zip(m, 4);
    struct record r = {0};
    assert_int_equal(walk("f.zip", &z, NULL, &r), RP_OK);
    assert_int_equal(r.n, 4);
    /* Sniffed like a file on disk: a .pdf without the signature fails. */
    assert_failure(&r, 0, "f.zip!/fake.pdf", RP_ERR_PARSE,
                   "not a pdf file (its signature is missing)");
    assert_doc(&r, 1, "f.zip!/empty.md", "empty.md");
    /* A member's parse failure names the member. */
    assert_failure(&r, 2, "f.zip!/latin1.md", RP_ERR_PARSE, "invalid UTF-8");
    assert_doc(&r, 3, "f.zip!/UPPER.HTML", "Upper");
    record_free(&r);
    bytes_free(&z);
}

static void sink_stops_the_walk(void **state)
{
    (void)state;
    const struct member m[] = {
        {.name = "1.md", .data = md_doc},
        {.name = "2.md", .data = md_doc},
        {.name = "3.md", .data = md_doc},
    };
    struct bytes z = make_zip(m, 3);
    struct record r = {.stop_after = 2};
    assert_int_equal(walk("s.zip", &z, NULL, &r), RP_ERR_CANCELLED);
    assert_int_equal(r.n, 2);
    record_free(&r);
    bytes_free(&z);
}

/* Through rp_ingest_path(): the file on disk, and garbage named .zip. */
static void whole_files(void **state)
{
    (void)state;
    const char *root = getenv("RANPIPE_TEST_TMP");
    char dir[4096], path[4200];
    snprintf(dir, sizeof(dir), "%s/test_zip.XXXXXX", root && *root ? root : "/tmp");
    assert_non_null(mkdtemp(dir));

    const struct member m[] = {{.name = "page.html", .data = html_doc},
                               {.name = "img/x.gif", .data = "GIF89a"}};
    struct bytes z = make_zip(m, 2);
    snprintf(path, sizeof(path), "%s/pkg.zip", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(z.data, 1, z.len, f), z.len);
    assert_int_equal(fclose(f), 0);
    struct record r = {0};
    assert_int_equal(rp_ingest_path(path, NULL, record_sink, &r), RP_OK);
    assert_int_equal(r.n, 1);
    char want[4300];
    snprintf(want, sizeof(want), "%s!/page.html", path);
    assert_doc(&r, 0, want, "Load Balancing");
    record_free(&r);
    /* rp_ingest_file() refuses archives. */
    struct rp_doc *doc = NULL;
    struct rp_error err;
    assert_int_equal(rp_ingest_file(path, NULL, &doc, &err), RP_ERR_INVAL);
    assert_non_null(strstr(err.msg, "an archive holds several documents"));
    assert_int_equal(unlink(path), 0);
    bytes_free(&z);

    snprintf(path, sizeof(path), "%s/garbage.zip", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs("this is no archive\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rp_ingest_path(path, NULL, record_sink, &r), RP_OK);
    assert_int_equal(r.n, 1);
    assert_false(r.items[0].ok);
    assert_non_null(strstr(r.items[0].msg, "garbage.zip"));
    assert_non_null(strstr(r.items[0].msg, "not a zip file"));
    record_free(&r);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(documents_in_order),    cmocka_unit_test(path_traversal),
        cmocka_unit_test(nul_in_names),          cmocka_unit_test(zip_bomb),
        cmocka_unit_test(member_limit),          cmocka_unit_test(byte_accounting),
        cmocka_unit_test(nested_archives),       cmocka_unit_test(encrypted_member),
        cmocka_unit_test(truncated_and_corrupt), cmocka_unit_test(member_formats),
        cmocka_unit_test(sink_stops_the_walk),   cmocka_unit_test(whole_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
