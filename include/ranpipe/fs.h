/*
 * fs.h - file system helpers: input discovery, output directories and files
 * replaced atomically.
 *
 * Thread contract: reentrant.
 */
#ifndef RANPIPE_FS_H
#define RANPIPE_FS_H

#include <stddef.h>

#include "ranpipe/error.h"

struct rp_path_list {
    char **paths; /* malloc'd, owned by the list */
    size_t n, cap;
};

void rp_path_list_init(struct rp_path_list *l);
void rp_path_list_release(struct rp_path_list *l);
/* Appends a copy of path. */
enum rp_err rp_path_list_add(struct rp_path_list *l, const char *path);

/* Collects the regular files named by path: the file itself, or every file
 * below a directory (recursively, at most 32 levels, skipping names that
 * start with '.'), in sorted order so runs are deterministic. Symbolic links
 * to files are followed; links to directories are not. */
enum rp_err rp_fs_collect(const char *path, struct rp_path_list *out, struct rp_error *err);

/* Creates dir and its missing parents (mode 0755). */
enum rp_err rp_fs_mkdir_p(const char *dir, struct rp_error *err);

/* Replaces the file at path with data[0..n) (mode 0644) so that readers see
 * the old file or the whole new one, never a part: the bytes go to a
 * temporary file beside path ("path.tmp.XXXXXX"), are synced, and the file
 * is renamed over path. On failure the temporary file is removed and path is
 * untouched. Only a regular file is replaced: a path naming a directory,
 * device, FIFO or socket is refused (RP_ERR_INVAL) and a symbolic link's
 * target is replaced, the link kept. Errors name the file. */
enum rp_err rp_fs_write_atomic(const char *path, const void *data, size_t n, struct rp_error *err);

#endif /* RANPIPE_FS_H */
