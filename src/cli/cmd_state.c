/*
 * cmd_state.c - `ranpipe status OUT` and `ranpipe history OUT`: what a
 * run's store (OUT/ranpipe.db) holds, read without changing it.
 *
 * status: the records (accepted, rejected) and the dead letters - files
 * that could not be read and chunks no tier could do - with their reasons.
 * history: what routing has learned: per tier, the pass rate fitted over
 * chunk complexity from every attempt recorded, the mean cost and the
 * complexity up to which the tier reaches the target pass rate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ranpipe/adapt.h"
#include "ranpipe/config.h"
#include "ranpipe/log.h"
#include "ranpipe/store.h"

/* Tiers shown without a configuration to name them: tier 0, tier 1, ... */
#define RP_ADAPT_MAX_TIERS_SHOWN 8

void rp_cmd_status_help(void)
{
    printf("usage: ranpipe status [OPTIONS] OUT\n"
           "\n"
           "Shows what the run state in OUT/ranpipe.db holds: accepted and rejected\n"
           "records, and the dead letters - input files that could not be read and\n"
           "chunks no tier could generate for - each with its reason. Running\n"
           "'ranpipe run ... -o OUT --retry-failed' tries the dead letters again.\n"
           "Reads the database only; a run may be writing it at the same time.\n"
           "\n"
           "Options:\n"
           "  -h, --help   show this help\n"
           "\n"
           "Exit status: 0, or 1 when OUT holds no run state or it cannot be read.\n");
}

void rp_cmd_history_help(void)
{
    printf("usage: ranpipe history [OPTIONS] OUT\n"
           "\n"
           "Shows what routing has learned from the runs recorded in OUT/ranpipe.db:\n"
           "for each tier the number of attempts, the fitted share of chunks that gave\n"
           "an accepted pair at complexity 0, 0.25, 0.5, 0.75 and 1, the mean latency,\n"
           "and the complexity up to which the tier reaches the target pass rate (its\n"
           "learned max_complexity). docs/engine.md describes the model.\n"
           "\n"
           "Options:\n"
           "  -c, --config FILE   name the tiers as this configuration does\n"
           "      --target X      pass rate a tier must reach (default: 0.8)\n"
           "  -h, --help          show this help\n"
           "\n"
           "Exit status: 0, or 1 when OUT holds no run state or it cannot be read.\n");
}

/* Opens OUT/ranpipe.db for reading (never creates it). */
static struct rp_store *open_state(const char *cmd, const char *out)
{
    char db[4096];
    snprintf(db, sizeof(db), "%s/ranpipe.db", out);
    struct rp_store_params sp = rp_store_default_params();
    sp.create = false;
    struct rp_store *s = NULL;
    struct rp_error err;
    rp_error_clear(&err);
    if (rp_store_open(db, &sp, &s, &err) != RP_OK) {
        if (err.code == RP_ERR_NOENT)
            rp_log(RP_LOG_ERROR, "%s: no run state in '%s' (no ranpipe.db: run 'ranpipe run ... -o %s' first)", cmd,
                   out, out);
        else
            rp_log(RP_LOG_ERROR, "%s: %s", cmd, err.msg);
        return NULL;
    }
    return s;
}

struct counts {
    size_t accepted, rejected;
    size_t failed_docs, failed_chunks;
};

static int count_record(const struct rp_store_record *r, void *ud)
{
    struct counts *c = ud;
    if (r->verdict == RP_STORE_ACCEPT)
        c->accepted++;
    else
        c->rejected++;
    return 0;
}

static int print_failure(const struct rp_store_failure *f, void *ud)
{
    struct counts *c = ud;
    if (f->chunk_index < 0) {
        c->failed_docs++;
        printf("  file   %s\n         %s\n", f->path, f->reason ? f->reason : "");
    } else {
        c->failed_chunks++;
        printf("  chunk  %s #%d (%s)\n         %s\n", f->path, f->chunk_index, f->chunk_id ? f->chunk_id : "",
               f->reason ? f->reason : "");
    }
    return 0;
}

/* Parses the options (opt handles the command's own: returns 0, 1 for
 * an option it does not know, 2 for a bad value it reported) and the one
 * OUT argument. Returns its index, -1 after --help, -2 after a usage error. */
static int one_arg(const char *cmd, int argc, char **argv, const char *shortopts, const struct option *opts,
                   void (*help)(void), int (*opt)(int c, const char *arg, void *ud), void *ud)
{
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return -1;
        }
        int r = opt ? opt(c, optarg, ud) : 1;
        if (r == 1)
            rp_cli_bad_option(cmd, c, argv);
        if (r)
            return -2;
    }
    if (optind + 1 != argc) {
        rp_cli_usage_error(cmd, optind == argc ? "give the output directory of a run" : "give one output directory");
        return -2;
    }
    return optind;
}

