/*
 * fuzz_docx.c - libFuzzer target for the DOCX parser and the chunker.
 *
 * Every input is parsed as a whole DOCX file. A mutated archive rarely
 * gets past libzip's CRC check, though, so an input that is not a ZIP
 * (no "PK" at the start) is also read as XML parts separated by lines
 * "--part--" (word/document.xml, word/styles.xml, word/numbering.xml,
 * docProps/core.xml, in that order), packed here into a stored ZIP: that
 * way mutations reach the XML walk. The seeds in corpus/docx/ hold both
 * kinds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zip.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const part_names[] = {"word/document.xml", "word/styles.xml",
                                         "word/numbering.xml", "docProps/core.xml"};

/* Packs the parts of data into a new ZIP in *out (malloc'd); false on failure. */
static int pack_parts(const uint8_t *data, size_t size, char **out, size_t *out_len)
{
    static const char sep[] = "\n--part--\n";
    const size_t sep_len = sizeof(sep) - 1;
    int ok = 0;
    zip_t *za = NULL;
    size_t pos = 0;
    zip_stat_t st;
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    if (!src)
        goto out;
    zip_source_keep(src);
    za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    if (!za)
        goto out;
    for (size_t k = 0; k < sizeof(part_names) / sizeof(part_names[0]) && pos <= size; k++) {
        size_t end = pos;
        while (end + sep_len <= size && memcmp(data + end, sep, sep_len) != 0)
            end++;
        if (end + sep_len > size)
            end = size;
        zip_source_t *s = zip_source_buffer(za, data + pos, end - pos, 0);
        zip_int64_t idx = s ? zip_file_add(za, part_names[k], s, 0) : -1;
        if (idx < 0) {
            zip_source_free(s);
            zip_discard(za);
            goto out;
        }
        zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
        pos = end + sep_len;
    }
    if (zip_close(za) != 0) {
        zip_discard(za);
        goto out;
    }
    if (zip_source_stat(src, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) || zip_source_open(src) != 0)
        goto out;
    *out = malloc(st.size ? st.size : 1);
    if (*out && zip_source_read(src, *out, st.size) == (zip_int64_t)st.size) {
        *out_len = st.size;
        ok = 1;
    }
    zip_source_close(src);
    if (!ok) {
        free(*out);
        *out = NULL;
    }
out:
    zip_source_free(src);
    zip_error_fini(&ze);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_fuzz_one("fuzz.docx", RP_FORMAT_DOCX, data, size);
    if (size >= 2 && data[0] == 'P' && data[1] == 'K')
        return 0;
    char *zip = NULL;
    size_t len = 0;
    if (pack_parts(data, size, &zip, &len))
        rp_fuzz_one("parts.docx", RP_FORMAT_DOCX, (const uint8_t *)zip, len);
    free(zip);
    return 0;
}
