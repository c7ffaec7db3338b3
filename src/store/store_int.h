/*
 * store_int.h - what the store module shares between its files and with
 * its tests: the migration list and an open that takes another one.
 *
 * Thread contract: as store.h.
 */
#ifndef RANPIPE_STORE_INT_H
#define RANPIPE_STORE_INT_H

#include "ranpipe/store.h"

/* The migrations, in order: step i (0-based) takes a database from
 * user_version i to i + 1. Each is one or more SQL statements run in one
 * transaction together with the user_version bump. Never edit a released
 * step; append a new one (and raise RP_STORE_SCHEMA_VERSION). */
extern const char *const rp__store_migrations[];
extern const int rp__store_n_migrations;

/* rp_store_open() with the migration list steps[0..n_steps) instead of the
 * built-in one, so tests can migrate to an intermediate version, make a
 * step fail, or pretend the code is older than the file. */
enum rp_err rp__store_open_with(const char *path, const struct rp_store_params *params,
                                const char *const *steps, int n_steps, struct rp_store **out,
                                struct rp_error *err);

#endif /* RANPIPE_STORE_INT_H */