int rp_cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int i = one_arg("status", argc, argv, "h", opts, rp_cmd_status_help, NULL, NULL);
    if (i == -1)
        return RP_EXIT_OK;
    if (i < 0)
        return RP_EXIT_USAGE;
    struct rp_store *s = open_state("status", argv[i]);
    if (!s)
        return RP_EXIT_FAIL;
    struct counts c = {0};
    struct rp_error err;
    rp_error_clear(&err);
    int rc = RP_EXIT_OK;
    if (rp_store_records_foreach(s, RP_STORE_ITER_ACCEPTED | RP_STORE_ITER_REJECTED, count_record, &c, &err) !=
        RP_OK) {
        rp_log(RP_LOG_ERROR, "status: %s", err.msg);
        rc = RP_EXIT_FAIL;
        goto out;
    }
    printf("%s: %zu pairs accepted, %zu rejected by the assessor\n", rp_store_path(s), c.accepted, c.rejected);
    printf("dead letters:\n");
    if (rp_store_failures_foreach(s, print_failure, &c, &err) != RP_OK) {
        rp_log(RP_LOG_ERROR, "status: %s", err.msg);
        rc = RP_EXIT_FAIL;
        goto out;
    }
    if (!c.failed_docs && !c.failed_chunks)
        printf("  none\n");
    else
        printf("%zu files and %zu chunks failed; 'ranpipe run ... --retry-failed' tries them again\n",
               c.failed_docs, c.failed_chunks);
out:
    rp_store_close(s);
    return rc;
}

struct history_opts {
    const char *config;
    float target;
};

static int history_opt(int c, const char *arg, void *ud)
{
    struct history_opts *h = ud;
    switch (c) {
    case 'c': h->config = arg; return 0;
    case 256: return rp_cli_opt_float("history", "--target", arg, 0.01f, 1, &h->target) ? 0 : 2;
    default: return 1;
    }
}

int rp_cmd_history(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"target", required_argument, NULL, 256},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct history_opts ho = {.target = 0.8f};
    int i = one_arg("history", argc, argv, "c:h", opts, rp_cmd_history_help, history_opt, &ho);
    if (i == -1)
        return RP_EXIT_OK;
    if (i < 0)
        return RP_EXIT_USAGE;
    struct rp_config cfg = {0};
    struct rp_error err;
    rp_error_clear(&err);
    if (ho.config && rp_config_load(ho.config, &cfg, &err) != RP_OK) {
        rp_log(RP_LOG_ERROR, "%s", err.msg);
        return RP_EXIT_FAIL;
    }
    struct rp_store *s = open_state("history", argv[i]);
    if (!s) {
        rp_config_release(&cfg);
        return RP_EXIT_FAIL;
    }
    int n = ho.config && cfg.n_tiers > 0 ? (int)cfg.n_tiers : RP_ADAPT_MAX_TIERS_SHOWN;
    const char *names[RP_ADAPT_MAX_TIERS_SHOWN];
    char fallback[RP_ADAPT_MAX_TIERS_SHOWN][16];
    for (int t = 0; t < n && t < RP_ADAPT_MAX_TIERS_SHOWN; t++) {
        snprintf(fallback[t], sizeof(fallback[t]), "tier %d", t);
        names[t] = ho.config ? cfg.tiers[t].name : fallback[t];
    }
    if (n > RP_ADAPT_MAX_TIERS_SHOWN)
        n = RP_ADAPT_MAX_TIERS_SHOWN;
    size_t skipped = 0;
    int rc = RP_EXIT_OK;
    struct rp_adapt *a = rp_adapt_from_store(s, n, NULL, &skipped, &err);
    if (!a) {
        rp_log(RP_LOG_ERROR, "history: %s", err.msg);
        rc = RP_EXIT_FAIL;
    } else {
        uint64_t total = 0;
        for (int t = 0; t < n; t++)
            total += rp_adapt_observations(a, t);
        printf("%s: %llu attempts recorded", rp_store_path(s), (unsigned long long)total);
        if (skipped)
            printf(" (%zu of tiers the configuration does not have)", skipped);
        printf("\n");
        if (!ho.config) {
            /* Unnamed tiers: show those up to the last one with history. */
            int last = 0;
            for (int t = 0; t < n; t++)
                if (rp_adapt_observations(a, t))
                    last = t;
            rp_adapt_free(a);
            n = last + 1;
            a = rp_adapt_from_store(s, n, NULL, &skipped, &err);
            if (!a) {
                rp_log(RP_LOG_ERROR, "history: %s", err.msg);
                rp_store_close(s);
                return RP_EXIT_FAIL;
            }
        }
        rp_adapt_describe(a, names, ho.target, stdout);
        rp_adapt_free(a);
    }
    rp_store_close(s);
    rp_config_release(&cfg);
    return rc;
}
