/*
 * source_dir.h - where the source tree is, for unit tests that read files
 * from it (examples, prompts): RANPIPE_SOURCE_DIR (set by ctest), else the
 * tree the including test was compiled from (CMake passes absolute source
 * paths), so such a test also runs alone. Include it after cmocka.h.
 */
#ifndef RANPIPE_TEST_SOURCE_DIR_H
#define RANPIPE_TEST_SOURCE_DIR_H

#include <stdlib.h>
#include <string.h>

/* file: the including test's __FILE__; suffix: its path from the tree's root,
 * e.g. "/tests/unit/test_config.c". */
static inline const char *rp_test_source_dir(const char *file, const char *suffix)
{
    static char dir[1024];
    const char *d = getenv("RANPIPE_SOURCE_DIR");
    if (d && *d)
        return d;
    size_t n = strlen(file), k = strlen(suffix);
    if (file[0] != '/' || n <= k || n - k >= sizeof(dir) || strcmp(file + n - k, suffix) != 0)
        fail_msg("RANPIPE_SOURCE_DIR is not set (run the test through ctest)");
    memcpy(dir, file, n - k);
    dir[n - k] = '\0';
    return dir;
}

#endif /* RANPIPE_TEST_SOURCE_DIR_H */
