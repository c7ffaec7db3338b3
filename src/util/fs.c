/*
 * fs.c - input discovery, directories and atomic file writes (see include/ranpipe/fs.h).
 */
#define _XOPEN_SOURCE 700 /* realpath() */
#include "ranpipe/fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ranpipe/buf.h"

#define MAX_WALK_DEPTH 32

void rp_path_list_init(struct rp_path_list *l)
{
    l->paths = NULL;
    l->n = l->cap = 0;
}

void rp_path_list_release(struct rp_path_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    rp_path_list_init(l);
}

enum rp_err rp_path_list_add(struct rp_path_list *l, const char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **p = realloc(l->paths, cap * sizeof(*p));
        if (!p)
            return RP_ERR_NOMEM;
        l->paths = p;
        l->cap = cap;
    }
    size_t n = strlen(path);
    char *copy = malloc(n + 1);
    if (!copy)
        return RP_ERR_NOMEM;
    memcpy(copy, path, n + 1);
    l->paths[l->n++] = copy;
    return RP_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum rp_err walk(const char *dir, int depth, struct rp_path_list *out, struct rp_error *err)
{
    if (depth > MAX_WALK_DEPTH)
        return rp_error_set(err, RP_ERR_TOOBIG, "cannot read '%s': directories nested deeper than %d",
                            dir, MAX_WALK_DEPTH);
    DIR *d = opendir(dir);
    if (!d)
        return rp_error_set(err, RP_ERR_IO, "cannot open directory '%s': %s", dir, strerror(errno));
    struct rp_path_list names;
    rp_path_list_init(&names);
    enum rp_err rc = RP_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (rp_path_list_add(&names, de->d_name)) {
            rc = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    qsort(names.paths, names.n, sizeof(*names.paths), cmp_names);
    struct rp_buf full;
    rp_buf_init(&full, 4096);
    for (size_t i = 0; i < names.n && !rc; i++) {
        rp_buf_reset(&full);
        size_t dl = strlen(dir);
        if (rp_buf_add(&full, dir, dl) || (dl && dir[dl - 1] != '/' && rp_buf_addc(&full, '/')) ||
            rp_buf_adds(&full, names.paths[i])) {
            rc = rp_error_set(err, RP_ERR_TOOBIG, "path too long under '%s'", dir);
            break;
        }
        struct stat lst, st;
        if (lstat(full.data, &lst) != 0)
            continue; /* vanished while we looked */
        if (S_ISDIR(lst.st_mode)) {
            rc = walk(full.data, depth + 1, out, err);
        } else if (S_ISREG(lst.st_mode) ||
                   (S_ISLNK(lst.st_mode) && stat(full.data, &st) == 0 && S_ISREG(st.st_mode))) {
            if (rp_path_list_add(out, full.data))
                rc = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        }
    }
    rp_buf_release(&full);
out:
    rp_path_list_release(&names);
    closedir(d);
    return rc;
}

enum rp_err rp_fs_collect(const char *path, struct rp_path_list *out, struct rp_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return rp_error_set(err, errno == ENOENT ? RP_ERR_NOENT : RP_ERR_IO, "cannot open '%s': %s",
                            path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return walk(path, 0, out, err);
    if (!S_ISREG(st.st_mode))
        return rp_error_set(err, RP_ERR_INVAL, "cannot read '%s': not a regular file or directory",
                            path);
    if (rp_path_list_add(out, path))
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    return RP_OK;
}

enum rp_err rp_fs_mkdir_p(const char *dir, struct rp_error *err)
{
    struct rp_buf p;
    rp_buf_init(&p, 4096);
    enum rp_err rc = RP_OK;
    if (rp_buf_adds(&p, dir)) {
        rc = rp_error_set(err, RP_ERR_TOOBIG, "path too long: '%s'", dir);
        goto out;
    }
    for (size_t i = 1; i <= p.len; i++) {
        if (i < p.len && p.data[i] != '/')
            continue;
        char saved = p.data[i];
        p.data[i] = '\0';
        if (mkdir(p.data, 0755) != 0 && errno != EEXIST) {
            rc = rp_error_set(err, RP_ERR_IO, "cannot create directory '%s': %s", p.data,
                              strerror(errno));
            p.data[i] = saved;
            goto out;
        }
        p.data[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        rc = rp_error_set(err, RP_ERR_IO, "cannot create directory '%s': a file is in the way", dir);
out:
    rp_buf_release(&p);
    return rc;
}

enum rp_err rp_fs_write_atomic(const char *path, const void *data, size_t n, struct rp_error *err)
{
    struct rp_buf tmp;
    rp_buf_init(&tmp, 4096);
    enum rp_err rc = RP_OK;
    int fd = -1;
    char *real = NULL;
    /* Renaming over a device or a FIFO would replace it with a file (think
     * of /dev/null), so only regular files are replaced; a symbolic link is
     * followed so that its target is replaced and the link stays. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        rc = rp_error_set(err, RP_ERR_INVAL, "cannot write '%s': %s", path,
                          S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
        goto out;
    }
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        real = realpath(path, NULL);
        if (!real) {
            rc = rp_error_set(err, RP_ERR_IO, "cannot resolve '%s': %s", path, strerror(errno));
            goto out;
        }
        path = real;
    }
    if (rp_buf_addf(&tmp, "%s.tmp.XXXXXX", path)) {
        rc = rp_error_set(err, RP_ERR_TOOBIG, "path too long: '%s'", path);
        goto out;
    }
    fd = mkstemp(tmp.data);
    if (fd < 0) {
        rc = rp_error_set(err, errno == ENOENT ? RP_ERR_NOENT : RP_ERR_IO, "cannot create '%s': %s",
                          tmp.data, strerror(errno));
        rp_buf_reset(&tmp); /* nothing to remove */
        goto out;
    }
    const char *p = data;
    size_t left = n;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = rp_error_set(err, RP_ERR_IO, "cannot write '%s': %s", tmp.data,
                              w < 0 ? strerror(errno) : "no progress");
            goto out;
        }
        p += w;
        left -= (size_t)w;
    }
    /* mkstemp makes the file private; an output file is for everyone to read. */
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        rc = rp_error_set(err, RP_ERR_IO, "cannot write '%s': %s", tmp.data, strerror(errno));
        goto out;
    }
    int closed = close(fd);
    fd = -1;
    if (closed != 0) {
        rc = rp_error_set(err, RP_ERR_IO, "cannot write '%s': %s", tmp.data, strerror(errno));
        goto out;
    }
    if (rename(tmp.data, path) != 0) {
        rc = rp_error_set(err, RP_ERR_IO, "cannot rename '%s' to '%s': %s", tmp.data, path,
                          strerror(errno));
        goto out;
    }
    rp_buf_reset(&tmp); /* renamed: nothing left to remove */
out:
    if (fd >= 0)
        close(fd);
    if (rc && tmp.len)
        unlink(tmp.data);
    rp_buf_release(&tmp);
    free(real);
    return rc;
}
