/*
 * watch.c - `ranpipe run --watch`: waits for input files to appear or
 * change (inotify), so the run can take another pass over its inputs.
 *
 * Every directory among the inputs is watched with its subdirectories
 * (new subdirectories are added as they appear); a file input is watched
 * through its directory. A change is a file closed after writing, moved
 * in, or deleted. Changes are debounced: after the first one, the watch
 * waits until half a second passes without another, so a copy of many
 * files becomes one pass. Each pass re-reads the inputs (cheap) and the
 * run's cache answers every generation made before, so only what is new
 * or changed is generated.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "ranpipe/log.h"

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE)

struct rp_cli_watch {
    int fd;
    size_t n_dirs;
};

static void add_tree(struct rp_cli_watch *w, const char *dir, int depth)
{
    if (inotify_add_watch(w->fd, dir, WATCH_MASK | IN_ONLYDIR) < 0) {
        rp_warn("watch: cannot watch '%s': %s", dir, strerror(errno));
        return;
    }
    w->n_dirs++;
    if (depth > 32)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
            continue;
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            add_tree(w, path, depth + 1);
    }
    closedir(d);
}

struct rp_cli_watch *rp_cli_watch_new(const char *const *inputs, size_t n)
{
    struct rp_cli_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        rp_log(RP_LOG_ERROR, "watch: %s", strerror(errno));
        free(w);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(inputs[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            add_tree(w, inputs[i], 0);
        } else {
            char dir[PATH_MAX];
            snprintf(dir, sizeof(dir), "%s", inputs[i]);
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = '\0';
            else
                snprintf(dir, sizeof(dir), ".");
            add_tree(w, dir, 33); /* the file's directory, not its subdirectories */
        }
    }
    return w;
}

void rp_cli_watch_free(struct rp_cli_watch *w)
{
    if (!w)
        return;
    close(w->fd);
    free(w);
}

/* Reads the pending events; true when one is a change worth a pass. New
 * directories are watched too (their files come as later events). */
static bool drain(struct rp_cli_watch *w)
{
    bool change = false;
    _Alignas(struct inotify_event) char buf[16384];
    for (;;) {
        ssize_t len = read(w->fd, buf, sizeof(buf));
        if (len <= 0)
            break;
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof(*ev) + ev->len;
            if (ev->len && ev->name[0] == '.')
                continue; /* editors' and copy tools' temporary files */
            if ((ev->mask & IN_CREATE) && !(ev->mask & IN_ISDIR))
                continue; /* a file being written: its IN_CLOSE_WRITE follows */
            change = true;
        }
    }
    return change;
}

int rp_cli_watch_wait(struct rp_cli_watch *w, volatile sig_atomic_t *stop)
{
    bool changed = false;
    for (;;) {
        if (*stop)
            return 0;
        struct pollfd pfd = {.fd = w->fd, .events = POLLIN};
        int r = poll(&pfd, 1, changed ? 500 : 200);
        if (r < 0 && errno != EINTR) {
            rp_log(RP_LOG_ERROR, "watch: %s", strerror(errno));
            return -1;
        }
        if (r > 0) {
            if (drain(w))
                changed = true;
            continue;
        }
        if (r == 0 && changed)
            return 1; /* quiet for half a second after a change */
    }
}
